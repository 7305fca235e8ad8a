"""Background tasks have an owner (issue 14): one unexpected exception does not end them.

The re-sync worker and the token keeper ran as bare tasks: an exception that none of their
handlers expected ended them for good, and the engine could stick at RESYNCING with no one told.
These tests inject one such exception into each (through the injected API and clock, against
the real sandbox over loopback) and check that the engine recovers and logs it exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import httpx
import pytest

from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.cli.listen import state_snapshot
from core.engine.records import EngineState, Record, StateRecord
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.engine.supervisor import SupervisorSettings
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.rest.schema import UserRecord
from core.streaming.reconnect import ChannelSettings
from sandbox.server import Sandbox

pytestmark = pytest.mark.sandbox_config(heartbeat_s=0.2)

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"  # the sandbox's published demo credential
WAIT_S = 8.0
SETTINGS = ChannelSettings(
    first_backoff_s=0.05,
    max_backoff_s=0.5,
    assumed_heartbeat_s=0.3,
    healthy_retry_s=0.05,
    overlap_s=0.5,
    confirm_counters_after_s=0.0,
)
SUPERVISION = SupervisorSettings(
    first_backoff_s=0.05, max_backoff_s=0.2, report_after=1, stable_s=0.3
)


class InjectedError(RuntimeError):
    """The unexpected exception the tests inject."""


class FlakyUsersApi(ApiClient):
    """The real API client, whose ``users`` read raises an unexpected error ``fail`` times."""

    fail = 0

    async def users(self, ids: Iterable[str] | None = None) -> list[UserRecord]:
        """Raise once (while armed), then read for real."""
        if self.fail > 0:
            self.fail -= 1
            raise InjectedError("users read broke")
        return await super().users(ids)


class States:
    """A service listener that lets a test wait for a state record."""

    def __init__(self) -> None:
        self.records: list[StateRecord] = []
        self._changed = asyncio.Event()

    def __call__(self, record: Record) -> None:
        if isinstance(record, StateRecord):
            self.records.append(record)
            self._changed.set()

    async def until(self, predicate: Callable[[StateRecord], bool], since: int = 0) -> int:
        """The position of the first state record from ``since`` on (seen or next) that matches."""
        index = since
        async with asyncio.timeout(WAIT_S):
            while True:
                while index < len(self.records):
                    record = self.records[index]
                    index += 1
                    if predicate(record):
                        return index
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def wired(sandbox: Sandbox, http: httpx.AsyncClient) -> AsyncIterator[Callable[..., Any]]:
    """Wire an engine against the sandbox with the given API class and clock; closed after."""
    closers: list[Callable[[], Any]] = []

    async def make(
        api_class: type[ApiClient] = ApiClient, clock: Callable[[], float] = time.time
    ) -> tuple[MonitorService, ApiClient, States]:
        env = parse_environment(sandbox.base_url)
        auth = Authenticator(env, CLIENT_ID, MemoryCredentialStore(), client_secret=CLIENT_SECRET)
        api = api_class(env, auth.access_token, on_unauthorized=auth.renew_rejected)
        queues = tuple(sorted((await http.get("/sandbox/truth")).json()["queues"])[:2])
        service = MonitorService(
            api,
            auth,
            Selection(queues=queues, users="members"),
            settings=SETTINGS,
            clock=clock,
            supervision=SUPERVISION,
        )
        states = States()
        service.add_listener(states)
        closers.extend([auth.aclose, api.aclose, service.stop])
        await auth.sign_in_client_credentials()
        return service, api, states

    yield make
    for close in reversed(closers):
        await close()


def _boom_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Log records that carry the injected exception (its traceback or its words)."""
    return [
        r
        for r in caplog.records
        if (r.exc_info and isinstance(r.exc_info[1], InjectedError)) or "broke" in r.getMessage()
    ]


async def test_a_resync_that_raises_once_is_retried_and_the_engine_goes_live(
    wired: Callable[..., Any], http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    service, api, states = await wired(FlakyUsersApi)
    assert isinstance(api, FlakyUsersApi)
    api.fail = 1
    await service.start()
    # The failure is told (report_after=1 here), then the retried re-sync brings the engine live.
    told = await states.until(lambda r: r.detail.startswith("Re-sync failing"))
    await states.until(
        lambda r: r.state is EngineState.LIVE and not r.detail.startswith("Re-sync failing"),
        since=told,
    )
    assert api.fail == 0
    assert service.counters["resyncs"] >= 1
    truth = (await http.get("/sandbox/truth")).json()
    expected = {
        "users": {uid: truth["users"][uid] for uid in service.watch.users},
        "queues": {qid: truth["queues"][qid] for qid in service.watch.queues},
    }
    assert state_snapshot(service.store, service.watch.users, service.watch.queues) == expected
    assert service.health == {}  # it works again: the health message is withdrawn
    logged = _boom_logs(caplog)
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert "resync" in logged[0].getMessage()


async def test_a_token_keeper_that_raises_once_runs_again(
    wired: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    calls = 0
    again = asyncio.Event()

    def clock() -> float:
        """The keeper's clock: broken on its first reading, then the real time."""
        nonlocal calls
        calls += 1
        if calls == 1:
            raise InjectedError("clock broke")
        again.set()
        return time.time()

    service, _api, states = await wired(clock=clock)
    await service.start()
    await states.until(lambda r: r.state is EngineState.LIVE)
    # The keeper was restarted and reads its clock again (it would then renew before expiry).
    async with asyncio.timeout(WAIT_S):
        await again.wait()
    assert service.state is EngineState.LIVE
    logged = _boom_logs(caplog)
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert "token-keeper" in logged[0].getMessage()
