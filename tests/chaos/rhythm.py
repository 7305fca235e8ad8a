"""The rhythm mode of the chaos run: faults on a flaky network's beat, with production timings.

A chaos run that waits for calm between faults hides what a flaky network does: the calm driver
(tests/chaos/driver.py) pauses the org after every fault and runs with shortened backoffs, so an
engine whose backoff escalates across healthy sessions still passes. The rhythm does neither:

* the engines run with the production :class:`core.streaming.reconnect.ChannelSettings` defaults and
  :data:`core.rest.retry.DEFAULT_POLICY`; only the sandbox's heartbeat is short (1 s, so a stall
  can be
  noticed in seconds; the watchdog learns the interval from the heartbeats it sees) and the org
  is mildly sped up (10 x) and never paused until the end;
* faults come every 5-10 s (seeded random spacing) without waiting for the engines to recover,
  each kind several times in a row (:data:`BURSTS`): drops, kicks by a second socket on our
  channel, 429s with ``Retry-After`` followed by a drop, channel expiry, revoked tokens, stalls
  (half-open sockets) and ``socket_closing``; the bursts come in an order shuffled by the seed.
  Faults are injected with the rig's :meth:`FaultRig._inject`, as in the calm driver.

For every fault and every engine it hits, :class:`tests.chaos.staleness.StalenessMeter`
measures the staleness (fault injected → live and re-synced again) and whether the session
before was healthy. A fault after a healthy session must cost at most 5 s, a stall at most
3 heartbeat intervals + 5 s; every one over is a problem. Between faults the pool, sockets and
RSS are checked as in the calm driver (the pool only while both engines are live: mid-recovery
a new channel is not yet the shard's). At the end the org is paused and each engine's picture
must equal ``/sandbox/truth`` (every watched user and queue, whatever the truth holds per queue),
then the rig's end checks run: convergence by stream and by re-sync, no ERROR logged, no task
of ours left, no socket leaked.

The only sleeps are the deliberate spacing between faults; every other wait is for records or a
state, with a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import ClassVar

from core.rest.retry import DEFAULT_POLICY, RetryPolicy
from core.streaming.reconnect import ChannelSettings
from tests.chaos.rig import OUTCOME_S, SANDBOX, FaultRig, Json
from tests.chaos.staleness import Expect, RhythmReport, StalenessMeter, bound_s

HEARTBEAT_S = 1.0
SPACING_S = (5.0, 10.0)
RHYTHM_SANDBOX: Json = {
    **SANDBOX,  # the calm driver's org (30 users, 4 queues) and its raised REST rate limits
    "heartbeat_s": HEARTBEAT_S,
    "speed": 10.0,
    "tick_s": 0.1,
    "observation_min_interval_s": 0.25,
}
# Each kind this many times in a row. Kicks: the second within a minute makes the engine leave
# the channel to the other client (by design), the third kicks its new channel.
BURSTS: tuple[tuple[str, int], ...] = (
    ("drop", 3),
    ("second_socket", 3),
    ("rate_limit", 3),
    ("expire_channels", 3),
    ("revoke_tokens", 3),
    ("stall", 3),
    ("socket_closing", 3),
)
# make test: 8 faults, about 60 s of spacing; the three drops in a row are the ones that showed
# the backoff escalating across healthy sessions (make soak runs every kind three times).
CI_BURSTS: tuple[tuple[str, int], ...] = tuple(
    (kind, {"drop": 3}.get(kind, 1)) for kind, _ in BURSTS
)
WARM_S = 20.0  # deadline for the watchdogs to learn the heartbeat before the first fault
DRAIN_S = 120.0  # deadline for the last faults to end (generous: before the fix, a minute)
MAX_PROBLEMS = 20


class RhythmDriver(FaultRig):
    """Faults every 5-10 s on a moving org, production timings; staleness measured per fault."""

    sandbox_settings: ClassVar[Json] = RHYTHM_SANDBOX
    channel_settings: ClassVar[ChannelSettings] = ChannelSettings()
    retry_policy: ClassVar[RetryPolicy] = DEFAULT_POLICY

    def __init__(
        self,
        *,
        seed: int,
        bursts: tuple[tuple[str, int], ...] = CI_BURSTS,
        duration_s: float = 0.0,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        report = RhythmReport(seed, heartbeat_s=HEARTBEAT_S, spacing_s=SPACING_S)
        super().__init__(seed=seed, report=report, progress=progress)
        self.rhythm = report
        self.bursts = bursts
        self.duration_s = duration_s
        self.meters: dict[str, StalenessMeter] = {}

    def _schedule(self, began: float) -> Iterator[str]:
        """Rounds of the bursts in shuffled order; at least one, then until the duration."""
        while True:
            bursts = list(self.bursts)
            self.rng.shuffle(bursts)
            for kind, times in bursts:
                for _ in range(times):
                    yield kind
            if time.monotonic() - began >= self.duration_s:
                return

    async def _run_schedule(self, began: float) -> None:
        await self._warm_up()
        previous: str | None = None
        for seq, kind in enumerate(self._schedule(began), start=1):
            if previous is not None:
                await asyncio.sleep(self.rng.uniform(*SPACING_S))  # the rhythm itself
                await self._between(previous)
                if self.trap.errors or len(self.report.problems) > MAX_PROBLEMS:
                    break
            await self._strike(seq, kind)
            previous = kind
        await self._drain()
        if previous is not None:
            await self._between(previous)
        await self.control("/sandbox/simulation/pause")
        await self._converge_all("end of the rhythm")
        for sample in self.rhythm.over_bound():
            took = "never" if sample.staleness_s is None else f"{sample.staleness_s:.2f} s"
            self.problem(
                f"{sample.kind} #{sample.seq} on {sample.engine} after a healthy session: live"
                f" and re-synced {took} (bound {bound_s(sample.kind, HEARTBEAT_S):g} s)"
            )

    async def _warm_up(self) -> None:
        """The org moves, the meters listen, and every watchdog knows the heartbeat."""
        await self.control("/sandbox/simulation/resume")
        for name, engine in self.engines.items():
            meter = self.meters[name] = StalenessMeter(name, engine)
            engine.service.add_listener(meter)

        def learnt() -> bool:
            return all(
                s.watchdog.interval_s <= 1.5 * HEARTBEAT_S
                for e in self.engines.values()
                for s in e.service.shards
            )

        for engine in self.engines.values():
            await engine.records.until(learnt, WARM_S)
            await engine.settled(OUTCOME_S)

    async def _strike(self, seq: int, kind: str) -> None:
        """Inject one fault, opening a sample on every engine it must hit."""
        self.report.order.append(kind)
        before = tuple(self.report.order[-4:-1])
        expected: Expect = "switch" if kind == "socket_closing" else "gap"
        # Opened on every engine before the control call (health and time are read now); a
        # fault that hits one engine only (a second socket) drops the other's afterwards.
        opened = {name: m.expect(seq, kind, expected, before) for name, m in self.meters.items()}
        try:
            outcome, _ = await self._inject(kind)
        except AssertionError as exc:
            outcome = {}
            self.problem(f"{kind} #{seq}: could not inject: {exc}")
        for name, sample in opened.items():
            if outcome.get(name) in ("gap", "switch"):
                self.rhythm.samples.append(sample)
            else:
                self.meters[name].forget(sample)

    async def _between(self, kind: str) -> None:
        """Between two faults: take back the test's own sockets and channels, check the rest."""
        await self._cleanup_after(kind)
        if all(e.settled_now() for e in self.engines.values()):
            evictions = (await self.stats())["evictions"]
            await self._check_pool(kind, evictions, None)
            self.rhythm.pool_checks += 1
        else:
            self.rhythm.pool_checks_skipped += 1
        self._check_resources(kind)
        self._trim_records(kind)
        if self.trap.errors:
            self.problem(f"{kind}: error logged: {self.trap.errors[-1]}")
        done = sum(len(m.done) for m in self.meters.values())
        self.progress(
            f"{len(self.report.order)} faults, {done} ended, last {kind}:"
            f" {self._last_figures(kind)}"
        )

    def _last_figures(self, kind: str) -> str:
        last = [s for s in self.rhythm.samples if s.seq == len(self.report.order)]
        return ", ".join(
            f"{s.engine} {'?' if s.staleness_s is None else f'{s.staleness_s:.2f} s'}"
            f"{'' if s.healthy else ' (not healthy)'}"
            for s in last
        )

    async def _drain(self) -> None:
        """Wait for every fault to end (or the deadline); those that never do are problems."""
        deadline = time.monotonic() + DRAIN_S
        for name, engine in self.engines.items():
            meter = self.meters[name]
            try:
                await engine.records.until(
                    lambda m=meter: not m.pending,  # type: ignore[misc]
                    max(0.1, deadline - time.monotonic()),
                )
            except AssertionError:
                for sample in meter.pending:
                    self.problem(
                        f"{sample.kind} #{sample.seq} on {name}: not live and re-synced within"
                        f" {DRAIN_S:g} s of the last fault"
                    )


async def run_rhythm(
    *,
    seed: int,
    bursts: tuple[tuple[str, int], ...] = CI_BURSTS,
    duration_s: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> RhythmReport:
    """Run the rhythm once (``bursts``: kinds and how often in a row; ``duration_s``: keep
    repeating rounds of them until then)."""
    driver = RhythmDriver(seed=seed, bursts=bursts, duration_s=duration_s, progress=progress)
    await driver.run()
    return driver.rhythm
