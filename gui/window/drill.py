"""Drill-down from the boards: a queue's row opens its details, an agent's row their day.

Double-click or Enter on a row (the views' ``activated`` and ``doubleClicked``; the grouped
agents tree's too), or "Details…" in the row's right-click menu. The rows sit behind sorting,
filtering, level and grouping proxies; every one of them passes the source model's
:data:`~gui.models.table_base.ID_ROLE` through, so the id is read off the index the view gives,
whatever proxy stands between (a group's heading row has none and opens nothing).

One window per queue or agent: asking again brings the open one to the front.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QModelIndex, QObject, QPoint, QSettings, Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QAbstractItemView, QMenu, QWidget

from core.rest.regions import Environment
from core.state.store import Store
from core.storage.journal.journal import Journal
from gui.bridge import EngineBridge
from gui.dialogs.agent_day import AgentDayWindow
from gui.dialogs.queue_detail import QueueDetailWindow, UrlOpener
from gui.models.table_base import ID_ROLE

logger = logging.getLogger(__name__)

QUEUE_WORDS = "Details: agents and calls…"
AGENT_WORDS = "Details: the agent's day…"


def environment_of(service: object) -> Environment | None:
    """The org's environment as the engine's REST client knows it (None when it does not)."""
    env = getattr(getattr(service, "api", None), "env", None)
    return env if isinstance(env, Environment) else None


def row_id(index: QModelIndex) -> str | None:
    """The queue or user id of a row, through whatever proxies the view shows."""
    if not index.isValid():
        return None
    value = index.siblingAtColumn(0).data(ID_ROLE)
    return value if isinstance(value, str) and value else None


class DrillHost(Protocol):
    """What the drill-down needs of the main window (no import of it: no cycle)."""

    @property
    def store(self) -> Store: ...
    @property
    def bridge(self) -> EngineBridge: ...
    @property
    def settings(self) -> QSettings: ...
    @property
    def journal(self) -> Journal | None: ...
    @property
    def queues_view(self) -> QAbstractItemView: ...
    @property
    def agents_view(self) -> QAbstractItemView: ...
    @property
    def agents_board(self) -> QWidget: ...


class Drill(QObject):
    """Opens the drill-down windows of the window's boards."""

    def __init__(self, window: DrillHost) -> None:
        super().__init__(window if isinstance(window, QObject) else None)
        self.window = window
        self.environment: Environment | None = None  # set by the app once it knows the org
        self.open_url: UrlOpener = QDesktopServices.openUrl
        self.windows: dict[tuple[str, str], QWidget] = {}
        self.menu_hooks: list[Callable[[QMenu, QAbstractItemView, QPoint], None]] = []
        self._connect(window.queues_view, self.open_queue, QUEUE_WORDS)
        self._connect(window.agents_view, self.open_agent, AGENT_WORDS)
        tree = getattr(window.agents_board, "tree", None)
        if isinstance(tree, QAbstractItemView):  # grouped by status
            self._connect(tree, self.open_agent, AGENT_WORDS)

    def use_service(self, service: object) -> None:
        """Take the org's environment from the engine (for the "Open in Genesys Cloud" links)."""
        self.environment = environment_of(service)

    def _connect(
        self, view: QAbstractItemView, opener: Callable[[str], QWidget], words: str
    ) -> None:
        def on_index(index: QModelIndex) -> None:
            item = row_id(index)
            if item is not None:
                opener(item)

        view.activated.connect(on_index)
        view.doubleClicked.connect(on_index)
        if view.contextMenuPolicy() != Qt.ContextMenuPolicy.DefaultContextMenu:
            return  # someone else owns this view's menu

        def on_menu(pos: QPoint) -> None:
            menu = self.row_menu(view, pos, opener, words)
            if menu is not None:
                for hook in self.menu_hooks:  # more entries (gui.actions_ui: supervisor actions)
                    hook(menu, view, pos)
                menu.exec(view.viewport().mapToGlobal(pos))
                menu.deleteLater()

        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(on_menu)

    @staticmethod
    def row_menu(
        view: QAbstractItemView, pos: QPoint, opener: Callable[[str], QWidget], words: str
    ) -> QMenu | None:
        """The right-click menu of the row at ``pos`` (None off the rows)."""
        item = row_id(view.indexAt(pos))
        if item is None:
            return None
        menu = QMenu(view)
        action = menu.addAction(words)
        action.setObjectName("drillDetails")
        action.triggered.connect(lambda: opener(item))
        return menu

    def _common(self) -> dict[str, Any]:
        return {
            "bridge": self.window.bridge,
            "environment": self.environment,
            "settings": self.window.settings,
            "open_url": self.open_url,
            "parent": self.window if isinstance(self.window, QWidget) else None,
        }

    def _show(self, key: tuple[str, str], make: Callable[[], QWidget]) -> QWidget:
        shown = self.windows.get(key)
        if shown is None:
            shown = self.windows[key] = make()
            shown.destroyed.connect(lambda *_: self.windows.pop(key, None))
        shown.show()
        shown.raise_()
        shown.activateWindow()
        return shown

    def open_queue(self, queue_id: str) -> QueueDetailWindow:
        """Show a queue's details (its agents and calls)."""
        window = self._show(
            ("queue", queue_id),
            lambda: QueueDetailWindow(self.window.store, queue_id, **self._common()),
        )
        assert isinstance(window, QueueDetailWindow)
        return window

    def open_agent(self, user_id: str) -> AgentDayWindow:
        """Show an agent's day from the journal."""
        window = self._show(
            ("agent", user_id),
            lambda: AgentDayWindow(
                self.window.store, user_id, self.window.journal, **self._common()
            ),
        )
        assert isinstance(window, AgentDayWindow)
        return window


def install_drill(window: DrillHost) -> Drill:
    """Wire the window's boards to the drill-down windows (one call in MainWindow.__init__)."""
    return Drill(window)
