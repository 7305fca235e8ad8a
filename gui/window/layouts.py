"""The other ways to look at the queues: the mini view and the wallboard, and the View menu.

Kept out of the main window: the window makes one :class:`Layouts` and hands it its menu bar;
the tray can call :meth:`Layouts.open_mini_view` and :meth:`Layouts.open_wallboard` too. Both
layouts are made on first use and read the Queues board's level proxy.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenuBar

from core.state.store import Store
from gui.window.mini_view import OPEN_KEY, MiniView
from gui.window.queues_board import QueuesBoard
from gui.window.wallboard import Wallboard

logger = logging.getLogger(__name__)


class Layouts(QObject):
    """Owns the mini view and the wallboard of one window.

    Signals: none of its own.
    """

    def __init__(
        self, board: QueuesBoard, store: Store, settings: QSettings, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.board = board
        self.store = store
        self.settings = settings
        self.mini_view: MiniView | None = None
        self.wallboard: Wallboard | None = None
        self.mini_action = QAction("&Mini view", self)
        self.mini_action.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.mini_action.setCheckable(True)
        self.mini_action.setToolTip("A small window on top of the others: the queues, one a line")
        self.mini_action.triggered.connect(self._on_mini_action_triggered)
        self.wallboard_action = QAction("&Wallboard", self)
        self.wallboard_action.setShortcut(QKeySequence("F11"))
        self.wallboard_action.setToolTip("Full screen, big tiles per queue (Esc leaves it)")
        self.wallboard_action.triggered.connect(self._on_wallboard_action_triggered)

    def add_menu(self, bar: QMenuBar) -> None:
        """Add the View menu to ``bar``."""
        menu = bar.addMenu("&View")
        menu.setObjectName("viewMenu")
        menu.addAction(self.mini_action)
        menu.addAction(self.wallboard_action)

    def restore(self) -> None:
        """Bring the mini view back when it was open when the app last quit."""
        if str(self.settings.value(OPEN_KEY, False)).lower() == "true":
            self.open_mini_view()

    def open_mini_view(self) -> MiniView:
        """Show the mini view (made on first use)."""
        if self.mini_view is None:
            self.mini_view = MiniView(self.board.levels, self.settings)
            self.mini_view.closed.connect(self._on_mini_view_closed)
        self.mini_view.open()
        self.mini_action.setChecked(True)
        return self.mini_view

    def close_mini_view(self) -> None:
        """Hide the mini view (it keeps its place for next time)."""
        if self.mini_view is not None:
            self.mini_view.close()
        self.mini_action.setChecked(False)

    def open_wallboard(self) -> Wallboard:
        """Show the wallboard full screen (made on first use)."""
        if self.wallboard is None:
            self.wallboard = Wallboard(self.board.levels, self.store)
        self.wallboard.open()
        return self.wallboard

    def close_all(self) -> None:
        """At quit: remember the mini view's place, close both, without marking it closed."""
        if self.mini_view is not None:
            self.mini_view.save_geometry()
            self.mini_view.hide()
            self.mini_view.deleteLater()
            self.mini_view = None
        if self.wallboard is not None:
            self.wallboard.leave()
            self.wallboard.deleteLater()
            self.wallboard = None

    def _on_mini_action_triggered(self, checked: bool) -> None:
        if checked:
            self.open_mini_view()
        else:
            self.close_mini_view()

    def _on_wallboard_action_triggered(self) -> None:
        if self.wallboard is not None and self.wallboard.isVisible():
            self.wallboard.leave()
        else:
            self.open_wallboard()

    def _on_mini_view_closed(self) -> None:
        self.mini_action.setChecked(False)
