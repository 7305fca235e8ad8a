"""The chaos driver: two engines against one sandbox org while every fault kind hits them.

One client-credentials engine and one PKCE engine (signed in again by a stand-in for the person
whenever the engine asks, the way ``main.py`` does) watch the members of two queues of a fast,
lively sandbox org (heartbeat 0.2 s, the simulated day 100 times faster). The driver injects the
fault kinds of :data:`KINDS` in an order shuffled with a fixed seed, and after every fault:

* waits for the outcome the fault must have (a gap that ends with a re-sync, a socket switch
  without a gap, a re-subscribe and re-sync without a gap after ``no_longer_subscribed``, junk
  frames counted without a gap) and measures the time until every engine is
  live again;
* pauses the simulation and checks that each engine's store equals ``/sandbox/truth`` for the
  watched users and queues (a mismatch is counted, then healed with a forced re-sync so the next
  fault starts from a known picture);
* checks the channel pool: no eviction at all except in the deliberate 21st-channel fault, and
  there at most one by the engine's own new channel; no subject above 20 channels; at most a
  few channels created per fault;
* checks the alerts: each engine feeds a :class:`core.rules.RuleEngine` on every record, as the
  app does, with level rules on presence, routing and queue counters; once the picture equals
  the truth, the firing alerts must be exactly the subjects for which the truth says the
  condition holds. The org changes a watched user to TRAINING while the engines cannot hear it
  (:meth:`Engine.change_unheard`), so an alert whose condition began and held across a gap must
  have fired after the re-sync (counted in the report);
* with ``gui=True`` (the CI run and the soak), checks the app's window on the
  client-credentials engine (:class:`tests.chaos.gui_view.GuiView`, offscreen): every board cell
  shows the truth and the status bar says Live;
* samples open sockets (``/proc/self/fd``) and RSS, and stops at the first ERROR logged by
  ``core.*``, ``sandbox.*``, ``asyncio`` or ``aiohttp.*``.

At the end both engines prove convergence by the live stream and by a re-sync
(``Engine.converged`` of tests/integration/test_engine.py), are stopped, and no task of theirs
may be left. :class:`ChaosReport` holds the figures and renders the soak table.

No fault waits by sleeping for the engine: every wait is for a record or a state, with a deadline.
The only sleeps are the random stretches of traffic between faults and the downtime of a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx
from websockets.asyncio.client import ClientConnection, connect

from core.api import ApiClient, RetryPolicy
from core.auth import Authenticator
from core.channel import ChannelSettings
from core.credentials import MemoryCredentialStore
from core.errors import AuthError
from core.regions import parse_environment
from core.rules import Condition, Rule, RuleEngine
from core.service import EngineState, MonitorService, Record, Selection, StateRecord
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.integration.helpers import bearer, client_token

if TYPE_CHECKING:
    from tests.chaos.gui_view import GuiView
from tests.integration.test_engine import (
    CLIENT_ID,
    CLIENT_SECRET,
    PKCE_CLIENT_ID,
    Engine,
    Recorder,
    _check_gap_end,
    _check_gap_pairs,
    is_gap,
    redirect_follower,
)

Json = dict[str, Any]
Outcome = Literal["gap", "switch", "resync", "junk", "none"]

KINDS: tuple[str, ...] = (
    "drop",
    "stall",
    "socket_closing",
    "no_longer_subscribed",
    "expire_channels",
    "evict",
    "second_socket",
    "rate_limit",
    "server_error",
    "revoke_tokens",
    "expire_tokens",
    "malformed",
    "oversized",
    "unknown_topic",
    "restart",
    "sleep_resume",
)

JUNK = frozenset({"malformed", "oversized", "unknown_topic"})
SANDBOX: Json = {
    "users": 30,
    "queues": 4,
    "seed": 11,
    "heartbeat_s": 0.2,
    "simulate": True,
    "speed": 100.0,
    "tick_s": 0.05,
    "observation_min_interval_s": 0.05,
    # 300/min per client-credentials token is the real limit; a re-sync after every one of
    # hundreds of faults a minute would spend it, and the 429 storms are injected on purpose.
    "client_rate_per_min": 6000,
    "user_rate_per_min": 6000,
}
SETTINGS = ChannelSettings(
    first_backoff_s=0.05,
    max_backoff_s=0.5,
    assumed_heartbeat_s=0.3,
    healthy_retry_s=0.05,
    overlap_s=1.0,
    blocked_wait_s=1.0,  # channels vanish on purpose here; the BLOCKED wait still happens
)
POLICY = RetryPolicy(base_backoff_s=0.05, max_backoff_s=0.5, rate_limit_jitter_s=0.1)
OUTCOME_S = 25.0  # deadline for a fault's outcome (a restart or a browser sign-in included)
CONVERGE_S = 6.0  # deadline for the picture to equal the truth once live
WATCHED_LOGGERS = ("core", "sandbox", "asyncio", "aiohttp")
SOCKET_SLACK = 16  # sockets above the warm baseline we tolerate at a check point
RSS_SLACK_MB = 96.0
# Level rules whose truth can be read off /sandbox/truth; no delay, no cooldown, no hysteresis,
# so the alerts that should be firing are exactly the subjects the truth says.
ALERT_RULES: tuple[Rule, ...] = (
    Rule("nr", "Not responding", Condition.AGENT_NOT_RESPONDING, cooldown_s=0.0),
    Rule(
        "training",
        "In training",
        Condition.AGENT_PRESENCE_IS,
        presence="TRAINING",
        cooldown_s=0.0,
    ),
    Rule("break", "On break", Condition.AGENT_PRESENCE_IS, presence="BREAK", cooldown_s=0.0),
    Rule(
        "waiting",
        "Calls waiting",
        Condition.QUEUE_WAITING_ABOVE,
        threshold=0.0,
        hysteresis=0.0,
        cooldown_s=0.0,
    ),
)


def alerts_due(expected: Json) -> set[tuple[str, str]]:
    """(rule id, subject id) of every alert the truth says must be firing."""
    due: set[tuple[str, str]] = set()
    for uid, user in expected["users"].items():
        if user.get("routingStatus") == "NOT_RESPONDING":
            due.add(("nr", uid))
        if user.get("presence") in ("TRAINING", "BREAK"):
            due.add(("training" if user["presence"] == "TRAINING" else "break", uid))
    for qid, queue in expected.get("queues", {}).items():
        if queue.get("waiting", 0) > 0:
            due.add(("waiting", qid))
    return due


# ---------------------------------------------------------------------------------- reporting
@dataclass
class KindStats:
    """Figures of one fault kind."""

    injected: int = 0
    survived: int = 0
    resyncs: int = 0
    max_live_again_s: float = 0.0
    mismatches: int = 0
    channels_created: int = 0
    alerts_after_gap: int = 0


@dataclass
class ChaosReport:
    """Everything a run measured; :attr:`problems` must be empty."""

    seed: int
    kinds: dict[str, KindStats] = field(default_factory=lambda: {k: KindStats() for k in KINDS})
    problems: list[str] = field(default_factory=list)
    errors_logged: list[str] = field(default_factory=list)
    warnings_logged: int = 0
    evictions_total: int = 0
    evictions_by_us: int = 0
    abandoned_channels: int = 0
    max_channels_per_subject: int = 0
    max_orphans: int = 0
    sockets_start: int = 0
    sockets_warm: int = 0
    sockets_max: int = 0
    sockets_end: int = 0
    rss_warm_mb: float = 0.0
    rss_max_mb: float = 0.0
    rss_end_mb: float = 0.0
    leaked_tasks: list[str] = field(default_factory=list)
    alert_checks: int = 0
    alert_mismatches: int = 0
    gui_checks: int = 0
    gui_mismatches: int = 0
    elapsed_s: float = 0.0
    order: list[str] = field(default_factory=list)

    @property
    def faults(self) -> int:
        """Faults injected in all."""
        return sum(k.injected for k in self.kinds.values())

    @property
    def mismatches(self) -> int:
        """State mismatches in all."""
        return sum(k.mismatches for k in self.kinds.values())

    def table(self) -> str:
        """The soak table: one line per fault kind, then the run's totals."""
        head = f"{'fault':<22}{'injected':>9}{'survived':>9}{'re-syncs':>9}"
        head += f"{'max live again':>16}{'mismatches':>11}{'new channels':>13}"
        lines = [head, "-" * len(head)]
        for kind, s in self.kinds.items():
            lines.append(
                f"{kind:<22}{s.injected:>9}{s.survived:>9}{s.resyncs:>9}"
                f"{s.max_live_again_s:>14.2f} s{s.mismatches:>11}{s.channels_created:>13}"
            )
        total_resyncs = sum(k.resyncs for k in self.kinds.values())
        survived = sum(k.survived for k in self.kinds.values())
        worst = max((k.max_live_again_s for k in self.kinds.values()), default=0.0)
        lines.append("-" * len(head))
        lines.append(
            f"{'all':<22}{self.faults:>9}{survived:>9}{total_resyncs:>9}"
            f"{worst:>14.2f} s{self.mismatches:>11}"
            f"{sum(k.channels_created for k in self.kinds.values()):>13}"
        )
        after_gap = sum(k.alerts_after_gap for k in self.kinds.values())
        lines += [
            "",
            f"alerts: {self.alert_checks} checks against the truth, {self.alert_mismatches}"
            f" wrong; {after_gap} TRAINING alerts fired after a re-sync for presences set"
            f" while the engines could not hear",
            f"window: {self.gui_checks} checks of every board cell against the truth,"
            f" {self.gui_mismatches} wrong",
            f"seed {self.seed}, {self.elapsed_s:.0f} s, unhandled errors logged: "
            f"{len(self.errors_logged)}, warnings logged (expected under faults): "
            f"{self.warnings_logged}, leaked tasks: {len(self.leaked_tasks)}",
            f"evictions: {self.evictions_total} (by our own new channels: {self.evictions_by_us},"
            f" all in 21st-channel faults), channels left to another client:"
            f" {self.abandoned_channels}, unused channels of ours in the pool (max):"
            f" {self.max_orphans}, most channels of one subject:"
            f" {self.max_channels_per_subject}/20",
            f"sockets: {self.sockets_start} before, {self.sockets_warm} warm, max "
            f"{self.sockets_max}, {self.sockets_end} after; RSS warm {self.rss_warm_mb:.0f} MB, "
            f"max {self.rss_max_mb:.0f} MB, end {self.rss_end_mb:.0f} MB",
        ]
        if self.problems:
            lines += ["", f"PROBLEMS ({len(self.problems)}):", *self.problems[:40]]
        return "\n".join(lines)


