"""The engine end to end: the real core against the real sandbox org over loopback.

Each test wires ``core`` the way ``main.py``'s ``listen`` does (Authenticator → ApiClient →
MonitorService), runs it against a simulated org with short timings, injects one fault through
the sandbox's control API and checks that the engine's store converges to ``/sandbox/truth``.

Convergence is checked two ways (:meth:`Engine.converged`), both with the simulation paused so
the truth holds still:

* **by the stream**: watched users change presence and a call arrives at a watched queue through
  the control API; the changes must arrive as ``ChangeRecord(source="stream")`` and the whole
  watched picture must then equal the truth, without any REST re-sync in between;
* **by re-sync**: one ``drop`` fault, then the next ``GapRecord(phase="end")``: the re-sync read
  the final state, so the picture must equal the truth again.

No test sleeps to let something happen: every wait is for a record (or a state the records
announce) with a deadline. The few waits that watch a window for something that must *not*
happen say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlencode

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.cli.listen import state_snapshot
from core.engine.records import (
    BudgetRecord,
    ChangeRecord,
    EngineState,
    GapRecord,
    Record,
    StateRecord,
    WatchRecord,
)
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.streaming.planner import user_topic
from core.streaming.reconnect import ChannelSettings
from core.streaming.shard import ChannelShard
from sandbox.server import Sandbox
from tests.integration.helpers import bearer, client_token

Json = dict[str, Any]
Grant = Literal["client_credentials", "pkce"]

# Fast, lively and reproducible: heartbeats every 0.2 s, a day 20 times faster, analytics
# flushed every 50 ms. A test that needs more (or less) says so with engine_config(...).
ENGINE_SANDBOX: Json = {
    "users": 30,
    "queues": 4,
    "seed": 11,
    "heartbeat_s": 0.2,
    "simulate": True,
    "speed": 100.0,
    "tick_s": 0.05,
    "observation_min_interval_s": 0.05,
}
SETTINGS = ChannelSettings(
    first_backoff_s=0.05,
    max_backoff_s=0.5,
    assumed_heartbeat_s=0.3,
    healthy_retry_s=0.05,
    overlap_s=1.0,
    # Off here: these tests count REST calls and time Retry-After waits; the counter
    # confirmation has its own test (test_resync_race.py), and the chaos run keeps it on.
    confirm_counters_after_s=0.0,
)
WAIT_S = 6.0  # deadline of one wait for a record; reached only when something is wrong
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"  # the sandbox's published demo credential
PKCE_CLIENT_ID = "sandbox-desktop"
OBSERVATION_PERMISSION = "analytics:queueObservation:view"


def engine_config(**overrides: Any) -> pytest.MarkDecorator:
    """``sandbox_config`` with this file's defaults (the closest marker wins whole)."""
    marker: pytest.MarkDecorator = pytest.mark.sandbox_config(**{**ENGINE_SANDBOX, **overrides})
    return marker


pytestmark = engine_config()


