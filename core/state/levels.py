"""Thresholds and levels: is a queue, or the whole contact centre, within its limits?

A supervisor reads colours before numbers, so every figure of the glance (the header strip, the
Queues board's cells, the tray icon and its tooltip) gets a level: ok, warning or critical, or
none when the figure is not known. A queue's level is the worst of its figures' levels; the
contact centre's is the worst of its queues'.

The defaults, and why (each can be changed in Settings, org-wide or per queue):

- **Waiting: warning at 3, critical at 8.** Three callers queued means no agent was free for
  the last few arrivals; eight is a queue that a small team (the usual 5-15 agents a
  supervisor watches) cannot clear within a minute or two.
- **Longest wait: warning at 60 s, critical at 180 s.** Three times the industry's usual
  20-second answer target is a caller who will notice; past three minutes most abandons happen.
- **Service level (today): warning below 80 %, critical below 60 %.** 80 % answered within the
  queue's target is the common "80/20" goal; 60 % is a day that has clearly gone wrong.

Agents have fixed levels: one Not Responding agent is a warning (never critical: it is one
person who missed a call, see the glance issue), no available agent while calls wait is a
warning, nobody on queue while calls wait is critical.

Longest wait counts only the calls still waiting in the queue, not those already ringing at an
agent (see :meth:`core.state.store.Store.longest_wait_s`), so it always agrees with Waiting.
No Qt here: the GUI colours what this module decides.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any, Final

from core.state.store import QueueState, Store

logger = logging.getLogger(__name__)


class Level(IntEnum):
    """How bad a figure is; ordered, so ``max`` is the worst."""

    OK = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def word(self) -> str:
        """``ok``, ``warning``, ``critical``: the word tooltips and accessible names use."""
        return self.name.lower()


def worst(levels: Iterable[Level | None]) -> Level:
    """The worst known level; OK when none is known."""
    return max((lvl for lvl in levels if lvl is not None), default=Level.OK)


@dataclass(frozen=True, slots=True)
class Limits:
    """A warning and a critical limit of one figure (None: that level is off).

    ``below`` flips the direction: a service level is bad when it falls below its limits.
    A figure at a limit is at that level ("warning at 3" means 3 waiting is a warning).
    """

    warning: float | None
    critical: float | None
    below: bool = False

    def level(self, value: float | None) -> Level | None:
        """The level of ``value``; None when the value is unknown."""
        if value is None:
            return None
        for limit, level in ((self.critical, Level.CRITICAL), (self.warning, Level.WARNING)):
            if limit is None:
                continue
            if (value < limit) if self.below else (value >= limit):
                return level
        return Level.OK

    def problem(self, name: str) -> str | None:
        """Why these limits cannot be used, in words a supervisor reads; None when they can."""
        for limit in (self.warning, self.critical):
            if limit is not None and limit < 0:
                return f"{name}: a limit cannot be negative."
        if self.warning is None or self.critical is None:
            return None
        if self.below and self.critical >= self.warning:
            return (
                f"{name}: the critical level ({self.critical:g}) must be below the warning"
                f" level ({self.warning:g})."
            )
        if not self.below and self.critical <= self.warning:
            return (
                f"{name}: the critical level ({self.critical:g}) must be above the warning"
                f" level ({self.warning:g})."
            )
        return None


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """The three thresholds of a queue. ``service_level_pct`` is in percent (0-100)."""

    waiting: Limits = Limits(3, 8)
    longest_wait_s: Limits = Limits(60, 180)
    service_level_pct: Limits = Limits(80, 60, below=True)

    def problem(self) -> str | None:
        """The first reason these thresholds cannot be used; None when they can."""
        checks = (
            (self.waiting, "Waiting"),
            (self.longest_wait_s, "Longest wait"),
            (self.service_level_pct, "Service level"),
        )
        for limits, name in checks:
            problem = limits.problem(name)
            if problem is not None:
                return problem
        pct = self.service_level_pct
        if any(v is not None and v > 100 for v in (pct.warning, pct.critical)):
            return "Service level: a limit cannot be above 100 %."
        return None


DEFAULT_LIMITS: Final = QueueLimits()


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The org-wide default and the queues that override it (by queue id)."""

    default: QueueLimits = DEFAULT_LIMITS
    per_queue: Mapping[str, QueueLimits] = field(default_factory=dict)

    def for_queue(self, queue_id: str) -> QueueLimits:
        """The thresholds that apply to one queue."""
        return self.per_queue.get(queue_id, self.default)

    def problem(self) -> str | None:
        """The first reason these thresholds cannot be used; None when they can."""
        problem = self.default.problem()
        if problem is not None:
            return f"All queues: {problem}"
        for queue_id, limits in self.per_queue.items():
            problem = limits.problem()
            if problem is not None:
                return f"Queue {queue_id}: {problem}"
        return None


