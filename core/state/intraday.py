"""Intraday history of each queue: waiting and service level over the day, for the charts.

A chart a person reads needs the whole day, not the last few minutes, and must not start empty
after a restart: :class:`IntradayHistory` keeps one series per queue, filled live by the GUI's
sampler and backfilled from the journal at start (:mod:`core.storage.journal.samples`).

A series is a step function: a point holds its values until the next point. Live samples that
repeat the previous values are not stored (only a "still the same" point every
``keepalive_s``), so a quiet queue costs a point a minute, not one per sample. A stretch longer
than ``gap_s`` with no point at all means nobody was watching (the app was not running): the
chart breaks its line there instead of drawing a flat guess.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

logger = logging.getLogger(__name__)

KEEPALIVE_S: Final = 60.0
GAP_S: Final = 300.0


@dataclass(frozen=True, slots=True)
class QueueSample:
    """One queue at one moment: ``at`` in epoch seconds; None is a figure not known then."""

    at: float
    waiting: int | None = None
    service_level: float | None = None  # a fraction 0..1, as the aggregates' oServiceLevel


@dataclass(frozen=True, slots=True)
class StepSeries:
    """Plot-ready coordinates: x in epoch seconds, y with NaN where the line breaks."""

    x: list[float]
    y: list[float]

    @property
    def finite(self) -> list[float]:
        """The values that are drawn (no NaN)."""
        return [v for v in self.y if not math.isnan(v)]


def local_midnight(now: datetime) -> datetime:
    """The start of ``now``'s day in the local time zone (a "today" chart starts there)."""
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


