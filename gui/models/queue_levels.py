"""The Queues board coloured by level: a proxy over :class:`gui.models.queues.QueuesModel`.

The figure cells (Waiting, Longest wait and, when the model has it, Service level) get the strong
fill of their own level (gui.models.level_style); the rest of a row out of limits gets its
row tint, so the row reads as one; the Name cell carries the level's icon (a triangle for a
warning, an octagon for critical), or a bell while an alert fires for the queue, and a bold
name. Words come with the colours: the Name cell's tooltip and accessible text say the level
and the firing alerts.

Columns are found by the model's column constants (``QueuesModel.WAITING`` ...), never by
number, since the board grows columns. The levels are read from the store under the thresholds
of Settings (gui.thresholds) and cached until the source says something changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QIdentityProxyModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSettings,
    Qt,
)
from PySide6.QtGui import QBrush, QFont

from core.alerts.model import Alert, AlertState
from core.state.levels import QueueGlance, Thresholds, queue_glance
from core.state.store import Store
from gui.models.level_style import (
    LEVEL_WORDS,
    alert_icon,
    level_background,
    level_foreground,
    level_icon,
    row_tint,
)
from gui.models.queues import QueuesModel
from gui.models.table_base import ALERT_ROLE, ID_ROLE
from gui.thresholds import load_thresholds

logger = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex

LEVEL_ROLE = int(Qt.ItemDataRole.UserRole) + 40
"""str: the cell's level ("ok", "warning", "critical"; "" when not known or not a figure)."""
ROW_LEVEL_ROLE = int(Qt.ItemDataRole.UserRole) + 41
"""str: the row's level, the worst of its figures ("ok" when none is known)."""
FIRING_ROLE = int(Qt.ItemDataRole.UserRole) + 42
"""list[str]: the names of the rules firing for the row's queue (empty: none)."""

_SERVICE_LEVEL_NAMES = ("SERVICE_LEVEL", "SL", "SERVICE_LEVEL_PCT")
_STYLE_ROLES = [
    int(Qt.ItemDataRole.BackgroundRole),
    int(Qt.ItemDataRole.ForegroundRole),
    int(Qt.ItemDataRole.FontRole),
    int(Qt.ItemDataRole.DecorationRole),
    int(Qt.ItemDataRole.ToolTipRole),
    LEVEL_ROLE,
    ROW_LEVEL_ROLE,
    FIRING_ROLE,
    ALERT_ROLE,
]


