"""The Feed board's model: the last FEED_CAPACITY feed entries, and its kind and text filter.

Entries arrive in batches from :class:`gui.bridge.EngineBridge` (``feed_appended``); the oldest
fall off the end, and the journal keeps the rest (:mod:`core.storage.journal`). Each row answers
:data:`gui.models.table_base.ENTRY_ROLE` with its :class:`core.feed.entry.FeedEntry`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush

from core.feed.entry import FeedEntry
from core.feed.payloads import RoutingData
from gui.models.presence_style import (
    WARNING_FOREGROUND,
    shade,
    warning_icon,
)
from gui.models.table_base import (
    ALERT_ROLE,
    DISPLAY,
    ENTRY_ROLE,
    ID_ROLE,
    KIND_ROLE,
    SORT_ROLE,
    Index,
    TableModel,
    begin_filter_change,
    end_filter_change,
)
from gui.plain_text import plain_tooltip

logger = logging.getLogger(__name__)

FEED_CAPACITY = 10_000


KIND_LABELS = {
    "presence": "Presence",
    "routing": "Routing",
    "queue": "Queue",
    "membership": "Membership",
    "connection": "Connection",
    "gap": "Disconnections",
    "budget": "Topics",
    "alert": "Alert",
    "action": "Action",  # a status change the person made (core.app.actions)
    "trigger": "Trigger",  # a Genesys Cloud trigger's run failed (core.triggers)
}


def shown_summary(entry: FeedEntry) -> str:
    """The summary without the subject it starts with: the Subject column already says it.

    "Dana Agent: On Queue → Lunch" beside "Dana Agent" repeated the name and cut the news off;
    the full line stays in the tooltip, the search and the journal.
    """
    lead = f"{entry.subject}: "
    if entry.subject and entry.summary.startswith(lead) and len(entry.summary) > len(lead):
        return entry.summary[len(lead) :]
    return entry.summary


def is_routine(entry: FeedEntry) -> bool:
    """An Idle ↔ Interacting move: hidden from the feed by default (it flooded it)."""
    return isinstance(entry.data, RoutingData) and entry.data.routine


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
                return KIND_LABELS.get(entry.kind, entry.kind.title())
            if column == self.SUBJECT:
                return entry.subject
            return shown_summary(entry)
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
            if column in (self.SUBJECT, self.SUMMARY):
                return plain_tooltip(entry.summary)
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

    Signals:
        kinds_changed(object): the kinds shown changed (a frozenset, or None for every kind).
    """

    kinds_changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._needle = ""
        self._kinds: frozenset[str] | None = None
        self._routine = True  # Idle <-> Interacting moves shown (the window turns them off)

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
            self.kinds_changed.emit(allowed)

    @property
    def routine_shown(self) -> bool:
        """Whether Idle ↔ Interacting moves are shown."""
        return self._routine

    def set_routine_shown(self, shown: bool) -> None:
        """Show or hide the routine Idle ↔ Interacting moves (the journal keeps them)."""
        if shown != self._routine:
            begin_filter_change(self)
            self._routine = shown
            end_filter_change(self)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802
        """Kind first (a set lookup), then routine moves, then the search text."""
        model = self.sourceModel()
        if not isinstance(model, FeedModel):
            return super().filterAcceptsRow(source_row, source_parent)
        if self._kinds is not None and model.kind(source_row) not in self._kinds:
            return False
        if not self._routine and is_routine(model.entry(source_row)):
            return False
        return not self._needle or self._needle in model.haystack(source_row)
