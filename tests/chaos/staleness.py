"""Staleness: how long the picture is behind the org after a fault, read off the engine's records.

A :class:`StalenessMeter` listens to one engine. For every fault the rhythm injects it opens a
:class:`Sample` and closes it at the first record after which the engine is **live and re-synced
again**:

* a fault that must open a gap (a drop, a kick, an expiry, a revoked token, a stall, 429s and a
  drop): a ``GapRecord("start")`` after the injection (or a gap already open when it came, which
  the fault joins), then the ``GapRecord("end")`` of that gap (the REST re-sync after every
  socket was back), then the engine's state LIVE;
* ``socket_closing``: the socket switch (the shards' ``socket_switches`` counter moved), then the
  ``GapRecord("end")`` of the re-sync the switch asks for, then LIVE.

The staleness is the time from just before the fault's control call to that record.

**Healthy.** A sample notes whether the session the fault ended was *healthy* when the fault
came: no gap was open (the last gap had ended, so the engine had subscribed and re-synced), every
shard had a socket (phase LIVE or STALE: a stall the engine has not yet noticed still counts),
and every shard's ``frames`` counter had grown since that gap's end, i.e. the socket delivered a
heartbeat or an event after it was subscribed and the picture re-read. That is the engine's own
notion (core/streaming/shard.py: subscribed, then a heartbeat or an event), read from the outside
and a
little stricter: frames between the socket's opening and the re-sync's end do not count. Only
faults after a healthy session are held to the bound; one that hits a recovery still under way
is measured and shown, not judged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from core.engine.records import EngineState, GapRecord, Record
from core.streaming.ports import ShardPhase
from core.streaming.shard import ChannelShard
from tests.chaos.report import ChaosReport, percentile
from tests.integration.test_engine import Engine

Expect = Literal["gap", "switch"]
HEALTHY_BOUND_S = 5.0  # a fault after a healthy session: live and re-synced within this
STALL_EXTRA_S = 5.0  # a stall: within 3 heartbeat intervals plus this


def bound_s(kind: str, heartbeat_s: float) -> float:
    """The most a fault after a healthy session may cost (a stall must first be noticed)."""
    return 3 * heartbeat_s + STALL_EXTRA_S if kind == "stall" else HEALTHY_BOUND_S


@dataclass
class Sample:
    """One fault as one engine lived it."""

    seq: int
    kind: str
    engine: str
    expect: Expect
    injected_at: float
    healthy: bool
    switches_before: int
    before: tuple[str, ...] = ()  # the kinds of the faults just before this one
    gap_seen: bool = False
    ended: bool = False
    live_at: float | None = None

    @property
    def staleness_s(self) -> float | None:
        """Injection to live and re-synced again (None while it has not happened)."""
        return None if self.live_at is None else self.live_at - self.injected_at


class StalenessMeter:
    """A service listener that turns one engine's records into :class:`Sample` figures."""

    def __init__(self, name: str, engine: Engine) -> None:
        self.name = name
        self.engine = engine
        self.gap_open = False  # added once the engine is live: its start-up gap has ended
        self.pending: list[Sample] = []
        self.done: list[Sample] = []
        self._frames_at_end = self._frames()

    def _frames(self) -> dict[int, tuple[ChannelShard, int]]:
        return {s.slot: (s, s.counters["frames"]) for s in self.engine.service.shards}

    def _switches(self) -> int:
        return sum(s.counters["socket_switches"] for s in self.engine.service.shards)

    def healthy(self) -> bool:
        """The current session is healthy (see the module docstring)."""
        shards = self.engine.service.shards
        if self.gap_open or not shards:
            return False
        for shard in shards:
            known, frames = self._frames_at_end.get(shard.slot, (None, 0))
            baseline = frames if known is shard else 0
            if shard.phase not in (ShardPhase.LIVE, ShardPhase.STALE):
                return False
            if shard.counters["frames"] <= baseline:
                return False
        return True

    def expect(self, seq: int, kind: str, expect: Expect, before: tuple[str, ...]) -> Sample:
        """Open a sample for a fault about to be injected (call just before injecting)."""
        sample = Sample(
            seq,
            kind,
            self.name,
            expect,
            time.monotonic(),
            self.healthy(),
            self._switches(),
            before,
            gap_seen=self.gap_open,
        )
        self.pending.append(sample)
        return sample

    def forget(self, sample: Sample) -> None:
        """Drop a sample of a fault that did not hit this engine after all."""
        self.pending.remove(sample)

    def __call__(self, record: Record) -> None:
        """Follow gaps and the engine's state; close the samples this record completes."""
        now = time.monotonic()
        if isinstance(record, GapRecord) and record.phase == "start":
            self.gap_open = True
            for sample in self.pending:
                sample.gap_seen = True
        elif isinstance(record, GapRecord):
            self.gap_open = False
            self._frames_at_end = self._frames()
            switches = self._switches()
            for sample in self.pending:
                switched = sample.expect == "switch" and switches > sample.switches_before
                if sample.gap_seen or switched:
                    sample.ended = True
        if self.pending and self.engine.service.state is EngineState.LIVE:
            for sample in [s for s in self.pending if s.ended]:
                sample.live_at = now
                self.pending.remove(sample)
                self.done.append(sample)


