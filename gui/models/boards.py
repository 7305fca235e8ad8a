"""Table models of the main window: agents, queues and the event feed.

The queues model lives in :mod:`gui.models.queues` and the shared plumbing (roles, the flat
table base) in :mod:`gui.models.table_base`; both are re-exported here, where the GUI reads them.

Every model reads :class:`core.state.store.Store` (the GUI never mutates it) and is told what
changed
by the window, which forwards :class:`gui.bridge.EngineBridge` signals:

* ``users_changed(ids)`` -> :meth:`AgentsModel.update_users`;
* ``queues_changed(ids)`` -> :meth:`QueuesModel.update_queues` and
  :meth:`AgentsModel.update_queues` (queue names and joins show in the agents' queue column);
* ``watch_changed(record)`` -> :meth:`AgentsModel.set_users` / :meth:`QueuesModel.set_queues`;
* ``feed_appended(entries)`` -> :meth:`FeedModel.append`;
* a 1 Hz timer -> :meth:`AgentsModel.tick` and :meth:`QueuesModel.tick` (live durations);
* a 10 s timer -> :meth:`QueuesModel.sample` (the trend sparkline history);
* a palette change -> ``restyle()`` on each model (colours follow light/dark palettes).

Each model answers Qt's usual roles plus a few of its own: :data:`SORT_ROLE` (raw sortable
values: seconds, counts, casefolded text), :data:`ID_ROLE` (user or queue id),
:data:`ALERT_ROLE` (the row needs attention), :data:`HISTORY_ROLE` (a queue's waiting series)
and :data:`ENTRY_ROLE` (the :class:`core.feed.entry.FeedEntry` of a feed row).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QFont

from core.domain.format import clock_text, status_text
from core.feed.entry import FeedEntry
from core.state.store import Store, UserState
from gui.models.presence_style import (
    ALERT_ROUTING,
    WARNING_BACKGROUND,
    WARNING_FOREGROUND,
    colour_chip,
    presence_colour,
    shade,
    warning_icon,
)
from gui.models.queues import MEDIA_SPLIT_ROLE, QueueHistory, QueuesModel
from gui.models.table_base import (
    ALERT_ROLE,
    DISPLAY,
    ENTRY_ROLE,
    HISTORY_INTERVAL_S,
    HISTORY_POINTS,
    HISTORY_ROLE,
    ID_ROLE,
    KIND_ROLE,
    RIGHT,
    SORT_ROLE,
    IdRows,
    Index,
    TableModel,
    begin_filter_change,
    bold_font,
    end_filter_change,
    refresh_rows,
    utc_now,
)

__all__ = [
    "ALERT_ROLE",
    "ENTRY_ROLE",
    "FEED_CAPACITY",
    "HISTORY_INTERVAL_S",
    "HISTORY_POINTS",
    "HISTORY_ROLE",
    "ID_ROLE",
    "KIND_ROLE",
    "MEDIA_SPLIT_ROLE",
    "SORT_ROLE",
    "AgentsFilterProxy",
    "AgentsModel",
    "FeedFilterProxy",
    "FeedModel",
    "QueueHistory",
    "QueuesModel",
]

logger = logging.getLogger(__name__)

FEED_CAPACITY = 10_000


# ================================================================================== agents
class AgentsModel(TableModel):
    """One row per watched user: name, presence, routing status, time in state, active queues.

    Rows keep a stable order (the order ids were first given; new ids are appended), so a
    selection or scroll position never jumps under a supervisor; sorting belongs to
    :class:`AgentsFilterProxy`. Routing ``NOT_RESPONDING`` rows stand out in four ways at once:
    bold font, warning foreground and background colours, a warning-triangle icon beside the
    status and "Warning:" in the accessible text, so colour is never the only signal.

    Signals: only those of QAbstractItemModel (``dataChanged``, ``rowsInserted``, ``modelReset``).
    """

    NAME, PRESENCE, ROUTING, TIME, QUEUES = range(5)
    HEADERS = ("Name", "Presence", "Routing status", "Time in state", "Active queues")

    def __init__(
        self,
        store: Store,
        parent: QObject | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._clock = clock
        self._now = clock()
        self._rows = IdRows()
        self._bold: QFont | None = None

    # ------------------------------------------------------------------ feeding
    def set_users(self, user_ids: Iterable[str]) -> None:
        """Show exactly these users, in this order (a model reset)."""
        self.beginResetModel()
        self._rows.reset(user_ids)
        self.endResetModel()

    def update_users(self, user_ids: Iterable[str]) -> None:
        """Users whose state changed: known rows emit one dataChanged, unknown ids are appended.

        Rows already shown never move; new ids go to the end, in the given order, with one
        ``beginInsertRows`` for the whole batch.
        """
        refresh_rows(self, self._rows, list(user_ids))

    def update_queues(self, queue_ids: Iterable[str]) -> None:
        """Queues changed (names, joins): refresh every row's active-queues column."""
        del queue_ids  # any queue can appear in any row: the column is refreshed whole
        self._column_changed(self.QUEUES, [])

    def tick(self, now: datetime | None = None) -> None:
        """Advance the clock: one dataChanged for the time column, nothing else."""
        self._now = now if now is not None else self._clock()
        self._column_changed(self.TIME, [int(DISPLAY), SORT_ROLE])

    # ------------------------------------------------------------------ lookups
    def user_id(self, row: int) -> str:
        """The user id shown in ``row``."""
        return self._rows.ids[row]

    def row_of(self, user_id: str) -> int:
        """The row of a user, -1 when not shown."""
        return self._rows.rows.get(user_id, -1)

    def seconds_in_state(self, user_id: str) -> float | None:
        """Seconds since the later of the presence and routing changes, when known."""
        state = self._store.users.get(user_id)
        if state is None:
            return None
        times = [t for t in (state.presence_since, state.routing_since) if t is not None]
        if not times:
            return None
        return max(0.0, (self._now - max(times)).total_seconds())

    def search_text(self, row: int) -> str:
        """Casefolded name, presence label and routing status of a row (for the search box)."""
        user_id = self._rows.ids[row]
        state = self._store.users.get(user_id)
        return "\n".join(
            (
                self._name(user_id, state),
                self._store.presence_label(user_id),
                status_text(state.routing_status if state else None),
            )
        ).casefold()

    def is_member(self, row: int, queue_id: str) -> bool:
        """True when the user of ``row`` is a member of, or joined to, ``queue_id``."""
        user_id = self._rows.ids[row]
        queue = self._store.queues.get(queue_id)
        if queue is not None and (user_id in queue.member_ids or user_id in queue.joined_ids):
            return True
        return queue_id in self._store.active_queues(user_id)

    # ------------------------------------------------------------------ Qt
    def _row_count(self) -> int:
        return len(self._rows.ids)

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        """The cell's value for ``role`` (see the module docstring for the custom roles)."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows.ids):
            return None
        user_id = self._rows.ids[index.row()]
        state = self._store.users.get(user_id)
        column = index.column()
        if role == DISPLAY:
            return self._display(user_id, state, column)
        if role == SORT_ROLE:
            return self._sort_value(user_id, state, column)
        if role == ID_ROLE:
            return user_id
        alert = state is not None and state.routing_status in ALERT_ROUTING
        if role == ALERT_ROLE:
            return alert
        if role == Qt.ItemDataRole.DecorationRole:
            if column == self.PRESENCE and state is not None and state.system_presence:
                return colour_chip(presence_colour(state.system_presence))
            if column == self.ROUTING and alert:
                return warning_icon()
            return None
        if role == Qt.ItemDataRole.FontRole:
            if not alert:
                return None
            if self._bold is None:
                self._bold = bold_font()
            return self._bold
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(shade(WARNING_FOREGROUND)) if alert else None
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(shade(WARNING_BACKGROUND)) if alert else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if column == self.TIME else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(user_id, state, column, alert)
        if role == Qt.ItemDataRole.AccessibleTextRole and alert and column == self.ROUTING:
            return f"Warning: {status_text(state.routing_status if state else None)}"
        return None

    def _name(self, user_id: str, state: UserState | None) -> str:
        return state.name if state is not None and state.name else user_id[:8]

    def _queue_names(self, user_id: str) -> list[str]:
        names = []
        for queue_id in self._store.active_queues(user_id):
            queue = self._store.queues.get(queue_id)
            names.append(queue.name if queue is not None and queue.name else queue_id[:8])
        return sorted(names, key=str.casefold)

    def _display(self, user_id: str, state: UserState | None, column: int) -> str:
        if column == self.NAME:
            return self._name(user_id, state)
        if column == self.PRESENCE:
            return self._store.presence_label(user_id)
        if column == self.ROUTING:
            return status_text(state.routing_status if state else None)
        if column == self.TIME:
            seconds = self.seconds_in_state(user_id)
            return "" if seconds is None else clock_text(seconds)
        if column == self.QUEUES:
            return ", ".join(self._queue_names(user_id))
        return ""

    def _sort_value(self, user_id: str, state: UserState | None, column: int) -> Any:
        if column == self.TIME:
            seconds = self.seconds_in_state(user_id)
            return -1.0 if seconds is None else seconds
        return self._display(user_id, state, column).casefold()

    def _tooltip(
        self, user_id: str, state: UserState | None, column: int, alert: bool
    ) -> str | None:
        if state is None:
            return None
        if column == self.PRESENCE and state.system_presence:
            label = self._store.presence_label(user_id)
            tip = f"{label} ({status_text(state.system_presence)})"
            return f"{tip}: {state.presence_message}" if state.presence_message else tip
        if column == self.ROUTING and alert:
            return "Not responding: an interaction alerted this agent and was not answered"
        if column == self.TIME:
            times = [t for t in (state.presence_since, state.routing_since) if t is not None]
            if times:
                return f"Since {max(times).astimezone():%H:%M:%S}"
        return None


class AgentsFilterProxy(QSortFilterProxyModel):
    """Search, queue filter and sorting over an :class:`AgentsModel`.

    * Search (:meth:`set_search`): a case-insensitive substring of the name, the presence
      label or the routing status.
    * Queue filter (:meth:`set_queue`): only members of (or agents joined to) one queue.
    * Sorting uses :data:`SORT_ROLE`, so time sorts by seconds and names case-insensitively;
      ``dynamicSortFilter`` keeps the order live as the 1 Hz tick updates the time column.
      (Qt also re-runs the filter over the ticked rows: Qt 6.12 offers no overridable way to
      declare a column filter-irrelevant, so :meth:`filterAcceptsRow` stays two lookups.)

    Group by queue is this queue filter driven by the queues table (master-detail: select a
    queue row, the agents table narrows to its members), not a queue -> agents tree. A tree
    would show an agent once per queue (supervisors' agents usually sit in several queues), so
    one person's row would repeat and every update and tick would fan out to each copy; it
    would need its own parent/child bookkeeping parallel to the flat model, and search and
    sorting would behave differently there. The filter reuses the one flat model, keeps one row
    per person, and the queues table already gives the per-queue summary a tree's parent rows
    would show.

    Signals: only those of QSortFilterProxyModel.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)
        self._needle = ""
        self._queue_id: str | None = None

    @property
    def search_text(self) -> str:
        """The current search text (trimmed, casefolded)."""
        return self._needle

    @property
    def queue_id(self) -> str | None:
        """The queue whose members are shown, None for everyone."""
        return self._queue_id

    def set_search(self, text: str) -> None:
        """Keep rows whose name, presence label or routing status contains ``text``."""
        needle = text.strip().casefold()
        if needle != self._needle:
            begin_filter_change(self)
            self._needle = needle
            end_filter_change(self)

    def set_queue(self, queue_id: str | None) -> None:
        """Keep only members of ``queue_id`` (None: everyone)."""
        if queue_id != self._queue_id:
            begin_filter_change(self)
            self._queue_id = queue_id
            end_filter_change(self)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        """Queue membership first (cheap set lookups), then the search text."""
        model = self.sourceModel()
        if not isinstance(model, AgentsModel):
            return super().filterAcceptsRow(source_row, source_parent)
        if self._queue_id is not None and not model.is_member(source_row, self._queue_id):
            return False
        return not self._needle or self._needle in model.search_text(source_row)