def open_sockets() -> int:
    """Socket file descriptors of this process (the sandbox's included: one process)."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                count += 1
    return count


def rss_mb() -> float:
    """Resident set size of this process in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def _freeze_loop(seconds: float) -> None:
    """Block the event loop thread, as a suspended laptop does to every timer."""
    time.sleep(seconds)


class LogTrap(logging.Handler):
    """Collects ERROR records of our loggers, counts their warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors: list[str] = []
        self.warnings = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Keep what matters of one record."""
        if record.name.split(".")[0] not in WATCHED_LOGGERS:
            return
        if record.levelno >= logging.ERROR:
            text = f"{record.name}: {record.getMessage()}"
            if record.exc_info and record.exc_info[1] is not None:
                text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            self.errors.append(text)
        else:
            self.warnings += 1


def _is_the_sandboxes(task: asyncio.Task[Any]) -> bool:
    code = getattr(task.get_coro(), "cr_code", None)
    filename = code.co_filename if code is not None else ""
    return "/sandbox/" in filename or "/aiohttp/" in filename


# ---------------------------------------------------------------------------------- the driver
class ChaosDriver:
    """Runs the engines, injects faults, checks every invariant after each one."""

    def __init__(
        self,
        *,
        seed: int,
        per_kind: int,
        duration_s: float = 0.0,
        progress: Callable[[str], None] | None = None,
        live_recovery: bool = False,
        gui_settings: str | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.gui_settings = gui_settings
        self.gui: GuiView | None = None
        self.live_recovery = live_recovery
        self.per_kind = per_kind
        self.duration_s = duration_s
        self.progress = progress or (lambda line: None)
        self.report = ChaosReport(seed)
        self.sandbox = Sandbox(SandboxConfig(**SANDBOX))
        self.http: httpx.AsyncClient | None = None
        self.engines: dict[str, Engine] = {}
        self.trap = LogTrap()
        self._sign_ins: set[asyncio.Task[None]] = set()
        self._test_sockets: list[tuple[ClientConnection, asyncio.Task[None]]] = []
        self._test_channels: list[str] = []
        self._junk: dict[str, int] = {}
        self._second_socket_on: str | None = None
        self.alerts: dict[str, RuleEngine] = {}
        self._resyncs: dict[str, int] = {}

    # ------------------------------------------------------------------ plumbing
    @property
    def client(self) -> httpx.AsyncClient:
        """The control client (no keep-alive: a sandbox restart leaves no stale connection)."""
        assert self.http is not None
        return self.http

    async def control(self, path: str, **params: Any) -> Json:
        """POST to the control API."""
        resp = await self.client.post(path, params=params or None)
        assert resp.status_code == 200, resp.text
        answer: Json = resp.json()
        return answer

    async def fault(self, kind: str, **params: Any) -> int:
        """Inject one sandbox fault."""
        count: int = (await self.control(f"/sandbox/faults/{kind}", **params))["count"]
        return count

    def problem(self, text: str) -> None:
        """Note a broken invariant (the run goes on, the test fails at the end)."""
        self.report.problems.append(text)
        self.progress(f"PROBLEM: {text}")

    async def _engine(self, name: str, grant: Literal["client_credentials", "pkce"]) -> Engine:
        env = parse_environment(self.sandbox.base_url)
        store = MemoryCredentialStore()
        if grant == "client_credentials":
            auth = Authenticator(env, CLIENT_ID, store, client_secret=CLIENT_SECRET)
        else:
            auth = Authenticator(env, PKCE_CLIENT_ID, store, open_browser=redirect_follower())
        api = ApiClient(
            env,
            auth.access_token,
            on_unauthorized=auth.renew_rejected,
            policy=POLICY,
            rng=random.Random(self.rng.random()),
        )
        truth = (await self.client.get("/sandbox/truth")).json()
        selection = Selection(queues=tuple(sorted(truth["queues"])[:2]), users="members")
        service = MonitorService(
            api, auth, selection, settings=SETTINGS, rng=random.Random(self.rng.random())
        )
        records = Recorder()
        service.add_listener(records)
        service.add_listener(lambda r: _check_gap_end(service, r, records.violations))
        rules = self.alerts[name] = RuleEngine(ALERT_RULES)

        def evaluate(_: Record) -> None:
            # As the app's alerts controller does: evaluate on every record the engine emits.
            rules.evaluate(service.store, service.state.value)

        service.add_listener(evaluate)
        engine = Engine(self.sandbox, self.client, auth, api, service, records)
        engine.closers = [auth.aclose, api.aclose, service.stop]
        if grant == "pkce":
            service.add_listener(self._sign_in_again(auth))
            await auth.sign_in_pkce()
        else:
            await auth.sign_in_client_credentials()
        self.engines[name] = engine
        if name == "cc" and self.gui_settings is not None:
            from tests.chaos.gui_view import GuiView  # Qt only when asked for

            self.gui = GuiView(service, self.gui_settings)
        await service.start()
        await engine.settled(OUTCOME_S)
        return engine

    def _sign_in_again(self, auth: Authenticator) -> Callable[[Record], None]:
        """The person signs in again whenever the PKCE engine asks (as main.py prompts)."""

        async def sign_in() -> None:
            try:
                await auth.sign_in_pkce()
            except AuthError as exc:  # a second prompt while one runs is refused: fine
                self.progress(f"sign-in attempt: {exc}")

        def on_record(record: Record) -> None:
            if (
                isinstance(record, StateRecord)
                and record.state is EngineState.SIGN_IN_NEEDED
                and not self._sign_ins
            ):
                task = asyncio.get_running_loop().create_task(sign_in())
                self._sign_ins.add(task)
                task.add_done_callback(self._sign_ins.discard)

        return on_record

    # ------------------------------------------------------------------ the run
    async def run(self) -> ChaosReport:
        """Start everything, inject the schedule, check, stop; returns the report."""
        began = time.monotonic()
        root = logging.getLogger()
        root.addHandler(self.trap)
        self.report.sockets_start = open_sockets()
        tasks_before = asyncio.all_tasks()
        try:
            await self.sandbox.start()
            self.http = httpx.AsyncClient(
                base_url=self.sandbox.base_url,
                timeout=10.0,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
            await self._engine("cc", "client_credentials")
            await self._engine("pkce", "pkce")
            self.report.sockets_warm = open_sockets()
            self.report.rss_warm_mb = rss_mb()
            await self._run_schedule(began)
            if not self.report.problems:
                for engine in self.engines.values():
                    await engine.converged(deadline_s=CONVERGE_S)
        finally:
            await self._stop_engines()
            left = [
                t
                for t in asyncio.all_tasks() - tasks_before
                if not _is_the_sandboxes(t) and not t.done()
            ]
            self.report.leaked_tasks = [repr(t) for t in left]
            if self.http is not None:
                await self.http.aclose()
            await self.sandbox.stop()
            root.removeHandler(self.trap)
            self.report.sockets_end = open_sockets()
            self.report.rss_end_mb = rss_mb()
            self.report.errors_logged = list(self.trap.errors)
            self.report.warnings_logged = self.trap.warnings
            self.report.elapsed_s = time.monotonic() - began
        return self.report

    def _rounds(self) -> list[str]:
        """One round: every kind once, shuffled."""
        kinds = list(KINDS)
        self.rng.shuffle(kinds)
        return kinds

    async def _run_schedule(self, began: float) -> None:
        done = 0
        while True:
            counts = [s.injected for s in self.report.kinds.values()]
            enough = min(counts) >= self.per_kind
            if enough and time.monotonic() - began >= self.duration_s:
                return
            for kind in self._rounds():
                await self.one_fault(kind)
                done += 1
                if self.report.problems and len(self.report.problems) > 20:
                    return
            if self.trap.errors:
                return
            self.progress(
                f"{done} faults, {time.monotonic() - began:.0f} s, "
                f"{self.report.mismatches} mismatches, {len(self.report.problems)} problems"
            )

    async def _stop_engines(self) -> None:
        for task in list(self._sign_ins):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await self._close_test_sockets()
        if self.gui is not None:
            self.report.gui_checks = self.gui.checks
            await self.gui.close()
        for engine in self.engines.values():
            await engine.close()
            if engine.records.violations:
                self.problem(f"gap ended too early: {engine.records.violations[:3]}")
            try:
                _check_gap_pairs(engine.records.records)
            except AssertionError as exc:
                self.problem(f"gap records out of pairs: {exc}")

    # ------------------------------------------------------------------ one fault
    def _created(self) -> int:
        return sum(
            s.counters["channels_created"] for e in self.engines.values() for s in e.service.shards
        )

    async def one_fault(self, kind: str) -> None:
        """Inject ``kind`` once and check every invariant afterwards."""
        stats = self.report.kinds[kind]
        stats.injected += 1
        self.report.order.append(kind)
        marks = {name: e.records.mark() for name, e in self.engines.items()}
        resyncs = {name: e.service.counters["resyncs"] for name, e in self.engines.items()}
        self._resyncs = resyncs
        created = self._created()
        evictions = (await self.stats())["evictions"]
        self._junk = {name: self._junk_seen(e) for name, e in self.engines.items()}
        firing = {name: self._firing(name) for name in self.engines}
        await self.control("/sandbox/simulation/resume")
        await asyncio.sleep(self.rng.uniform(0.02, 0.12))  # traffic before the fault
        began = time.monotonic()
        try:
            outcome, evictions_before_ours = await self._inject(kind)
            if outcome.get("cc") == "gap" or outcome.get("pkce") == "gap":
                # The org goes on while the engines cannot hear it.
                await asyncio.sleep(self.rng.uniform(0.0, 0.1))
                await self.engines["cc"].change_unheard()
            # Junk frames are counted without a record: the org keeps moving so the wait below
            # has records to wake up on. Otherwise the truth holds still while the engines
            # recover (as in test_engine.py) unless live_recovery asks for a moving org.
            moving = kind in JUNK or self.live_recovery
            if not moving:
                await self.control("/sandbox/simulation/pause")
            live_at = [
                await self._outcome(name, outcome.get(name, "none"), marks[name], kind)
                for name in self.engines
            ]
            if moving:
                await self.control("/sandbox/simulation/pause")
            live_again = max(live_at) - began
            stats.max_live_again_s = max(stats.max_live_again_s, live_again)
            matched = await self._converge_all(kind)
            if not matched:
                stats.mismatches += 1
            alerts_ok = await self._check_alerts(kind, firing, outcome)
            survived = matched and alerts_ok
        except AssertionError as exc:
            self.problem(f"{kind} #{stats.injected}: {exc}")
            survived = False
            evictions_before_ours = None
            await self._heal()
        finally:
            await self._cleanup_after(kind)
        stats.resyncs += sum(
            e.service.counters["resyncs"] - resyncs[name] for name, e in self.engines.items()
        )
        new_channels = self._created() - created
        stats.channels_created += new_channels
        survived = await self._check_pool(kind, evictions, evictions_before_ours) and survived
        if new_channels > 3 * len(self.engines):
            self.problem(f"{kind}: {new_channels} channels created for one fault")
            survived = False
        survived = self._check_resources(kind) and survived
        if self.trap.errors:
            self.problem(f"{kind}: error logged: {self.trap.errors[-1]}")
            survived = False
        survived = self._trim_records(kind) and survived
        if survived:
            stats.survived += 1

    def _trim_records(self, kind: str) -> bool:
        """Check this fault's gap records, then let them go (the harness must not grow)."""
        ok = True
        for name, engine in self.engines.items():
            records = engine.records
            try:
                _check_gap_pairs(records.records)
            except AssertionError as exc:
                self.problem(f"{kind}: {name}: gap records out of pairs: {exc}")
                ok = False
            if records.violations:
                self.problem(f"{kind}: {name}: {records.violations}")
                records.violations.clear()
                ok = False
            records.records.clear()  # no wait is running between faults
        return ok

    @staticmethod
    def _junk_seen(engine: Engine) -> int:
        """Frames counted unreadable, plus those dropped as repeats of a notification already
        seen (the sandbox gives every injected junk frame of one kind the same CorrelationId)."""
        counters = engine.service.counters
        dropped = sum(s.counters["duplicates_dropped"] for s in engine.service.shards)
        return counters["malformed"] + counters["unparsed"] + dropped

    async def stats(self) -> Json:
        """The sandbox's counters."""
        answer: Json = (await self.client.get("/sandbox/stats")).json()
        return answer

    # ------------------------------------------------------------------ injecting
    async def _inject(self, kind: str) -> tuple[dict[str, Outcome], int | None]:
        """Inject one fault; the outcome expected of each engine, and for an eviction the
        eviction counter once our channel was gone."""
        both: dict[str, Outcome] = {"cc": "gap", "pkce": "gap"}
        if kind in ("drop", "stall", "expire_channels", "revoke_tokens", "expire_tokens"):
            assert await self.fault(kind) >= 1, f"{kind} touched nothing"
            return both, None
        if kind == "socket_closing":
            assert await self.fault(kind, grace=1.0) >= 1
            return {"cc": "switch", "pkce": "switch"}, None
        if kind == "no_longer_subscribed":
            # Same channel, same socket: subscribe again and re-read what went by unheard.
            assert await self.fault(kind) >= 1
            return {"cc": "resync", "pkce": "resync"}, None
        if kind in ("malformed", "oversized", "unknown_topic"):
            params = {"count": 2} if kind == "unknown_topic" else {}
            assert await self.fault(kind, **params) >= 1
            return {"cc": "junk", "pkce": "junk"}, None
        if kind == "rate_limit":
            await self.fault("rate_limit", count=3, retry_after=1)
            await self.fault("drop")
            return both, None
        if kind == "server_error":
            await self.fault("server_error", count=3, status=self.rng.choice([500, 502, 503]))
            await self.fault("drop")
            return both, None
        if kind == "restart":
            await self.sandbox.stop()
            await asyncio.sleep(self.rng.uniform(0.05, 0.5))  # the server is away this long
            await self.sandbox.start()
            return both, None
        if kind == "sleep_resume":
            await self.fault("stall")
            _freeze_loop(self.rng.uniform(0.1, 0.6))
            for engine in self.engines.values():
                engine.service.check_now()
            return both, None
        if kind == "second_socket":
            name = self.rng.choice(sorted(self.engines))
            channel = self.engines[name].service.shards[0].channel
            assert channel is not None
            await self._open_test_socket(channel.connect_uri)
            self._second_socket_on = channel.id
            return {name: "gap"}, None
        if kind == "evict":
            return {"cc": "gap"}, await self._evict_cc()
        raise AssertionError(f"unknown fault kind {kind}")

    async def _open_test_socket(self, uri: str) -> None:
        ws = await connect(uri, ping_interval=None, max_size=None)

        async def drain() -> None:
            with contextlib.suppress(Exception):
                async for _ in ws:
                    pass

        self._test_sockets.append((ws, asyncio.get_running_loop().create_task(drain())))

    async def _evict_cc(self) -> int:
        """Fill the pool of the client-credentials subject until its live channel is evicted."""
        engine = self.engines["cc"]
        channel = engine.service.shards[0].channel
        assert channel is not None
        token = await client_token(self.client)
        for _ in range(25):
            stats = await self.stats()
            if channel.id not in stats["by_channel"]:
                return int(stats["evictions"])
            resp = await self.client.post("/api/v2/notifications/channels", headers=bearer(token))
            assert resp.status_code == 200, resp.text
            made: Json = resp.json()
            self._test_channels.append(made["id"])
            await self._open_test_socket(made["connectUri"])
        raise AssertionError("25 new channels did not evict ours")

    # ------------------------------------------------------------------ waiting and checking
    async def _outcome(self, name: str, outcome: Outcome, mark: int, kind: str) -> float:
        """Wait for what ``kind`` must do to engine ``name``; when it was live again."""
        try:
            return await self._outcome_of(name, outcome, mark, kind)
        except AssertionError as exc:
            service = self.engines[name].service
            phases = [s.phase.value for s in service.shards]
            shard_counters = [s.counters for s in service.shards]
            raise AssertionError(
                f"{name} waiting for {outcome!r}: {exc}; engine {service.state.value}, "
                f"shards {phases} {shard_counters}, counters {service.counters}, "
                f"after {self.report.order[-4:-1]}"
            ) from None

    async def _outcome_of(self, name: str, outcome: Outcome, mark: int, kind: str) -> float:
        engine = self.engines[name]
        records = engine.records
        shards = engine.service.shards
        if outcome == "gap":
            start, _ = await records.wait_for(is_gap("start"), OUTCOME_S, since=mark)
            await records.wait_for(is_gap("end"), OUTCOME_S, since=start + 1)
        elif outcome == "resync":
            await records.until(
                lambda: engine.service.counters["resyncs"] > self._resyncs[name], OUTCOME_S
            )
        elif outcome == "switch":
            await records.until(
                lambda: any(s.counters["socket_switches"] > 0 for s in shards), OUTCOME_S
            )
        elif outcome == "junk":
            await records.until(lambda: self._junk_seen(engine) > self._junk[name], OUTCOME_S)
        await engine.settled(OUTCOME_S)
        live = time.monotonic()
        if outcome in ("switch", "resync", "junk", "none") and records.gaps("start", mark):
            gap = records.gaps("start", mark)[0]
            raise AssertionError(f"{name}: {kind} opened a gap ({gap.reason})")
        return live

    async def _converge_all(self, kind: str) -> bool:
        """Every engine's picture equals the truth (simulation paused); heal a mismatch."""
        ok = True
        for name, engine in self.engines.items():
            await engine.settled(OUTCOME_S)
            expected = engine.compared(await engine.expected())
            try:
                await engine.records.until(
                    lambda e=engine, x=expected: e.compared(e.picture()) == x,  # type: ignore[misc]
                    CONVERGE_S,
                )
            except AssertionError:
                actual = engine.compared(engine.picture())
                wrong = {
                    f"{part}/{key}": (actual[part].get(key), want)
                    for part in expected
                    for key, want in expected[part].items()
                    if actual[part].get(key) != want
                }
                self.problem(f"{kind}: {name} differs from the truth: {wrong}")
                ok = False
        if not ok:
            await self._heal()
        return ok

    def _firing(self, name: str) -> set[tuple[str, str]]:
        return {(a.rule_id, a.subject_id) for a in self.alerts[name].active}

    async def _check_alerts(
        self, kind: str, before: dict[str, set[tuple[str, str]]], outcome: dict[str, Outcome]
    ) -> bool:
        """With the picture equal to the truth, the firing alerts are exactly those it implies,
        and the window shows it."""
        ok = True
        for name, engine in self.engines.items():
            self.report.alert_checks += 1
            service = engine.service
            self.alerts[name].evaluate(service.store, service.state.value)
            expected = engine.compared(await engine.expected())
            due = alerts_due(expected)
            firing = self._firing(name)
            if firing != due:
                self.report.alert_mismatches += 1
                self.problem(
                    f"{kind}: {name} alerts differ from the truth: missing "
                    f"{sorted(due - firing)[:5]}, extra {sorted(firing - due)[:5]}"
                )
                ok = False
            if name == "cc" and self.gui is not None:
                wrong = self.gui.differences(expected, self._labels())
                if wrong:
                    self.report.gui_mismatches += 1
                    self.problem(f"{kind}: the window differs from the truth: {wrong[:5]}")
                    ok = False
            if firing == due and outcome.get(name) == "gap":
                # The org set watched users to TRAINING while no engine could hear it.
                fresh = {pair for pair in firing - before[name] if pair[0] == "training"}
                self.report.kinds[kind].alerts_after_gap += len(fresh)
        return ok

    def _labels(self) -> dict[str, str]:
        """The org's presence labels (en_US) by definition id, read from the sandbox itself."""
        return {
            pid: definition.labels.get("en_US", "")
            for pid, definition in self.sandbox.org.presences.items()
        }

    async def _heal(self) -> None:
        """Bring every engine back to a known picture: a drop and its re-sync."""
        marks = {name: e.records.mark() for name, e in self.engines.items()}
        with contextlib.suppress(Exception):
            await self.control("/sandbox/simulation/pause")
            await self.fault("drop")
            for name, engine in self.engines.items():
                with contextlib.suppress(AssertionError):
                    await engine.records.wait_for(is_gap("end"), OUTCOME_S, since=marks[name])
                    await engine.settled(OUTCOME_S)

    async def _cleanup_after(self, kind: str) -> None:
        """Take back what the test itself put into the org for one fault."""
        await self._close_test_sockets()
        ours = {
            s.channel.id
            for e in self.engines.values()
            for s in e.service.shards
            if s.channel is not None
        }
        stats = await self.stats()
        for channel_id in self._test_channels:
            if channel_id in stats["by_channel"]:
                await self.fault("expire_channels", channel=channel_id)
        self._test_channels.clear()
        taken, self._second_socket_on = self._second_socket_on, None
        if taken is not None and taken not in ours and taken in stats["by_channel"]:
            # After two kicks in a row the engine leaves the channel to the other client. That
            # client quits now; its channel expires rather than sitting in the pool for a day.
            self.report.abandoned_channels += 1
            await self.fault("expire_channels", channel=taken)

    def orphans(self) -> list[str]:
        """Live channels of our subjects that no engine uses (they fill the pool for a day)."""
        ours = {
            s.channel.id
            for e in self.engines.values()
            for s in e.service.shards
            if s.channel is not None
        }
        hub, auth = self.sandbox.hub, self.sandbox.auth
        now = self.sandbox.org.clock()
        subjects: set[tuple[str, str]] = set()
        for engine in self.engines.values():
            token = engine.auth.token
            issued = auth.tokens.get(token.access_token) if token else None
            if issued is not None:
                subjects.add((issued.subject, issued.client_id))
        found: list[str] = []
        for channel in hub.channels.values():
            token_of = auth.tokens.get(channel.token)
            if (
                channel.id not in ours
                and (channel.subject, channel.client_id) in subjects
                and token_of is not None
                and token_of.live(now)
                and channel.expires > now
            ):
                found.append(channel.id)
        return found

    async def _close_test_sockets(self) -> None:
        sockets, self._test_sockets = self._test_sockets, []
        for ws, reader in sockets:
            with contextlib.suppress(Exception):
                await ws.close()
            with contextlib.suppress(BaseException):
                await reader

    async def _check_pool(self, kind: str, before: int, before_ours: int | None) -> bool:
        stats = await self.stats()
        ok = True
        delta = stats["evictions"] - before
        self.report.evictions_total += delta
        per_subject: dict[str, int] = {}
        for info in stats["by_channel"].values():
            per_subject[info["subject"]] = per_subject.get(info["subject"], 0) + 1
        most = max(per_subject.values(), default=0)
        self.report.max_channels_per_subject = max(self.report.max_channels_per_subject, most)
        if most > 20:
            self.problem(f"{kind}: {most} channels for one subject")
            ok = False
        orphans = self.orphans()
        self.report.max_orphans = max(self.report.max_orphans, len(orphans))
        if orphans:
            self.problem(f"{kind}: {len(orphans)} channel(s) of ours left unused in the pool")
            ok = False
        if kind == "evict" and before_ours is not None:
            ours = stats["evictions"] - before_ours
            self.report.evictions_by_us += ours
            if ours > 1:
                self.problem(f"evict: our recovery evicted {ours} channels")
                ok = False
        elif kind != "evict" and delta:
            self.problem(f"{kind}: {delta} channel(s) evicted outside the 21st-channel fault")
            self.report.evictions_by_us += delta
            ok = False
        return ok

    def _check_resources(self, kind: str) -> bool:
        sockets = open_sockets()
        rss = rss_mb()
        self.report.sockets_max = max(self.report.sockets_max, sockets)
        self.report.rss_max_mb = max(self.report.rss_max_mb, rss)
        ok = True
        if sockets > self.report.sockets_warm + SOCKET_SLACK:
            self.problem(f"{kind}: {sockets} open sockets (warm: {self.report.sockets_warm})")
            ok = False
        if rss > self.report.rss_warm_mb + RSS_SLACK_MB:
            self.problem(f"{kind}: RSS {rss:.0f} MB (warm: {self.report.rss_warm_mb:.0f} MB)")
            ok = False
        return ok


async def run_chaos(
    *,
    seed: int,
    per_kind: int,
    duration_s: float = 0.0,
    progress: Callable[[str], None] | None = None,
    live_recovery: bool = False,
    gui_settings: str | None = None,
) -> ChaosReport:
    """Run the chaos driver once (``live_recovery``: the org moves while engines recover;
    ``gui_settings``: a QSettings file for the app's window on one engine, None: no window)."""
    return await ChaosDriver(
        seed=seed,
        per_kind=per_kind,
        duration_s=duration_s,
        progress=progress,
        live_recovery=live_recovery,
        gui_settings=gui_settings,
    ).run()