# The figures of the glance, by the key the header strip's filter_requested signal carries.
WAITING: Final = "waiting"
LONGEST_WAIT: Final = "longest_wait"
SERVICE_LEVEL: Final = "sl"
ON_QUEUE: Final = "on_queue"
AVAILABLE: Final = "available"
INTERACTING: Final = "interacting"
NOT_RESPONDING: Final = "not_responding"
ON_BREAK: Final = "on_break"
FIGURES: Final = (
    WAITING,
    LONGEST_WAIT,
    SERVICE_LEVEL,
    ON_QUEUE,
    AVAILABLE,
    INTERACTING,
    NOT_RESPONDING,
    ON_BREAK,
)
FIGURE_LABELS: Final = {
    WAITING: "Waiting",
    LONGEST_WAIT: "Longest wait",
    SERVICE_LEVEL: "Service level today",
    ON_QUEUE: "On queue",
    AVAILABLE: "Available",
    INTERACTING: "Interacting",
    NOT_RESPONDING: "Not Responding",
    ON_BREAK: "On break",
}
UNKNOWN_TEXT: Final = "—"  # a figure nothing says yet (the boards' em dash)
BREAK_PRESENCES: Final = frozenset({"BREAK", "MEAL"})
NOT_RESPONDING_LIMITS: Final = Limits(1, None)  # a warning, never critical by default


@dataclass(frozen=True, slots=True)
class QueueGlance:
    """One queue's figures and their levels (None: not known)."""

    id: str
    name: str
    waiting: int | None
    longest_wait_s: float | None
    service_level: float | None  # a fraction 0-1, today
    waiting_level: Level | None
    longest_wait_level: Level | None
    service_level_level: Level | None

    @property
    def level(self) -> Level:
        """The worst of the queue's figures."""
        return worst((self.waiting_level, self.longest_wait_level, self.service_level_level))

    def problem_line(self) -> str:
        """``Support: 8 waiting, longest 3:10 (critical)``: the figures that are not ok."""
        parts = []
        if self.waiting_level:
            parts.append(f"{self.waiting or 0} waiting")
        if self.longest_wait_level and self.longest_wait_s is not None:
            parts.append(f"longest {short_clock(self.longest_wait_s)}")
        if self.service_level_level and self.service_level is not None:
            parts.append(f"service level {percent_text(self.service_level)}")
        return f"{self.name}: {', '.join(parts)} ({self.level.word})"


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure of the header strip: its value as text, and its level."""

    key: str
    label: str
    value: float | None
    text: str
    level: Level | None


@dataclass(frozen=True, slots=True)
class CentreSummary:
    """The contact centre at a glance: the header figures and every queue's levels."""

    figures: tuple[Figure, ...]
    queues: tuple[QueueGlance, ...]

    @property
    def level(self) -> Level:
        """The worst queue's level (the tray icon's colour)."""
        return worst(q.level for q in self.queues)

    @property
    def total_waiting(self) -> int:
        """Calls waiting in all watched queues (the tray icon's badge)."""
        return sum(q.waiting or 0 for q in self.queues)

    def figure(self, key: str) -> Figure:
        """One header figure by key (:data:`FIGURES`)."""
        return next(f for f in self.figures if f.key == key)

    def problems(self) -> list[QueueGlance]:
        """The queues not within limits, worst first, then the most waiting."""
        bad = [q for q in self.queues if q.level > Level.OK]
        return sorted(bad, key=lambda q: (-q.level, -(q.waiting or 0), q.name))

    def problem_lines(self) -> list[str]:
        """One line per queue not within limits, or the one line saying all are."""
        if all(q.waiting is None and q.longest_wait_s is None for q in self.queues):
            return ["No queue figures yet"]  # before the first read: not "within limits"
        lines = [q.problem_line() for q in self.problems()]
        return lines or ["All queues within limits"]


