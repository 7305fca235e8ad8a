"""Queue KPIs: what a queue was offered and what came of it, today and in the current interval.

Figures are kept as sums (counts, millisecond totals, the service level's numerator and
denominator), never as ratios, so the parts of a queue (media groups, 30-minute intervals) add up
exactly and a live delta can be added to a queried total. The ratios a person reads (abandon %,
service level, ASA, AHT) are derived on demand.

Service level, as the analytics ``oServiceLevel`` metric reports it: conversations answered
within the queue's service-level target, divided by conversations answered plus conversations
abandoned; None with neither.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

PREFERRED_TARGET_MEDIA = ("voice", "callback", "chat", "message", "email")


@dataclass(frozen=True, slots=True)
class Figures:
    """Summable queue figures of one span of time."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    sl_numerator: float = 0.0
    sl_denominator: float = 0.0
    answer_ms: float = 0.0  # tAnswered sum: ASA = answer_ms / answered
    handled: int = 0
    handle_ms: float = 0.0  # tHandle sum: AHT = handle_ms / handled

    def plus(self, other: Figures) -> Figures:
        """Both spans together."""
        return Figures(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def latest(self, other: Figures) -> Figures:
        """The later of two readings of one span (each field only grows, so the larger)."""
        return Figures(*(max(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)))

    def since(self, earlier: Figures) -> Figures:
        """What grew from ``earlier`` to this (never negative: figures of a span only grow)."""
        return Figures(
            *(max(0, getattr(self, f.name) - getattr(earlier, f.name)) for f in fields(self))
        )

    @property
    def empty(self) -> bool:
        """Nothing offered, answered or abandoned."""
        return not (self.offered or self.answered or self.abandoned or self.sl_denominator)

    @property
    def abandon_pct(self) -> float | None:
        """Abandoned as a percentage of offered (None when nothing was offered)."""
        return 100.0 * self.abandoned / self.offered if self.offered else None

    @property
    def service_level(self) -> float | None:
        """The ``oServiceLevel`` ratio, 0..1 (None without answered or abandoned traffic)."""
        return self.sl_numerator / self.sl_denominator if self.sl_denominator else None

    @property
    def asa_s(self) -> float | None:
        """Average speed of answer in seconds (to the millisecond)."""
        return round(self.answer_ms / self.answered / 1000, 3) if self.answered else None

    @property
    def aht_s(self) -> float | None:
        """Average handle time in seconds (to the millisecond)."""
        return round(self.handle_ms / self.handled / 1000, 3) if self.handled else None

    def as_json(self) -> dict[str, Any]:
        """The ``listen --state-out`` / ``/sandbox/truth`` shape of ``today``."""
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "serviceLevel": self.service_level,
            "asa": self.asa_s,
            "aht": self.aht_s,
        }


@dataclass(frozen=True, slots=True)
class QueueKpis:
    """A queue's KPIs: today (since local midnight) and the current 30-minute interval.

    ``sl_targets`` are the queue's own service-level targets in seconds by media type (from
    its ``mediaSettings``); ``sl_goal`` the goal fraction when the analytics said (0.8).
    """

    queue_id: str
    today: Figures = Figures()
    interval: Figures = Figures()
    interval_start: datetime | None = None
    sl_targets: Mapping[str, float] = field(default_factory=dict, hash=False)
    sl_goal: float | None = None
    updated: datetime | None = None

    @property
    def sl_target_s(self) -> float | None:
        """The target a person is shown: voice's when the queue takes calls, else the first."""
        for media in PREFERRED_TARGET_MEDIA:
            if media in self.sl_targets:
                return self.sl_targets[media]
        return next(iter(self.sl_targets.values()), None)
