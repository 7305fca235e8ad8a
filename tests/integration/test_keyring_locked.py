"""A locked keyring never fails a sign-in or a renewal; the sign-in is saved once it is unlocked.

The session signs in against the sandbox over real loopback sockets; the keyring is a real
KeyringBackend that raises keyring's own ``KeyringLocked`` (what SecretService raises when the
unlock prompt is dismissed) until the test unlocks it, then stores for real.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError

from core.auth.credentials import KeyringCredentialStore
from core.auth.saved_tokens import ENTRY_ACCESS_TOKEN, ENTRY_USER_ID
from core.auth.session import Authenticator
from core.errors import KeyringLockedError
from core.rest.regions import Environment, parse_environment
from sandbox.server import Sandbox
from tests.integration.helpers import bearer

SERVICE = "genesys-tray/test-locked/client"
RETRY_S = (0.02, 0.05)  # fast backoff for the test; the app's is seconds to a minute


class LockableKeyring(KeyringBackend):
    """Raises KeyringLocked for every call while ``locked``; a plain dict store once unlocked."""

    viable = False  # never picked by keyring's own detection in later tests
    priority = -1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.locked = True
        self.refused = 0
        self.values: dict[tuple[str, str], str] = {}
        self._guard = threading.Lock()

    def _check(self) -> None:
        with self._guard:
            if self.locked:
                self.refused += 1
                raise KeyringLocked("Failed to unlock the collection!")

    def get_password(self, service: str, username: str) -> str | None:
        self._check()
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._check()
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._check()
        if self.values.pop((service, username), None) is None:
            raise PasswordDeleteError("not there")

    def entry(self, key: str) -> str | None:
        return self.values.get((SERVICE, key))


class Browser:
    """Follows the authorize URL to our loopback listener, as a browser does after sign-in."""

    async def __call__(self, url: str) -> None:
        async with httpx.AsyncClient(timeout=10.0) as client:
            resp = await client.get(url, follow_redirects=False)
            assert resp.status_code == 302, resp.text
            await client.get(resp.headers["location"])


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def env(sandbox: Sandbox) -> Environment:
    return parse_environment(sandbox.base_url)


@pytest.fixture
def backend() -> LockableKeyring:
    return LockableKeyring()


@pytest.fixture
def store(backend: LockableKeyring) -> KeyringCredentialStore:
    return KeyringCredentialStore(SERVICE, backend=backend, timeout_s=5.0)


@pytest.fixture
async def auth(env: Environment, store: KeyringCredentialStore) -> AsyncIterator[Authenticator]:
    async with Authenticator(
        env, "sandbox-desktop", store, open_browser=Browser(), save_retry_s=RETRY_S
    ) as session:
        yield session


async def _until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    """Wait (bounded) until ``condition()`` is true; the app's own retry must make it so."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - the keyring is written on its own thread
            await asyncio.sleep(0.01)
    assert condition(), what


async def test_sign_in_while_locked_works_and_is_saved_after_unlock(
    auth: Authenticator,
    backend: LockableKeyring,
    store: KeyringCredentialStore,
    env: Environment,
    http: httpx.AsyncClient,
) -> None:
    problems: list[str | None] = []
    auth.add_storage_listener(problems.append)

    token = await auth.sign_in_pkce()  # never fails for the keyring

    assert await auth.access_token() == token.access_token
    me = await http.get("/api/v2/users/me", headers=bearer(token.access_token))
    assert me.status_code == 200
    await auth.remember_user("user-1")  # folded into the pending save, no error
    problem = auth.storage_problem or ""
    assert "keyring is locked" in problem and "unlock it" in problem
    assert token.access_token not in problem
    assert backend.values == {}  # nothing written while locked
    refused = backend.refused
    await _until(lambda: backend.refused > refused + 2, "the save is retried while locked")
    assert backend.values == {}

    backend.locked = False  # the person logs in to their desktop keyring; nothing else happens

    await _until(lambda: backend.entry(ENTRY_ACCESS_TOKEN) == token.access_token, "saved")
    await _until(lambda: auth.storage_problem is None, "the problem clears")
    assert problems[0] is not None and problems[-1] is None
    assert backend.entry(ENTRY_USER_ID) == "user-1"
    async with Authenticator(env, "sandbox-desktop", store) as later:
        assert await later.restore() == token
        assert later.user_id == "user-1"


@pytest.mark.sandbox_config(token_ttl_s=600.0)
async def test_renewals_while_locked_keep_working_and_the_newest_token_lands(
    env: Environment, store: KeyringCredentialStore, backend: LockableKeyring
) -> None:
    clock = Clock()
    async with Authenticator(
        env,
        "sandbox-client",
        store,
        client_secret="sandbox-secret",
        clock=clock,
        save_retry_s=RETRY_S,
    ) as service:
        first = await service.sign_in_client_credentials()
        tokens = [first.access_token]
        for _ in range(2):
            clock.now = service.token.expires_at if service.token else clock.now  # due now
            tokens.append(await service.access_token())  # a renewal, not failed by the keyring
        assert len(set(tokens)) == 3
        assert backend.values == {}
        assert "keyring is locked" in (service.storage_problem or "")

        backend.locked = False

        await _until(lambda: backend.entry(ENTRY_ACCESS_TOKEN) is not None, "saved")
        assert backend.entry(ENTRY_ACCESS_TOKEN) == tokens[-1]  # the newest, never an older one
        await _until(lambda: service.storage_problem is None, "the problem clears")


async def test_locked_at_start_is_no_saved_sign_in_yet(
    env: Environment, store: KeyringCredentialStore, backend: LockableKeyring
) -> None:
    backend.locked = False
    backend.values[(SERVICE, ENTRY_ACCESS_TOKEN)] = "remembered-token"
    backend.values[(SERVICE, "expires_at")] = repr(time.time() + 3600)
    backend.locked = True
    async with Authenticator(env, "sandbox-desktop", store, save_retry_s=RETRY_S) as auth:
        assert await auth.restore() is None  # no crash: nothing remembered yet
        assert "keyring is locked" in (auth.storage_problem or "")
        backend.locked = False
        restored = await auth.restore()  # asked again once unlocked, the session is there
        assert restored is not None and restored.access_token == "remembered-token"
        assert auth.storage_problem is None


async def test_sign_out_while_a_save_is_pending_writes_nothing_later(
    auth: Authenticator, backend: LockableKeyring
) -> None:
    problems: list[str | None] = []
    auth.add_storage_listener(problems.append)
    await auth.sign_in_pkce()
    assert problems and problems[0] is not None
    await auth.sign_out()
    assert problems[-1] is None and auth.storage_problem is None  # nothing left to save
    backend.locked = False
    auth.retry_save()  # nothing is pending any more, so nothing is tried
    # The retry task ended with the sign-out: none is left to write later, and a read through
    # the same (ordered) keyring thread finds nothing.
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "save sign-in"]
    assert await KeyringCredentialStore(SERVICE, backend=backend).get(ENTRY_ACCESS_TOKEN) is None
    assert backend.values == {}


async def test_the_store_reports_a_locked_keyring_in_plain_words(
    store: KeyringCredentialStore,
) -> None:
    with pytest.raises(KeyringLockedError, match="unlock it"):
        await store.set(ENTRY_ACCESS_TOKEN, "a-secret-value")
    with pytest.raises(KeyringLockedError) as caught:
        await store.get(ENTRY_ACCESS_TOKEN)
    assert "a-secret-value" not in str(caught.value)
