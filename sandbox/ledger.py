"""What happened to every conversation a queue was offered: the history behind queue KPIs.

The analytics conversation aggregates query (``POST /api/v2/analytics/conversations/aggregates/
query``) and the interval figures of ``.observations`` are computed from here, and so is the
truth's ``today`` per queue, so the three can never disagree.

A metric counts in the interval in which its event happened (the way Genesys attributes
aggregates): ``nOffered`` when the conversation entered the queue, ``tAnswered`` and ``tAcd`` when
an agent answered, ``tAbandon`` (and ``tAcd``) when the customer gave up waiting, ``tHandle``
when the agent finished wrap-up. Times are whole milliseconds.

Service level (``oServiceLevel``), one definition for the query, the push and the truth:
``numerator`` = conversations answered within their media's service-level target (the queue's
``mediaSettings.<media>.serviceLevel.durationMs``), ``denominator`` = conversations answered plus
conversations abandoned (in the interval), ``ratio`` = numerator / denominator, ``target`` = the
queue's goal percentage (0.8). No answered and no abandoned conversation: no ``oServiceLevel``.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, field
from typing import Any

from sandbox.entities import Conversation

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]

SERVICE_LEVEL_MS = {
    "voice": 20_000,
    "callback": 3_600_000,
    "chat": 60_000,
    "message": 300_000,
    "email": 86_400_000,
}
SERVICE_LEVEL_GOAL = 0.8
TIMED_METRICS = ("tAnswered", "tAbandon", "tAcd", "tHandle")
AGGREGATE_METRICS = frozenset({"nOffered", "oServiceLevel", *TIMED_METRICS})
KEEP_S = 2 * 86_400.0  # events older than this are forgotten (a "today" never needs them)


@dataclass(slots=True)
class Stats:
    """Running figures of one group in one interval."""

    offered: int = 0
    timed: dict[str, list[int]] = field(default_factory=dict)  # metric -> [count, sum, max, min]
    sl_numerator: int = 0
    sl_denominator: int = 0

    def add(self, metric: str, value: int) -> None:
        """Count one event of ``metric`` (a time in ms; ignored for the counters)."""
        if metric == "nOffered":
            self.offered += 1
        elif metric == "slIn":
            self.sl_numerator += 1
            self.sl_denominator += 1
        elif metric == "slOut":
            self.sl_denominator += 1
        else:
            row = self.timed.get(metric)
            if row is None:
                self.timed[metric] = [1, value, value, value]
            else:
                row[0] += 1
                row[1] += value
                row[2] = max(row[2], value)
                row[3] = min(row[3], value)

    def metrics(self, wanted: frozenset[str] | set[str], *, zeros: bool = False) -> list[JsonDict]:
        """The ``metrics[]`` of this group: only metrics with data, unless ``zeros``."""
        out: list[JsonDict] = []
        if "nOffered" in wanted and (self.offered or zeros):
            out.append({"metric": "nOffered", "stats": {"count": self.offered}})
        for name in TIMED_METRICS:
            row = self.timed.get(name)
            if name not in wanted or row is None:
                continue
            count, total, high, low = row
            out.append(
                {
                    "metric": name,
                    "stats": {"max": high, "min": low, "count": count, "sum": total},
                }
            )
        if "oServiceLevel" in wanted and self.sl_denominator:
            out.append(
                {
                    "metric": "oServiceLevel",
                    "stats": {
                        "ratio": self.sl_numerator / self.sl_denominator,
                        "numerator": self.sl_numerator,
                        "denominator": self.sl_denominator,
                        "target": SERVICE_LEVEL_GOAL,
                    },
                }
            )
        return out

    def empty(self) -> bool:
        """Nothing happened."""
        return not self.offered and not self.timed and not self.sl_denominator


@dataclass(slots=True)
class _Visit:
    queue_id: str
    media: str
    arrived: float
    answered: float | None = None


Event = tuple[float, str, str, str, int]  # (when, queue id, media, metric, ms)


class Ledger:
    """Every KPI event in time order, plus running figures of the current 30-minute slot."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._times: list[float] = []
        self._open: dict[str, _Visit] = {}
        self._slots: dict[tuple[str, str], tuple[float, Stats]] = {}

    def observe(self, conv: Conversation, now: float) -> None:
        """A conversation changed (``Org.conversation_changed``): record what that means."""
        visit = self._open.get(conv.id)
        if visit is None:
            if conv.state == "ended":
                return
            visit = self._open[conv.id] = _Visit(conv.queue_id, conv.media, conv.created)
            self._add(conv.created, visit, "nOffered", 0)
        if conv.state == "connected" and visit.answered is None:
            visit.answered = now
            wait = _ms(now - visit.arrived)
            self._add(now, visit, "tAnswered", wait)
            self._add(now, visit, "tAcd", wait)
            met = wait <= SERVICE_LEVEL_MS.get(visit.media, 20_000)
            self._add(now, visit, "slIn" if met else "slOut", 0)
        elif conv.state == "ended":
            del self._open[conv.id]
            if visit.answered is None:
                wait = _ms(now - visit.arrived)
                self._add(now, visit, "tAbandon", wait)
                self._add(now, visit, "tAcd", wait)
                self._add(now, visit, "slOut", 0)
            else:
                self._add(now, visit, "tHandle", _ms(now - visit.answered))

    def _add(self, at: float, visit: _Visit, metric: str, value: int) -> None:
        # Events arrive in time order but for the arrival stamped with conv.created (same tick).
        index = bisect.bisect_right(self._times, at)
        self._times.insert(index, at)
        self.events.insert(index, (at, visit.queue_id, visit.media, metric, value))
        slot = at - (at % 1800)
        key = (visit.queue_id, visit.media)
        known = self._slots.get(key)
        if known is None or known[0] < slot:
            known = self._slots[key] = (slot, Stats())
        if known[0] == slot:
            known[1].add(metric, value)
        self._prune(at)

    def _prune(self, now: float) -> None:
        cut = bisect.bisect_left(self._times, now - KEEP_S)
        if cut > 1000:  # in batches: deleting a list's head is linear
            del self._times[:cut]
            del self.events[:cut]

    # ------------------------------------------------------------------ reading
    def slot_stats(self, queue_id: str, media: str, now: float) -> Stats:
        """The figures of the 30-minute slot holding ``now`` for one ``(queue, media)`` group."""
        known = self._slots.get((queue_id, media))
        slot = now - (now % 1800)
        return known[1] if known is not None and known[0] == slot else Stats()

    def between(self, start: float, end: float) -> list[Event]:
        """Events with ``start <= when < end``, oldest first."""
        low = bisect.bisect_left(self._times, start)
        high = bisect.bisect_left(self._times, end)
        return self.events[low:high]

    def by_queue(self, start: float, end: float) -> dict[str, Stats]:
        """Each queue's figures over ``[start, end)``, all media together (one pass)."""
        out: dict[str, Stats] = {}
        for _at, qid, _media, metric, value in self.between(start, end):
            stats = out.get(qid)
            if stats is None:
                stats = out[qid] = Stats()
            stats.add(metric, value)
        return out


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def today_truth(stats: Stats) -> JsonDict:
    """The truth's ``today`` of one queue (the shape ``listen --state-out`` writes).

    ``serviceLevel`` is the ``oServiceLevel`` ratio (0..1, None without traffic); ``asa`` and
    ``aht`` are seconds (``tAnswered`` and ``tHandle`` sum / count, to the millisecond).
    """
    answered = stats.timed.get("tAnswered", [0, 0, 0, 0])
    abandoned = stats.timed.get("tAbandon", [0, 0, 0, 0])
    handled = stats.timed.get("tHandle", [0, 0, 0, 0])
    return {
        "offered": stats.offered,
        "answered": answered[0],
        "abandoned": abandoned[0],
        "serviceLevel": (
            stats.sl_numerator / stats.sl_denominator if stats.sl_denominator else None
        ),
        "asa": round(answered[1] / answered[0] / 1000, 3) if answered[0] else None,
        "aht": round(handled[1] / handled[0] / 1000, 3) if handled[0] else None,
    }
