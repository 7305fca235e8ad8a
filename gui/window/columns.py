"""Board columns a person chooses and sizes: the header's column menu, and widths that fit.

Right-clicking any board's header lists its columns with checkboxes; hidden columns are part of
the header's state, which the window saves with the widths (QSettings "columns/<view>"), so
both survive a restart. :func:`fit_texts` widens a column to the longest text it can ever show
(measured in bold, with room for the row's icon), so "Not Responding" is never cut to
"Not Respon…" because the day started with shorter words.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QFontMetrics
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QTreeView

from gui.models.table_base import bold_font

logger = logging.getLogger(__name__)

CELL_PADDING_PX = 24  # the style's margins either side of a cell's icon and text, and a spare


def header_of(view: QAbstractItemView) -> QHeaderView:
    """The horizontal header of a table or tree view."""
    if isinstance(view, QTableView):
        return view.horizontalHeader()
    if isinstance(view, QTreeView):
        return view.header()
    raise TypeError(f"no horizontal header on {type(view).__name__}")


def column_menu(view: QAbstractItemView, parent: QAbstractItemView | None = None) -> QMenu:
    """A menu of the view's columns, each checked while shown; the last shown cannot go."""
    header = header_of(view)
    model = view.model()
    menu = QMenu(parent or view)
    menu.setObjectName("columnMenu")
    shown = [c for c in range(header.count()) if not header.isSectionHidden(c)]
    for column in range(header.count()):
        title = model.headerData(column, Qt.Orientation.Horizontal) if model is not None else None
        action = QAction(str(title or f"Column {column + 1}"), menu)
        action.setCheckable(True)
        action.setChecked(not header.isSectionHidden(column))
        action.setEnabled(shown != [column])  # a board always keeps one column
        action.toggled.connect(lambda on, c=column: _show_column(header, c, on))
        menu.addAction(action)
    return menu


def _show_column(header: QHeaderView, column: int, shown: bool) -> None:
    header.setSectionHidden(column, not shown)
    if shown and header.sectionSize(column) < header.minimumSectionSize():
        header.resizeSection(column, header.defaultSectionSize())


def install_column_chooser(view: QAbstractItemView) -> None:
    """Right-click on the view's header: choose the columns shown."""
    header = header_of(view)
    header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    header.setToolTip("Right-click to choose the columns shown; drag an edge to resize")

    def popup(at: QPoint) -> None:
        column_menu(view).popup(header.mapToGlobal(at))

    header.customContextMenuRequested.connect(popup)


def text_width(view: QAbstractItemView, texts: Iterable[str], *, icon: bool = True) -> int:
    """The width a column needs to show the longest of ``texts`` in bold, with its icon."""
    metrics = QFontMetrics(bold_font().resolve(view.font()))
    widest = max((metrics.horizontalAdvance(text) for text in texts), default=0)
    room = view.iconSize().width() if view.iconSize().width() > 0 else 16
    return widest + (room + 4 if icon else 0) + CELL_PADDING_PX


def fit_texts(view: QAbstractItemView, column: int, texts: Iterable[str]) -> int:
    """Widen ``column`` (never narrow it) to the longest of ``texts``; returns its width."""
    header = header_of(view)
    wanted = text_width(view, texts)
    if header.sectionSize(column) < wanted:
        header.resizeSection(column, wanted)
    return header.sectionSize(column)
