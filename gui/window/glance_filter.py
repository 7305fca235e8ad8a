"""A header-strip click narrows a board to what the figure counts, and a bar says so.

"Waiting" (and "Longest wait") shows the Queues board with only the queues that have calls
waiting, most first; "Service level" the queues below their service-level limit; an agent figure
("Not Responding", "On break"...) the Agents board with only those agents. The bar above the
boards names the filter and has a "Show all" button, so a narrowed board is never mistaken for
the whole contact centre. The queues' set is re-read on every queue change while it is shown.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

from PySide6.QtCore import QRegularExpression, QSettings, QSortFilterProxyModel, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QTabWidget, QWidget

from core.state.levels import Level
from core.state.store import Store
from gui.models.agent_groups import AGENT_FIGURES, FIGURE_FILTER_LABELS
from gui.models.table_base import ID_ROLE
from gui.thresholds import glance
from gui.window.agents_board import AgentsBoard

logger = logging.getLogger(__name__)

QUEUE_FIGURES: Final = {
    "waiting": "queues with calls waiting",
    "longest_wait": "queues with calls waiting",
    "sl": "queues below their service-level limit",
}
NOTHING: Final = "^(?!)$"  # a pattern no id matches


class GlanceFilter(QFrame):
    """The bar naming the current filter, and the filters themselves (see the module doc)."""

    def __init__(
        self,
        store: Store,
        settings: QSettings,
        tabs: QTabWidget,
        *,
        boards: tuple[AgentsBoard, QWidget],
        parent: QWidget | None = None,
    ) -> None:
        """``boards``: the Agents board and the Queues board (which has ``sorter`` and ``view``)."""
        super().__init__(parent)
        agents_board, queues_board = boards
        self.setObjectName("glanceFilter")
        self._store = store
        self._settings = settings
        self._tabs = tabs
        self._agents = agents_board
        self._queues = queues_board
        self._queue_figure: str | None = None
        self.label = QLabel("")
        self.label.setObjectName("glanceFilterLabel")
        self.show_all = QPushButton("Show &all")
        self.show_all.setObjectName("glanceShowAll")
        self.show_all.clicked.connect(self.clear)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 2, 6, 2)
        row.addWidget(self.label, 1)
        row.addWidget(self.show_all)
        self.hide()

    @property
    def current(self) -> str | None:
        """The figure filtered to, None when the boards show everything."""
        return self._queue_figure or self._agents.proxy_figure

    def _sorter(self) -> QSortFilterProxyModel | None:
        sorter = getattr(self._queues, "sorter", None)
        return sorter if isinstance(sorter, QSortFilterProxyModel) else None

    def apply(self, figure: str) -> None:
        """Filter the board a header-strip figure belongs to, and show that board."""
        if figure in AGENT_FIGURES:
            self._clear_queues()
            self._agents.set_figure(figure)
            self._tabs.setCurrentWidget(self._agents)
            self._say(f"Showing only the agents counted as {FIGURE_FILTER_LABELS[figure]}")
        elif figure in QUEUE_FIGURES:
            self._agents.set_figure(None)
            self._queue_figure = figure
            self.refresh_queues()
            self._sort_queues(figure)
            self._tabs.setCurrentWidget(self._queues)
            self._say(f"Showing only the {QUEUE_FIGURES[figure]}")
        else:
            logger.debug("no board filter for the figure %r", figure)

    def clear(self) -> None:
        """Every board shows everything again."""
        self._agents.set_figure(None)
        self._clear_queues()
        self.hide()

    def _say(self, text: str) -> None:
        self.label.setText(text)
        self.show()

    # ------------------------------------------------------------------ queues
    def queue_ids(self, figure: str) -> list[str]:
        """The queues a queue figure counts now."""
        summary = glance(self._store, self._settings)
        if figure == "sl":
            return [
                q.id
                for q in summary.queues
                if q.service_level_level is not None and q.service_level_level > Level.OK
            ]
        return [q.id for q in summary.queues if (q.waiting or 0) > 0]

    def refresh_queues(self, *_: object) -> None:
        """Re-read which queues the queue filter keeps (a queue change may move one)."""
        sorter = self._sorter()
        if self._queue_figure is None or sorter is None:
            return
        ids = self.queue_ids(self._queue_figure)
        pattern = "^(" + "|".join(re.escape(i) for i in ids) + ")$" if ids else NOTHING
        if sorter.filterRegularExpression().pattern() != pattern:
            sorter.setFilterRole(ID_ROLE)
            sorter.setFilterKeyColumn(0)
            sorter.setFilterRegularExpression(QRegularExpression(pattern))

    def _sort_queues(self, figure: str) -> None:
        view: Any = getattr(self._queues, "view", None)
        model: Any = getattr(self._queues, "model", None)
        if view is None or model is None:
            return
        column = getattr(model, "SERVICE_LEVEL", None) if figure == "sl" else None
        if isinstance(column, int):
            view.sortByColumn(column, Qt.SortOrder.AscendingOrder)
        else:
            view.sortByColumn(model.WAITING, Qt.SortOrder.DescendingOrder)

    def _clear_queues(self) -> None:
        self._queue_figure = None
        sorter = self._sorter()
        if sorter is not None and sorter.filterRegularExpression().pattern():
            sorter.setFilterRegularExpression(QRegularExpression(""))
            sorter.setFilterRole(Qt.ItemDataRole.DisplayRole)
