"""An engine built before its org answers: OFFLINE with backoff, then live with no one's help.

The engine is assembled as ``listen`` and the app assemble it (:func:`build_engine`, a service
account) against a loopback port where nothing listens yet; the sandbox org then comes up on
that port. Only a refusal that needs a person (a wrong secret) waits for a person.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator

import pytest

from core.app.bootstrap import Engine, build_engine
from core.auth.credentials import MemoryCredentialStore
from core.cli.listen import state_snapshot
from core.engine.offline import OfflineSettings, offline_words, retry_delay_s
from core.engine.records import EngineState, GapRecord, Record, StateRecord
from core.errors import OAuthError, TransportError
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox

DEADLINE_S = 30.0
SANDBOX = {"users": 30, "queues": 4, "seed": 5, "simulate": False}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class States:
    """The engine's state records (and the end of its first gap), awaited with a deadline."""

    def __init__(self, engine: Engine) -> None:
        self.queue: asyncio.Queue[Record] = asyncio.Queue()
        self.seen: list[StateRecord] = []
        engine.service.add_listener(self.queue.put_nowait)

    async def until(self, state: EngineState) -> StateRecord:
        async with asyncio.timeout(DEADLINE_S):
            while True:
                record = await self.queue.get()
                if isinstance(record, StateRecord):
                    self.seen.append(record)
                    if record.state is state:
                        return record

    async def resynced(self) -> None:
        """The picture is whole: the re-sync after the first socket closed its gap."""
        async with asyncio.timeout(DEADLINE_S):
            while True:
                record = await self.queue.get()
                if isinstance(record, StateRecord):
                    self.seen.append(record)
                if isinstance(record, GapRecord) and record.phase == "end":
                    return


@pytest.fixture
async def port() -> AsyncIterator[int]:
    yield _free_port()


async def _engine(port: int, secret: str) -> Engine:
    config = SandboxConfig()
    return await build_engine(
        demo=False,
        environment=f"http://127.0.0.1:{port}",
        queues="all",
        users="members",
        client_id=config.client_id,
        client_secret=secret,
        open_store=lambda _name: MemoryCredentialStore(insecure_reason="test: no keyring"),
    )


async def test_an_engine_started_before_its_org_waits_offline_then_comes_live(port: int) -> None:
    engine = await _engine(port, SandboxConfig().client_secret)  # used to raise TransportError
    states = States(engine)
    sandbox: Sandbox | None = None
    try:
        await engine.service.start()  # returns: the retries run in the background
        first = await states.until(EngineState.OFFLINE)
        assert first.detail.startswith("Offline: retrying in ")
        await states.until(EngineState.STARTING)
        await states.until(EngineState.OFFLINE)  # tried again, still offline: it keeps going
        sandbox = Sandbox(SandboxConfig(port=port, **SANDBOX))  # type: ignore[arg-type]
        await sandbox.start()
        engine.service.check_now()  # the network is back: no need to sit out the backoff
        await states.resynced()
        assert engine.service.state is EngineState.LIVE
        service = engine.service
        assert service.watch.users and service.watch.queues
        truth = sandbox.org.truth()
        mine = state_snapshot(service.store, service.watch.users, service.watch.queues)
        for user_id, state in mine["users"].items():
            assert state == truth["users"][user_id], user_id
    finally:
        await engine.aclose()
        if sandbox is not None:
            await sandbox.stop()


async def test_a_refused_sign_in_waits_for_a_person_instead_of_retrying(port: int) -> None:
    engine = await _engine(port, "not-the-secret")
    states = States(engine)
    sandbox: Sandbox | None = None
    try:
        await engine.service.start()
        await states.until(EngineState.OFFLINE)
        sandbox = Sandbox(SandboxConfig(port=port, **SANDBOX))  # type: ignore[arg-type]
        await sandbox.start()
        engine.service.check_now()
        needed = await states.until(EngineState.SIGN_IN_NEEDED)
        assert "invalid_client" in needed.detail
        # The person enters the right secret: the engine goes on by itself.
        auth = engine.service.session
        await auth.sign_in_client_credentials(SandboxConfig().client_secret)  # type: ignore[attr-defined]
        await states.resynced()
        assert engine.service.state is EngineState.LIVE
        after = states.seen[states.seen.index(needed) :]
        assert all(s.state is not EngineState.OFFLINE for s in after)  # no retry loop meanwhile
    finally:
        await engine.aclose()
        if sandbox is not None:
            await sandbox.stop()


async def test_stopping_while_offline_ends_every_task(port: int) -> None:
    engine = await _engine(port, SandboxConfig().client_secret)
    states = States(engine)
    try:
        await engine.service.start()
        await states.until(EngineState.OFFLINE)
    finally:
        await engine.aclose()
    assert engine.service.state is EngineState.STOPPED
    assert not engine.service._tasks


async def test_an_unreachable_org_with_no_engine_is_still_a_transport_error(port: int) -> None:
    """Only the engine retries: a bare sign-in (the welcome dialog's) still says why it failed."""
    from core.app.sign_in import sign_in_session

    with pytest.raises(TransportError):
        await sign_in_session(
            f"http://127.0.0.1:{port}",
            SandboxConfig().client_id,
            "client_credentials",
            SandboxConfig().client_secret,
            open_store=lambda _name: MemoryCredentialStore(),
        )


def test_retry_delays_double_with_jitter_up_to_a_cap() -> None:
    settings = OfflineSettings(first_retry_s=1.0, max_retry_s=30.0, jitter=0.2)
    rng = random.Random(4)
    for failures, nominal in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 16.0)]:
        delays = [retry_delay_s(settings, failures, rng) for _ in range(50)]
        assert all(0.8 * nominal <= d <= 1.2 * nominal for d in delays)
        assert len(set(delays)) > 1  # jittered: laptops waking together do not retry in step
    assert all(retry_delay_s(settings, n, rng) <= 30.0 for n in range(6, 40))
    assert offline_words(3.6) == "Offline: retrying in 4 s"
    assert offline_words(0.2) == "Offline: retrying in 1 s"
    assert offline_words(2.0, OAuthError("x")).startswith("Could not start (x)")


async def test_a_remembered_person_offline_at_start_waits_then_comes_live(port: int) -> None:
    """A person's remembered session: the first REST reads fail, not the sign-in."""
    from core.app.sign_in import follow_redirects
    from core.auth.session import Authenticator
    from core.rest.regions import parse_environment

    store = MemoryCredentialStore(insecure_reason="test: no keyring")
    sandbox = Sandbox(SandboxConfig(port=port, **SANDBOX))  # type: ignore[arg-type]
    url = await sandbox.start()
    async with Authenticator(
        parse_environment(url), sandbox.config.pkce_client_id, store, open_browser=follow_redirects
    ) as auth:
        await auth.sign_in_pkce()
    await sandbox.stop()  # the network goes away; the org keeps its tokens for its restart
    engine = await build_engine(
        demo=False,
        environment=url,
        queues="all",
        users="members",
        client_id=sandbox.config.pkce_client_id,
        open_store=lambda _name: store,
    )
    states = States(engine)
    try:
        await engine.service.start()  # raised TransportError before
        await states.until(EngineState.OFFLINE)
        await sandbox.start()
        engine.service.check_now()
        await states.resynced()
        assert engine.service.state is EngineState.LIVE
    finally:
        await engine.aclose()
        await sandbox.stop()
