"""Agents by status: the status groups, the header strip's agent filters, and a grouping model.

A supervisor asks "who is Not Responding, who is free, who is on a break?" before "where is
Dana?". :func:`status_group` puts every agent in exactly one group, in the order a glance
wants (the problem first); :func:`matches_figure` answers the header strip's figures (the same
definitions as :mod:`core.state.levels`, so a click shows exactly the agents a figure counts).

:class:`AgentGroupsModel` is a two-level tree over the Agents board's filter proxy: one parent
row per non-empty group ("Not Responding (2)"), its agents beneath in the proxy's order. Why a
tree over the proxy rather than group rows spliced into the flat table: the tree gives
collapsible groups and counts in the parent rows for free, the search, queue filter and sort
still come from the one proxy (so every mode filters alike), and the flat model stays as it is
(one row per person, the one the performance work tunes). A status change that moves an agent
to another group resets this small model (tens to a few hundred rows); the view keeps the
selection and the collapsed groups across the reset (see gui.window.agents_board).
"""

from __future__ import annotations

import logging
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from core.state.levels import (
    AVAILABLE,
    BREAK_PRESENCES,
    INTERACTING,
    NOT_RESPONDING,
    ON_BREAK,
    ON_QUEUE,
)
from core.state.store import Store, UserState
from gui.models.table_base import DISPLAY, ID_ROLE, SORT_ROLE, bold_font

logger = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex

INTERACTING_STATUSES: Final = frozenset({"INTERACTING", "COMMUNICATING"})
AWAY_PRESENCES: Final = frozenset({"AWAY", "BUSY", "MEETING", "TRAINING"})

IDLE_ON_QUEUE: Final = "idle"
ON_QUEUE_OTHER: Final = "on_queue_other"
AWAY: Final = "away"
AVAILABLE_OFF_QUEUE: Final = "available_off_queue"
OFFLINE: Final = "offline"

STATUS_GROUPS: Final[tuple[tuple[str, str], ...]] = (
    (NOT_RESPONDING, "Not Responding"),
    (IDLE_ON_QUEUE, "On queue, idle"),
    (INTERACTING, "Interacting"),
    (ON_QUEUE_OTHER, "On queue, other"),
    (ON_BREAK, "Break or meal"),
    (AWAY, "Away, busy, meeting or training"),
    (AVAILABLE_OFF_QUEUE, "Available, not on queue"),
    (OFFLINE, "Offline"),
)
"""Every status group, in the order the board lists them (the problem first)."""
GROUP_LABELS: Final = dict(STATUS_GROUPS)
GROUP_ORDER: Final = {key: n for n, (key, _) in enumerate(STATUS_GROUPS)}

AGENT_FIGURES: Final = frozenset({ON_QUEUE, AVAILABLE, INTERACTING, NOT_RESPONDING, ON_BREAK})
"""The header strip's agent figures a click can filter the Agents board by."""
FIGURE_FILTER_LABELS: Final = {
    ON_QUEUE: "On queue",
    AVAILABLE: "Available",
    INTERACTING: "Interacting",
    NOT_RESPONDING: "Not Responding",
    ON_BREAK: "On break",
}


def status_group(state: UserState | None) -> str:
    """The one group an agent is in: routing first (it is what the contact centre feels)."""
    if state is None:
        return OFFLINE
    routing, presence = state.routing_status, state.system_presence
    if routing == "NOT_RESPONDING":
        return NOT_RESPONDING
    if routing in INTERACTING_STATUSES:
        return INTERACTING
    if presence == "ON_QUEUE":
        return IDLE_ON_QUEUE if routing == "IDLE" else ON_QUEUE_OTHER
    if presence in BREAK_PRESENCES:
        return ON_BREAK
    if presence in AWAY_PRESENCES:
        return AWAY
    if presence in ("AVAILABLE", "IDLE"):
        return AVAILABLE_OFF_QUEUE
    return OFFLINE


def matches_figure(figure: str, state: UserState | None) -> bool:
    """Whether an agent is counted by a header-strip figure (core.state.levels' definitions)."""
    if state is None:
        return False
    if figure == ON_QUEUE:
        return state.system_presence == "ON_QUEUE"
    if figure == AVAILABLE:
        return state.system_presence == "ON_QUEUE" and state.routing_status == "IDLE"
    if figure == INTERACTING:
        return state.routing_status in INTERACTING_STATUSES
    if figure == NOT_RESPONDING:
        return state.routing_status == "NOT_RESPONDING"
    if figure == ON_BREAK:
        return state.system_presence in BREAK_PRESENCES
    return True