# ---------------------------------------------------------------------------------- records
class Recorder:
    """A service listener that keeps every record and lets tests wait for one."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.violations: list[str] = []
        self._waiters: set[asyncio.Event] = set()

    def __call__(self, record: Record) -> None:
        self.records.append(record)
        for waiter in self._waiters:
            waiter.set()

    def mark(self) -> int:
        """A position; ``since=`` waits and lists look only at records after it."""
        return len(self.records)

    def gaps(self, phase: Literal["start", "end"], since: int = 0) -> list[GapRecord]:
        """Gap records of one phase after ``since``."""
        return [r for r in self.records[since:] if isinstance(r, GapRecord) and r.phase == phase]

    async def wait_for(
        self, predicate: Callable[[Record], bool], deadline_s: float = WAIT_S, *, since: int = 0
    ) -> tuple[int, Record]:
        """The first record after ``since`` that matches, and its position."""
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        index = since
        try:
            async with asyncio.timeout(deadline_s):
                while True:
                    while index < len(self.records):
                        record = self.records[index]
                        index += 1
                        if predicate(record):
                            return index - 1, record
                    waiter.clear()
                    await waiter.wait()
        except TimeoutError:
            raise AssertionError(f"no matching record within {deadline_s:g} s") from None
        finally:
            self._waiters.discard(waiter)

    async def until(self, condition: Callable[[], bool], deadline_s: float = WAIT_S) -> None:
        """Wait until ``condition()`` holds; it is checked now and after every record."""
        if condition():
            return
        await self.wait_for(lambda _: condition(), deadline_s, since=self.mark())

    async def none_within(self, predicate: Callable[[Record], bool], window_s: float) -> None:
        """Watch a window of time in which no matching record may appear."""
        since = self.mark()
        with contextlib.suppress(AssertionError):
            _, record = await self.wait_for(predicate, window_s, since=since)
            raise AssertionError(f"unexpected record {record!r}")


def is_gap(phase: Literal["start", "end"]) -> Callable[[Record], bool]:
    """Matches a gap record of one phase."""
    return lambda r: isinstance(r, GapRecord) and r.phase == phase


def stream_change(kind: str, entity_id: str) -> Callable[[Record], bool]:
    """Matches a store change of one user or queue that the live stream caused."""

    def matches(r: Record) -> bool:
        return (
            isinstance(r, ChangeRecord)
            and r.source == "stream"
            and r.change.kind == kind
            and r.change.id == entity_id
        )

    return matches


# ---------------------------------------------------------------------------------- the engine
@dataclass
class Engine:
    """One wired engine (as main.py's ``listen`` wires it) and the org it talks to."""

    sandbox: Sandbox
    http: httpx.AsyncClient
    auth: Authenticator
    api: ApiClient
    service: MonitorService
    records: Recorder
    queues_visible: bool = True  # False when the sign-in may not read queue counters
    poked: int = 0
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    # -------------------------------------------------------------- control API
    async def control(self, path: str, body: Json | None = None, **params: Any) -> Json:
        """POST to the sandbox control API."""
        resp = await self.http.post(path, json=body, params=params or None)
        assert resp.status_code == 200, resp.text
        answer: Json = resp.json()
        return answer

    async def fault(self, kind: str, **params: Any) -> int:
        """Inject one fault; the number of sockets, calls or tokens it touched."""
        count: int = (await self.control(f"/sandbox/faults/{kind}", **params))["count"]
        return count

    async def pause(self) -> None:
        """Hold the simulation still, so the truth stops moving."""
        await self.control("/sandbox/simulation/pause")

    async def truth(self) -> Json:
        """The org's ground truth."""
        resp = await self.http.get("/sandbox/truth")
        assert resp.status_code == 200
        truth: Json = resp.json()
        return truth

    async def stats(self) -> Json:
        """The sandbox's channel, socket and REST counters."""
        stats: Json = (await self.http.get("/sandbox/stats")).json()
        return stats

    # -------------------------------------------------------------- the engine's picture
    @property
    def shard(self) -> ChannelShard:
        """The first (usually only) channel shard."""
        return self.service.shards[0]

    def picture(self) -> Json:
        """What the engine believes about the watched users and queues."""
        svc = self.service
        return state_snapshot(svc.store, svc.watch.users, svc.watch.queues)

    async def expected(self) -> Json:
        """The truth, restricted to the watched users and queues."""
        truth = await self.truth()
        return {
            "users": {uid: truth["users"][uid] for uid in self.service.watch.users},
            "queues": {qid: truth["queues"][qid] for qid in self.service.watch.queues},
        }

    def compared(self, picture: Json) -> Json:
        """The part of a picture this engine can know (users only without queue counters).

        Today's KPIs are left out: they are aggregates read every minute and topped up by
        pushes of at most one a second, so they are not part of the live picture a fault must
        restore within seconds (tests/integration/test_queue_kpis.py checks them when paused).
        """
        if not self.queues_visible:
            return {"users": picture["users"]}
        queues = {
            qid: {key: value for key, value in queue.items() if key != "today"}
            for qid, queue in picture["queues"].items()
        }
        return {**picture, "queues": queues}

    async def assert_matches_truth(self, queues: list[str] | None = None) -> None:
        """The engine's picture equals the truth (all watched queues, or just ``queues``)."""
        expected = self.compared(await self.expected())
        actual = self.compared(self.picture())
        if queues is not None and self.queues_visible:
            for picture in (expected, actual):
                picture["queues"] = {q: picture["queues"][q] for q in queues}
        wrong_users = {
            uid: (actual["users"].get(uid), want)
            for uid, want in expected["users"].items()
            if actual["users"].get(uid) != want
        }
        wrong_queues = {
            qid: (actual["queues"].get(qid), want)
            for qid, want in expected.get("queues", {}).items()
            if actual["queues"].get(qid) != want
        }
        assert not wrong_users and not wrong_queues, (wrong_users, wrong_queues)
        assert actual == expected

    # -------------------------------------------------------------- waiting
    def settled_now(self) -> bool:
        """Live on every channel with no re-sync running or pending."""
        return self.service.state is EngineState.LIVE

    async def settled(self, deadline_s: float = WAIT_S) -> None:
        """Wait until the engine is live with nothing left to re-sync."""
        await self.records.until(self.settled_now, deadline_s)

    async def next_resync(self, since: int, deadline_s: float = WAIT_S) -> GapRecord:
        """The first gap end after ``since``."""
        _, record = await self.records.wait_for(is_gap("end"), deadline_s, since=since)
        assert isinstance(record, GapRecord)
        return record

    async def traffic(self, changes: int = 5, deadline_s: float = WAIT_S) -> None:
        """Wait until the running simulation has moved the store through the stream."""
        seen = 0

        def counts(r: Record) -> bool:
            nonlocal seen
            if isinstance(r, ChangeRecord) and r.source == "stream":
                seen += 1
            return seen >= changes

        await self.records.wait_for(counts, deadline_s, since=self.records.mark())

    async def change_unheard(self) -> None:
        """Change the org while the engine cannot hear it (during a gap).

        Two watched users change presence and a call arrives at a watched queue; only a
        re-sync can tell the engine, so convergence afterwards proves the gap was filled.
        """
        truth = await self.truth()
        for uid in sorted(self.service.watch.users)[:2]:
            current = truth["users"][uid]["presence"]
            await self.set_presence(uid, "TRAINING" if current != "TRAINING" else "AWAY")
        if self.queues_visible and self.service.watch.queues:
            await self.control(
                f"/sandbox/queues/{sorted(self.service.watch.queues)[0]}/conversations"
            )

    # -------------------------------------------------------------- convergence
    def poke_targets(self, count: int = 3) -> list[str]:
        """Watched users to change: the first of every shard, then more in a stable order."""
        users: list[str] = []
        for shard in self.service.shards:
            for topic in shard.topics:
                uid = _user_of_topic(topic)
                if uid is not None and uid in self.service.watch.users:
                    users.append(uid)
                    break
        for uid in sorted(self.service.watch.users):
            if len(users) >= max(count, len(self.service.shards)):
                break
            if uid not in users:
                users.append(uid)
        return users

    async def set_presence(self, user_id: str, presence: str) -> Json:
        """Change a user's presence through the control API; the user's truth after it."""
        return await self.control(f"/sandbox/users/{user_id}/presence", {"presence": presence})

    def waiting_counts_seen(self, queue_id: str) -> list[int]:
        """Every waiting count of a queue the engine has been told, by stream or re-sync."""
        seen: list[int] = []
        for r in self.records.records:
            if (
                isinstance(r, ChangeRecord)
                and r.change.kind == "queue"
                and r.change.id == queue_id
                and "waiting" in r.change.fields
            ):
                value = r.change.after[r.change.fields.index("waiting")]
                if isinstance(value, int):
                    seen.append(value)
        return seen

    async def prove_stream(self, deadline_s: float = WAIT_S) -> None:
        """Changes made now reach the store through the live stream alone.

        Call with the simulation paused and the engine settled: then no re-sync runs and only
        the stream can move the store. Calls arrive at a watched queue and watched users change
        presence; the changes must come in as ``ChangeRecord(source="stream")``, after which
        every watched user and that queue equal the truth.

        The other queues are compared after the re-sync only. The sandbox's "only on change"
        filter of analytics topics outlives the channel that heard the last body: when a channel
        is lost and a queue changes and then returns to that body, a new channel is never told.
        For the same reason enough calls arrive here to go past every waiting count ever seen,
        so the new body cannot be one the filter still remembers.
        """
        truth = await self.truth()
        mark = self.records.mark()
        poked_queues: list[str] = []
        queues = sorted(self.service.watch.queues) if self.queues_visible else []
        if queues:
            queue_id = queues[0]
            poked_queues.append(queue_id)
            now_waiting = truth["queues"][queue_id]["waiting"]
            arrivals = max([now_waiting, *self.waiting_counts_seen(queue_id)]) - now_waiting + 1
            for _ in range(arrivals):
                await self.control(f"/sandbox/queues/{queue_id}/conversations")
            waiting = (await self.truth())["queues"][queue_id]["waiting"]
            assert waiting == now_waiting + arrivals

            def queue_seen(r: Record) -> bool:
                return (
                    stream_change("queue", queue_id)(r)
                    and self.service.store.queue(queue_id).waiting == waiting
                )

            await self.records.wait_for(queue_seen, deadline_s, since=mark)
        targets = self.poke_targets()
        cycle = ("ON_QUEUE", "MEETING", "BUSY", "BREAK")
        for n, uid in enumerate(targets):
            current = truth["users"][uid]["presence"]
            choice = cycle[(n + self.poked) % len(cycle)]
            if choice == current:
                choice = cycle[(n + self.poked + 1) % len(cycle)]
            after = await self.set_presence(uid, choice)
            assert after["presence"] == choice
        self.poked += 1
        for uid in targets:
            await self.records.wait_for(stream_change("user", uid), deadline_s, since=mark)
        # Frames of one socket arrive in order: with the last presence change of every channel
        # applied, so is every user event published before it.
        expected = await self.expected()
        await self.records.until(
            lambda: all(self.picture()["users"][u] == expected["users"][u] for u in targets),
            deadline_s,
        )
        assert not [
            r
            for r in self.records.records[mark:]
            if isinstance(r, ChangeRecord) and r.source == "resync"
        ], "a re-sync ran while the stream was being checked"
        await self.assert_matches_truth(queues=poked_queues)

    async def prove_resync(self, deadline_s: float = WAIT_S) -> None:
        """A drop and the re-sync after it leave the store equal to the truth."""
        mark = self.records.mark()
        assert await self.fault("drop") >= 1
        start, _ = await self.records.wait_for(is_gap("start"), deadline_s, since=mark)
        await self.next_resync(start + 1, deadline_s)
        await self.settled(deadline_s)
        await self.assert_matches_truth()

    async def converged(
        self, *, stream: bool = True, resync: bool = True, deadline_s: float = WAIT_S
    ) -> None:
        """Pause the org, then prove the picture equals the truth by stream and by re-sync."""
        await self.pause()
        await self.settled(deadline_s)
        if stream:
            await self.prove_stream(deadline_s)
        if resync:
            await self.prove_resync(deadline_s)

    async def close(self) -> None:
        """Stop the engine and close its clients."""
        for closer in reversed(self.closers):
            await closer()
        self.closers.clear()


def _user_of_topic(topic: str) -> str | None:
    if not topic.startswith("v2.users."):
        return None
    return topic.split("?", 1)[0].split(".")[2]


def redirect_follower(user: str | None = None) -> Callable[[str], Awaitable[None]]:
    """The person in the browser: open the authorize URL and follow it back to the app.

    ``user`` signs in as that sandbox user instead of the default supervisor.
    """

    async def open_url(url: str) -> None:
        if user is not None:
            url = f"{url}&{urlencode({'sandbox_user': user})}"
        async with httpx.AsyncClient(follow_redirects=True, timeout=10.0) as browser:
            resp = await browser.get(url)
        assert resp.status_code == 200, resp.text

    return open_url


class EngineFactory(Protocol):
    """Builds (and by default starts) a wired engine."""

    async def __call__(
        self,
        selection: Selection | None = None,
        *,
        grant: Grant = "client_credentials",
        user: str | None = None,
        start: bool = True,
    ) -> Engine: ...


@pytest.fixture
async def engines(sandbox: Sandbox, http: httpx.AsyncClient) -> AsyncIterator[EngineFactory]:
    """Wire engines against the sandbox; every one is stopped and closed after the test."""
    made: list[Engine] = []

    async def make(
        selection: Selection | None = None,
        *,
        grant: Grant = "client_credentials",
        user: str | None = None,
        start: bool = True,
    ) -> Engine:
        env = parse_environment(sandbox.base_url)
        store = MemoryCredentialStore()
        if grant == "client_credentials":
            auth = Authenticator(env, CLIENT_ID, store, client_secret=CLIENT_SECRET)
        else:
            auth = Authenticator(env, PKCE_CLIENT_ID, store, open_browser=redirect_follower(user))
        api = ApiClient(env, auth.access_token, on_unauthorized=auth.renew_rejected)
        if selection is None:
            queues = tuple(sorted((await http.get("/sandbox/truth")).json()["queues"])[:2])
            selection = Selection(queues=queues, users="members")
        service = MonitorService(api, auth, selection, settings=SETTINGS)
        records = Recorder()
        service.add_listener(records)
        service.add_listener(lambda r: _check_gap_end(service, r, records.violations))
        engine = Engine(sandbox, http, auth, api, service, records)
        engine.closers = [auth.aclose, api.aclose, service.stop]
        made.append(engine)
        if grant == "client_credentials":
            await auth.sign_in_client_credentials()
        else:
            await auth.sign_in_pkce()
        if start:
            await service.start()
            await engine.settled()
        return engine

    yield make
    for engine in reversed(made):
        await engine.close()
    for engine in made:
        assert not engine.records.violations
        _check_gap_pairs(engine.records.records)


def _check_gap_end(service: MonitorService, record: Record, violations: list[str]) -> None:
    """A gap only ends (re-synced) once every channel's socket is open again.

    Listener exceptions are logged by the service, not raised, so violations are collected.
    """
    if isinstance(record, GapRecord) and record.phase == "end":
        phases = {s.phase.value for s in service.shards}
        if not phases <= {"live", "stale"}:
            violations.append(f"gap ended while channels were {sorted(phases)}")


def _check_gap_pairs(records: list[Record]) -> None:
    """Every announced gap ends before the next one is announced."""
    open_gap: GapRecord | None = None
    for record in records:
        if isinstance(record, GapRecord):
            if record.phase == "start":
                assert open_gap is None, f"a second gap started before {open_gap} ended"
                open_gap = record
            else:
                open_gap = None


# ================================================================================== 1. sign-in
@pytest.mark.parametrize("grant", ["client_credentials", "pkce"])
async def test_signs_in_goes_live_and_matches_the_truth(
    engines: EngineFactory, grant: Grant
) -> None:
    engine = await engines(grant=grant)
    await engine.traffic(10)
    assert engine.auth.token is not None and engine.auth.token.grant == grant
    budget = [r for r in engine.records.records if isinstance(r, BudgetRecord)]
    assert budget and budget[-1].channels == 1 and not budget[-1].rejected
    watch = [r for r in engine.records.records if isinstance(r, WatchRecord)]
    assert watch and len(watch[-1].queues) == 2 and watch[-1].users
    await engine.converged()


# ================================================================================== 2. faults
async def test_recovers_from_a_dropped_connection(engines: EngineFactory) -> None:
    engine = await engines()
    await engine.traffic()
    mark = engine.records.mark()
    assert await engine.fault("drop") == 1
    await engine.change_unheard()
    start, record = await engine.records.wait_for(is_gap("start"), since=mark)
    assert isinstance(record, GapRecord)
    end = await engine.next_resync(start + 1)
    assert end.users_resynced == len(engine.service.watch.users)
    assert end.queues_resynced == len(engine.service.watch.queues)
    assert engine.shard.counters["connects"] == 2
    assert engine.shard.counters["channels_created"] == 1  # the same channel, a new socket
    await engine.converged()


async def test_drops_and_a_server_restart_in_a_row_keep_the_channel(
    engines: EngineFactory, sandbox: Sandbox
) -> None:
    """A lost connection or a server going away is no second client on the channel.

    Two closes within the kick window used to read as "kicked twice": the engine left a good
    channel in the pool (for a day) and made a new one on every flaky minute (found by the chaos
    run, tests/chaos/).
    """
    engine = await engines()
    await engine.pause()
    await engine.settled()
    first = engine.shard.channel
    assert first is not None
    for _ in range(2):
        await engine.prove_resync()
    mark = engine.records.mark()
    await sandbox.stop()
    await sandbox.start()  # same port; the server's close said "going away"
    start, _ = await engine.records.wait_for(is_gap("start"), since=mark)
    await engine.next_resync(start + 1)
    await engine.settled()
    assert engine.shard.channel is not None and engine.shard.channel.id == first.id
    assert engine.shard.counters["channels_created"] == 1
    assert (await engine.stats())["channels"] == 1
    await engine.converged()


async def test_finds_a_stalled_socket_dead_within_the_heartbeat_bound(
    engines: EngineFactory,
) -> None:
    engine = await engines()
    # Let the watchdog learn the real interval (it starts from the assumed 0.3 s).
    await engine.records.until(lambda: engine.shard.watchdog.interval_s < 0.3)
    # 2.2 silent beats of 0.2 s → a ping; no pong within the pong timeout (2 s at least) →
    # dead: 2.44 s after the last frame at most, so 3 s after the stall leaves room.
    wd = engine.shard.watchdog
    assert wd.silence_limit_s + wd.pong_timeout_s <= 2.5
    bound_s = 3.0
    await engine.traffic()
    mark = engine.records.mark()
    stalled_at = time.monotonic()
    assert await engine.fault("stall") == 1
    await engine.change_unheard()  # lost on the stalled socket: only the re-sync can tell
    await engine.records.wait_for(is_gap("start"), deadline_s=bound_s + 1.0, since=mark)
    found_after = time.monotonic() - stalled_at
    assert found_after <= bound_s, f"stall noticed after {found_after:.2f} s"
    await engine.converged()


async def test_socket_closing_moves_to_a_new_socket_without_a_gap(
    engines: EngineFactory,
) -> None:
    engine = await engines()
    await engine.traffic()
    mark = engine.records.mark()
    grace_s = 1.0
    assert await engine.fault("socket_closing", grace=grace_s) == 1
    await engine.records.until(lambda: engine.shard.counters["socket_switches"] == 1)
    await engine.next_resync(mark)  # the new socket may have missed something: re-read
    # The sandbox closes a warned socket still open after the grace: watch that window.
    await engine.records.none_within(is_gap("start"), grace_s + 0.5)
    assert engine.shard.counters["channels_created"] == 1
    stats = await engine.stats()
    assert stats["sockets"] == 1
    await engine.converged(resync=False)
    assert not engine.records.gaps("start", mark), "socket_closing must not open a gap"
    await engine.prove_resync()


async def test_a_disconnect_while_a_resync_is_due_is_still_announced(
    engines: EngineFactory,
) -> None:
    engine = await engines()
    await engine.pause()
    await engine.settled()
    # socket_closing re-syncs after the switch; the 429s hold that re-sync open for a while.
    assert await engine.fault("rate_limit", count=2, retry_after=1) == 2
    mark = engine.records.mark()
    assert await engine.fault("socket_closing", grace=30) == 1
    await engine.records.until(lambda: engine.shard.counters["socket_switches"] == 1)
    assert engine.service.state is EngineState.RESYNCING
    assert not engine.records.gaps("start", mark)
    await engine.fault("drop")
    # The drop is a real gap and must say so, though a re-sync was already due.
    start, _ = await engine.records.wait_for(is_gap("start"), deadline_s=1.0, since=mark)
    await engine.next_resync(start + 1)
    await engine.converged()


async def test_recovers_from_expired_channels_on_a_new_channel(engines: EngineFactory) -> None:
    engine = await engines()
    old = engine.shard.channel
    assert old is not None
    await engine.traffic()
    mark = engine.records.mark()
    assert await engine.fault("expire_channels") == 1
    await engine.change_unheard()
    start, _ = await engine.records.wait_for(is_gap("start"), since=mark)
    await engine.next_resync(start + 1)
    await engine.settled()
    assert engine.shard.channel is not None and engine.shard.channel.id != old.id
    assert engine.shard.counters["channels_created"] == 2
    await engine.converged()


async def test_revoked_client_credentials_are_renewed_silently(engines: EngineFactory) -> None:
    engine = await engines()
    token = engine.auth.token
    assert token is not None
    await engine.traffic()
    mark = engine.records.mark()
    assert await engine.fault("revoke_tokens") >= 1
    await engine.change_unheard()
    await engine.records.until(
        lambda: (
            engine.auth.token is not None and engine.auth.token.access_token != token.access_token
        )
    )
    start, _ = await engine.records.wait_for(is_gap("start"), since=mark)
    await engine.next_resync(start + 1)
    await engine.settled()
    states = [r.state for r in engine.records.records[mark:] if isinstance(r, StateRecord)]
    assert EngineState.SIGN_IN_NEEDED not in states
    assert engine.shard.counters["channels_created"] == 2
    await engine.converged()


async def test_revoked_pkce_sign_in_asks_for_sign_in_then_recovers(
    engines: EngineFactory,
) -> None:
    engine = await engines(grant="pkce")
    await engine.traffic()
    mark = engine.records.mark()
    assert await engine.fault("revoke_tokens") >= 1
    await engine.records.wait_for(
        lambda r: isinstance(r, StateRecord) and r.state is EngineState.SIGN_IN_NEEDED,
        since=mark,
    )
    await engine.change_unheard()  # while nobody is signed in
    assert engine.service.state is EngineState.SIGN_IN_NEEDED
    mark = engine.records.mark()
    await engine.auth.sign_in_pkce()
    await engine.next_resync(mark)
    await engine.settled()
    await engine.converged()


async def test_expired_client_credentials_are_renewed_and_the_channel_rebuilt(
    engines: EngineFactory,
) -> None:
    engine = await engines()
    token = engine.auth.token
    assert token is not None
    await engine.traffic()
    mark = engine.records.mark()
    assert await engine.fault("expire_tokens") >= 1
    await engine.change_unheard()
    start, _ = await engine.records.wait_for(is_gap("start"), since=mark)
    await engine.next_resync(start + 1)
    await engine.settled()
    assert engine.auth.token is not None
    assert engine.auth.token.access_token != token.access_token
    assert engine.shard.counters["channels_created"] == 2
    await engine.converged()


async def test_expired_pkce_sign_in_asks_for_sign_in_then_recovers(
    engines: EngineFactory,
) -> None:
    engine = await engines(grant="pkce")
    await engine.traffic()
    mark = engine.records.mark()
    assert await engine.fault("expire_tokens") >= 1
    await engine.records.wait_for(
        lambda r: isinstance(r, StateRecord) and r.state is EngineState.SIGN_IN_NEEDED,
        since=mark,
    )
    await engine.change_unheard()
    mark = engine.records.mark()
    await engine.auth.sign_in_pkce()
    await engine.next_resync(mark)
    await engine.settled()
    assert engine.shard.counters["channels_created"] == 2
    assert len(engine.shard._retired) == 0
    assert (await engine.stats())["sockets"] == 1
    await engine.converged()


async def test_survives_a_rate_limit_storm_without_a_hot_loop(engines: EngineFactory) -> None:
    engine = await engines()
    await engine.pause()
    await engine.settled()
    calls_before = (await engine.stats())["rest_calls"]
    began = time.monotonic()
    assert await engine.fault("rate_limit", count=10, retry_after=1) == 10
    # The drop makes the engine need REST (HEAD the channel, re-sync) during the storm.
    await engine.prove_resync(deadline_s=20.0)
    took = time.monotonic() - began
    calls = (await engine.stats())["rest_calls"] - calls_before
    # Blocks the sandbox's best-effort expand left out are read again on purpose.
    refills = sum(
        n
        for path, n in engine.api.stats.by_path.items()
        if "presences" in path or "routingstatus" in path
    )
    assert calls - refills <= 10 + 6, f"{calls} REST calls: a hot loop"
    assert engine.api.stats.rate_limited == 10
    assert took >= 8 * 1.0 * 0.8  # Retry-After was honoured (10 refusals, 1 s each)
    assert took <= 20.0
    await engine.converged()


async def test_survives_server_errors(engines: EngineFactory) -> None:
    engine = await engines()
    await engine.pause()
    await engine.settled()
    calls_before = (await engine.stats())["rest_calls"]
    assert await engine.fault("server_error", count=3) == 3
    await engine.prove_resync()
    assert engine.api.stats.server_errors == 3
    assert (await engine.stats())["rest_calls"] - calls_before <= 3 + 8
    await engine.converged()


async def test_unreadable_frames_are_counted_and_the_stream_goes_on(
    engines: EngineFactory,
) -> None:
    engine = await engines()
    await engine.pause()
    await engine.settled()
    mark = engine.records.mark()
    counters = dict(engine.service.counters)
    frames = engine.shard.counters["frames"]
    assert await engine.fault("malformed") == 1
    assert await engine.fault("oversized") == 1
    assert await engine.fault("unknown_topic", count=2) == 1
    # 8 malformed frames + 1 oversized + 2 unknown = 11 frames; then prove the stream still
    # carries real events (they come after the junk on the same socket).
    await engine.prove_stream()
    assert engine.shard.counters["frames"] >= frames + 11
    assert engine.service.counters["malformed"] == counters["malformed"] + 7
    # One well-formed frame with a body we cannot read, the oversized one, two unknown topics.
    assert engine.service.counters["unparsed"] == counters["unparsed"] + 4
    assert not engine.records.gaps("start", mark)
    assert engine.service.state is EngineState.LIVE
    await engine.prove_resync()


# ================================================================================== 3. rollover
@engine_config(channel_ttl_s=3.0)
async def test_rolls_over_before_expiry_without_a_gap(engines: EngineFactory) -> None:
    engine = await engines()
    first = engine.shard.channel
    assert first is not None
    mark = engine.records.mark()
    await engine.records.until(lambda: engine.shard.counters["rollovers"] >= 1, deadline_s=4.0)
    assert time.time() < first.expires.timestamp(), "rolled over only after the expiry"
    assert engine.shard.channel is not None and engine.shard.channel.id != first.id
    await engine.next_resync(mark)
    await engine.converged(resync=False)
    assert not engine.records.gaps("start"), "a rollover must not open a gap"
    # The old socket is read out for the overlap window (frames still on their way), then closed.
    deadline = time.monotonic() + SETTINGS.overlap_s + 2.0
    # No record marks the close, so this polls, with a deadline.
    while engine.shard.sockets_open > 1 and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    assert engine.shard.sockets_open == 1
    stats = await engine.stats()
    assert stats["sockets"] == 1
    await engine.prove_resync()


# ================================================================================== 4. eviction
async def test_notices_eviction_and_recovers_without_a_loop(
    engines: EngineFactory, http: httpx.AsyncClient
) -> None:
    engine = await engines()
    await engine.pause()
    await engine.settled()
    token = await client_token(http)
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []

    async def drain(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for _ in ws:
                pass

    async def other_channel(connected: bool) -> Json:
        resp = await http.post("/api/v2/notifications/channels", headers=bearer(token))
        assert resp.status_code == 200, resp.text
        channel: Json = resp.json()
        if connected:
            ws = await connect(channel["connectUri"], ping_interval=None)
            sockets.append(ws)
            readers.append(asyncio.get_running_loop().create_task(drain(ws)))
        return channel

    try:
        # 19 more connected channels fill the pool of 20; ours was used least recently.
        for _ in range(19):
            await other_channel(connected=True)
        assert (await engine.stats())["evictions"] == 0
        mark = engine.records.mark()
        await other_channel(connected=True)  # the 21st evicts ours
        start, _ = await engine.records.wait_for(is_gap("start"), since=mark)
        await engine.next_resync(start + 1)
        await engine.settled()
        assert engine.shard.counters["channels_created"] == 2
        # No fight over the pool: the engine's new channel evicted one of the test's, and the
        # engine stays where it is (watch a while: a loop would reconnect every 50 ms).
        await engine.records.none_within(is_gap("start"), 1.5)
        await engine.converged()
        assert engine.shard.counters["channels_created"] <= 3
        assert (await engine.stats())["evictions"] == 2
    finally:
        for ws in sockets:
            await ws.close()
        for reader in readers:
            await reader


# ================================================================================== 5. budget
@engine_config(users=1500, queues=2, simulate=False)
async def test_shards_1500_users_over_two_channels(engines: EngineFactory) -> None:
    engine = await engines(Selection(queues="none", users="all"))
    budgets = [r for r in engine.records.records if isinstance(r, BudgetRecord)]
    assert budgets
    budget = budgets[-1]
    assert budget.channels == 2
    assert budget.per_channel == (900, 600)
    assert budget.over_budget == ()
    assert budget.topics == 1500
    assert len(engine.service.shards) == 2
    assert all(s.phase.value == "live" for s in engine.service.shards)
    assert len(engine.service.watch.users) == 1500
    assert (await engine.stats())["channels"] == 2
    await engine.converged()


@engine_config(users=1500, queues=2, simulate=False)
async def test_a_revoked_token_is_renewed_once_for_all_channels(engines: EngineFactory) -> None:
    engine = await engines(Selection(queues="none", users="all"))
    assert len(engine.service.shards) == 2
    issued = (await engine.stats())["tokens_issued"]
    mark = engine.records.mark()
    assert await engine.fault("revoke_tokens") == 1
    start, _ = await engine.records.wait_for(is_gap("start"), since=mark)
    await engine.next_resync(start + 1)
    await engine.settled()
    # Both channels heard token_revoked; one renewal serves both, and each channel is rebuilt
    # once (a second renewal would roll every channel over again).
    assert (await engine.stats())["tokens_issued"] - issued == 1
    assert [s.counters["channels_created"] for s in engine.service.shards] == [2, 2]
    assert [s.counters["rollovers"] for s in engine.service.shards] == [0, 0]
    await engine.converged()


# ================================================================================== 6. rejected
async def test_agent_sees_observation_topics_rejected_and_stays_live(
    engines: EngineFactory, sandbox: Sandbox
) -> None:
    agent = next(
        u.id
        for u in sandbox.org.users.values()
        if u.role == "agent" and any(u.id in q.members for q in sandbox.org.queues.values())
    )
    queues = tuple(sorted(q.id for q in sandbox.org.queues.values() if agent in q.members))
    engine = await engines(Selection(queues=queues, users="members"), grant="pkce", user=agent)
    budget = engine.service.budget_report()
    refused = {r.id: r for r in budget.rejected}
    for queue_id in queues:
        topic = f"v2.analytics.queues.{queue_id}.observations"
        assert topic in refused, sorted(refused)
        assert refused[topic].missing_permissions == (OBSERVATION_PERMISSION,)
    reported = [r for r in engine.records.records if isinstance(r, BudgetRecord) and r.rejected]
    assert reported, "the rejection must be reported as a BudgetRecord"
    assert engine.service.state is EngineState.LIVE
    # The users still converge; the queue counters are not the agent's to see.
    engine.queues_visible = False
    await engine.converged()


# ================================================================================== 7. members
async def test_follows_a_new_queue_member(engines: EngineFactory, sandbox: Sandbox) -> None:
    queue_id = sorted(sandbox.org.queues)[0]
    engine = await engines(Selection(queues=(queue_id,), users="members"))
    await engine.pause()
    await engine.settled()
    newcomer = next(
        uid for uid in sorted(sandbox.org.users) if uid not in engine.service.watch.users
    )
    mark = engine.records.mark()
    await engine.control(f"/sandbox/queues/{queue_id}/members", {"userId": newcomer})
    await engine.records.wait_for(
        lambda r: isinstance(r, WatchRecord) and newcomer in r.users, since=mark
    )
    assert newcomer in engine.service.watch.users
    # A change made before the new topic is subscribed must not be lost.
    truth = await engine.truth()
    before = truth["users"][newcomer]["presence"]
    await engine.set_presence(newcomer, "MEETING" if before != "MEETING" else "BUSY")
    await engine.records.until(lambda: user_topic(newcomer) in engine.shard.topics)
    await engine.records.until(lambda: engine.shard.subscribed == engine.shard.topics)
    await engine.settled()
    await engine.assert_matches_truth()
    # And later changes arrive through the stream.
    mark = engine.records.mark()
    await engine.set_presence(newcomer, "ON_QUEUE")
    await engine.records.wait_for(stream_change("user", newcomer), since=mark)
    await engine.converged()


# ================================================================================== 8. no leaks
async def test_stop_mid_storm_is_prompt_and_leaves_nothing_behind(
    engines: EngineFactory, sandbox: Sandbox
) -> None:
    before = asyncio.all_tasks()
    queue_id = sorted(sandbox.org.queues)[0]
    engine = await engines(Selection(queues=(queue_id,), users="members"))
    assert any(t.get_name().startswith("channel-shard") for t in asyncio.all_tasks() - before)
    await engine.pause()
    await engine.settled()
    # Leave work in every corner: a membership change waiting to be re-planned, REST calls
    # honouring Retry-After, a socket to reconnect.
    newcomer = next(u for u in sorted(sandbox.org.users) if u not in engine.service.watch.users)
    mark = engine.records.mark()
    await engine.control(f"/sandbox/queues/{queue_id}/members", {"userId": newcomer})
    await engine.records.wait_for(
        lambda r: isinstance(r, WatchRecord) and newcomer in r.users, since=mark
    )
    await engine.fault("rate_limit", count=50, retry_after=5)
    await engine.fault("drop")
    await engine.records.wait_for(is_gap("start"), since=mark)
    began = time.monotonic()
    await engine.service.stop()
    took = time.monotonic() - began
    assert took < 1.0, f"stop took {took:.2f} s"
    assert engine.service.state is EngineState.STOPPED
    assert all(s.phase.value == "stopped" for s in engine.service.shards)
    left = [t for t in asyncio.all_tasks() - before if not _is_the_sandboxes(t)]
    assert not left, left
    loop = asyncio.get_running_loop()
    pending = [
        h
        for h in [*getattr(loop, "_scheduled", []), *getattr(loop, "_ready", [])]
        if not h.cancelled() and _is_our_callback(h)
    ]
    assert not pending, pending
    assert (await engine.stats())["sockets"] == 0


def _is_the_sandboxes(task: asyncio.Task[Any]) -> bool:
    """Tasks of the sandbox's server (its socket handlers finish on their own schedule)."""
    code = getattr(task.get_coro(), "cr_code", None)
    filename = code.co_filename if code is not None else ""
    return "/sandbox/" in filename or "/aiohttp/" in filename


def _is_our_callback(handle: asyncio.Handle) -> bool:
    """A loop callback (``call_soon``/``call_later``) that belongs to the engine."""
    callback = getattr(handle, "_callback", None)
    owner = getattr(callback, "__self__", None)
    module = getattr(callback, "__module__", None) or type(owner).__module__
    return module.startswith("core.")
