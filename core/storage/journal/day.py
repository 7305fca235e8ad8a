"""One agent's day from the journal: a status timeline and the time spent in each status.

The journal holds every presence and routing change of a watched agent as a feed entry
(kinds ``presence`` and ``routing``, :mod:`core.feed.payloads`). Folded in time order they give
the agent's status at every moment: the presence, and while On Queue the routing status too
(Idle, Interacting, Not Responding), as Genesys Cloud's own agent timeline shows it.

What the app did not see is not guessed: before the first change of the day (and no earlier one)
and from the moment the app stopped (a ``connection`` entry "stopped", or "starting" after a
crash) until the agent's next change, the status is unknown, shown as "not watched". After a
start the app records every agent's status as first seen, so the gap closes within seconds.

Qt-free: the drill-down window (gui.dialogs.agent_day) paints what :func:`load_day` returns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from core.domain.format import status_text
from core.storage.journal.rows import Row, from_epoch, to_epoch

logger = logging.getLogger(__name__)

ON_QUEUE: Final = "ON_QUEUE"
RESET_STATES: Final = ("starting", "stopped")
"""Connection states after which the app knows nobody's status until it sees it again."""

_CHANGES: Final = (
    "SELECT at, id, kind, data FROM entries WHERE kind = ? AND subject_id = ? "
    "AND at >= ? AND at < ? ORDER BY at, id"
)
_LAST_CHANGE: Final = (
    "SELECT at, id, kind, data FROM entries WHERE kind = ? AND subject_id = ? AND at < ? "
    "ORDER BY at DESC, id DESC LIMIT 1"
)
_RESETS: Final = (
    "SELECT at, id, kind, data FROM entries WHERE kind = 'connection' AND at >= ? AND at < ? "
    "AND json_extract(data, '$.state') IN ('starting', 'stopped') ORDER BY at, id"
)
_LAST_RESET: Final = (
    "SELECT at, id, kind, data FROM entries WHERE kind = 'connection' AND at < ? "
    "AND json_extract(data, '$.state') IN ('starting', 'stopped') "
    "ORDER BY at DESC, id DESC LIMIT 1"
)


@dataclass(frozen=True, slots=True)
class Status:
    """An agent's status: the presence, and the routing status while On Queue.

    All None: the app did not know (not watching, or not yet seen).
    """

    presence: str | None = None
    definition_id: str | None = None
    routing: str | None = None

    @property
    def known(self) -> bool:
        """Whether the app knew the status."""
        return self.presence is not None or self.routing is not None

    def label(self, labels: Mapping[str, str] | None = None) -> str:
        """Words for the status: the org's presence label, "On Queue · Idle", "Not watched"."""
        if not self.known:
            return "Not watched"
        if self.routing == "NOT_RESPONDING":
            return status_text(self.routing)
        if self.presence is None or self.presence == ON_QUEUE:
            base = status_text(ON_QUEUE)
            return f"{base} · {status_text(self.routing)}" if self.routing else base
        label = (labels or {}).get(self.definition_id or "")
        return label or status_text(self.presence)


NOT_WATCHED: Final = Status()


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of the day in one status, ``[start, end)``."""

    start: datetime
    end: datetime
    status: Status

    @property
    def seconds(self) -> float:
        """How long the stretch lasted."""
        return max(0.0, (self.end - self.start).total_seconds())


@dataclass(frozen=True, slots=True)
class AgentDay:
    """An agent's statuses from ``start`` to ``end`` (the whole span, not-watched stretches too)."""

    user_id: str
    start: datetime
    end: datetime
    segments: tuple[Segment, ...]

    def totals(self) -> list[tuple[Status, float]]:
        """Seconds in each known status, the longest first (not-watched time left out)."""
        found: dict[Status, float] = {}
        for segment in self.segments:
            if segment.status.known:
                found[segment.status] = found.get(segment.status, 0.0) + segment.seconds
        return sorted(found.items(), key=lambda item: (-item[1], item[0].label()))

    @property
    def watched_s(self) -> float:
        """Seconds of the span the app knew the agent's status."""
        return sum(s.seconds for s in self.segments if s.status.known)

    def status_at(self, when: datetime) -> Status:
        """The status at a moment of the span (not watched outside it)."""
        for segment in self.segments:
            if segment.start <= when < segment.end:
                return segment.status
        return NOT_WATCHED


class _Fold:
    """The status as the journal's rows move it."""

    def __init__(self) -> None:
        self.presence: str | None = None
        self.definition_id: str | None = None
        self.routing: str | None = None

    def status(self) -> Status:
        on_queue = self.presence in (None, ON_QUEUE)
        routing = self.routing if on_queue and self.routing != "OFF_QUEUE" else None
        if self.presence is None and routing is None:
            return NOT_WATCHED
        return Status(self.presence, self.definition_id, routing)

    def apply(self, kind: str, data: Mapping[str, Any]) -> None:
        if kind == "connection":
            self.presence = self.definition_id = self.routing = None
        elif kind == "presence":
            self.presence = _text(data.get("presence"))
            self.definition_id = _text(data.get("definitionId"))
        elif kind == "routing":
            self.routing = _text(data.get("routingStatus"))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _data(text: object) -> Mapping[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _ordered(rows: Iterable[Row]) -> list[Row]:
    """Rows by time, then by id (a reset before a change written in the same instant)."""
    return sorted(rows, key=lambda r: (float(r[0]), 0 if r[2] == "connection" else 1, r[1]))


def day_segments(
    before: Iterable[Row], rows: Iterable[Row], start: datetime, end: datetime
) -> tuple[Segment, ...]:
    """The stretches of ``[start, end)``, from rows ``(at, id, kind, data)``.

    ``before`` are rows older than ``start`` that say the status the day began with (the last
    presence, routing and reset rows before it); ``rows`` are those of the span. Neighbouring
    stretches of one status are one stretch.
    """
    fold = _Fold()
    for _at, _id, kind, data in _ordered(before):
        fold.apply(kind, _data(data))
    segments: list[Segment] = []
    current, since = fold.status(), start
    for at, _id, kind, data in _ordered(rows):
        moment = from_epoch(float(at))
        if not start <= moment < end:
            continue
        fold.apply(kind, _data(data))
        status = fold.status()
        if status == current:
            continue
        if moment > since:
            segments.append(Segment(since, moment, current))
        current, since = status, moment
    if end > since:
        segments.append(Segment(since, end, current))
    merged: list[Segment] = []
    for segment in segments:
        if merged and merged[-1].status == segment.status:
            merged[-1] = Segment(merged[-1].start, segment.end, segment.status)
        else:
            merged.append(segment)
    return tuple(merged)


class DayJournal(Protocol):
    """The journal's read door (a :class:`~core.storage.journal.journal.Journal` has it)."""

    async def select(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...


async def load_day(journal: DayJournal, user_id: str, start: datetime, end: datetime) -> AgentDay:
    """The agent's day ``[start, end)`` read in worker threads (never on the loop).

    Raises:
        JournalError: the journal is closed or could not be read.
    """
    low, high = to_epoch(start), to_epoch(end)
    before: list[Row] = []
    rows: list[Row] = []
    for kind in ("presence", "routing"):
        before += await journal.select(_LAST_CHANGE, (kind, user_id, low))
        rows += await journal.select(_CHANGES, (kind, user_id, low, high))
    before += await journal.select(_LAST_RESET, (low,))
    rows += await journal.select(_RESETS, (low, high))
    segments = day_segments(before, rows, start, end)
    logger.debug("agent day: %d rows, %d stretches", len(rows), len(segments))
    return AgentDay(user_id, start, end, segments)
