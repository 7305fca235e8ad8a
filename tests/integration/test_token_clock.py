"""The token keeper across a suspend and a clock jump (issue 14), against the sandbox over loopback.

The keeper slept on the monotonic clock (which stands still while the computer is asleep) until a
wall-clock deadline, up to an hour at a time, and ``check_now`` after a resume did not wake it: a
laptop that slept through the token's life woke to a dead token for up to an hour. A wall clock set
back by hours made it sleep an hour at a time and never renew ahead of the server.

A suspend is simulated by moving the wall clock (the session's and the keeper's) without the
monotonic one; a clock jump by moving the wall clock alone. Every wait is for a record, a log
record or a token with a deadline; nothing sleeps and hopes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.engine.records import EngineState, Record, StateRecord
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.engine.token_keeper import TokenKeeper
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.streaming.reconnect import ChannelSettings
from sandbox.server import Sandbox

# Tokens live an hour at the server, so a 3 h suspend outlives one.
pytestmark = pytest.mark.sandbox_config(heartbeat_s=0.2, token_ttl_s=3600.0)

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"  # the sandbox's published demo credential
PKCE_CLIENT_ID = "sandbox-desktop"
WAIT_S = 8.0
HOUR = 3600.0
SETTINGS = ChannelSettings(
    first_backoff_s=0.05,
    max_backoff_s=0.5,
    assumed_heartbeat_s=0.3,
    healthy_retry_s=0.05,
    overlap_s=0.5,
    confirm_counters_after_s=0.0,
)


class WallClock:
    """The real time plus an offset the test moves (a suspend or a clock change)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class FakeClock:
    """A clock that moves only when the test moves it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class States:
    """A service listener that lets a test wait for a state record."""

    def __init__(self) -> None:
        self.records: list[StateRecord] = []
        self._changed = asyncio.Event()

    def __call__(self, record: Record) -> None:
        if isinstance(record, StateRecord):
            self.records.append(record)
            self._changed.set()

    async def until(
        self, predicate: Callable[[StateRecord], bool], since: int = 0, deadline_s: float = WAIT_S
    ) -> int:
        """The position after the first state record from ``since`` on that matches."""
        index = since
        async with asyncio.timeout(deadline_s):
            while True:
                while index < len(self.records):
                    record = self.records[index]
                    index += 1
                    if predicate(record):
                        return index
                self._changed.clear()
                await self._changed.wait()


async def _until(condition: Callable[[], bool], deadline_s: float = WAIT_S) -> None:
    """Wait (polling the loop, not the clock) until ``condition()`` holds."""
    async with asyncio.timeout(deadline_s):
        while not condition():  # noqa: ASYNC110 - the condition has no event to wait on
            await asyncio.sleep(0.01)


def _follow_redirect(user: str | None = None) -> Callable[[str], Any]:
    """The person in the browser: open the authorize URL and follow it back to the app."""

    async def open_url(url: str) -> None:
        if user is not None:
            url = f"{url}&{urlencode({'sandbox_user': user})}"
        async with httpx.AsyncClient(follow_redirects=True, timeout=10.0) as browser:
            resp = await browser.get(url)
        assert resp.status_code == 200, resp.text

    return open_url


async def _fault(http: httpx.AsyncClient, kind: str) -> int:
    resp = await http.post(f"/sandbox/faults/{kind}")
    assert resp.status_code == 200, resp.text
    count: int = resp.json()["count"]
    return count


@pytest.fixture
async def wired(sandbox: Sandbox, http: httpx.AsyncClient) -> AsyncIterator[Callable[..., Any]]:
    """Wire and start an engine whose wall clock the test moves; closed after the test."""
    closers: list[Callable[[], Any]] = []

    async def make(
        *, grant: str = "client_credentials", slice_s: float | None = None
    ) -> tuple[MonitorService, Authenticator, States, WallClock]:
        wall = WallClock()
        env = parse_environment(sandbox.base_url)
        store = MemoryCredentialStore()
        if grant == "client_credentials":
            auth = Authenticator(env, CLIENT_ID, store, client_secret=CLIENT_SECRET, clock=wall)
        else:
            auth = Authenticator(
                env, PKCE_CLIENT_ID, store, open_browser=_follow_redirect(), clock=wall
            )
        api = ApiClient(env, auth.access_token, on_unauthorized=auth.renew_rejected)
        queues = tuple(sorted((await http.get("/sandbox/truth")).json()["queues"])[:2])
        service = MonitorService(
            api, auth, Selection(queues=queues, users="members"), settings=SETTINGS, clock=wall
        )
        if slice_s is not None:
            service.tokens.slice_s = slice_s
        states = States()
        service.add_listener(states)
        closers.extend([auth.aclose, api.aclose, service.stop])
        if grant == "client_credentials":
            await auth.sign_in_client_credentials()
        else:
            await auth.sign_in_pkce()
        await service.start()
        await states.until(lambda r: r.state is EngineState.LIVE)
        await _until(lambda: service.tokens.resting)  # the keeper has had its first look
        return service, auth, states, wall

    yield make
    for close in reversed(closers):
        await close()


def _rolled_over(service: MonitorService) -> bool:
    """Every working channel moved to a channel of the new token."""
    return all(shard.counters["rollovers"] >= 1 for shard in service.working_shards)


async def test_check_now_wakes_the_keeper_to_renew_a_token_expired_in_a_suspend(
    wired: Callable[..., Any],
) -> None:
    """After a resume the GUI calls check_now: the keeper must not sleep on for up to an hour."""
    service, auth, _states, wall = await wired()  # the keeper's slice is its default (long)
    old = auth.token
    assert old is not None
    wall.offset += 3 * HOUR  # asleep for 3 h: the token expired meanwhile
    began = time.monotonic()
    service.check_now()
    await _until(lambda: auth.token is not None and auth.token.access_token != old.access_token)
    assert time.monotonic() - began < 1.0
    await _until(lambda: _rolled_over(service))  # channels belong to the token that made them
    await _until(lambda: service.state is EngineState.LIVE)
    assert not service.tokens.sign_in_needed


async def test_a_3h_suspend_renews_on_the_next_slice_without_check_now(
    wired: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """No GUI (``listen``) to call check_now: the keeper notices the suspend by itself."""
    caplog.set_level(logging.INFO, logger="core.engine.token_keeper")
    service, auth, states, wall = await wired(slice_s=0.2)
    old = auth.token
    assert old is not None
    wall.offset += 3 * HOUR
    await _until(lambda: service.tokens.clock_jumps == 1)  # its next slice noticed the suspend
    await _until(lambda: auth.token is not None and auth.token.access_token != old.access_token)
    await _until(lambda: _rolled_over(service))
    await states.until(lambda r: r.state is EngineState.LIVE, since=len(states.records) - 1)
    noticed = [r for r in caplog.records if "asleep" in r.getMessage()]
    assert len(noticed) == 1, [r.getMessage() for r in caplog.records]
    assert noticed[0].levelno == logging.INFO
    assert "3 h" in noticed[0].getMessage()
    assert service.tokens.clock_jumps == 1


@pytest.mark.sandbox_config(heartbeat_s=0.2, token_ttl_s=3600.0, pkce_refresh_tokens=True)
async def test_a_suspend_past_a_revoked_refresh_token_asks_for_sign_in_then_recovers(
    wired: Callable[..., Any], http: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """Longer than the token's life, and the refresh token is gone: say so, then recover."""
    service, auth, states, wall = await wired(grant="pkce", slice_s=0.2)
    token = auth.token
    assert token is not None and token.refresh_token is not None
    assert await _fault(http, "revoke_refresh_tokens") >= 1
    mark = len(states.records)
    wall.offset += 3 * HOUR
    await states.until(lambda r: r.state is EngineState.SIGN_IN_NEEDED, since=mark)
    assert service.tokens.sign_in_needed
    mark = len(states.records)
    await auth.sign_in_pkce()
    await states.until(lambda r: r.state is EngineState.LIVE, since=mark)
    assert not service.tokens.sign_in_needed


