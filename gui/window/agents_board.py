"""The Agents board: search, queue filter, "Group by status", and the table or the grouped tree.

Kept apart from the main window so the board can grow without the window growing with it.
Both views read the one :class:`gui.models.agents.AgentsFilterProxy`: the flat table directly,
the grouped tree through :class:`gui.models.agent_groups.AgentGroupsModel` (built the first time
grouping is turned on, so a board that never groups pays nothing for it). A header-strip click
narrows the proxy to a figure's agents and says so in a bar with a "Show all" button.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSettings, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QTableView,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from core.domain.format import status_text
from core.state.store import Store
from gui.models.agent_groups import AgentGroupsModel
from gui.models.agents import AgentsFilterProxy, AgentsModel
from gui.models.table_base import ID_ROLE
from gui.window.columns import fit_texts, install_column_chooser
from gui.window.tables import board_table

logger = logging.getLogger(__name__)

GROUP_SETTING = "agents/group_by_status"
ROUTING_STATUSES = ("IDLE", "INTERACTING", "COMMUNICATING", "NOT_RESPONDING", "OFF_QUEUE")
SYSTEM_PRESENCES = (
    "AVAILABLE",
    "AWAY",
    "BREAK",
    "BUSY",
    "IDLE",
    "MEAL",
    "MEETING",
    "OFFLINE",
    "ON_QUEUE",
    "TRAINING",
)


class AgentsBoard(QWidget):
    """The Agents tab's page. ``view`` is the flat table, ``tree`` the grouped one."""

    def __init__(
        self,
        model: AgentsModel,
        proxy: AgentsFilterProxy,
        settings: QSettings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.proxy = proxy
        self.settings = settings
        self.groups: AgentGroupsModel | None = None
        self._collapsed: set[str] = set()
        self._keep_selected: str | None = None
        self._figure: str | None = None

        self.search = QLineEdit(placeholderText="Search agents, presence, status…")
        self.search.setClearButtonEnabled(True)
        self.search.setObjectName("agentSearch")
        self.search.textChanged.connect(proxy.set_search)
        self.queue_filter = QComboBox()
        self.queue_filter.setObjectName("queueFilter")
        self.queue_filter.addItem("All queues", None)
        self.queue_filter.currentIndexChanged.connect(self._on_queue_filter_changed)
        self.group_box = QCheckBox("&Group by status")
        self.group_box.setObjectName("groupByStatus")
        self.group_box.setToolTip("Agents in groups by status, Not Responding first, with counts")
        bar = QHBoxLayout()
        bar.addWidget(self.search, 3)
        bar.addWidget(QLabel("Queue:"))
        bar.addWidget(self.queue_filter, 1)
        bar.addWidget(self.group_box)

        self.view: QTableView = board_table(proxy, "agentsView")
        self.view.sortByColumn(AgentsModel.NAME, Qt.SortOrder.AscendingOrder)
        install_column_chooser(self.view)
        self.tree = QTreeView()
        self.tree.setObjectName("agentsTree")
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.collapsed.connect(self._on_tree_collapsed)
        self.tree.expanded.connect(self._on_tree_expanded)
        install_column_chooser(self.tree)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.tree)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.stack)
        grouped = settings.value(GROUP_SETTING, False)
        self.group_box.setChecked(grouped is True or grouped in ("true", "1"))
        self.group_box.toggled.connect(self.set_grouped)
        self.set_grouped(self.group_box.isChecked())

    # ------------------------------------------------------------------ grouping
    @property
    def grouped(self) -> bool:
        """True while the agents show in status groups."""
        return self.stack.currentWidget() is self.tree

    def set_grouped(self, grouped: bool) -> None:
        """Show the agents in status groups (remembered), or as one flat table."""
        self.settings.setValue(GROUP_SETTING, grouped)
        if self.group_box.isChecked() != grouped:
            self.group_box.setChecked(grouped)  # re-enters through toggled
            return
        if grouped and self.groups is None:
            self.groups = AgentGroupsModel(
                self.proxy, self, status_columns=(AgentsModel.PRESENCE, AgentsModel.ROUTING)
            )
            column, order = self.proxy.sortColumn(), self.proxy.sortOrder()
            self.tree.setModel(self.groups)  # first: the view resets itself before we restore
            self.groups.modelAboutToBeReset.connect(self._on_groups_about_to_reset)
            self.groups.modelReset.connect(self._on_groups_reset)
            # The table's sort goes on (enabling sorting sorts by the header's indicator).
            self.tree.header().setSortIndicator(column, order)
            self.tree.setSortingEnabled(True)
            self._on_groups_reset()
            self.restore_columns()
        elif not grouped:
            self.sync_columns()
        self.stack.setCurrentWidget(self.tree if grouped else self.view)

    def restore_columns(self) -> None:
        """The grouped tree takes the table's widths and hidden columns (the saved ones)."""
        if self.groups is not None:
            _copy_columns(self.view.horizontalHeader(), self.tree.header())

    def sync_columns(self) -> None:
        """While grouped, the tree's widths and hidden columns go back to the (saved) table."""
        if self.groups is not None and self.grouped:
            _copy_columns(self.tree.header(), self.view.horizontalHeader())

    def select_agent(self, user_id: str) -> bool:
        """Select and show an agent's row, in the table or the grouped tree."""
        row = self.model.row_of(user_id)
        if row < 0:
            return False
        proxy_index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not proxy_index.isValid():
            return False
        if self.grouped and self.groups is not None:
            target = self.groups.map_from_source(proxy_index)
            self.tree.setCurrentIndex(target)
            self.tree.scrollTo(target)
            return target.isValid()
        self.view.selectRow(proxy_index.row())
        self.view.scrollTo(proxy_index)
        return True

    def _on_tree_collapsed(self, index: QModelIndex) -> None:
        key = self.groups.group_key(index) if self.groups is not None else None
        if key is not None:
            self._collapsed.add(key)

    def _on_tree_expanded(self, index: QModelIndex) -> None:
        key = self.groups.group_key(index) if self.groups is not None else None
        if key is not None:
            self._collapsed.discard(key)

    def _on_groups_about_to_reset(self) -> None:
        current = self.tree.currentIndex()
        self._keep_selected = current.data(ID_ROLE) if current.isValid() else None

    def _on_groups_reset(self) -> None:
        """Groups open as they were, and the selected agent stays selected."""
        groups = self.groups
        if groups is None:
            return
        for row in range(groups.rowCount()):
            index = groups.index(row, 0)
            self.tree.setFirstColumnSpanned(row, QModelIndex(), True)  # "Interacting (12)"
            self.tree.setExpanded(index, groups.group_key(index) not in self._collapsed)
        if self._keep_selected is not None:
            row = self.model.row_of(self._keep_selected)
            if row >= 0:
                proxy_index = self.proxy.mapFromSource(self.model.index(row, 0))
                target = groups.map_from_source(proxy_index)
                if target.isValid():
                    self.tree.selectionModel().setCurrentIndex(
                        target,
                        QItemSelectionModel.SelectionFlag.ClearAndSelect
                        | QItemSelectionModel.SelectionFlag.Rows,
                    )

    # ------------------------------------------------------------------ filters
    @property
    def proxy_figure(self) -> str | None:
        """The header-strip figure the agents are narrowed to (None: everyone)."""
        return self._figure

    def set_figure(self, figure: str | None) -> None:
        """Show only the agents a header-strip figure counts (None: everyone)."""
        self._figure = figure
        self.proxy.set_figure(figure)

    def _on_queue_filter_changed(self, _index: int) -> None:
        self.proxy.set_queue(self.queue_filter.currentData())

    def set_queues(self, queues: dict[str, str]) -> None:
        """The queue filter's choices (keeps the current one when it is still watched)."""
        current = self.queue_filter.currentData()
        self.queue_filter.blockSignals(True)
        self.queue_filter.clear()
        self.queue_filter.addItem("All queues", None)
        for queue_id, name in sorted(queues.items(), key=lambda kv: kv[1].lower()):
            self.queue_filter.addItem(name or queue_id[:8], queue_id)
        self.queue_filter.setCurrentIndex(max(0, self.queue_filter.findData(current)))
        self.queue_filter.blockSignals(False)

    # ------------------------------------------------------------------ widths
    def fit_status_columns(self, store: Store) -> None:
        """Presence and routing fit the longest text they can show (bold, with the icon)."""
        presences = [status_text(p) for p in SYSTEM_PRESENCES] + list(
            store.presence_labels.values()
        )
        routings = [status_text(r) for r in ROUTING_STATUSES]
        for view in (self.view, self.tree):
            if view.model() is None:
                continue
            fit_texts(view, AgentsModel.PRESENCE, presences)
            fit_texts(view, AgentsModel.ROUTING, routings)


def _copy_columns(source: QHeaderView, target: QHeaderView) -> None:
    for column in range(min(source.count(), target.count())):
        target.setSectionHidden(column, source.isSectionHidden(column))
        if not source.isSectionHidden(column):
            target.resizeSection(column, source.sectionSize(column))
