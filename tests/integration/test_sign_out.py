"""Sign-out against the sandbox org: it never claims more than it did (issue 14).

Every test runs the real Authenticator (and, for the channel entries, the real engine) over
loopback against the sandbox; the credential store is the in-memory one, so what is left in it is
exactly what a keyring would still hold.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from core.app.bootstrap import build_engine
from core.app.sign_in import CLIENT_SECRET_ENTRY, follow_redirects, sign_in_session
from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.engine.records import EngineState
from core.errors import CredentialStoreError
from core.rest.regions import Environment, parse_environment
from core.rest.schema import ChannelInfo
from core.streaming.memory import StoredChannelMemory
from sandbox.server import Sandbox
from tests.integration.helpers import bearer

PKCE_CLIENT = "sandbox-desktop"
REFRESHING = pytest.mark.sandbox_config(token_ttl_s=3.0, pkce_refresh_tokens=True)


class Clock:
    """Our side's clock: the real time until a test moves it on."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def env(sandbox: Sandbox) -> Environment:
    return parse_environment(sandbox.base_url)


@pytest.fixture
def store() -> MemoryCredentialStore:
    return MemoryCredentialStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def auth(
    env: Environment, store: MemoryCredentialStore, clock: Clock
) -> AsyncIterator[Authenticator]:
    async with Authenticator(
        env, PKCE_CLIENT, store, clock=clock, open_browser=follow_redirects
    ) as session:
        yield session


async def _status_of(http: httpx.AsyncClient, token: str) -> int:
    return (await http.head("/api/v2/tokens/me", headers=bearer(token))).status_code


async def test_a_complete_sign_out_says_so(
    auth: Authenticator, http: httpx.AsyncClient, store: MemoryCredentialStore
) -> None:
    token = await auth.sign_in_pkce()
    await auth.remember_user("user-1")
    result = await auth.sign_out()
    assert result.revoked and result.complete and not result.problems
    assert {"access_token", "user_id"} <= set(result.forgotten)
    assert await _status_of(http, token.access_token) == 401
    assert store.keys() == frozenset()
    assert "revoked" in result.words() and "not" not in result.words()


async def test_a_failed_revoke_is_reported_not_hidden(
    auth: Authenticator, sandbox: Sandbox, store: MemoryCredentialStore
) -> None:
    await auth.sign_in_pkce()
    await sandbox.stop()
    result = await auth.sign_out()
    assert not result.revoked and not result.complete
    assert "could not be revoked" in result.words()
    assert store.keys() == frozenset() and not auth.signed_in  # forgotten here all the same


@REFRESHING
async def test_an_expired_token_with_a_refresh_token_is_renewed_then_revoked(
    auth: Authenticator, sandbox: Sandbox, http: httpx.AsyncClient, clock: Clock
) -> None:
    token = await auth.sign_in_pkce()
    assert token.refresh_token is not None
    clock.offset = 3600.0  # our side thinks the access token died long ago
    issued_before = set(sandbox.auth.tokens)
    result = await auth.sign_out()
    renewed = [v for v in sandbox.auth.tokens if v not in issued_before]
    assert len(renewed) == 1, "the sign-out must renew once to get a token it can revoke"
    assert sandbox.auth.tokens[renewed[0]].revoked  # revoked on the server
    assert token.refresh_token not in sandbox.auth.refresh_tokens  # the stored one is used up
    assert await _status_of(http, renewed[0]) == 401
    assert getattr(result, "revoked", False), result


@REFRESHING
async def test_an_unreachable_server_with_an_expired_token_is_said(
    auth: Authenticator, sandbox: Sandbox, clock: Clock
) -> None:
    await auth.sign_in_pkce()
    clock.offset = 3600.0
    await sandbox.stop()
    result = await auth.sign_out()
    assert not result.revoked
    assert "could not be revoked" in result.words()


async def test_sign_out_deletes_the_channel_entries(sandbox: Sandbox) -> None:
    """The engine keeps its channel ids in the keyring (``channel.<n>``): sign-out deletes them."""
    store = MemoryCredentialStore(insecure_reason="test: no keyring")
    session = await sign_in_session(
        sandbox.base_url,
        sandbox.config.pkce_client_id,
        "pkce",
        open_browser=follow_redirects,
        open_store=lambda _service: store,
    )
    engine = await build_engine(
        demo=False,
        environment=sandbox.base_url,
        queues="mine",
        users="mine",
        session=session,
        auto_sign_in=False,
    )
    try:
        await engine.service.start()
        async with asyncio.timeout(20):
            while engine.service.state is not EngineState.LIVE:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert any(k.startswith("channel.") for k in set(store.keys()))
        await store.set(CLIENT_SECRET_ENTRY, "not-really-a-secret")
        result = await engine.sign_out()
        assert store.keys() == frozenset()  # channel ids, client secret, tokens: all gone
        assert getattr(result, "complete", False), result
    finally:
        await engine.aclose()


class LockedForDeletes(MemoryCredentialStore):
    """A keyring that reads and writes but refuses to delete some entries (locked half-way)."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: frozenset[str] = frozenset()

    async def delete(self, key: str) -> None:
        if key in self.refused:
            raise CredentialStoreError(f"The keyring did not answer while deleting '{key}'.")
        await super().delete(key)


async def test_entries_that_stay_behind_are_named(env: Environment) -> None:
    store = LockedForDeletes()
    async with Authenticator(env, PKCE_CLIENT, store, open_browser=follow_redirects) as auth:
        await auth.sign_in_pkce()
        store.refused = frozenset({"refresh_token", "channel.3"})
        result = await auth.sign_out(also_forget=("channel.3",))
    assert result.revoked and not result.complete
    assert result.kept == ("refresh_token", "channel.3")
    assert "access_token" in result.forgotten
    assert "refresh_token" in result.words() and "channel.3" in result.words()
    assert "could not be deleted" in result.words()


async def test_a_sealed_channel_memory_writes_nothing_back(sandbox: Sandbox) -> None:
    """A rollover finishing after the sign-out must not put a channel id back in the keyring."""
    store = MemoryCredentialStore()
    memory = StoredChannelMemory(store)
    channel = ChannelInfo("chan-1", "ws://127.0.0.1:1/channels/chan-1", datetime.now(UTC))
    await memory.save(0, channel)
    assert store.keys() == {"channel.0"}
    memory.seal()
    await memory.forget(0)
    await memory.save(1, channel)
    assert store.keys() == frozenset()
    assert set(memory.entry_keys()) >= {"channel.0", "channel.19"}
