"""Plumbing shared by the board models: custom roles, flat-table base, stable id rows.

Shared by the boards' models (agents, queues, feed), each in its own module; the roles are
re-exported there, where the rest of the GUI reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QFont

Index = QModelIndex | QPersistentModelIndex

SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 1
"""Raw sortable value of a cell: seconds, counts (-1 when unknown), casefolded text."""
ID_ROLE = int(Qt.ItemDataRole.UserRole) + 2
"""The user id (agents), queue id (queues) or subject id (feed) of the row."""
ALERT_ROLE = int(Qt.ItemDataRole.UserRole) + 3
"""bool: the row needs attention (routing NOT_RESPONDING, a warning feed entry)."""
HISTORY_ROLE = int(Qt.ItemDataRole.UserRole) + 4
"""list[int]: a queue's waiting counts, oldest first, one per history interval."""
ENTRY_ROLE = int(Qt.ItemDataRole.UserRole) + 5
"""The :class:`core.feed.entry.FeedEntry` of a feed row."""
KIND_ROLE = int(Qt.ItemDataRole.UserRole) + 6
"""The raw kind of a feed row (one of :data:`core.feed.entry.KINDS`)."""
MEDIA_SPLIT_ROLE = int(Qt.ItemDataRole.UserRole) + 7
"""str | None: a count cell's split by media, "(Voice 3, Chat 1)", on multichannel queues."""
FILTER_ROLE = int(Qt.ItemDataRole.UserRole) + 8
""""1" when the row passes its proxy's filter, "0" when not (read by Qt's own filter)."""

HISTORY_INTERVAL_S = 10.0
HISTORY_POINTS = 180  # 180 x 10 s = the last 30 minutes

DISPLAY = Qt.ItemDataRole.DisplayRole
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
STYLE_ROLES = [
    int(Qt.ItemDataRole.DecorationRole),
    int(Qt.ItemDataRole.ForegroundRole),
    int(Qt.ItemDataRole.BackgroundRole),
    int(Qt.ItemDataRole.FontRole),
]


def utc_now() -> datetime:
    return datetime.now(UTC)


def stale_font(bold: bool = False) -> QFont:
    """Italic (bold when the row needs attention): an old picture is not only told by colour."""
    font = QFont()
    font.setItalic(True)
    font.setBold(bold)
    return font


def bold_font() -> QFont:
    # Only the weight is set (resolved): the view's own family and size still apply.
    font = QFont()
    font.setBold(True)
    return font


class TableModel(QAbstractTableModel):
    """Flat-table plumbing shared by the models below (no children, fixed headers)."""

    HEADERS: tuple[str, ...] = ()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        """Rows of the table (no children anywhere)."""
        return 0 if parent.isValid() else self._row_count()

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        """Columns of the table (no children anywhere)."""
        return 0 if parent.isValid() else len(self.HEADERS)

    def flags(self, index: Index) -> Qt.ItemFlag:
        """Selectable, enabled, never parents."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = DISPLAY
    ) -> Any:
        """Column titles; rows have no header text."""
        if (
            orientation == Qt.Orientation.Horizontal
            and role == DISPLAY
            and 0 <= section < len(self.HEADERS)
        ):
            return self.HEADERS[section]
        return None

    def restyle(self) -> None:
        """Re-announce colours, icons and fonts (call it when the palette changes)."""
        rows, columns = self.rowCount(), self.columnCount()
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(rows - 1, columns - 1), STYLE_ROLES)

    def _row_count(self) -> int:
        raise NotImplementedError

    def _column_changed(self, column: int, roles: list[int]) -> None:
        rows = self.rowCount()
        if rows:
            self.dataChanged.emit(self.index(0, column), self.index(rows - 1, column), roles)


class IdRows:
    """Ids in a stable row order with O(1) id -> row lookup."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}

    def reset(self, ids: Iterable[str]) -> None:
        self.ids, self.rows = [], {}
        self.extend(ids)

    def unknown(self, ids: Iterable[str]) -> list[str]:
        fresh: list[str] = []
        seen: set[str] = set()
        for item in ids:
            if item not in self.rows and item not in seen:
                seen.add(item)
                fresh.append(item)
        return fresh

    def extend(self, ids: Iterable[str]) -> None:
        for item in ids:
            if item not in self.rows:
                self.rows[item] = len(self.ids)
                self.ids.append(item)

    def known_rows(self, ids: Iterable[str]) -> list[int]:
        return [self.rows[item] for item in ids if item in self.rows]


RUN_GAP = 4
"""Changed rows this close are announced as one range (the rows between are re-read, cheaply)."""


def row_runs(rows: Iterable[int], gap: int = RUN_GAP) -> list[tuple[int, int]]:
    """Sorted ``(first, last)`` ranges covering ``rows``; ranges ``gap`` rows apart or less merge.

    One dataChanged from the lowest to the highest changed row makes a sorting or filtering
    proxy re-read every row between: 100 scattered changes on a 50,000-row board cost 50,000
    filter and sort-key calls (P9). Runs cost a few calls per changed row.
    """
    runs: list[tuple[int, int]] = []
    for row in sorted(set(rows)):
        if runs and row - runs[-1][1] <= gap + 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


def refresh_rows(
    model: TableModel,
    rows: IdRows,
    ids: list[str],
    announce: Callable[[list[int]], None] | None = None,
) -> None:
    """Changed ids: known rows announced, unknown ids appended in one insert.

    Known rows get one dataChanged from the first to the last of them, or go to ``announce``
    (a model that announces runs of rows instead, see :func:`row_runs`). Rows already shown
    never move; new ids go to the end, in the given order.
    """
    known = rows.known_rows(ids)
    if known and announce is not None:
        announce(known)
    elif known:
        last_column = model.columnCount() - 1
        model.dataChanged.emit(model.index(min(known), 0), model.index(max(known), last_column), [])
    fresh = rows.unknown(ids)
    if fresh:
        first = len(rows.ids)
        model.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        rows.extend(fresh)
        model.endInsertRows()


def begin_filter_change(proxy: QSortFilterProxyModel) -> None:
    """Call before a filter parameter changes (Qt >= 6.10; a no-op before)."""
    if hasattr(proxy, "endFilterChange"):
        proxy.beginFilterChange()


def end_filter_change(proxy: QSortFilterProxyModel) -> None:
    """Call after a filter parameter changed: re-filter the rows only."""
    if hasattr(proxy, "endFilterChange"):
        proxy.endFilterChange(QSortFilterProxyModel.Direction.Rows)
    else:  # Qt < 6.10
        proxy.invalidateRowsFilter()
