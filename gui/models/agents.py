"""The Agents board's model: one row per watched user, and its search and queue filter.

It reads :class:`core.state.store.Store` (the GUI never mutates it) and is told what changed by
the window, which forwards :class:`gui.bridge.EngineBridge` signals: ``users_changed(ids)`` ->
:meth:`AgentsModel.update_users`, ``queues_changed(ids)`` -> :meth:`AgentsModel.update_queues`
(queue names and joins show in the queue column), ``watch_changed`` ->
:meth:`AgentsModel.set_users`, a 1 Hz tick -> :meth:`AgentsModel.tick` (time in state), a
palette change -> ``restyle()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QObject, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QFont

from core.domain.format import clock_text, status_text
from core.state.store import Store, UserState
from gui.models.agent_groups import UNWATCHED_NOTE, UNWATCHED_TIP, matches_figure, unwatched_call
from gui.models.presence_style import (
    ALERT_ROUTING,
    STALE_TEXT,
    WARNING_BACKGROUND,
    WARNING_FOREGROUND,
    colour_chip,
    presence_colour,
    shade,
    warning_icon,
)
from gui.models.table_base import (
    ALERT_ROLE,
    DISPLAY,
    FILTER_ROLE,
    ID_ROLE,
    RIGHT,
    SORT_ROLE,
    IdRows,
    Index,
    TableModel,
    begin_filter_change,
    bold_font,
    end_filter_change,
    refresh_rows,
    row_runs,
    stale_font,
    utc_now,
)
from gui.plain_text import plain_tooltip

logger = logging.getLogger(__name__)

STALE_ROLES = frozenset(
    {
        int(Qt.ItemDataRole.ForegroundRole),
        int(Qt.ItemDataRole.FontRole),
        int(Qt.ItemDataRole.BackgroundRole),
    }
)


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
        # What of each queue the active-queues column shows: its name and who is joined.
        self._queue_looks: dict[str, tuple[str, frozenset[str]]] = {}
        self._stale_at: datetime | None = None
        # Sort keys as last announced, per column then row (see _announce): the time column
        # keeps the moment the state began, so a tick moves every row alike.
        self._sort_keys: list[dict[int, Any]] = [{} for _ in self.HEADERS]
        self._needle = ""  # the filter of the proxy over this model (see AgentsFilterProxy)
        self._queue_id: str | None = None
        self.figure: str | None = None  # a header-strip figure filter (AgentsFilterProxy)

    # ------------------------------------------------------------------ feeding
    def use_store(self, store: Store, stale_at: datetime | None = None) -> None:
        """Read ``store`` from now on (follow with :meth:`set_users`, which resets the rows).

        With ``stale_at`` the store is an old picture (the journal's last known one): the rows
        are greyed and italic, and time in state stays as it was then instead of running on.
        """
        self._store = store
        self._stale_at = stale_at
        self._now = stale_at if stale_at is not None else self._clock()
        self._queue_looks.clear()
        self._forget_keys()

    @property
    def stale(self) -> bool:
        """True while the rows show an old picture, not the engine's store."""
        return self._stale_at is not None

    def set_users(self, user_ids: Iterable[str]) -> None:
        """Show exactly these users, in this order (a model reset)."""
        self.beginResetModel()
        self._rows.reset(user_ids)
        self._forget_keys()
        self.endResetModel()

    def update_users(self, user_ids: Iterable[str]) -> None:
        """Users whose state changed: known rows emit a dataChanged per run of rows (see
        :meth:`_announce`), unknown ids are appended.

        Rows already shown never move; new ids go to the end, in the given order, with one
        ``beginInsertRows`` for the whole batch.
        """
        last = self.columnCount() - 1
        refresh_rows(self, self._rows, list(user_ids), lambda rows: self._announce(rows, 0, last))

    def update_queues(self, queue_ids: Iterable[str]) -> None:
        """Queues changed: refresh the active-queues cells of the users a change can show in.

        Most queue changes are counters, which this column does not show; only a new name
        (every row may list the queue) or a join or leave (those users' rows) repaint it.
        """
        users: set[str] = set()
        renamed = False
        for queue_id in queue_ids:
            queue = self._store.queues.get(queue_id)
            look = (queue.name, frozenset(queue.joined_ids)) if queue is not None else ("", None)
            before = self._queue_looks.get(queue_id)
            if look[1] is None:
                self._queue_looks.pop(queue_id, None)
            else:
                self._queue_looks[queue_id] = (look[0], look[1])
            if before is not None and look[1] is not None and before == look:
                continue
            renamed = renamed or before is None or before[0] != look[0]
            users.update(before[1] if before is not None else ())
            users.update(look[1] or ())
        if renamed:
            self._sort_keys[self.QUEUES].clear()
            self._column_changed(self.QUEUES, [])
            return
        self._announce(self._rows.known_rows(list(users)), self.QUEUES, self.QUEUES)

    def tick(self, now: datetime | None = None) -> None:
        """Advance the clock: one dataChanged for the time column, nothing else."""
        if self._stale_at is not None:
            return  # an old picture: its times stay as they were when it was taken
        self._now = now if now is not None else self._clock()
        self._column_changed(self.TIME, [int(DISPLAY), SORT_ROLE])

    def _announce(self, rows: list[int], first: int, last: int) -> None:
        """One dataChanged per run of ``rows`` (columns ``first``-``last``), keys renewed per run.

        Runs, not one range from the lowest to the highest row: on a 50,000-row board the proxy
        would re-read every row between (P9). A sorting proxy places each run's rows by a binary
        search over the others, so those must still show the keys it sorted them by: the store
        holds every change of the batch already, and the keys of rows not yet announced are
        served as they were (:attr:`_sort_keys`) until their own run.
        """
        for top, bottom in row_runs(rows):
            for column in range(first, last + 1):
                keys = self._sort_keys[column]
                for row in range(top, bottom + 1):
                    keys.pop(row, None)
            self.dataChanged.emit(self.index(top, first), self.index(bottom, last), [])

    def _forget_keys(self) -> None:
        for keys in self._sort_keys:
            keys.clear()

    # ------------------------------------------------------------------ lookups
    def user_state(self, row: int) -> UserState | None:
        """The store's state of the user in ``row`` (status groups and filters read it)."""
        return self._store.users.get(self._rows.ids[row])

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

    def set_filter(self, needle: str, queue_id: str | None) -> None:
        """The proxy's search text (casefolded) and queue, which :data:`FILTER_ROLE` applies."""
        self._needle, self._queue_id = needle, queue_id

    def accepts(self, row: int) -> bool:
        """Whether ``row`` passes the filter: queue membership first (set lookups), then text."""
        if self._queue_id is not None and not self.is_member(row, self._queue_id):
            return False
        if self.figure is not None and not matches_figure(self.figure, self.user_state(row)):
            return False
        return not self._needle or self._needle in self.search_text(row)

    # ------------------------------------------------------------------ Qt
    def _row_count(self) -> int:
        return len(self._rows.ids)

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        """The cell's value for ``role`` (see the module docstring for the custom roles)."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows.ids):
            return None
        if role == FILTER_ROLE:  # first: Qt asks it of every row a change names
            return "1" if self.accepts(index.row()) else "0"
        user_id = self._rows.ids[index.row()]
        state = self._store.users.get(user_id)
        column = index.column()
        if role == DISPLAY:
            return self._display(user_id, state, column)
        if role == SORT_ROLE:
            return self._sort_value(index.row(), user_id, state, column)
        if role == ID_ROLE:
            return user_id
        alert = state is not None and state.routing_status in ALERT_ROUTING
        if role == ALERT_ROLE:
            return alert
        if self._stale_at is not None and role in STALE_ROLES:
            return self._stale_style(role, alert)
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
            return plain_tooltip(self._tooltip(user_id, state, column, alert))
        if role == Qt.ItemDataRole.AccessibleTextRole and alert and column == self.ROUTING:
            return f"Warning: {status_text(state.routing_status if state else None)}"
        return None

    def _stale_style(self, role: int, alert: bool) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(shade(STALE_TEXT))
        if role == Qt.ItemDataRole.FontRole:
            return stale_font(bold=alert)
        return None  # no warning or presence tints on an old picture

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
            names = ", ".join(self._queue_names(user_id))
            if unwatched_call(self._store, user_id):  # Interacting, yet no watched queue is
                return f"{names} · {UNWATCHED_NOTE}" if names else UNWATCHED_NOTE.capitalize()
            return names
        return ""

    def _sort_value(self, row: int, user_id: str, state: UserState | None, column: int) -> Any:
        """The key as last announced (see :meth:`_announce`); time: seconds since the start."""
        keys = self._sort_keys[column]
        if row in keys:
            key = keys[row]
        elif column == self.TIME:
            times = [] if state is None else [state.presence_since, state.routing_since]
            known = [t for t in times if t is not None]
            key = keys[row] = max(known) if known else None
        else:
            key = keys[row] = self._display(user_id, state, column).casefold()
        if column == self.TIME:
            return -1.0 if key is None else max(0.0, (self._now - key).total_seconds())
        return key

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
        if column == self.QUEUES and unwatched_call(self._store, user_id):
            return UNWATCHED_TIP
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
      Qt re-runs the filter over every row a dataChanged names (the 1 Hz tick names them all),
      so the filter is Qt's own, in C++: it reads :data:`FILTER_ROLE`, where the model applies
      the criteria this proxy hands it, and only while a filter is set; with none, a tick over
      50,000 rows calls no Python at all (P9). A ``filterAcceptsRow`` override would be called
      from C++ for every row, filter or not.

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
        self.setFilterRole(FILTER_ROLE)
        self.setFilterKeyColumn(0)
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
            self._refilter(needle, self._queue_id)

    def set_queue(self, queue_id: str | None) -> None:
        """Keep only members of ``queue_id`` (None: everyone)."""
        if queue_id != self._queue_id:
            self._refilter(self._needle, queue_id)

    def set_figure(self, figure: str | None) -> None:
        """Keep only the agents a header-strip figure counts ("not_responding"...; None: all)."""
        model = self.sourceModel()
        if isinstance(model, AgentsModel) and figure != model.figure:
            model.figure = figure
            self._refilter(self._needle, self._queue_id)

    def setSourceModel(self, model: QAbstractItemModel) -> None:  # noqa: N802
        """Use ``model``; an :class:`AgentsModel` gets this proxy's filter."""
        super().setSourceModel(model)
        self._refilter(self._needle, self._queue_id)

    def _refilter(self, needle: str, queue_id: str | None) -> None:
        """Hand the criteria to the model, then have Qt filter again (only if a filter is on)."""
        begin_filter_change(self)
        self._needle, self._queue_id = needle, queue_id
        model = self.sourceModel()
        active = isinstance(model, AgentsModel) and (
            bool(needle) or queue_id is not None or model.figure is not None
        )
        if isinstance(model, AgentsModel):
            model.set_filter(needle, queue_id)
        pattern = "1" if active else ""
        if pattern != self.filterRegularExpression().pattern():
            self.setFilterFixedString(pattern)  # re-filters by itself
        else:
            end_filter_change(self)