def short_clock(seconds: float) -> str:
    """``3:10``, ``0:45``, ``1:02:05``: a wait as a clock, without a leading zero."""
    hours, rest = divmod(max(0, round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent_text(fraction: float) -> str:
    """``87 %`` from 0.87."""
    return f"{round(fraction * 100)} %"


def service_level(queue: QueueState) -> tuple[float | None, int]:
    """Today's service level of a queue (a fraction 0-1) and the calls it counts (offered).

    Read by name from a queue-like object carrying ``kpis.today`` (the store keeps the real
    KPIs in ``Store.kpis``: see :func:`today_service_level`); absent is unknown, never 100 %.
    """
    kpis: Any = getattr(queue, "kpis", None)
    today: Any = getattr(kpis, "today", kpis)
    value = getattr(today, "service_level", None)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None, 0
    offered = getattr(today, "offered", None)
    weight = offered if isinstance(offered, int) and not isinstance(offered, bool) else 0
    fraction = float(value) / 100 if value > 1 else float(value)  # a percentage, read as such
    return min(1.0, max(0.0, fraction)), weight


def today_service_level(store: Store, queue: QueueState) -> tuple[float | None, float, float]:
    """Today's service level of a queue from the store's KPIs (core.state.kpis), as
    (fraction 0-1 or None, numerator, denominator), so queues add up as the analytics do."""
    kpis = store.kpis.get(queue.id)
    if kpis is not None:
        today = kpis.today
        return today.service_level, today.sl_numerator, today.sl_denominator
    sl, weight = service_level(queue)
    return sl, (sl or 0.0) * weight, float(weight)


def queue_glance(
    store: Store, queue: QueueState, limits: QueueLimits, now: datetime
) -> QueueGlance:
    """One queue's figures, each with its level under ``limits``."""
    longest = store.longest_wait_s(queue.id, now)
    sl, _, _ = today_service_level(store, queue)
    return QueueGlance(
        id=queue.id,
        name=queue.name or queue.id[:8],
        waiting=queue.waiting,
        longest_wait_s=longest,
        service_level=sl,
        waiting_level=limits.waiting.level(queue.waiting),
        longest_wait_level=limits.longest_wait_s.level(longest),
        service_level_level=limits.service_level_pct.level(None if sl is None else sl * 100),
    )


def centre_summary(store: Store, thresholds: Thresholds, now: datetime) -> CentreSummary:
    """The header strip's figures and every queue's levels, read from the store."""
    queues = tuple(
        queue_glance(store, q, thresholds.for_queue(q.id), now)
        for q in sorted(store.queues.values(), key=lambda q: (q.name.casefold(), q.id))
    )
    known_waiting = [q.waiting for q in queues if q.waiting is not None]
    waiting = sum(known_waiting) if known_waiting else None
    waits = [q.longest_wait_s for q in queues if q.longest_wait_s is not None]
    longest = max(waits) if waits else None
    sl = _centre_service_level(today_service_level(store, q) for q in store.queues.values())
    figures = [
        Figure(
            WAITING,
            FIGURE_LABELS[WAITING],
            waiting,
            _count(waiting),
            worst(q.waiting_level for q in queues) if waiting is not None else None,
        ),
        Figure(
            LONGEST_WAIT,
            FIGURE_LABELS[LONGEST_WAIT],
            longest,
            short_clock(longest) if longest is not None else UNKNOWN_TEXT,
            worst(q.longest_wait_level for q in queues),
        ),
        Figure(
            SERVICE_LEVEL,
            FIGURE_LABELS[SERVICE_LEVEL],
            sl,
            percent_text(sl) if sl is not None else UNKNOWN_TEXT,
            thresholds.default.service_level_pct.level(None if sl is None else sl * 100),
        ),
    ]
    figures.extend(_agent_figures(store, waiting or 0))
    return CentreSummary(tuple(figures), queues)


def _centre_service_level(
    queues: Iterable[tuple[float | None, float, float]],
) -> float | None:
    """Today's service level of all queues: their numerators over their denominators (the
    calls each counts), else the plain mean of the levels known; None when none is known."""
    known = [(sl, num, den) for sl, num, den in queues if sl is not None]
    if not known:
        return None
    denominator = sum(den for _, _, den in known)
    if denominator > 0:
        return sum(num for _, num, _ in known) / denominator
    return sum(sl or 0.0 for sl, _, _ in known) / len(known)


def _agent_figures(store: Store, waiting: int) -> list[Figure]:
    """On queue, available, interacting, Not Responding and on break, over the watched users."""
    users = list(store.users.values())
    on_queue = sum(1 for u in users if u.system_presence == "ON_QUEUE")
    available = sum(
        1 for u in users if u.system_presence == "ON_QUEUE" and u.routing_status == "IDLE"
    )
    interacting = sum(1 for u in users if u.routing_status in ("INTERACTING", "COMMUNICATING"))
    not_responding = sum(1 for u in users if u.routing_status == "NOT_RESPONDING")
    on_break = sum(1 for u in users if u.system_presence in BREAK_PRESENCES)
    short_staffed = waiting > 0
    return [
        Figure(
            ON_QUEUE,
            FIGURE_LABELS[ON_QUEUE],
            on_queue,
            _count(on_queue),
            Level.CRITICAL if short_staffed and on_queue == 0 else Level.OK,
        ),
        Figure(
            AVAILABLE,
            FIGURE_LABELS[AVAILABLE],
            available,
            _count(available),
            Level.WARNING if short_staffed and available == 0 else Level.OK,
        ),
        Figure(INTERACTING, FIGURE_LABELS[INTERACTING], interacting, _count(interacting), Level.OK),
        Figure(
            NOT_RESPONDING,
            FIGURE_LABELS[NOT_RESPONDING],
            not_responding,
            _count(not_responding),
            NOT_RESPONDING_LIMITS.level(not_responding),
        ),
        # A break is planned: a figure to read, never a problem by itself.
        Figure(ON_BREAK, FIGURE_LABELS[ON_BREAK], on_break, _count(on_break), Level.OK),
    ]


def _count(value: int | None) -> str:
    return UNKNOWN_TEXT if value is None else str(value)