# ================================================================================== feed
_KIND_LABELS = {
    "presence": "Presence",
    "routing": "Routing",
    "queue": "Queue",
    "membership": "Membership",
    "connection": "Connection",
    "gap": "Gap",
    "budget": "Topics",
    "alert": "Alert",
}


class FeedModel(TableModel):
    """The event feed, newest first, bounded to ``capacity`` rows.

    :meth:`append` takes a batch (oldest first, as ``EngineBridge.feed_appended`` sends it) and
    costs one ``beginInsertRows`` at row 0 plus at most one ``beginRemoveRows`` of the oldest
    rows, however large the batch, so a storm of events is one view update per bridge tick.

    Paused (:meth:`set_paused`), the table holds still: new entries wait in a pending buffer
    (bounded to ``capacity``, since no more could be shown) and :attr:`pending_count` counts
    every entry that arrived meanwhile, for the "N new" indicator. Resuming inserts the kept
    pending entries as one batch.

    Signals:
        pending_changed(int): the number of entries that arrived while paused; 0 on resume.
    """

    pending_changed = Signal(int)

    TIME, KIND, SUBJECT, SUMMARY = range(4)
    HEADERS = ("Time", "Kind", "Subject", "Summary")

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        capacity: int = FEED_CAPACITY,
        show_date: bool = False,
    ) -> None:
        super().__init__(parent)
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._capacity = capacity
        self._time_format = "%Y-%m-%d %H:%M:%S" if show_date else "%H:%M:%S"
        self._entries: list[FeedEntry] = []  # newest first
        self._haystacks: list[str] = []  # casefolded subject + summary, parallel to _entries
        self._paused = False
        self._pending: deque[FeedEntry] = deque(maxlen=capacity)
        self._pending_count = 0

    @property
    def capacity(self) -> int:
        """The most rows the feed keeps."""
        return self._capacity

    @property
    def paused(self) -> bool:
        """True while new entries are held back."""
        return self._paused

    @property
    def pending_count(self) -> int:
        """Entries that arrived while paused (some may be dropped beyond ``capacity``)."""
        return self._pending_count

    def append(self, entries: Sequence[FeedEntry]) -> None:
        """Add a batch of entries (oldest first); held back while paused."""
        if not entries:
            return
        if self._paused:
            self._pending.extend(entries)
            self._pending_count += len(entries)
            self.pending_changed.emit(self._pending_count)
            return
        self._insert(entries)

    def set_paused(self, paused: bool) -> None:
        """Pause (hold new entries back) or resume (insert them as one batch)."""
        if paused == self._paused:
            return
        self._paused = paused
        if paused:
            return
        pending = list(self._pending)
        had = self._pending_count
        self._pending.clear()
        self._pending_count = 0
        self._insert(pending)
        if had:
            self.pending_changed.emit(0)

    def clear(self) -> None:
        """Drop every row and anything pending."""
        self.beginResetModel()
        self._entries.clear()
        self._haystacks.clear()
        self.endResetModel()
        if self._pending_count:
            self._pending.clear()
            self._pending_count = 0
            self.pending_changed.emit(0)

    def entry(self, row: int) -> FeedEntry:
        """The entry shown in ``row`` (0 is the newest)."""
        return self._entries[row]

    def kind(self, row: int) -> str:
        """The raw kind of ``row``."""
        return self._entries[row].kind

    def haystack(self, row: int) -> str:
        """Casefolded subject and summary of ``row``, computed once at insert (for search)."""
        return self._haystacks[row]

    def append_older(self, entries: Sequence[FeedEntry]) -> int:
        """Add entries older than every row (newest first) at the bottom, up to the capacity.

        Used by journal searches that page backwards; returns how many rows were added.
        """
        room = self._capacity - len(self._entries)
        older = list(entries[: max(0, room)])
        if not older:
            return 0
        first = len(self._entries)
        self.beginInsertRows(QModelIndex(), first, first + len(older) - 1)
        self._entries.extend(older)
        self._haystacks.extend(f"{e.subject}\n{e.summary}".casefold() for e in older)
        self.endInsertRows()
        return len(older)

    def _insert(self, batch: Sequence[FeedEntry]) -> None:
        fresh = list(batch[-self._capacity :])
        if not fresh:
            return
        overflow = len(self._entries) + len(fresh) - self._capacity
        if overflow > 0:
            first = len(self._entries) - overflow
            self.beginRemoveRows(QModelIndex(), first, len(self._entries) - 1)
            del self._entries[first:]
            del self._haystacks[first:]
            self.endRemoveRows()
        fresh.reverse()  # newest first
        self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
        self._entries[0:0] = fresh
        self._haystacks[0:0] = [f"{e.subject}\n{e.summary}".casefold() for e in fresh]
        self.endInsertRows()

    # ------------------------------------------------------------------ Qt
    def _row_count(self) -> int:
        return len(self._entries)

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        """The cell's value for ``role`` (see the module docstring for the custom roles)."""
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        column = index.column()
        if role == DISPLAY:
            if column == self.TIME:
                return entry.at.astimezone().strftime(self._time_format)
            if column == self.KIND:
                return _KIND_LABELS.get(entry.kind, entry.kind.title())
            if column == self.SUBJECT:
                return entry.subject
            return entry.summary
        if role == ENTRY_ROLE:
            return entry
        if role == KIND_ROLE:
            return entry.kind
        if role == ID_ROLE:
            return entry.subject_id
        if role == SORT_ROLE:
            if column == self.TIME:
                return entry.at.timestamp()
            return str(self.data(index, DISPLAY)).casefold()
        warning = entry.severity == "warning"
        if role == ALERT_ROLE:
            return warning
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(shade(WARNING_FOREGROUND)) if warning else None
        if role == Qt.ItemDataRole.DecorationRole:
            return warning_icon() if warning and column == self.KIND else None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.TIME:
                return f"{entry.at.astimezone():%Y-%m-%d %H:%M:%S %Z}"
            if column == self.SUMMARY:
                return entry.summary
            return None
        if role == Qt.ItemDataRole.AccessibleTextRole and warning and column == self.SUMMARY:
            return f"Warning: {entry.summary}"
        return None


