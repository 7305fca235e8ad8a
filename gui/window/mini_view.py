"""The mini view: a small always-on-top window, one line per queue with waiting and service level.

For the supervisor who works in other windows all day: the queues stay in a corner of the
screen, coloured by level, without the main window. It reads the Queues board's level proxy
(:class:`gui.models.queue_levels.QueueLevelsProxy`), so its rows, figures and colours are the
board's, and it remembers where it was put and how big it was.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import shiboken6
from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSettings,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QCloseEvent, QFont, QHideEvent, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.state.levels import Level, QueueGlance, percent_text
from gui.models.level_style import level_background, level_foreground
from gui.models.queue_levels import QueueLevelsProxy

logger = logging.getLogger(__name__)

UNKNOWN: Final = "\u2014"  # an em dash: the figure is not known (as the board shows it)

Index = QModelIndex | QPersistentModelIndex

GEOMETRY_KEY: Final = "miniView/geometry"
OPEN_KEY: Final = "miniView/open"
DEFAULT_SIZE: Final = (260, 180)


class MiniModel(QAbstractTableModel):
    """Queue, waiting, service level: a row per row of the level proxy, in its order.

    Signals: only those of QAbstractItemModel.
    """

    NAME, WAITING, SERVICE_LEVEL = range(3)
    HEADERS: Final = ("Queue", "Waiting", "SL")

    def __init__(self, levels: QueueLevelsProxy, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.levels = levels
        levels.modelReset.connect(self._on_levels_reset)
        levels.rowsInserted.connect(self._on_levels_reset)
        levels.rowsRemoved.connect(self._on_levels_reset)
        levels.layoutChanged.connect(self._on_levels_reset)
        levels.dataChanged.connect(self._on_levels_data_changed)
        self._bold = QFont()
        self._bold.setBold(True)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        """One row per queue of the board."""
        return 0 if parent.isValid() or not self._alive() else self.levels.rowCount()

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        """Name, waiting, service level."""
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        """Column titles: Queue, Waiting, SL."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section] if 0 <= section < len(self.HEADERS) else None
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Text, alignment and the level's colours of one cell."""
        if not index.isValid() or not self._alive():
            return None
        glance = self.levels.glance(index.row())
        if glance is None:
            if role == Qt.ItemDataRole.DisplayRole and index.column() == self.NAME:
                return self.levels.index(index.row(), 0).data()
            return None
        column = index.column()
        level = self._level(glance, column)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(glance, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column != self.NAME:
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        if role == Qt.ItemDataRole.BackgroundRole:
            colour = level_background(level) if level else None
            return QBrush(colour) if colour is not None else None
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = level_foreground(level) if level else None
            return QBrush(colour) if colour is not None else None
        if role == Qt.ItemDataRole.FontRole and level:
            return self._bold
        if role == Qt.ItemDataRole.ToolTipRole:
            return glance.problem_line() if glance.level else f"{glance.name}: within limits"
        return None

    def _level(self, glance: QueueGlance, column: int) -> Level | None:
        if column == self.NAME:
            return glance.level
        if column == self.WAITING:
            return glance.waiting_level
        return glance.service_level_level

    def _text(self, glance: QueueGlance, column: int) -> str:
        if column == self.NAME:
            return glance.name
        if column == self.WAITING:
            return UNKNOWN if glance.waiting is None else str(glance.waiting)
        return UNKNOWN if glance.service_level is None else percent_text(glance.service_level)

    def _alive(self) -> bool:
        """False once the board's proxy is gone (at quit the board may go first)."""
        return shiboken6.isValid(self.levels)

    def _on_levels_reset(self, *_: object) -> None:
        self.beginResetModel()
        self.endResetModel()

    def _on_levels_data_changed(self, top: QModelIndex, bottom: QModelIndex, *_: object) -> None:
        if top.isValid() and bottom.isValid():
            self.dataChanged.emit(
                self.index(top.row(), 0), self.index(bottom.row(), len(self.HEADERS) - 1)
            )


class MiniView(QWidget):
    """A small tool window that stays on top: the queues, one line each.

    Esc hides it. Its place and size are kept in ``settings`` (:data:`GEOMETRY_KEY`), and
    whether it was open (:data:`OPEN_KEY`), so the app can bring it back at start.

    Signals:
        closed(): the person closed it (Esc or the window's close button).
    """

    closed = Signal()

    def __init__(
        self, levels: QueueLevelsProxy, settings: QSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(
            parent,
            Qt.WindowType.Tool
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.WindowCloseButtonHint,
        )
        self.setObjectName("miniView")
        self.setWindowTitle("Queues")
        self.settings = settings
        self.model = MiniModel(levels, self)
        self.view = QTableView()
        self.view.setObjectName("miniViewTable")
        self.view.setModel(self.model)
        self.view.horizontalHeader().setHighlightSections(False)  # small titles: what is what
        self.view.verticalHeader().setVisible(False)
        self.view.setShowGrid(False)
        self.view.setFrameShape(QTableView.Shape.NoFrame)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(MiniModel.NAME, QHeaderView.ResizeMode.Stretch)
        for column in (MiniModel.WAITING, MiniModel.SERVICE_LEVEL):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        rows = self.view.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.view.fontMetrics().height() + 6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.view)
        self.resize(*DEFAULT_SIZE)
        geometry = settings.value(GEOMETRY_KEY)
        self._placed = isinstance(geometry, QByteArray) and self.restoreGeometry(geometry)

    def open(self) -> None:
        """Show it (or bring it to the front), as View → Mini view and the tray do.

        The first time (nothing remembered yet) it is just tall enough for its rows.
        """
        if not self._placed:
            rows = max(1, self.model.rowCount())
            header = self.view.horizontalHeader().sizeHint().height()
            height = header + rows * self.view.verticalHeader().defaultSectionSize() + 6
            self.resize(DEFAULT_SIZE[0], min(height, DEFAULT_SIZE[1] * 3))
            self._placed = True
        self.show()
        self.raise_()
        self.settings.setValue(OPEN_KEY, True)

    def toggle(self) -> None:
        """Show it when hidden, hide it when shown."""
        if self.isVisible():
            self.close()
        else:
            self.open()

    def save_geometry(self) -> None:
        """Remember where it is and how big."""
        self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """Esc closes it, like a dialog."""
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 - Qt override
        """Remember the place whenever it goes away (the app may quit from the tray next)."""
        self.save_geometry()
        super().hideEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Closing only hides it; it is remembered closed."""
        self.save_geometry()
        self.settings.setValue(OPEN_KEY, False)
        super().closeEvent(event)
        self.closed.emit()