class IntradayHistory:
    """Per-queue samples, oldest first, merged from the journal and from live sampling."""

    def __init__(self, *, keepalive_s: float = KEEPALIVE_S, gap_s: float = GAP_S) -> None:
        if keepalive_s <= 0 or gap_s <= keepalive_s:
            raise ValueError("need 0 < keepalive_s < gap_s")
        self.keepalive_s = keepalive_s
        self.gap_s = gap_s
        self._samples: dict[str, list[QueueSample]] = {}

    def queue_ids(self) -> list[str]:
        """Queues with at least one sample."""
        return list(self._samples)

    def samples(self, queue_id: str) -> list[QueueSample]:
        """All samples of a queue, oldest first (a copy)."""
        return list(self._samples.get(queue_id, ()))

    def last(self, queue_id: str) -> QueueSample | None:
        """The newest sample of a queue, or None."""
        series = self._samples.get(queue_id)
        return series[-1] if series else None

    def add(self, queue_id: str, sample: QueueSample) -> bool:
        """Record a live sample; returns False when it only repeated the last one (not kept).

        A sample older than the newest one is merged in its place (a late backfill row).
        """
        series = self._samples.setdefault(queue_id, [])
        if series and sample.at >= series[-1].at:
            last = series[-1]
            same = (last.waiting, last.service_level) == (sample.waiting, sample.service_level)
            if same and sample.at - last.at < self.keepalive_s:
                return False
            series.append(sample)
            return True
        self._insert(series, sample)
        return True

    def backfill(self, found: Mapping[str, Iterable[QueueSample]]) -> int:
        """Merge samples read back from the journal; returns how many were new.

        Backfill rows often carry one figure only (a waiting change from the feed, a periodic
        sample with both): a row at a moment already known is skipped.
        """
        added = 0
        for queue_id, rows in found.items():
            series = self._samples.setdefault(queue_id, [])
            known = {s.at for s in series}
            for sample in rows:
                if sample.at not in known:
                    self._insert(series, sample)
                    known.add(sample.at)
                    added += 1
        return added

    def trim(self, before: float) -> None:
        """Forget samples older than ``before`` (epoch s), keeping each queue's last one before."""
        for queue_id, series in self._samples.items():
            cut = bisect.bisect_left([s.at for s in series], before)
            if cut > 1:
                self._samples[queue_id] = series[cut - 1 :]

    def retain(self, queue_ids: Iterable[str]) -> None:
        """Forget every queue not in ``queue_ids``."""
        keep = set(queue_ids)
        for queue_id in [q for q in self._samples if q not in keep]:
            del self._samples[queue_id]

    # ------------------------------------------------------------------ reading for charts
    def waiting(self, queue_id: str, since: float, now: float) -> StepSeries:
        """The waiting count of one queue from ``since`` to ``now`` as steps."""
        return self._steps([self._samples.get(queue_id, [])], since, now, "waiting")

    def total_waiting(self, queue_ids: Iterable[str], since: float, now: float) -> StepSeries:
        """The sum of waiting over ``queue_ids`` (all queues' load in one line)."""
        return self._steps(
            [self._samples.get(q, []) for q in queue_ids], since, now, "waiting", total=True
        )

    def service_level(self, queue_id: str, since: float, now: float) -> StepSeries:
        """The service level of one queue in percent (0-100) from ``since`` to ``now``."""
        steps = self._steps([self._samples.get(queue_id, [])], since, now, "service_level")
        return StepSeries(steps.x, [v * 100 for v in steps.y])

    def _steps(
        self,
        queues: list[list[QueueSample]],
        since: float,
        now: float,
        field: str,
        *,
        total: bool = False,
    ) -> StepSeries:
        # Every queue's own values as (at, value|None) changes; the union of moments is the x.
        moments = sorted({s.at for series in queues for s in series if s.at <= now})
        if not moments:
            return StepSeries([], [])
        values: list[float] = []
        cursors = [0] * len(queues)
        current: list[float | None] = [None] * len(queues)
        seen_at: list[float | None] = [None] * len(queues)
        for at in moments:
            for i, series in enumerate(queues):
                while cursors[i] < len(series) and series[cursors[i]].at <= at:
                    sample = series[cursors[i]]
                    value = getattr(sample, field)
                    if value is not None:
                        current[i] = float(value)
                    seen_at[i] = sample.at
                    cursors[i] += 1
            known = [
                v
                for v, when in zip(current, seen_at, strict=True)
                if v is not None and when is not None and at - when <= self.gap_s
            ]
            if total:
                values.append(sum(known) if known else math.nan)
            else:
                values.append(known[0] if known else math.nan)
        x: list[float] = []
        y: list[float] = []
        previous_at: float | None = None
        for at, value in zip(moments, values, strict=True):
            if previous_at is not None and at - previous_at > self.gap_s:
                x.append(previous_at + self.gap_s)  # the line breaks: nobody was watching
                y.append(math.nan)
            elif y:
                x.append(at)  # the step's riser
                y.append(y[-1])
            x.append(at)
            y.append(value)
            previous_at = at
        if previous_at is not None and y and now - previous_at <= self.gap_s:
            x.append(now)  # the last value holds until now
            y.append(y[-1])
        return _clip(StepSeries(x, y), since)

    @staticmethod
    def _insert(series: list[QueueSample], sample: QueueSample) -> None:
        where = bisect.bisect_right([s.at for s in series], sample.at)
        series.insert(where, sample)


def _clip(steps: StepSeries, since: float) -> StepSeries:
    """Drop what lies before ``since``, starting the line at ``since`` with the value then."""
    cut = bisect.bisect_left(steps.x, since)
    if cut == 0:
        return steps
    x, y = steps.x[cut:], steps.y[cut:]
    before = steps.y[cut - 1]
    if not math.isnan(before) and (not x or x[0] > since):
        x.insert(0, since)
        y.insert(0, before)
    return StepSeries(x, y)


def since_for(window: str, now: datetime) -> datetime:
    """Where a chart window starts: ``"30min"`` the last half hour, ``"today"`` local midnight."""
    if window == "today":
        return local_midnight(now)
    return now - timedelta(minutes=30)
