"""The chaos driver: two engines against one sandbox org while every fault kind hits them.

On the rig of tests/chaos/rig.py (one client-credentials engine and one PKCE engine, signed in
again by a stand-in for the person whenever the engine asks) they watch the members of two
queues of a fast, lively sandbox org (heartbeat 0.2 s, the simulated day 100 times faster). The
driver injects the fault kinds of :data:`KINDS` in an order shuffled with a fixed seed, and
after every fault:

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
* checks the alerts: each engine feeds a :class:`core.alerts.engine.RuleEngine` on every record, as
the
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
import time
from collections.abc import Callable
from typing import Any

from tests.chaos.report import ChaosReport, KindStats
from tests.chaos.rig import OUTCOME_S, FaultRig, Outcome
from tests.integration.test_engine import Engine, is_gap

Json = dict[str, Any]

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


class ChaosDriver(FaultRig):
    """Injects every fault kind in shuffled rounds, waiting for calm after each one and
    checking every invariant then."""

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
        report = ChaosReport(seed, kinds={kind: KindStats() for kind in KINDS})
        super().__init__(seed=seed, report=report, progress=progress, gui_settings=gui_settings)
        self.live_recovery = live_recovery
        self.per_kind = per_kind
        self.duration_s = duration_s
        self._junk: dict[str, int] = {}
        self._resyncs: dict[str, int] = {}

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

    @staticmethod
    def _junk_seen(engine: Engine) -> int:
        """Frames counted unreadable, plus those dropped as repeats of a notification already
        seen (the sandbox gives every injected junk frame of one kind the same CorrelationId)."""
        counters = engine.service.counters
        dropped = sum(s.counters["duplicates_dropped"] for s in engine.service.shards)
        return counters["malformed"] + counters["unparsed"] + dropped

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