def unwatched_call(store: Store, user_id: str) -> bool:
    """True when an agent is Interacting but none of their watched queues has a call going.

    The call then comes from a queue that is not watched (or straight to the agent): the
    board said "Interacting" beside queues whose Interacting count was 0, with no word why.
    """
    state = store.users.get(user_id)
    if state is None or state.routing_status not in INTERACTING_STATUSES:
        return False
    counts = [
        queue.interacting
        for queue_id in store.active_queues(user_id)
        if (queue := store.queues.get(queue_id)) is not None
    ]
    return all(count == 0 for count in counts)


def unwatched_rechecks(store: Store, queue_ids: list[str], idle_seen: dict[str, bool]) -> list[str]:
    """Interacting agents whose "call from a queue not watched" note may have changed.

    The note reads the queues' Interacting counts, which the agents board does not repaint
    on; only a count that moved to or from 0 can change a note, so only then (rarely) are the
    Interacting agents on that queue returned. ``idle_seen`` remembers each queue's last
    "no call in progress" answer between calls.
    """
    flipped: set[str] = set()
    for queue_id in queue_ids:
        queue = store.queues.get(queue_id)
        idle = queue is not None and queue.interacting == 0
        if idle_seen.get(queue_id) != idle:
            idle_seen[queue_id] = idle
            flipped.add(queue_id)
    if not flipped:
        return []
    return [
        user.id
        for user in store.users.values()
        if user.routing_status in INTERACTING_STATUSES
        and flipped.intersection(store.active_queues(user.id))
    ]


UNWATCHED_NOTE: Final = "call from a queue not watched"
UNWATCHED_TIP: Final = (
    "This agent is Interacting, but none of the watched queues they are on has a call in"
    " progress: the call comes from a queue that is not watched, or straight to the agent."
)


