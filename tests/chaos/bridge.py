"""The EventBridge chaos driver: the second source's faults against one engine wired as the app.

One client-credentials engine watches the members of two queues of a lively sandbox org, wired
as the app wires it with EventBridge on: the engine, the pipeline writing a real journal file,
:class:`core.app.bridge_merge.BridgeMerge` and :class:`core.eventbridge.consumer.SqsConsumer`
reading the sandbox's loopback SQS queue (moto). The kinds of :data:`KINDS` hit it in shuffled
rounds: a delivery outage (hold, then release it all), a spell of duplicates, a spell of
reordering, poison messages and the SQS server unreachable; during most of them the WebSocket
drops or stalls too, so EventBridge has gaps to fill. After every fault, with the org paused:

* 0 lost: every event the sandbox published to EventBridge (by correlation id) was emitted by
  the engine, by either transport;
* 0 duplicated: no correlation id emitted twice (:class:`tests.chaos.bridge_kit.Emissions`);
* 0 mismatches: the store equals ``/sandbox/truth``;
* every poison message was reported (and, at the end, all of them sit in the dead-letter
  queue); the supervised tasks and the consumer still run; no ERROR was logged.

Staleness: from the end of each fault until every event published before it was emitted and the
consumer is live with its lag under :data:`LAG_OK_S`; and the consumer's highest lag.

Waits are for records or, where nothing announces a state (the sandbox's delivery, the
consumer's status), polls with a deadline; the only sleeps are a fault's own length and short
stretches of traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

import httpx

from core.app.bridge_merge import BridgeMerge
from core.app.pipeline import Pipeline
from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.eventbridge.consumer import ConsumerSettings, SqsConsumer
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.storage.journal.journal import Journal
from sandbox.config import SandboxConfig
from sandbox.eventbridge.source import EventBridgeSource
from tests.chaos.bridge_kit import BridgeReport, BridgeStats, Emissions, PoisonCount, told
from tests.chaos.report import is_the_sandboxes, open_sockets, rss_mb
from tests.chaos.rig import ALERT_RULES, OUTCOME_S, SANDBOX, FaultRig, Json
from tests.integration.test_engine import (
    CLIENT_ID,
    CLIENT_SECRET,
    Engine,
    Recorder,
    _check_gap_end,
)

logger = logging.getLogger(__name__)

KINDS: tuple[str, ...] = (
    "delivery_outage",
    "duplicates",
    "reordering",
    "poison",
    "sqs_unreachable",
)
KEPT_TASKS = ("resync", "token-keeper")  # the long-lived tasks a started engine keeps running
LAG_OK_S = 3.0  # caught up: the consumer's lag under this
CAUGHT_UP_S = 30.0  # deadline for catching up after a fault
DRAINED_S = 20.0  # deadline for the sandbox to deliver what is on its way, and for the engine
POISON_S = 10.0  # a poison message is reported this soon after it reaches the queue
DLQ_S = 60.0  # every poison message in the dead-letter queue by then (5 receives each)
POLL_S = 0.05
BRIDGE_SANDBOX: Json = {
    **SANDBOX,
    "speed": 40.0,  # lively, yet the loopback queue drains a backlog quickly on a shared CPU
    "eventbridge": True,
    "eventbridge_delay_min_s": 0.05,
    "eventbridge_delay_max_s": 0.5,
    "eventbridge_retry_s": 0.2,
}
# Short polls; a 2 s visibility so a poison message reaches the DLQ (5 receives) in seconds.
CONSUMER = ConsumerSettings(
    wait_s=1,
    visibility_s=2,
    backlog_check_s=0.2,
    backoff_min_s=0.1,
    backoff_max_s=0.5,
)
KEPT_PER_MESSAGE_MB = 12 / 1024  # measured: moto's Message objects, the ledger, the sandbox's list
FAULTY_RATE = 0.5  # duplicate / overtake rate during those faults
NORMAL_DUPLICATE_RATE = SandboxConfig().eventbridge_duplicate_rate  # outside those faults
NORMAL_REORDER_RATE = (
    SandboxConfig().eventbridge_reorder_rate
)  # duplicate / overtake rate during those faults


class BridgeDriver(FaultRig):
    """Injects the EventBridge faults in shuffled rounds and checks every invariant after each."""

    sandbox_settings: ClassVar[Json] = BRIDGE_SANDBOX

    def __init__(
        self,
        *,
        seed: int,
        per_kind: int,
        journal_dir: Path,
        duration_s: float = 0.0,
        fault_s: tuple[float, float] = (1.0, 3.0),
        progress: Callable[[str], None] | None = None,
    ) -> None:
        report = BridgeReport(seed, bridge={kind: BridgeStats() for kind in KINDS})
        super().__init__(seed=seed, report=report, progress=progress)
        self.bridge_report = report
        self.per_kind = per_kind
        self.duration_s = duration_s
        self.fault_s = fault_s
        self.journal_path = journal_dir / "journal.sqlite3"
        self.emissions = Emissions()
        self.poison = PoisonCount()
        self.consumer: SqsConsumer | None = None
        self.merge: BridgeMerge | None = None
        self._peak_lag = 0.0
        self._checked_dups = 0
        self._lost: set[str] = set()  # counted once; not waited for again

    @property
    def engine(self) -> Engine:
        """The one engine."""
        return self.engines["cc"]

    @property
    def source(self) -> EventBridgeSource:
        """The sandbox's EventBridge side (in this process)."""
        assert self.sandbox.eventbridge is not None
        return self.sandbox.eventbridge

    # ------------------------------------------------------------------ wiring
    async def _wire(self) -> Engine:
        """The engine as the app wires it; not started."""
        env = parse_environment(self.sandbox.base_url)
        auth = Authenticator(env, CLIENT_ID, MemoryCredentialStore(), client_secret=CLIENT_SECRET)
        api = ApiClient(
            env,
            auth.access_token,
            on_unauthorized=auth.renew_rejected,
            policy=self.retry_policy,
            rng=random.Random(self.rng.random()),
        )
        truth = (await self.client.get("/sandbox/truth")).json()
        service = MonitorService(
            api,
            auth,
            Selection(queues=tuple(sorted(truth["queues"])[:2]), users="members"),
            settings=self.channel_settings,
            rng=random.Random(self.rng.random()),
        )
        records = Recorder()
        service.add_listener(records)
        service.add_listener(self.emissions)
        service.add_listener(lambda r: _check_gap_end(service, r, records.violations))
        engine = Engine(self.sandbox, self.client, auth, api, service, records)
        engine.closers = [auth.aclose, api.aclose, service.stop]
        self.engines["cc"] = engine
        await auth.sign_in_client_credentials()
        return engine

    async def run(self) -> BridgeReport:
        """Start the org, the engine and its EventBridge side; inject; check; stop."""
        began = time.monotonic()
        root = logging.getLogger()
        root.addHandler(self.trap)
        logging.getLogger("core.eventbridge.consumer").addHandler(self.poison)
        tasks_before = asyncio.all_tasks()
        self.report.sockets_start = open_sockets()
        journal: Journal | None = None
        pipeline: Pipeline | None = None
        unhook: Callable[[], None] | None = None
        watching: asyncio.Task[None] | None = None
        try:
            await self.sandbox.start()
            self.http = httpx.AsyncClient(
                base_url=self.sandbox.base_url,
                timeout=10.0,
                limits=httpx.Limits(max_keepalive_connections=0),
            )
            engine = await self._wire()
            service = engine.service
            journal = await Journal.open(self.journal_path)
            pipeline = Pipeline(service.store, rules=ALERT_RULES, journal=journal.append)
            unhook = service.add_listener(pipeline.on_record)
            self.merge = BridgeMerge(service, pipeline, flush=journal.flush, quiet_s=1.0)
            self.consumer = SqsConsumer(self.source.queue_url, self.merge, settings=CONSUMER)
            self.consumer.add_status_listener(self.merge.on_status)
            await service.start()
            pipeline.start()
            self.consumer.start()
            watching = asyncio.get_running_loop().create_task(self._watch_lag(), name="lag")
            await engine.settled(OUTCOME_S)
            await self._until(self._consumer_ok, OUTCOME_S, "the consumer never live")
            self.report.sockets_warm = open_sockets()
            self.report.rss_warm_mb = rss_mb()
            await self._schedule(began)
            if not self.report.problems:
                await self._final_checks()
        finally:
            if watching is not None:
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watching
            self._restore_rates()
            if self.consumer is not None:
                await self.consumer.stop()
                self._collect_counters()
            if self.merge is not None:
                self.merge.close()
            if pipeline is not None:
                pipeline.stop()
            if unhook is not None:
                unhook()  # the journal closes before the engine stops
            if journal is not None:
                await journal.close()
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
            logging.getLogger("core.eventbridge.consumer").removeHandler(self.poison)
            root.removeHandler(self.trap)
            self.report.sockets_end = open_sockets()
            self.report.rss_end_mb = rss_mb()
            self.report.errors_logged = list(self.trap.errors)
            self.report.warnings_logged = self.trap.warnings
            self.report.elapsed_s = time.monotonic() - began
        return self.bridge_report

    def _collect_counters(self) -> None:
        report, consumer, merge = self.bridge_report, self.consumer, self.merge
        assert consumer is not None
        report.consumer_duplicates = consumer.counters.duplicates
        report.by_websocket = self.emissions.sources["websocket"]
        report.by_eventbridge = self.emissions.sources["eventbridge"]
        report.recovered = self.emissions.recovered
        report.poison_reported = self.poison.reported
        if merge is not None:
            report.merge_duplicates = merge.dedup.duplicates["eventbridge"]
            report.socket_duplicates = merge.dedup.duplicates["websocket"]

    async def _schedule(self, began: float) -> None:
        done = 0
        stats = self.bridge_report.bridge
        while True:
            # An outage counts once the consumer saw it (went down), not merely injected.
            seen = {
                k: s.went_down if k == "sqs_unreachable" else s.injected for k, s in stats.items()
            }
            short = [kind for kind in KINDS if seen[kind] < self.per_kind]
            if not short and time.monotonic() - began >= self.duration_s:
                return
            # A full round while every kind is short (or the soak's time is not up); then only
            # the kinds still short: an outage the consumer never noticed is made up for alone,
            # not with a round of every kind.
            kinds = list(KINDS) if len(short) == len(KINDS) or not short else short
            self.rng.shuffle(kinds)
            for kind in kinds:
                await self.one_fault(kind)
                done += 1
                if len(self.report.problems) > 20 or self.trap.errors:
                    return
            self.progress(
                f"{done} EventBridge faults, {time.monotonic() - began:.0f} s, "
                f"{self.bridge_report.lost} lost, {self.bridge_report.duplicated} duplicated, "
                f"{self.bridge_report.bridge_mismatches} mismatches, "
                f"{len(self.report.problems)} problems"
            )

    # ------------------------------------------------------------------ one fault
    async def one_fault(self, kind: str) -> None:
        """Inject ``kind`` once (the org moving), then check every invariant (the org paused)."""
        stats = self.bridge_report.bridge[kind]
        stats.injected += 1
        self.report.order.append(kind)
        errors = len(self.trap.errors)
        inject: Callable[[BridgeStats], Awaitable[float]] = getattr(self, f"_{kind}")
        survived = True
        self._peak_lag = 0.0
        try:
            await self.control("/sandbox/simulation/resume")
            await asyncio.sleep(self.rng.uniform(0.2, 0.5))  # traffic before the fault
            began = time.monotonic()
            ended = await inject(stats)
            stats.caught_up_s.append(await self._caught_up(ended))
            await self.control("/sandbox/simulation/pause")
            checking = time.monotonic()
            survived = await self._check(kind, stats)
            self.progress(
                f"{kind}: {ended - began:.1f} s, caught up in {stats.caught_up_s[-1]:.2f} s, "
                f"checked in {time.monotonic() - checking:.1f} s"
            )
        except AssertionError as exc:
            self.problem(f"{kind} #{stats.injected}: {exc}; {self._describe()}")
            survived = False
            self._restore_rates()
            await self._heal()
        finally:
            stats.max_lag_s = max(stats.max_lag_s, self._peak_lag)
        dead = self._dead_tasks()
        if dead:
            self.bridge_report.dead_tasks += len(dead)
            self.problem(f"{kind} #{stats.injected}: tasks not running: {dead}")
            survived = False
        new_errors = self.trap.errors[errors:]
        if new_errors:
            self.problem(f"{kind}: error logged: {new_errors[:3]}")
            survived = False
        survived = self._check_resources(kind) and survived
        survived = self._trim_records(kind) and survived
        if survived:
            stats.survived += 1

    def _describe(self) -> str:
        service = self.engine.service
        status = self.consumer.status if self.consumer is not None else None
        return f"engine {service.state.value} ({service.state_detail}), EventBridge {status}"

    def _dead_tasks(self) -> list[str]:
        """The long-lived tasks that should be running but are not."""
        tasks = self.engine.service._supervisor.tasks
        running = {t.get_name() for t in tasks if not t.done()}
        dead = [name for name in KEPT_TASKS if name not in running]
        if self.consumer is None or not self.consumer.running:
            dead.append("eventbridge-sqs")
        return dead

    # ------------------------------------------------------------------ the faults
    async def _spell(self, stats: BridgeStats, seconds: float) -> None:
        """Let ``seconds`` pass with the org moving; the WebSocket drops or stalls now and then."""
        first = self.rng.uniform(0.2, 0.6) * seconds
        await asyncio.sleep(first)
        if self.rng.random() < 0.7:
            kind = self.rng.choice(("drop", "stall"))
            assert await self.fault(kind) >= 1, f"the socket {kind} touched nothing"
            stats.socket_faults += 1
        await asyncio.sleep(seconds - first)

    async def _delivery_outage(self, stats: BridgeStats) -> float:
        """EventBridge holds delivery (Genesys retrying), then releases everything at once."""
        seconds = self.rng.uniform(*self.fault_s)
        await self.control("/sandbox/eventbridge/hold", seconds=seconds * 10)
        try:
            await self._spell(stats, seconds)
        finally:
            await self.control("/sandbox/eventbridge/release")
        return time.monotonic()

    async def _duplicates(self, stats: BridgeStats) -> float:
        """A spell in which half of the envelopes are delivered twice."""
        self.sandbox.config.eventbridge_duplicate_rate = FAULTY_RATE
        try:
            await self._spell(stats, self.rng.uniform(*self.fault_s))
        finally:
            self._restore_rates()
        return time.monotonic()

    async def _reordering(self, stats: BridgeStats) -> float:
        """A spell in which half of the envelopes are overtaken by the ones after them."""
        self.sandbox.config.eventbridge_reorder_rate = FAULTY_RATE
        try:
            await self._spell(stats, self.rng.uniform(*self.fault_s))
        finally:
            self._restore_rates()
        return time.monotonic()

    async def _poison(self, stats: BridgeStats) -> float:
        """Messages no consumer can read land in the queue amid the traffic."""
        count = self.rng.randint(1, 3)
        await self.control("/sandbox/eventbridge/poison", count=count)
        self.bridge_report.poison_injected += count
        await self._spell(stats, self.rng.uniform(0.5, 1.0))
        return time.monotonic()

    async def _sqs_unreachable(self, stats: BridgeStats) -> float:
        """The SQS server stops listening; the consumer goes down, then live, nothing lost."""
        low, high = self.fault_s
        seconds = self.rng.uniform(max(2.0, low), high + 1.0)  # long enough to be noticed
        consumer = self.consumer
        assert consumer is not None
        await self.control("/sandbox/eventbridge/outage", seconds=seconds)
        spell = asyncio.get_running_loop().create_task(self._spell(stats, seconds))
        try:
            await self._until(lambda: consumer.status.state == "down", seconds + 2.0, "")
            stats.went_down += 1
        except AssertionError:  # over before it next asked for messages (busy with a batch,
            stats.unnoticed += 1  # its deletes retried): not counted as one of the kind
        await spell
        await self._until(lambda: self.source.sqs.up, 10.0, "SQS never came back")
        return time.monotonic()

    def _restore_rates(self) -> None:
        config = self.sandbox.config
        config.eventbridge_duplicate_rate = float(
            BRIDGE_SANDBOX.get("eventbridge_duplicate_rate", 0.02)
        )
        config.eventbridge_reorder_rate = float(
            BRIDGE_SANDBOX.get("eventbridge_reorder_rate", 0.05)
        )

    def _check_resources(self, kind: str) -> bool:
        """As the rig's, with RSS allowed to grow by what the in-process SQS server keeps (moto
        holds every message it was sent, body and all) and this run's own ledger of events."""
        sent = int(self.source.scheduler.stats()["messages_sent"])
        warm, self.report.rss_warm_mb = (
            self.report.rss_warm_mb,
            self.report.rss_warm_mb + (sent * KEPT_PER_MESSAGE_MB),
        )
        try:
            return super()._check_resources(kind)
        finally:
            self.report.rss_warm_mb = warm

    # ------------------------------------------------------------------ measuring
    async def _watch_lag(self) -> None:
        """The consumer's lag, sampled: the highest of the fault and of the run."""
        while True:
            await asyncio.sleep(POLL_S)
            if self.consumer is None:
                continue
            lag = self.consumer.status.lag_s or 0.0
            self._peak_lag = max(self._peak_lag, lag)
            self.bridge_report.max_lag_s = max(self.bridge_report.max_lag_s, lag)

    def _consumer_ok(self) -> bool:
        consumer = self.consumer
        if consumer is None:
            return False
        status = consumer.status
        return status.state == "live" and (status.lag_s or 0.0) < LAG_OK_S

    def _on_their_way(self) -> set[str]:
        """Correlation ids the sandbox has yet to deliver into the queue (read in-process)."""
        scheduler = self.source.scheduler
        with scheduler._cond:
            return {item.record.correlation_id for item in scheduler._heap}

    async def _published(self) -> tuple[list[Json], int]:
        answer: Json = (await self.client.get("/sandbox/eventbridge/published")).json()
        return answer["entities"], int(answer["pending"])

    async def _caught_up(self, ended: float) -> float:
        """Seconds from ``ended`` until everything published before it was emitted and the
        consumer is live with a low lag."""
        published, _ = await self._published()
        wanted = {p["correlation_id"] for p in published} | self._on_their_way()
        wanted -= self._lost
        await self._until(
            lambda: not self.emissions.missing(wanted) and self._consumer_ok(),
            CAUGHT_UP_S,
            "not caught up after the fault",
        )
        return time.monotonic() - ended

    async def _until(self, condition: Callable[[], bool], deadline_s: float, what: str) -> None:
        """Wait for a state nothing announces (the sandbox's delivery, the consumer's status)."""
        deadline = time.monotonic() + deadline_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} within {deadline_s:g} s")
            await asyncio.sleep(POLL_S)

    # ------------------------------------------------------------------ checking
    async def _drained(self) -> list[Json]:
        """With the org paused: everything delivered and emitted; the published events."""
        published, pending = await self._published()
        deadline = time.monotonic() + DRAINED_S
        while pending or self.source.scheduler.stats()["holding_s"]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{pending} envelopes still on their way")
            await asyncio.sleep(POLL_S)
            published, pending = await self._published()
        return published

    async def _check(self, kind: str, stats: BridgeStats) -> bool:
        """0 lost, 0 duplicated, the store equals the truth, every poison message reported."""
        ok = True
        published = await self._drained()
        wanted = {p["correlation_id"] for p in published}
        stats.events = len(wanted)
        with contextlib.suppress(AssertionError):
            await self._until(lambda: not self.emissions.missing(wanted), DRAINED_S, "")
        missing = self.emissions.missing(wanted) - self._lost
        self._lost |= missing
        if missing:
            stats.lost += len(missing)
            gone = [p for p in published if p["correlation_id"] in missing][:5]
            self.problem(f"{kind}: {len(missing)} published events never emitted: {gone}")
            ok = False
        dups = self.emissions.duplicated[self._checked_dups :]
        self._checked_dups = len(self.emissions.duplicated)
        if dups:
            stats.duplicated += len(dups)
            self.problem(f"{kind}: {len(dups)} events emitted twice: {dups[:5]}")
            ok = False
        if not await self._converge_all(kind):
            stats.mismatches += 1
            ok = False
        injected = self.bridge_report.poison_injected
        with contextlib.suppress(AssertionError):
            await self._until(lambda: self.poison.reported >= injected, POISON_S, "")
        if self.poison.reported != injected:
            self.problem(f"{kind}: {self.poison.reported} poison messages reported of {injected}")
            ok = False
        self.bridge_report.published = len(wanted)
        return ok

    async def _converge_all(self, kind: str) -> bool:
        """As the rig's, and on a mismatch the records of the users that differ."""
        before = len(self.report.problems)
        records = list(self.engine.records.records)
        ok = await super()._converge_all(kind)
        for text in self.report.problems[before:]:
            for user in set(re.findall(r"users/([0-9a-f-]{36})", text)):
                said = [told(r) for r in records if user in repr(r)]
                self.progress(f"records of {user[:8]}: " + "; ".join(said[-12:]))
        return ok

    async def _final_checks(self) -> None:
        """Every poison message in the dead-letter queue, none deleted; the engine converges."""
        sqs = self.source.sqs
        injected = self.bridge_report.poison_injected

        def in_dlq() -> int:
            attrs = sqs.client.get_queue_attributes(
                QueueUrl=sqs.dlq_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            return int(attrs["ApproximateNumberOfMessages"]) + int(
                attrs["ApproximateNumberOfMessagesNotVisible"]
            )

        deadline = time.monotonic() + DLQ_S
        count = await asyncio.to_thread(in_dlq)
        while count < injected and time.monotonic() < deadline:
            await asyncio.sleep(0.5)  # moto moves them on a receive: the consumer polls
            count = await asyncio.to_thread(in_dlq)
        self.bridge_report.poison_in_dlq = count
        if count != injected:
            self.problem(f"{count} messages in the dead-letter queue, {injected} poison injected")
        await self.engine.converged(deadline_s=OUTCOME_S)


async def run_bridge(
    *,
    seed: int,
    per_kind: int,
    journal_dir: Path,
    duration_s: float = 0.0,
    fault_s: tuple[float, float] = (1.0, 3.0),
    progress: Callable[[str], None] | None = None,
) -> BridgeReport:
    """Run the EventBridge driver once (the AWS chain must find test keys in the environment)."""
    driver = BridgeDriver(
        seed=seed,
        per_kind=per_kind,
        journal_dir=journal_dir,
        duration_s=duration_s,
        fault_s=fault_s,
        progress=progress,
    )
    return await driver.run()


__all__ = ["KINDS", "BridgeDriver", "run_bridge"]