class QueueLevelsProxy(QIdentityProxyModel):
    """The Queues board's rows and cells, coloured and marked by level.

    Feed it :meth:`set_alerts` with the alert pipeline's active alerts, and :meth:`refresh` when
    the thresholds change; it follows the source model's own changes by itself.
    """

    def __init__(
        self,
        source: QueuesModel,
        store: Store | None = None,
        thresholds: Callable[[], Thresholds] | None = None,
        *,
        settings: QSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        parent: QObject | None = None,
    ) -> None:
        """Wrap ``source``.

        Args:
            source: the Queues board's model.
            store: where the levels are read; None: the store ``source`` reads now (it follows
                the model to an old picture and back).
            thresholds: asked again on every refresh (Settings may change); None: those kept
                in ``settings`` (None: the application's QSettings).
            settings: see ``thresholds``.
            clock: now, for the longest waits (default: the wall clock, UTC).
            parent: the Qt parent.
        """
        super().__init__(parent)
        self._own_store = store
        kept = settings if settings is not None else QSettings()
        self._thresholds = thresholds or (lambda: load_thresholds(kept))
        self._clock = clock or (lambda: datetime.now(UTC))
        self._glances: dict[str, QueueGlance] | None = None
        self._firing: dict[str, list[str]] = {}
        self._bold: QFont | None = None
        self._figures: dict[int, str] = {}
        self.setSourceModel(source)
        source.dataChanged.connect(self._on_source_data_changed)
        source.modelReset.connect(self._invalidate)
        source.rowsInserted.connect(self._invalidate)
        source.rowsRemoved.connect(self._invalidate)

    def setSourceModel(self, source: Any) -> None:  # noqa: N802 - Qt override
        """Find the figure columns by the model's constants (their numbers may move)."""
        super().setSourceModel(source)
        kind = type(source)
        figures = {
            getattr(kind, "WAITING", None): "waiting",
            getattr(kind, "LONGEST_WAIT", None): "longest_wait",
        }
        for name in _SERVICE_LEVEL_NAMES:
            column = getattr(kind, name, None)
            if isinstance(column, int):
                figures[column] = "sl"
                break
        self._figures = {c: f for c, f in figures.items() if isinstance(c, int)}
        self._glances = None

    # ------------------------------------------------------------------ feeding
    def set_alerts(self, alerts: Iterable[Alert]) -> None:
        """The active alerts: rows of queues with a firing one are marked (acknowledged: not)."""
        firing: dict[str, list[str]] = {}
        for alert in alerts:
            if alert.state is AlertState.FIRING and alert.subject_kind == "queue":
                firing.setdefault(alert.subject_id, []).append(alert.rule_name)
        if firing != self._firing:
            self._firing = firing
            self._restyle_all()

    def refresh(self) -> None:
        """Read the levels again (the thresholds changed, or the clock moved on)."""
        self._glances = None
        self._restyle_all()

    # ------------------------------------------------------------------ queries
    def glance(self, row: int) -> QueueGlance | None:
        """The levels of the queue shown in ``row`` (None for an unknown queue)."""
        queue_id = self.index(row, 0).data(ID_ROLE)
        return self._levels().get(queue_id) if isinstance(queue_id, str) else None

    # ------------------------------------------------------------------ Qt
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """The source's data, with the level's colours, fonts, icons and words on top."""
        if role not in _STYLE_ROLES or not index.isValid():
            return super().data(index, role)
        queue_id = super().data(self.index(index.row(), 0), ID_ROLE)
        glance = self._levels().get(queue_id) if isinstance(queue_id, str) else None
        firing = self._firing.get(queue_id, []) if isinstance(queue_id, str) else []
        if glance is None:
            return super().data(index, role)
        column = index.column()
        cell = self._cell_level(glance, column)
        row = glance.level
        if role == LEVEL_ROLE:
            return "" if cell is None else cell.word
        if role == ROW_LEVEL_ROLE:
            return row.word
        if role == FIRING_ROLE:
            return list(firing)
        if role == ALERT_ROLE:
            return bool(firing) or bool(super().data(index, role))
        strong = cell is not None and cell > 0
        if role == Qt.ItemDataRole.BackgroundRole:
            colour = level_background(cell) if strong else row_tint(row)
            return QBrush(colour) if colour is not None else super().data(index, role)
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = level_foreground(cell) if strong else None
            return QBrush(colour) if colour is not None else super().data(index, role)
        name = column == getattr(type(self.sourceModel()), "NAME", 0)
        if role == Qt.ItemDataRole.FontRole:
            if strong or (name and (row > 0 or firing)):
                return self._bold_font(underline=name and bool(firing))
            return super().data(index, role)
        if role == Qt.ItemDataRole.DecorationRole and name:
            if firing:
                return alert_icon()
            return level_icon(row) or super().data(index, role)
        if role == Qt.ItemDataRole.ToolTipRole and (name or strong):
            words = [f"{glance.name}: {LEVEL_WORDS[row]}"]
            if row > 0:
                words = [glance.problem_line()]
            if firing:
                words.append("Alert firing: " + ", ".join(firing))
            return "\n".join(words)
        return super().data(index, role)

    # ------------------------------------------------------------------ helpers
    def _cell_level(self, glance: QueueGlance, column: int) -> Any:
        figure = self._figures.get(column)
        if figure == "waiting":
            return glance.waiting_level
        if figure == "longest_wait":
            return glance.longest_wait_level
        if figure == "sl":
            return glance.service_level_level
        return None

    def _levels(self) -> dict[str, QueueGlance]:
        if self._glances is None:
            thresholds, now = self._thresholds(), self._clock()
            store = self._store()
            self._glances = {
                q.id: queue_glance(store, q, thresholds.for_queue(q.id), now)
                for q in store.queues.values()
            }
        return self._glances

    def _store(self) -> Store:
        """The given store, else the one the source model reads now."""
        if self._own_store is not None:
            return self._own_store
        store = getattr(self.sourceModel(), "_store", None)  # QueuesModel.use_store's choice
        return store if isinstance(store, Store) else Store()

    def _bold_font(self, *, underline: bool) -> QFont:
        if self._bold is None:
            self._bold = QFont()
            self._bold.setBold(True)
        if not underline:
            return self._bold
        font = QFont(self._bold)
        font.setUnderline(True)
        return font

    def _restyle_all(self) -> None:
        rows, columns = self.rowCount(), self.columnCount()
        if rows and columns:
            self.dataChanged.emit(self.index(0, 0), self.index(rows - 1, columns - 1), _STYLE_ROLES)

    def _invalidate(self, *_: object) -> None:
        self._glances = None

    def _on_source_data_changed(
        self, top_left: QModelIndex, bottom_right: QModelIndex, *_: object
    ) -> None:
        """A row's figures moved: its whole row may change colour, not only the cells that moved."""
        self._glances = None
        last = self.columnCount() - 1
        if last >= 0 and top_left.isValid() and bottom_right.isValid():
            self.dataChanged.emit(
                self.index(top_left.row(), 0), self.index(bottom_right.row(), last), _STYLE_ROLES
            )