class AgentGroupsModel(QAbstractItemModel):
    """Status groups (parent rows, with counts) over an agents filter proxy (child rows).

    Child cells answer every role as the proxy's cell does; group rows show "Label (count)"
    in the first column, bold. ``ID_ROLE`` of a child is the user id, of a group None.

    Signals: only those of QAbstractItemModel.
    """

    def __init__(
        self,
        source: QSortFilterProxyModel,
        parent: QObject | None = None,
        *,
        status_columns: tuple[int, ...] = (1, 2),
    ) -> None:
        """Group ``source``'s rows; ``status_columns``: the columns a status change repaints
        (AgentsModel's presence and routing), so a tick of the time column never regroups."""
        super().__init__(parent)
        self._source = source
        self._status_columns = status_columns
        self._groups: list[tuple[str, list[int]]] = []  # (group key, proxy rows in order)
        self._where: dict[int, tuple[int, int]] = {}  # proxy row -> (group row, child row)
        self._signature: tuple[tuple[str, tuple[str, ...]], ...] = ()
        self._bold = bold_font()
        self._regroup(reset=False)
        source.modelReset.connect(self._on_source_changed)
        source.layoutChanged.connect(self._on_source_changed)
        source.rowsInserted.connect(self._on_source_changed)
        source.rowsRemoved.connect(self._on_source_changed)
        source.dataChanged.connect(self._on_source_data_changed)

    @property
    def source(self) -> QSortFilterProxyModel:
        """The proxy whose rows are grouped."""
        return self._source

    def group_counts(self) -> dict[str, int]:
        """How many shown agents each non-empty group holds."""
        return {key: len(rows) for key, rows in self._groups}

    def group_row(self, key: str) -> int:
        """The parent row of a group, -1 when it is empty (not shown)."""
        return next((n for n, (k, _) in enumerate(self._groups) if k == key), -1)

    def group_key(self, index: Index) -> str | None:
        """The group key of a parent index, None for an agent's row."""
        if index.isValid() and not index.parent().isValid():
            return self._groups[index.row()][0]
        return None

    def map_from_source(self, proxy_index: Index) -> QModelIndex:
        """The tree index of a proxy index (invalid when the proxy row is not grouped)."""
        where = self._where.get(proxy_index.row()) if proxy_index.isValid() else None
        if where is None:
            return QModelIndex()
        return self.createIndex(where[1], proxy_index.column(), where[0] + 1)

    # ------------------------------------------------------------------ grouping
    def _group_of_proxy_row(self, row: int) -> str:
        source = self._source
        agents = source.sourceModel()
        source_row = source.mapToSource(source.index(row, 0)).row()
        state_of = getattr(agents, "user_state", None)
        state = state_of(source_row) if callable(state_of) else None
        return status_group(state)

    def _compute(self) -> tuple[list[tuple[str, list[int]]], tuple[Any, ...]]:
        buckets: dict[str, list[int]] = {}
        ids: dict[str, list[str]] = {}
        for row in range(self._source.rowCount()):
            key = self._group_of_proxy_row(row)
            buckets.setdefault(key, []).append(row)
            ids.setdefault(key, []).append(str(self._source.index(row, 0).data(ID_ROLE)))
        keys = sorted(buckets, key=GROUP_ORDER.__getitem__)
        groups = [(key, buckets[key]) for key in keys]
        return groups, tuple((key, tuple(ids[key])) for key in keys)

    def _regroup(self, *, reset: bool = True) -> bool:
        """Recompute the groups; reset the model only when the grouping changed."""
        groups, signature = self._compute()
        if reset and signature == self._signature:
            if groups != self._groups:  # same agents in the same places; the proxy renumbered
                self._use(groups, signature)
                for group_row, (_, rows) in enumerate(groups):
                    parent = self.index(group_row, 0)
                    last = self.columnCount() - 1
                    self.dataChanged.emit(
                        self.index(0, 0, parent), self.index(len(rows) - 1, last, parent), []
                    )
            return False
        if reset:
            self.beginResetModel()
        self._use(groups, signature)
        if reset:
            self.endResetModel()
        return True

    def _use(self, groups: list[tuple[str, list[int]]], signature: tuple[Any, ...]) -> None:
        self._groups, self._signature = groups, signature
        self._where = {
            proxy_row: (group_row, child_row)
            for group_row, (_, rows) in enumerate(groups)
            for child_row, proxy_row in enumerate(rows)
        }

    def _moved_group(self, first: int, last: int) -> bool:
        """Whether any of the proxy rows ``first..last`` is now in another group (cheap: only
        the changed rows are read, so a batch that moves nobody costs no regrouping)."""
        for row in range(first, last + 1):
            where = self._where.get(row)
            if where is None or self._groups[where[0]][0] != self._group_of_proxy_row(row):
                return True
        return False

    def _on_source_changed(self, *_: object) -> None:
        self._regroup()

    def _on_source_data_changed(
        self, top_left: QModelIndex, bottom_right: QModelIndex, roles: list[int]
    ) -> None:
        left, right = top_left.column(), bottom_right.column()
        first, last = top_left.row(), bottom_right.row()
        status_touched = any(left <= column <= right for column in self._status_columns)
        if status_touched and self._moved_group(first, last) and self._regroup():
            return  # someone moved group: the reset repainted everything
        for group_row, (_, rows) in enumerate(self._groups):
            inside = [n for n, proxy_row in enumerate(rows) if first <= proxy_row <= last]
            if inside:
                parent = self.index(group_row, 0)
                self.dataChanged.emit(
                    self.index(min(inside), left, parent),
                    self.index(max(inside), right, parent),
                    roles,
                )

    # ------------------------------------------------------------------ Qt
    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        """Parents carry no internal id; a child carries its group's row plus one."""
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0)
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        """A child's parent is its group row; a group has none."""
        if not index.isValid():
            return QModelIndex()
        group = int(index.internalId())
        return QModelIndex() if group == 0 else self.createIndex(group - 1, 0, 0)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        """Groups at the top, their agents beneath."""
        if not parent.isValid():
            return len(self._groups)
        if parent.internalId() == 0 and parent.column() == 0:
            return len(self._groups[parent.row()][1])
        return 0

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        """The proxy's columns."""
        return self._source.columnCount()

    def proxy_index(self, index: Index) -> QModelIndex:
        """The proxy's index of an agent's row (invalid for a group row)."""
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self._proxy_index(index)

    def _proxy_index(self, index: Index) -> QModelIndex:
        group = int(index.internalId()) - 1
        proxy_row = self._groups[group][1][index.row()]
        return self._source.index(proxy_row, index.column())

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        """Agents' cells as the proxy has them; a group row: its label and count."""
        if not index.isValid():
            return None
        if index.internalId() != 0:
            return self._proxy_index(index).data(role)
        key, rows = self._groups[index.row()]
        if role == DISPLAY and index.column() == 0:
            return f"{GROUP_LABELS[key]} ({len(rows)})"
        if role == Qt.ItemDataRole.AccessibleTextRole and index.column() == 0:
            return f"{GROUP_LABELS[key]}: {len(rows)} agents"
        if role == Qt.ItemDataRole.FontRole:
            return self._bold
        if role == SORT_ROLE:
            return GROUP_ORDER[key]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        """Rows are selectable and enabled; agents never have children."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
        if index.internalId() != 0:
            flags |= Qt.ItemFlag.ItemNeverHasChildren
        return flags

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = DISPLAY
    ) -> Any:
        """The proxy's column titles."""
        return self._source.headerData(section, orientation, role)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort agents within their groups: the proxy sorts, the groups follow its order."""
        self._source.sort(column, order)
