"""The life driver: the faults of a tray app that runs all day, against one engine and the org.

An app started at login meets faults the network chaos of tests/chaos/driver.py does not inject:
no network yet, a keyring that is locked or hangs, a laptop suspended for longer than its token
lives, a background task that raises once, a wall clock that jumps. One client-credentials
engine, wired as the app wires it (its session and its channel records in a keyring, here a test
backend that can be locked or made to hang; a wall clock the test can move), watches the members
of two queues of the sandbox org while the kinds of :data:`KINDS` hit it in shuffled rounds.
After every fault:

* the simulation is paused and the engine's store must equal ``/sandbox/truth``;
* every long-lived task the engine's supervisor keeps must still be running;
* no thread may be left behind: no new thread besides the idle workers of asyncio's executor and
  one keyring worker, and no thread still stuck inside the keyring;
* no ERROR may be logged, except the one record the raising task must cause.

The engine is used through its public API (start, stop, ``check_now``, its records and state);
the faults are injected from outside (the sandbox's control API, the keyring backend, the wall
clock, the loop frozen as by a suspend). No wait sleeps for the engine: every wait is for a
record, a state or the keyring's own counters, with a deadline. The only sleeps are a fault's
own downtime (the org unreachable, the keyring locked) and short stretches of traffic.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import httpx

from core.auth.credentials import KeyringCredentialStore
from core.auth.session import Authenticator
from core.engine.offline import OfflineSettings
from core.engine.records import EngineState
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.engine.supervisor import SupervisorSettings
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.streaming.memory import StoredChannelMemory
from tests.chaos.life_kit import (
    ChaosKeyring,
    LifeReport,
    LifeStats,
    WallClock,
    long_lived,
    thread_idents,
)
from tests.chaos.report import is_the_sandboxes, open_sockets, rss_mb
from tests.chaos.rig import CONVERGE_S, OUTCOME_S, SANDBOX, FaultRig, Json, _freeze_loop
from tests.integration.test_engine import (
    CLIENT_ID,
    CLIENT_SECRET,
    Engine,
    Recorder,
    _check_gap_end,
    is_gap,
)

logger = logging.getLogger(__name__)

KINDS: tuple[str, ...] = (
    "unreachable_start",
    "keyring_locked",
    "keyring_hangs",
    "long_suspend",
    "task_raises",
    "clock_jump",
)
KEPT_TASKS = ("resync", "token-keeper")  # the long-lived tasks a started engine keeps running
SERVICE = "genesys-tray/life-test"
SUPERVISION = SupervisorSettings(first_backoff_s=0.1, max_backoff_s=1.0, stable_s=2.0)
OFFLINE = OfflineSettings(first_retry_s=0.2, max_retry_s=1.0)
HANG_LIVE_S = 10.0  # live again with the keyring hanging: well under its 30 s call timeout
SAVED_S = 15.0  # the renewed session reaches the keyring this soon after it answers again
THREADS_S = 5.0  # threads that were busy with a fault end this soon after it
MAX_STUCK_IN_KEYRING = 1  # threads blocked in a hanging keyring at once
SAVE_RETRY_S = (0.2, 0.5, 1.0)  # a session the keyring did not take is tried again this soon
KEEPER_SLICE_S = 1.0  # the token keeper looks at both clocks at least this often
KEEPER_S = 5.0  # it renews a token a clock jump left expired this soon
HOUR_S = 3600.0
# Tokens live 1.5 h (the org's clock is real time): a jump of 2 h leaves one expired.
LIFE_SANDBOX = {**SANDBOX, "token_ttl_s": 1.5 * HOUR_S}


# ---------------------------------------------------------------------------------- the driver
class LifeDriver(FaultRig):
    """Injects the life faults in shuffled rounds and checks every invariant after each."""

    sandbox_settings: ClassVar[Json] = LIFE_SANDBOX

    def __init__(
        self,
        *,
        seed: int,
        per_kind: int,
        duration_s: float = 0.0,
        offline_s: tuple[float, float] = (10.0, 15.0),
        suspend_s: tuple[float, float] = (0.1, 0.6),
        progress: Callable[[str], None] | None = None,
    ) -> None:
        report = LifeReport(seed, life={kind: LifeStats() for kind in KINDS})
        super().__init__(seed=seed, report=report, progress=progress)
        self.life = report
        self.per_kind = per_kind
        self.duration_s = duration_s
        self.offline_s = offline_s
        self.suspend_s = suspend_s
        self.wall = WallClock()
        self.keyring = ChaosKeyring()
        # One store for the run, as one app has one: its keyring worker is not per engine.
        self.store = KeyringCredentialStore(SERVICE, backend=self.keyring)
        self.queues: tuple[str, ...] = ()
        self._raising = ""  # the task made to raise, by its name

    @property
    def engine(self) -> Engine:
        """The engine of the moment (an unreachable start replaces it)."""
        return self.engines["cc"]

    # ------------------------------------------------------------------ wiring
    def _wire(self) -> Engine:
        """An engine wired as the app wires it; not started, not signed in (the start signs
        in, as the app does when the org was not there at first)."""
        env = parse_environment(self.sandbox.base_url)
        auth = Authenticator(
            env,
            CLIENT_ID,
            self.store,
            client_secret=CLIENT_SECRET,
            clock=self.wall,
            save_retry_s=SAVE_RETRY_S,
        )
        api = ApiClient(
            env,
            auth.access_token,
            on_unauthorized=auth.renew_rejected,
            policy=self.retry_policy,
            rng=random.Random(self.rng.random()),
        )
        service = MonitorService(
            api,
            auth,
            Selection(queues=self.queues, users="members"),
            settings=self.channel_settings,
            memory=StoredChannelMemory(self.store),
            rng=random.Random(self.rng.random()),
            clock=self.wall,
            supervision=SUPERVISION,
            offline=OFFLINE,
            first_sign_in=auth.sign_in_client_credentials,
        )
        # Test-sized, as the channel timings are: the keeper's slices bound how late it notices.
        service.tokens.slice_s = KEEPER_SLICE_S
        records = Recorder()
        service.add_listener(records)
        service.add_listener(lambda r: _check_gap_end(service, r, records.violations))
        engine = Engine(self.sandbox, self.client, auth, api, service, records)
        engine.closers = [auth.aclose, api.aclose, service.stop]
        self.engines["cc"] = engine
        return engine

    async def run(self) -> LifeReport:
        """Start the org and the engine, inject the schedule, check, stop; the report."""
        began = time.monotonic()
        root = logging.getLogger()
        root.addHandler(self.trap)
        tasks_before = asyncio.all_tasks()
        self.life.threads_start = threading.active_count()
        start_threads = thread_idents()
        self.report.sockets_start = open_sockets()
        try:
            await self.sandbox.start()
            self.http = httpx.AsyncClient(
                base_url=self.sandbox.base_url,
                timeout=10.0,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
            truth = (await self.client.get("/sandbox/truth")).json()
            self.queues = tuple(sorted(truth["queues"])[:2])
            engine = self._wire()
            await engine.service.start()
            await engine.settled(OUTCOME_S)
            self.report.sockets_warm = open_sockets()
            self.report.rss_warm_mb = rss_mb()
            await self._schedule(began)
            if not self.report.problems:
                await self.engine.converged(deadline_s=CONVERGE_S)
        finally:
            self.keyring.locked = False
            self.keyring.open.set()
            await self._stop_engines()
            left = [
                t
                for t in asyncio.all_tasks() - tasks_before
                if not is_the_sandboxes(t) and not t.done()
            ]
            self.report.leaked_tasks = [repr(t) for t in left]
            if self.http is not None:
                await self.http.aclose()
            await self.sandbox.stop()
            root.removeHandler(self.trap)
            leaked = await self._threads_left(start_threads)
            if leaked:
                self.problem(f"threads left at the end: {leaked}")
            self.life.threads_end = threading.active_count()
            self.report.sockets_end = open_sockets()
            self.report.rss_end_mb = rss_mb()
            self.report.errors_logged = list(self.trap.errors)
            self.report.warnings_logged = self.trap.warnings
            self.report.elapsed_s = time.monotonic() - began
        return self.life

    async def _schedule(self, began: float) -> None:
        done = 0
        while True:
            enough = min(s.injected for s in self.life.life.values()) >= self.per_kind
            if enough and time.monotonic() - began >= self.duration_s:
                return
            kinds = list(KINDS)
            self.rng.shuffle(kinds)
            for kind in kinds:
                await self.one_fault(kind)
                done += 1
                if len(self.report.problems) > 20 or self.trap.errors:
                    return
            self.progress(
                f"{done} life faults, {time.monotonic() - began:.0f} s, "
                f"{self.life.life_mismatches} mismatches, {len(self.report.problems)} problems"
            )

    # ------------------------------------------------------------------ one fault
    async def one_fault(self, kind: str) -> None:
        """Inject ``kind`` once and check every invariant afterwards."""
        stats = self.life.life[kind]
        stats.injected += 1
        self.report.order.append(kind)
        threads = thread_idents()
        errors = len(self.trap.errors)
        inject: Callable[[], Awaitable[float]] = getattr(self, f"_{kind}")
        survived = True
        try:
            await self.control("/sandbox/simulation/resume")
            await asyncio.sleep(self.rng.uniform(0.02, 0.12))  # traffic before the fault
            stats.live_again_s.append(await inject())
            await self.control("/sandbox/simulation/pause")
            if not await self._converge_all(kind):
                stats.mismatches += 1
                survived = False
        except AssertionError as exc:
            self.problem(f"{kind} #{stats.injected}: {exc}; {self._describe()}")
            survived = False
            self.keyring.locked = False
            self.keyring.open.set()
            await self._heal()
        dead = self._dead_tasks()
        if dead:
            stats.dead_tasks += len(dead)
            self.problem(f"{kind} #{stats.injected}: supervised tasks not running: {dead}")
            survived = False
        leaked = await self._threads_left(threads)
        if leaked:
            stats.leaked_threads += len(leaked)
            self.problem(f"{kind} #{stats.injected}: threads left behind: {leaked}")
            survived = False
        survived = self._check_resources(kind) and survived
        survived = self._check_errors(kind, errors) and survived
        survived = self._trim_records(kind) and survived
        if survived:
            stats.survived += 1

    def _describe(self) -> str:
        service = self.engine.service
        phases = [s.phase.value for s in service.shards]
        return f"engine {service.state.value} ({service.state_detail}), shards {phases}"

    def _dead_tasks(self) -> list[str]:
        """The long-lived tasks the engine's supervisor should be running but is not."""
        tasks = self.engine.service._supervisor.tasks
        running = {t.get_name() for t in tasks if not t.done()}
        return [name for name in KEPT_TASKS if name not in running]

    async def _threads_left(self, before: dict[int, str]) -> list[str]:
        """Threads a fault left behind: new ones that are not long-lived, more than one keyring
        worker, and any thread still inside the keyring. Busy ones get a moment to end."""

        def left() -> list[str]:
            now = thread_idents()
            new = [name for ident, name in now.items() if ident not in before]
            extra = [name for name in new if not long_lived(name)]
            workers = [n for n in now.values() if "keyring" in n.lower()]
            extra += workers[1:]
            extra += ["(inside the keyring)"] * self.keyring.inside
            return extra

        for _ in range(round(THREADS_S / 0.05)):  # threads announce nothing: poll, with a deadline
            if not left():
                break
            await asyncio.sleep(0.05)
        return left()

    def _check_errors(self, kind: str, before: int) -> bool:
        """No ERROR logged, except the one record of the task that raised on purpose."""
        new = self.trap.errors[before:]
        if kind == "task_raises":
            expected = [e for e in new if self._raising in e and "RuntimeError" in e]
            if len(expected) == 1:
                self.trap.errors.remove(expected[0])
                new = [e for e in new if e is not expected[0]]
            else:
                self.problem(f"task_raises: {len(expected)} records of the failure, not 1")
                return False
        if new:
            self.problem(f"{kind}: error logged: {new[:3]}")
            return False
        return True

    # ------------------------------------------------------------------ waiting
    async def _live_with_new_token(self, old: str | None, mark: int, deadline_s: float) -> float:
        """Wait for a re-sync after ``mark``, a token other than ``old`` and LIVE; when."""
        engine = self.engine
        start, _ = await engine.records.wait_for(is_gap("start"), deadline_s, since=mark)
        await engine.records.wait_for(is_gap("end"), deadline_s, since=start + 1)
        await engine.records.until(lambda: self._token() not in (None, old), deadline_s)
        await engine.settled(deadline_s)
        return time.monotonic()

    def _token(self) -> str | None:
        token = self.engine.auth.token
        return token.access_token if token is not None else None

    def _saved_token(self) -> str | None:
        return self.keyring.values.get((SERVICE, "access_token"))

    async def _until(self, condition: Callable[[], bool], deadline_s: float, what: str) -> None:
        """Wait for a condition no record announces (the keyring's own state), polling."""
        deadline = time.monotonic() + deadline_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} within {deadline_s:g} s")
            await asyncio.sleep(0.05)

    async def _renewed(self) -> tuple[str | None, float]:
        """Expire every token at the org (a renewal must follow); the old token, and when."""
        old = self._token()
        assert await self.fault("expire_tokens") >= 1, "expire_tokens touched nothing"
        return old, time.monotonic()

    # ------------------------------------------------------------------ the faults
    async def _unreachable_start(self) -> float:
        """The app starts at login before the network: nothing listens at the org's address.
        The engine must say OFFLINE, keep trying, and come live by itself once the org answers."""
        await self.engine.close()
        del self.engines["cc"]
        await self.sandbox.stop()
        engine = self._wire()
        await engine.service.start()  # returns: the start goes on in the background
        await engine.records.until(lambda: engine.service.state is EngineState.OFFLINE, OUTCOME_S)
        detail = engine.service.state_detail
        assert detail.startswith("Offline: retrying"), f"OFFLINE says {detail!r}"
        await asyncio.sleep(self.rng.uniform(*self.offline_s))  # the org is away this long
        assert engine.service.state in (EngineState.OFFLINE, EngineState.STARTING), (
            f"{engine.service.state.value} while the org could not be reached"
        )
        assert engine.service.health == {}, engine.service.health
        await self.sandbox.start()
        reachable = time.monotonic()
        await engine.settled(OUTCOME_S)
        return time.monotonic() - reachable

    async def _keyring_locked(self) -> float:
        """The keyring locks (the screen locked, the wallet closed); a renewal happens meanwhile.
        The engine stays live on the session in memory; once unlocked, the renewed session is
        remembered."""
        self.keyring.locked = True
        refused = self.keyring.refused
        mark = self.engine.records.mark()
        old, began = await self._renewed()
        live = await self._live_with_new_token(old, mark, OUTCOME_S)
        await self._until(
            lambda: self.keyring.refused > refused, OUTCOME_S, "no keyring call was refused"
        )
        assert self._saved_token() != self._token(), "the locked keyring stored the new token"
        await asyncio.sleep(self.rng.uniform(0.1, 0.5))  # locked a while longer
        self.keyring.locked = False
        await self._until(
            lambda: self._saved_token() == self._token(),
            SAVED_S,
            "the renewed session did not reach the keyring once it was unlocked",
        )
        return live - began

    async def _keyring_hangs(self) -> float:
        """The keyring hangs (an unanswered password prompt) while a renewal saves the session.
        The engine stays live on the session in memory, and the threads stay bounded."""
        hung = self.keyring.hung
        self.keyring.open.clear()
        try:
            mark = self.engine.records.mark()
            old, began = await self._renewed()
            live = await self._live_with_new_token(old, mark, HANG_LIVE_S)
            await self._until(lambda: self.keyring.hung > hung, OUTCOME_S, "nothing hung")
            await asyncio.sleep(self.rng.uniform(0.1, 0.5))  # it hangs a while longer
            await self.engine.settled(HANG_LIVE_S)  # still live (or back to it) while it hangs
        finally:
            stuck = self.keyring.most_inside_hung
            self.life.most_threads_stuck = max(self.life.most_threads_stuck, stuck)
            self.keyring.open.set()
        assert stuck <= MAX_STUCK_IN_KEYRING, f"{stuck} threads stuck in the keyring at once"
        await self._until(
            lambda: self._saved_token() == self._token(),
            SAVED_S,
            "the renewed session did not reach the keyring once it answered",
        )
        return live - began

    async def _long_suspend(self) -> float:
        """The laptop sleeps for longer than the token lives: the sockets go quiet, the org
        expires the token, the wall clock moves past its expiry; on resume the engine renews,
        reconnects and re-syncs."""
        token = self.engine.auth.token
        assert token is not None
        mark = self.engine.records.mark()
        await self.fault("stall")
        old, _ = await self._renewed()
        self.wall.offset_s += token.expires_at - self.wall() + self.rng.uniform(60.0, HOUR_S)
        _freeze_loop(self.rng.uniform(*self.suspend_s))
        began = time.monotonic()  # the resume
        self.engine.service.check_now()  # what the app does on resume
        live = await self._live_with_new_token(old, mark, OUTCOME_S)
        return live - began

    async def _task_raises(self) -> float:
        """A long-lived task's step raises an unexpected error once (the re-sync worker and the
        token keeper by turns): the supervisor logs it once and restarts the task, which then
        does its work again."""
        if self.life.life["task_raises"].injected % 2:
            self._raising = "resync"
            return await self._resync_raises()
        self._raising = "token-keeper"
        return await self._keeper_raises()

    async def _resync_raises(self) -> float:
        """The re-sync's read raises once; the gap it was to fill is filled after the restart."""
        readback = self.engine.service._readback
        real = readback.resync
        raised = 0

        async def raise_once(*args: Any, **kwargs: Any) -> Any:
            nonlocal raised
            if raised == 0:
                raised += 1
                raise RuntimeError("an injected failure of the re-sync")
            return await real(*args, **kwargs)

        readback.resync = raise_once  # type: ignore[method-assign]
        try:
            mark = self.engine.records.mark()
            began = time.monotonic()
            assert await self.fault("drop") >= 1
            start, _ = await self.engine.records.wait_for(is_gap("start"), OUTCOME_S, since=mark)
            await self.engine.records.wait_for(is_gap("end"), OUTCOME_S, since=start + 1)
            await self.engine.settled(OUTCOME_S)
            live = time.monotonic()
            assert raised == 1, "the re-sync never ran the failing step"
        finally:
            readback.resync = real  # type: ignore[method-assign]
        return live - began

    async def _keeper_raises(self) -> float:
        """The token keeper's look at the token raises once; restarted, it still renews a token
        that a clock jump left expired."""
        keeper = self.engine.service.tokens
        real = keeper.session
        raising = _RaisingOnce(real)
        keeper.session = raising
        try:
            began = time.monotonic()
            await self._until(lambda: raising.raised, KEEPER_S, "the keeper never looked")
        finally:
            keeper.session = real
        old = self._token()
        self.wall.offset_s += 2 * HOUR_S  # the token's 1.5 h are over: only the keeper renews
        await self._until(
            lambda: self._token() not in (None, old), KEEPER_S, "the restarted keeper renewed"
        )
        await self.engine.settled(OUTCOME_S)
        return time.monotonic() - began

    async def _clock_jump(self) -> float:
        """The wall clock jumps 2 h ahead, then 2 h back (NTP, a clock set by hand). Ahead, the
        token's 1.5 h are over by that clock: the token keeper must notice and renew by itself
        (nothing else asks it to). Back, the engine stays live and a renewal still happens."""
        # Quiet first: a REST call (the counter confirmation after a re-sync) would renew the
        # token on its way, and then the keeper would not be what noticed the jump.
        service = self.engine.service
        await self._until(lambda: not service._confirming, OUTCOME_S, "still confirming")
        began = time.monotonic()
        old = self._token()
        self.wall.offset_s += 2 * HOUR_S
        await self._until(
            lambda: self._token() not in (None, old),
            KEEPER_S,
            "the token keeper did not renew a token the clock jump left expired",
        )
        await self.engine.settled(OUTCOME_S)
        self.wall.offset_s -= 2 * HOUR_S
        await self.engine.settled(OUTCOME_S)
        mark = self.engine.records.mark()
        old, _ = await self._renewed()
        live = await self._live_with_new_token(old, mark, OUTCOME_S)
        return live - began


class _RaisingOnce:
    """The session as the token keeper sees it, except that reading its token raises once."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.raised = False

    def __getattr__(self, name: str) -> Any:
        if name == "token" and not self.raised:
            self.raised = True
            raise RuntimeError("an injected failure of the token keeper")
        return getattr(self.real, name)


async def run_life(
    *,
    seed: int,
    per_kind: int,
    duration_s: float = 0.0,
    offline_s: tuple[float, float] = (10.0, 15.0),
    suspend_s: tuple[float, float] = (0.1, 0.6),
    progress: Callable[[str], None] | None = None,
) -> LifeReport:
    """Run the life driver once."""
    driver = LifeDriver(
        seed=seed,
        per_kind=per_kind,
        duration_s=duration_s,
        offline_s=offline_s,
        suspend_s=suspend_s,
        progress=progress,
    )
    return await driver.run()
