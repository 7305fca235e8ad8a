"""The chaos rig: a sandbox org, two engines on it, the faults, and the checks every mode shares.

One client-credentials engine and one PKCE engine (signed in again by a stand-in for the person
whenever the engine asks, the way ``main.py`` does) watch the members of two queues of the
sandbox org. :class:`FaultRig` starts the org and the engines, injects one fault kind of the
sandbox (:meth:`FaultRig._inject`, through ``/sandbox/faults/...``), takes back what a fault
put into the org, and checks what must hold at any calm moment: each engine's picture equals
``/sandbox/truth``, the channel pool is not fought over, sockets and RSS do not grow, no ERROR
is logged and no task of ours is left at the end. What happens between start and stop is a
mode's schedule (:meth:`FaultRig._run_schedule`): the calm driver of tests/chaos/driver.py and
the rhythm of tests/chaos/rhythm.py.

The class attributes :attr:`FaultRig.sandbox_settings`, :attr:`FaultRig.channel_settings` and
:attr:`FaultRig.retry_policy` are the fast timings of the calm driver; a mode may replace them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import httpx
from websockets.asyncio.client import ClientConnection, connect

from core.alerts.engine import RuleEngine
from core.alerts.model import Condition, Rule
from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.engine.records import EngineState, Record, StateRecord
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.errors import AuthError
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.rest.retry import RetryPolicy
from core.streaming.reconnect import ChannelSettings
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.chaos.report import ChaosReport, LogTrap, is_the_sandboxes, open_sockets, rss_mb
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


def _freeze_loop(seconds: float) -> None:
    """Block the event loop thread, as a suspended laptop does to every timer."""
    time.sleep(seconds)


class FaultRig:
    """The org, the engines, fault injection and the shared checks; a mode adds the schedule."""

    sandbox_settings: ClassVar[Json] = SANDBOX
    channel_settings: ClassVar[ChannelSettings] = SETTINGS
    retry_policy: ClassVar[RetryPolicy] = POLICY

    def __init__(
        self,
        *,
        seed: int,
        report: ChaosReport,
        progress: Callable[[str], None] | None = None,
        gui_settings: str | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.gui_settings = gui_settings
        self.gui: GuiView | None = None
        self.progress = progress or (lambda line: None)
        self.report = report
        self.sandbox = Sandbox(SandboxConfig(**self.sandbox_settings))
        self.http: httpx.AsyncClient | None = None
        self.engines: dict[str, Engine] = {}
        self.trap = LogTrap()
        self._sign_ins: set[asyncio.Task[None]] = set()
        self._test_sockets: list[tuple[ClientConnection, asyncio.Task[None]]] = []
        self._test_channels: list[str] = []
        self._second_socket_on: str | None = None
        self.alerts: dict[str, RuleEngine] = {}

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
            policy=self.retry_policy,
            rng=random.Random(self.rng.random()),
        )
        truth = (await self.client.get("/sandbox/truth")).json()
        selection = Selection(queues=tuple(sorted(truth["queues"])[:2]), users="members")
        service = MonitorService(
            api,
            auth,
            selection,
            settings=self.channel_settings,
            rng=random.Random(self.rng.random()),
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
                if not is_the_sandboxes(t) and not t.done()
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

    async def _run_schedule(self, began: float) -> None:
        """Inject the mode's faults and check after them (``began``: when the run started)."""
        raise NotImplementedError

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

    # ------------------------------------------------------------------ checking
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
