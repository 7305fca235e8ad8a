"""The Queues board's model: counts, the split by media, longest wait, the trend history,
today's KPIs and the agent breakdown (their words: :mod:`gui.models.queue_figures`).

A multichannel queue's counters are sums over its media groups (:class:`core.state.store.QueueState`
``media``); the board keeps the total as the cell's value (what it sorts by and what other
readers compare) and offers the split in :data:`MEDIA_SPLIT_ROLE` for
:class:`gui.window.delegates.CountSplitDelegate` to draw beside it, and in words in the tooltip.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QBrush, QFont

from core.domain.format import clock_text
from core.domain.media import WHOLE_QUEUE
from core.domain.media_names import media_label, media_rank
from core.state.store import QueueState, Store
from gui.models.presence_style import STALE_TEXT, WAITING_TINT, shade
from gui.models.queue_figures import (
    UNKNOWN,
    AgentBreakdown,
    abandon_text,
    agent_breakdown,
    breakdown_words,
    interval_words,
    seconds_text,
    service_level_text,
)
from gui.models.table_base import (
    DISPLAY,
    HISTORY_INTERVAL_S,
    HISTORY_POINTS,
    HISTORY_ROLE,
    ID_ROLE,
    MEDIA_SPLIT_ROLE,
    RIGHT,
    SORT_ROLE,
    IdRows,
    Index,
    TableModel,
    bold_font,
    refresh_rows,
    stale_font,
    utc_now,
)

__all__ = ["MEDIA_SPLIT_ROLE", "QueueHistory", "QueuesModel", "media_parts"]


def media_parts(queue: QueueState, field: str) -> list[tuple[str, int]]:
    """(media, count) of the groups with some of ``field``, largest first; [] when not split."""
    if WHOLE_QUEUE in queue.media:
        return []
    parts = [(m, int(getattr(c, field))) for m, c in queue.media.items() if getattr(c, field)]
    return sorted(parts, key=lambda part: (-part[1], media_rank(part[0]), part[0]))


def _split_words(parts: list[tuple[str, int]]) -> str:
    return ", ".join(f"{media_label(media)} {count}" for media, count in parts)


class QueueHistory:
    """A bounded ring of waiting counts per queue: one sample per ``interval_s`` time slot.

    Samples land in wall-clock slots (``at // interval_s``): several samples in one slot keep the
    latest, and slots a late timer skipped are filled with the previous value (the count did
    not change as far as anyone knows), so the x axis stays true time whatever the timer does.
    ``capacity`` x ``interval_s`` is the window (180 x 10 s = 30 minutes).
    """

    def __init__(
        self, capacity: int = HISTORY_POINTS, interval_s: float = HISTORY_INTERVAL_S
    ) -> None:
        if capacity < 1 or interval_s <= 0:
            raise ValueError("capacity must be >= 1 and interval_s > 0")
        self.capacity = capacity
        self.interval_s = interval_s
        self._rings: dict[str, deque[int]] = {}
        self._last_slot: dict[str, int] = {}

    def add(self, queue_id: str, value: int, at: datetime) -> None:
        """Record ``value`` for ``queue_id`` at ``at``."""
        slot = int(at.timestamp() // self.interval_s)
        ring = self._rings.get(queue_id)
        if ring is None:
            self._rings[queue_id] = deque([value], maxlen=self.capacity)
            self._last_slot[queue_id] = slot
            return
        last = self._last_slot[queue_id]
        if slot <= last:  # the same slot (or a clock step back): the latest value wins
            ring[-1] = value
            return
        missed = min(slot - last - 1, self.capacity)
        ring.extend([ring[-1]] * missed)
        ring.append(value)
        self._last_slot[queue_id] = slot

    def series(self, queue_id: str) -> list[int]:
        """The samples of a queue, oldest first (empty when none yet)."""
        ring = self._rings.get(queue_id)
        return list(ring) if ring is not None else []

    def retain(self, queue_ids: Iterable[str]) -> None:
        """Forget every queue not in ``queue_ids``."""
        keep = set(queue_ids)
        for queue_id in [q for q in self._rings if q not in keep]:
            del self._rings[queue_id]
            del self._last_slot[queue_id]


class QueuesModel(TableModel):
    """One row per watched queue: counts, longest wait and a 30-minute waiting trend.

    The Trend column has no text: :class:`gui.window.delegates.SparklineDelegate` draws the series
    from :data:`HISTORY_ROLE` (its tooltip says the same in words). A queue with callers waiting
    gets a bold, tinted Waiting cell. Unknown counts show as an em dash and sort as -1.

    Waiting and Interacting stay the queue's totals (display and sort); on a queue with more
    than one busy media group :data:`MEDIA_SPLIT_ROLE` adds the split, "(Voice 3, Chat 1)", or
    just the media when one has it all, "(Chat)", and the tooltip always names the media.

    Today's KPIs follow (Offered, Answered, Abandoned, Abandon %, Service level with the
    queue's own target, ASA, AHT; the current half hour in their tooltip), then the agents of
    the queue (Idle, Agents interacting, Not responding, On break; the whole breakdown, off
    queue and conversations by media included, in the tooltip). Unknown figures show a dash.

    Signals: only those of QAbstractItemModel.
    """

    NAME, WAITING, INTERACTING, ON_QUEUE, OFF_QUEUE, LONGEST_WAIT, TREND = range(7)
    OFFERED, ANSWERED, ABANDONED, ABANDON_PCT, SERVICE_LEVEL, ASA, AHT = range(7, 14)
    IDLE, AGENTS_INTERACTING, NOT_RESPONDING, ON_BREAK = range(14, 18)
    HEADERS = (
        "Name",
        "Waiting",
        "Interacting",
        "On queue",
        "Off queue",
        "Longest wait",
        "Trend",
        "Offered",
        "Answered",
        "Abandoned",
        "Abandon %",
        "Service level",
        "ASA",
        "AHT",
        "Idle",
        "Agents interacting",
        "Not responding",
        "On break",
    )
    # Today's KPIs (core.state.kpis): the current half hour is in their tooltip, not in more
    # columns, so the row stays readable; the figure a supervisor acts on is today's.
    _KPI_COLUMNS: ClassVar[frozenset[int]] = frozenset(range(7, 14))
    _AGENT_COLUMNS: ClassVar[dict[int, str]] = {
        IDLE: "idle",
        AGENTS_INTERACTING: "interacting",
        NOT_RESPONDING: "not_responding",
        ON_BREAK: "on_break",
    }
    _TOOLTIPS: ClassVar[dict[int, str]] = {
        OFFERED: "Conversations offered to the queue today",
        ANSWERED: "Conversations answered today",
        ABANDONED: "Conversations abandoned while waiting today",
        ABANDON_PCT: "Abandoned as a share of offered, today",
        SERVICE_LEVEL: "Answered within the queue's target (in brackets), of answered and "
        "abandoned, today",
        ASA: "Average speed of answer today",
        AHT: "Average handle time today (talk, hold and wrap-up)",
    }
    _COUNTS: ClassVar[dict[int, str]] = {
        WAITING: "waiting",
        INTERACTING: "interacting",
        ON_QUEUE: "on_queue",
        OFF_QUEUE: "off_queue",
    }
    _MEDIA_COLUMNS: ClassVar[dict[int, str]] = {WAITING: "waiting", INTERACTING: "interacting"}

    def __init__(
        self,
        store: Store,
        parent: QObject | None = None,
        *,
        history: QueueHistory | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._clock = clock
        self._now = clock()
        self.history = history if history is not None else QueueHistory()
        self._rows = IdRows()
        self._bold: QFont | None = None
        self._split_columns: frozenset[int] | None = None  # columns where some row has a split
        self._stale_at: datetime | None = None
        self._agents: dict[str, AgentBreakdown | None] = {}  # what the agent columns last showed

    def use_store(self, store: Store, stale_at: datetime | None = None) -> None:
        """Read ``store`` from now on (follow with :meth:`set_queues`, which resets the rows).

        With ``stale_at`` the store is an old picture: greyed, italic, its longest waits as they
        were then, and never sampled into the trend (the history is of the live queues only).
        """
        self._store = store
        self._stale_at = stale_at
        self._now = stale_at if stale_at is not None else self._clock()
        self._split_columns = None

    @property
    def stale(self) -> bool:
        """True while the rows show an old picture, not the engine's store."""
        return self._stale_at is not None

    # ------------------------------------------------------------------ feeding
    def set_queues(self, queue_ids: Iterable[str]) -> None:
        """Show exactly these queues, in this order (a reset; other queues' history is dropped)."""
        self.beginResetModel()
        self._rows.reset(queue_ids)
        self.history.retain(self._rows.ids)
        self._split_columns = None
        self.endResetModel()

    def update_queues(self, queue_ids: Iterable[str]) -> None:
        """Queues whose state changed: one dataChanged for known rows, unknown ids appended."""
        self._split_columns = None
        refresh_rows(self, self._rows, list(queue_ids))

    def tick(self, now: datetime | None = None) -> None:
        """Advance the clock: one dataChanged for the longest-wait column."""
        if self._stale_at is not None:
            return
        self._now = now if now is not None else self._clock()
        self._column_changed(self.LONGEST_WAIT, [int(DISPLAY), SORT_ROLE])
        self._agents_changed()

    def _agents_changed(self) -> None:
        """Repaint the agent columns when an agent of a shown queue changed (no queue event
        says so: agents change through their own topics)."""
        changed = False
        for queue_id in self._rows.ids:
            now = agent_breakdown(self._store, queue_id)
            if queue_id in self._agents and self._agents[queue_id] != now:
                changed = True
            self._agents[queue_id] = now
        if changed and self._rows.ids:
            first, last = min(self._AGENT_COLUMNS), max(self._AGENT_COLUMNS)
            roles = [int(DISPLAY), SORT_ROLE, int(Qt.ItemDataRole.ToolTipRole)]
            rows = len(self._rows.ids) - 1
            self.dataChanged.emit(self.index(0, first), self.index(rows, last), roles)

    def sample(self, now: datetime | None = None) -> None:
        """Record every shown queue's current waiting count in the history (unknown: skipped)."""
        if self._stale_at is not None:
            return
        at = now if now is not None else self._clock()
        for queue_id in self._rows.ids:
            queue = self._store.queues.get(queue_id)
            if queue is not None and queue.waiting is not None:
                self.history.add(queue_id, queue.waiting, at)
        self._column_changed(
            self.TREND, [HISTORY_ROLE, SORT_ROLE, int(Qt.ItemDataRole.ToolTipRole)]
        )

    # ------------------------------------------------------------------ lookups
    def queue_id(self, row: int) -> str:
        """The queue id shown in ``row``."""
        return self._rows.ids[row]

    def row_of(self, queue_id: str) -> int:
        """The row of a queue, -1 when not shown."""
        return self._rows.rows.get(queue_id, -1)

    # ------------------------------------------------------------------ Qt
    def _row_count(self) -> int:
        return len(self._rows.ids)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = DISPLAY
    ) -> Any:
        """Titles; with :data:`MEDIA_SPLIT_ROLE`, whether any row of the column has a split.

        The delegate lays a whole column out for the split when one row needs it, so totals
        stay aligned; the answer is cached until the next update.
        """
        if role != MEDIA_SPLIT_ROLE or orientation != Qt.Orientation.Horizontal:
            return super().headerData(section, orientation, role)
        if self._split_columns is None:
            queues = [self._store.queues.get(queue_id) for queue_id in self._rows.ids]
            self._split_columns = frozenset(
                column
                for column in self._MEDIA_COLUMNS
                if any(self._split(queue, column) for queue in queues)
            )
        return section in self._split_columns

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        """The cell's value for ``role`` (see the module docstring for the custom roles)."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows.ids):
            return None
        queue_id = self._rows.ids[index.row()]
        column = index.column()
        if role == ID_ROLE:
            return queue_id
        if role == HISTORY_ROLE:
            return self.history.series(queue_id)
        queue = self._store.queues.get(queue_id)
        if role == DISPLAY:
            return self._display(queue_id, column)
        if role == SORT_ROLE:
            return self._sort_value(queue_id, column)
        waiting = queue.waiting if queue is not None else None
        busy = column == self.WAITING and waiting is not None and waiting > 0
        if self._stale_at is not None and role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(shade(STALE_TEXT))
        if self._stale_at is not None and role == Qt.ItemDataRole.FontRole:
            return stale_font(bold=busy)
        if self._stale_at is not None and role == Qt.ItemDataRole.BackgroundRole:
            return None
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(shade(WAITING_TINT)) if busy else None
        if role == Qt.ItemDataRole.FontRole:
            if not busy:
                return None
            if self._bold is None:
                self._bold = bold_font()
            return self._bold
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if column not in (self.NAME, self.TREND) else None
        if role == MEDIA_SPLIT_ROLE:
            return self._split(queue, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(queue_id, column)
        if role == Qt.ItemDataRole.AccessibleTextRole and column in self._MEDIA_COLUMNS:
            split = self._split(queue, column)
            value = self._display(queue_id, column)
            return f"{value} {split}" if split else None
        return None

    def _split(self, queue: QueueState | None, column: int) -> str | None:
        """The compact split of a count cell, only where it tells something the total cannot."""
        if queue is None or column not in self._MEDIA_COLUMNS or len(queue.media) < 2:
            return None
        parts = media_parts(queue, self._MEDIA_COLUMNS[column])
        if not parts:
            return None
        return f"({media_label(parts[0][0])})" if len(parts) == 1 else f"({_split_words(parts)})"

    def _count(self, queue_id: str, column: int) -> int | None:
        queue = self._store.queues.get(queue_id)
        value = getattr(queue, self._COUNTS[column]) if queue is not None else None
        return value if isinstance(value, int) else None

    def _display(self, queue_id: str, column: int) -> Any:
        if column in self._KPI_COLUMNS:
            return self._kpi_text(queue_id, column)
        if column in self._AGENT_COLUMNS:
            agents = agent_breakdown(self._store, queue_id)
            return UNKNOWN if agents is None else getattr(agents, self._AGENT_COLUMNS[column])
        if column == self.NAME:
            queue = self._store.queues.get(queue_id)
            return queue.name if queue is not None and queue.name else queue_id[:8]
        if column in self._COUNTS:
            value = self._count(queue_id, column)
            return "—" if value is None else value
        if column == self.LONGEST_WAIT:
            seconds = self._store.longest_wait_s(queue_id, self._now)
            return "" if seconds is None else clock_text(seconds)
        return None  # TREND: drawn by SparklineDelegate

    def _sort_value(self, queue_id: str, column: int) -> Any:
        if column in self._KPI_COLUMNS:
            value = self._kpi_value(queue_id, column)
            return -1.0 if value is None else float(value)
        if column in self._AGENT_COLUMNS:
            agents = agent_breakdown(self._store, queue_id)
            return -1 if agents is None else getattr(agents, self._AGENT_COLUMNS[column])
        if column in self._COUNTS:
            value = self._count(queue_id, column)
            return -1 if value is None else value
        if column == self.LONGEST_WAIT:
            seconds = self._store.longest_wait_s(queue_id, self._now)
            return -1.0 if seconds is None else seconds
        if column == self.TREND:
            series = self.history.series(queue_id)
            return series[-1] if series else -1
        return str(self._display(queue_id, column)).casefold()

    def _kpi_value(self, queue_id: str, column: int) -> float | None:
        """Today's figure of a KPI column (None: not read yet, or nothing to average)."""
        kpis = self._store.kpis.get(queue_id)
        if kpis is None:
            return None
        today = kpis.today
        values: dict[int, float | None] = {
            self.OFFERED: today.offered,
            self.ANSWERED: today.answered,
            self.ABANDONED: today.abandoned,
            self.ABANDON_PCT: today.abandon_pct,
            self.SERVICE_LEVEL: today.service_level,
            self.ASA: today.asa_s,
            self.AHT: today.aht_s,
        }
        return values[column]

    def _kpi_text(self, queue_id: str, column: int) -> Any:
        kpis = self._store.kpis.get(queue_id)
        if kpis is None:
            return UNKNOWN
        if column == self.SERVICE_LEVEL:
            return service_level_text(kpis, kpis.today)
        if column == self.ABANDON_PCT:
            return abandon_text(kpis.today)
        if column in (self.ASA, self.AHT):
            return seconds_text(self._kpi_value(queue_id, column))
        return self._kpi_value(queue_id, column)

    def _tooltip(self, queue_id: str, column: int) -> str | None:
        if column in self._KPI_COLUMNS:
            kpis = self._store.kpis.get(queue_id)
            if kpis is None:
                return f"{self._TOOLTIPS[column]}: not read yet"
            return f"{self._TOOLTIPS[column]}.\n{interval_words(kpis)}"
        if column in self._AGENT_COLUMNS or column in (self.ON_QUEUE, self.OFF_QUEUE):
            agents = agent_breakdown(self._store, queue_id)
            if agents is None:
                return "No watched agent is joined to this queue"
            return breakdown_words(self._store, queue_id, agents)
        if column == self.TREND:
            series = self.history.series(queue_id)
            if not series:
                return "No waiting history yet"
            minutes = round(len(series) * self.history.interval_s / 60)
            return f"Waiting over the last {minutes} min: now {series[-1]}, peak {max(series)}"
        if column == self.LONGEST_WAIT:
            return "How long the oldest waiting conversation has waited"
        queue = self._store.queues.get(queue_id)
        if column in self._MEDIA_COLUMNS and queue is not None:
            value = self._count(queue_id, column)
            if value is None:
                return None
            parts = media_parts(queue, self._MEDIA_COLUMNS[column])
            split = f" ({_split_words(parts)})" if parts else ""
            return f"{self.HEADERS[column]} {value}{split}"
        return None