class FeedFilterProxy(QSortFilterProxyModel):
    """Text search and a kind filter over a :class:`FeedModel`.

    Cheap by construction: the search text is casefolded once when set and each row's
    casefolded subject + summary was computed once when it arrived, so testing a row is one
    set lookup and one substring test, with no regular expression anywhere. Row order is the
    feed's own (newest first); this proxy does not sort.

    Signals: only those of QSortFilterProxyModel.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._needle = ""
        self._kinds: frozenset[str] | None = None

    @property
    def search_text(self) -> str:
        """The current search text (trimmed, casefolded)."""
        return self._needle

    @property
    def kinds(self) -> frozenset[str] | None:
        """The kinds shown, None for all."""
        return self._kinds

    def set_search(self, text: str) -> None:
        """Keep entries whose subject or summary contains ``text`` (any case)."""
        needle = text.strip().casefold()
        if needle != self._needle:
            begin_filter_change(self)
            self._needle = needle
            end_filter_change(self)

    def set_kinds(self, kinds: Iterable[str] | None) -> None:
        """Keep entries of these kinds (None: every kind)."""
        allowed = None if kinds is None else frozenset(kinds)
        if allowed != self._kinds:
            begin_filter_change(self)
            self._kinds = allowed
            end_filter_change(self)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        """Kind first (a set lookup), then the search text."""
        model = self.sourceModel()
        if not isinstance(model, FeedModel):
            return super().filterAcceptsRow(source_row, source_parent)
        if self._kinds is not None and model.kind(source_row) not in self._kinds:
            return False
        return not self._needle or self._needle in model.haystack(source_row)