@dataclass
class RhythmReport(ChaosReport):
    """A rhythm run: the staleness of every fault per engine, and the shared totals."""

    heartbeat_s: float = 1.0
    spacing_s: tuple[float, float] = (5.0, 10.0)
    samples: list[Sample] = field(default_factory=list)
    pool_checks: int = 0
    pool_checks_skipped: int = 0

    def over_bound(self) -> list[Sample]:
        """Faults after a healthy session that took longer than their bound (or never ended)."""
        return [
            s
            for s in self.samples
            if s.healthy
            and (s.staleness_s is None or s.staleness_s > bound_s(s.kind, self.heartbeat_s))
        ]

    def _row(self, label: str, samples: list[Sample], bound: str) -> str:
        times = [s.staleness_s for s in samples if s.staleness_s is not None]
        healthy = [s for s in samples if s.healthy]
        over = len([s for s in self.over_bound() if s in samples])
        worst = max(
            (s for s in samples if s.staleness_s is not None),
            key=lambda s: s.staleness_s or 0.0,
            default=None,
        )
        where = ""
        if worst is not None:
            after = " → ".join(worst.before) or "start"
            state = "healthy" if worst.healthy else "not healthy"
            where = f"#{worst.seq} {worst.engine} ({state}), after {after}"
        unresolved = len(samples) - len(times)
        return (
            f"{label:<16}{len(samples):>6}{len(healthy):>8}{percentile(times, 0.5):>7.2f}"
            f"{percentile(times, 0.95):>7.2f}{max(times, default=0.0):>7.2f}{bound:>7}"
            f"{over:>6}{unresolved:>9}  {where}"
        )

    def table(self) -> str:
        """Staleness per fault kind (count, p50 / p95 / max, the worst one), then the totals."""
        head = (
            f"{'fault':<16}{'count':>6}{'healthy':>8}{'p50 s':>7}{'p95 s':>7}{'max s':>7}"
            f"{'bound':>7}{'over':>6}{'unended':>9}  worst: fault #, engine, the faults before"
        )
        lines = [
            f"rhythm: {len(self.order)} faults {self.spacing_s[0]:g}-{self.spacing_s[1]:g} s"
            f" apart, org moving, production ChannelSettings() and DEFAULT_POLICY, heartbeat"
            f" {self.heartbeat_s:g} s; staleness = fault injected -> engine live and re-synced"
            f" (one count per engine hit)",
            "",
            head,
            "-" * 112,
        ]
        kinds = list(dict.fromkeys(s.kind for s in sorted(self.samples, key=lambda s: s.kind)))
        for kind in kinds:
            bound = f"{bound_s(kind, self.heartbeat_s):g} s"
            lines.append(self._row(kind, [s for s in self.samples if s.kind == kind], bound))
        lines += ["-" * 112, self._row("all", self.samples, "")]
        lines += [
            "",
            f"order: {' '.join(self.order)}",
            f"pool checked between faults {self.pool_checks} times (skipped"
            f" {self.pool_checks_skipped} while an engine was still recovering)",
            *self.footer(),
        ]
        return "\n".join(lines)