async def test_a_suspend_past_the_tokens_life_at_the_server_renews_and_goes_live(
    wired: Callable[..., Any], http: httpx.AsyncClient
) -> None:
    """The real thing: the server expired the token and its channels while the laptop slept."""
    service, auth, _states, wall = await wired(slice_s=0.2)
    old = auth.token
    assert old is not None
    wall.offset += 3 * HOUR
    assert await _fault(http, "expire_tokens") >= 1
    await _until(lambda: auth.token is not None and auth.token.access_token != old.access_token)
    await _until(lambda: service.state is EngineState.LIVE and service.pool.all_open())
    assert not service.tokens.sign_in_needed
    assert service.health == {}


class Kept:
    """A running keeper on clocks that move only when the test moves them (no channels)."""

    def __init__(self, sandbox: Sandbox, slice_s: float) -> None:
        self.wall = FakeClock(time.time())
        self.mono = FakeClock(1000.0)
        env = parse_environment(sandbox.base_url)
        self.auth = Authenticator(
            env, CLIENT_ID, MemoryCredentialStore(), client_secret=CLIENT_SECRET, clock=self.wall
        )
        self.api = ApiClient(env, self.auth.access_token, on_unauthorized=self.auth.renew_rejected)
        self.new_tokens = asyncio.Event()
        self.keeper = TokenKeeper(
            self.api,
            self.auth,
            stopping=asyncio.Event(),
            on_state=lambda _detail: None,
            on_new_token=self.new_tokens.set,
            clock=self.wall,
            monotonic=self.mono,
            slice_s=slice_s,
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.auth.sign_in_client_credentials()
        self.keeper.attach()
        self.task = asyncio.create_task(self.keeper.run())
        await _until(lambda: self.keeper.resting)  # it has had its first look

    async def renewed(self, deadline_s: float = WAIT_S) -> None:
        """Wait for a token that replaces an earlier one."""
        async with asyncio.timeout(deadline_s):
            await self.new_tokens.wait()
        self.new_tokens.clear()

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.keeper.detach()
        await self.api.aclose()
        await self.auth.aclose()


@pytest.fixture
async def keepers(sandbox: Sandbox) -> AsyncIterator[Callable[..., Any]]:
    """Start keepers with a given slice; closed after the test."""
    made: list[Kept] = []

    async def make(slice_s: float = 0.05) -> Kept:
        kept = Kept(sandbox, slice_s)
        made.append(kept)
        await kept.start()
        return kept

    yield make
    for kept in made:
        await kept.close()


async def test_check_now_wakes_a_sleeping_keeper_to_renew_an_expired_token_at_once(
    keepers: Callable[..., Any],
) -> None:
    """Its slice is long, the token expired in a suspend: check_now must not wait for it."""
    kept = await keepers(slice_s=600.0)  # resting in its long slice now
    old = kept.auth.token
    assert old is not None
    kept.wall.now += 3 * HOUR  # asleep: the monotonic clock stood still
    began = time.monotonic()
    kept.keeper.check_now()
    await kept.renewed(deadline_s=1.0)
    assert time.monotonic() - began < 1.0
    assert kept.auth.token is not None and kept.auth.token.access_token != old.access_token


async def test_a_3h_suspend_renews_the_keepers_token_on_its_next_slice(
    keepers: Callable[..., Any],
) -> None:
    """Nobody calls check_now (``listen`` has no GUI): the next slice notices the suspend."""
    kept = await keepers()
    old = kept.auth.token
    assert old is not None
    kept.wall.now += 3 * HOUR
    await kept.renewed()
    assert kept.auth.token is not None and kept.auth.token.access_token != old.access_token
    assert kept.keeper.clock_jumps == 1


async def test_a_clock_set_back_2h_still_renews_when_the_server_refuses_the_token(
    keepers: Callable[..., Any], http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Set back, the token looks fresh for hours: the keeper notices the jump and asks."""
    caplog.set_level(logging.INFO, logger="core.engine.token_keeper")
    kept = await keepers()
    auth, wall = kept.auth, kept.wall
    first = auth.token
    assert first is not None
    assert await _fault(http, "expire_tokens") >= 1  # unseen: the keeper trusts its clocks
    wall.now -= 2 * HOUR
    await kept.renewed()
    second = auth.token
    assert second is not None and second.access_token != first.access_token
    noticed = [r.getMessage() for r in caplog.records if "set back" in r.getMessage()]
    assert len(noticed) == 1 and "2 h" in noticed[0], noticed
    assert kept.keeper.clock_jumps == 1
    assert not kept.keeper.sign_in_needed


async def test_a_clock_set_back_2h_renews_when_the_token_really_runs_out(
    keepers: Callable[..., Any], http: httpx.AsyncClient
) -> None:
    """The server still takes the token right after the jump; it refuses it at its real end.

    Both clocks then move together (no jump to notice) and the wall clock says 2 h are left:
    only the time that truly passed (the monotonic clock) says the token is due.
    """
    kept = await keepers()
    auth, wall, mono = kept.auth, kept.wall, kept.mono
    first = auth.token
    assert first is not None
    wall.now -= 2 * HOUR
    await _until(lambda: kept.keeper.server_checks >= 1)  # asked after the jump: still good
    assert auth.token is first and not kept.new_tokens.is_set()
    assert await _fault(http, "expire_tokens") >= 1
    life = first.expires_at - (wall.now + 2 * HOUR)
    wall.now += life
    mono.now += life
    await kept.renewed()
    second = auth.token
    assert second is not None and second.access_token != first.access_token
    assert not kept.keeper.sign_in_needed
