"""The Queues board: the queues table above, the intraday chart of the selected queue below.

Kept apart from the main window so the board can grow (drill-down, charts) without the window
growing with it. The board also keeps the intraday history the chart draws: it samples the
queues every :data:`SAMPLE_INTERVAL_MS`, writes a sample a minute to the journal, and at start
reads the day back from the journal (:mod:`core.storage.journal.samples`), so a restart does not
empty the chart or the Trend column.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from PySide6.QtCore import (
    QItemSelection,
    QModelIndex,
    QSettings,
    QSortFilterProxyModel,
    Qt,
    QTimer,
)
from PySide6.QtWidgets import QSplitter, QTableView, QVBoxLayout, QWidget

from core.state.intraday import IntradayHistory, QueueSample, local_midnight
from core.state.levels import service_level
from core.state.store import QueueState, Store
from core.storage.journal.samples import RECORD_INTERVAL_S, SamplesJournal, load_samples
from core.storage.journal.samples import record_samples as journal_record_samples
from gui.models.queue_levels import QueueLevelsProxy
from gui.models.queues import QueuesModel
from gui.models.table_base import HISTORY_INTERVAL_S, HISTORY_POINTS, ID_ROLE, SORT_ROLE
from gui.thresholds import load_thresholds
from gui.window.charts import QueueChart
from gui.window.delegates import CountSplitDelegate, SparklineDelegate
from gui.window.tables import board_table

logger = logging.getLogger(__name__)

SAMPLE_INTERVAL_MS: Final = 10_000
SPLITTER_KEY: Final = "queues/splitter"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def queue_service_level(store: Store, queue: QueueState) -> float | None:
    """Today's service level of a queue (0..1): the store's KPIs, else what the levels read."""
    kpis = store.kpis.get(queue.id)
    if kpis is not None:
        return kpis.today.service_level
    level, _ = service_level(queue)
    return level


class QueuesBoard(QWidget):
    """The Queues tab's page: the table over :class:`QueuesModel` and the intraday chart.

    The table reads the model through the level colouring and a sort proxy, so a
    click on a header sorts by the cell's raw value (:data:`SORT_ROLE`); use :meth:`select_queue`
    rather than model rows to select a queue.

    Signals: none of its own.
    """

    def __init__(
        self,
        model: QueuesModel,
        parent: QWidget | None = None,
        *,
        store: Store | None = None,
        journal: SamplesJournal | None = None,
        settings: QSettings | None = None,
        clock: Callable[[], datetime] = _utc_now,
        sl_target: Callable[[str], float | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.store = store
        self.journal = journal
        self.settings = settings or QSettings()
        self._clock = clock
        self.history = IntradayHistory()
        self._backfilled: set[str] = set()
        self._recorded_at: datetime | None = None
        self.backfill_task: asyncio.Task[int] | None = None  # the latest journal read-back

        # model -> level colours (gui.models.queue_levels) -> sort -> view; the proxies keep
        # the model's columns, so the delegates keyed by its column constants still apply.
        self.levels = QueueLevelsProxy(model, settings=self.settings, clock=clock, parent=self)
        self.sorter = QSortFilterProxyModel(self)
        self.sorter.setSortRole(SORT_ROLE)
        self.sorter.setSourceModel(self.levels)
        self.view: QTableView = board_table(self.sorter, "queuesView")
        trend = SparklineDelegate(self.view, live_column=model.WAITING)
        self.view.setItemDelegateForColumn(model.TREND, trend)
        counts = CountSplitDelegate(self.view)
        for column in (model.WAITING, model.INTERACTING):
            self.view.setItemDelegateForColumn(column, counts)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the watch's order until a click
        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)

        self.chart = QueueChart(
            self.history, self.settings, clock=clock, sl_target=sl_target or self._sl_warning
        )
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("queuesSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.chart)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        saved = self.settings.value(SPLITTER_KEY)
        if saved is not None:
            self.splitter.restoreState(saved)
        self.splitter.splitterMoved.connect(self._on_splitter_moved)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)

        model.modelReset.connect(self._on_rows_changed)
        model.rowsInserted.connect(self._on_rows_changed)
        self.timer = QTimer(self)
        self.timer.setInterval(SAMPLE_INTERVAL_MS)
        self.timer.timeout.connect(self._on_timer_timeout)
        self.timer.start()
        self._show_selected()

    def _sl_warning(self, queue_id: str) -> float | None:
        """The queue's service level warning threshold in percent (the chart's target line)."""
        return load_thresholds(self.settings).for_queue(queue_id).service_level_pct.warning

    # ------------------------------------------------------------------ selection
    def select_queue(self, queue_id: str) -> bool:
        """Select a queue's row (whatever the sort) and scroll to it; False when not shown."""
        row = self.model.row_of(queue_id)
        if row < 0:
            return False
        index = self.sorter.mapFromSource(self._levels_index(row))
        self.view.selectRow(index.row())
        self.view.scrollTo(index)
        return True

    def selected_queue(self) -> str | None:
        """The queue of the selected row, or None."""
        rows = self.view.selectionModel().selectedRows()
        return str(rows[0].data(ID_ROLE)) if rows else None

    def _levels_index(self, row: int) -> QModelIndex:
        return self.levels.mapFromSource(self.model.index(row, 0))

    def _on_selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        queue_id = self.selected_queue()
        name = ""
        if queue_id is not None:
            row = self.model.row_of(queue_id)
            name = str(self.model.index(row, self.model.NAME).data()) if row >= 0 else ""
        self.chart.show_queue(queue_id, name, self._queue_ids())

    def _queue_ids(self) -> list[str]:
        return [self.model.queue_id(row) for row in range(self.model.rowCount())]

    # ------------------------------------------------------------------ sampling
    def sample(self, now: datetime | None = None) -> int:
        """Sample every shown queue into the history; returns how many were kept.

        Once a minute the latest samples also go to the journal. An old picture (the model is
        stale) is never sampled: the history is of the live queues only.
        """
        if self.model.stale or self.store is None:
            return 0
        at = now if now is not None else self._clock()
        latest: dict[str, QueueSample] = {}
        kept = 0
        for queue_id in self._queue_ids():
            queue = self.store.queues.get(queue_id)
            if queue is None or queue.waiting is None:
                continue
            sample = QueueSample(
                at.timestamp(), queue.waiting, queue_service_level(self.store, queue)
            )
            latest[queue_id] = sample
            kept += self.history.add(queue_id, sample)
        self.history.trim((local_midnight(at) - timedelta(hours=1)).timestamp())
        due = self._recorded_at is None or (
            (at - self._recorded_at).total_seconds() >= RECORD_INTERVAL_S
        )
        if self.journal is not None and latest and due:
            self._recorded_at = at
            journal_record_samples(self.journal, latest, now=at)
        self.chart.refresh()
        return kept

    def _on_timer_timeout(self) -> None:
        self.sample()

    # ------------------------------------------------------------------ backfill
    def _on_rows_changed(self, *_args: object) -> None:
        """New rows: read their day back from the journal (once per showing).

        A queue no longer shown is forgotten and read back again when it returns: at start the
        rows go from the last known picture to none to the live selection, and a forgotten
        queue must not come back with an empty chart.
        """
        shown = self._queue_ids()
        self.history.retain(shown)
        self._backfilled.intersection_update(shown)
        self._show_selected()
        missing = [q for q in shown if q not in self._backfilled]
        if self.journal is None or not missing:
            return
        self._backfilled.update(missing)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous test): the caller may await backfill() itself
        self.backfill_task = asyncio.ensure_future(self.backfill(missing))

    async def backfill(self, queue_ids: list[str] | None = None) -> int:
        """Read today back from the journal into the history and the Trend column.

        Returns how many samples were new.
        """
        if self.journal is None:
            return 0
        ids = queue_ids if queue_ids is not None else self._queue_ids()
        self._backfilled.update(ids)
        now = self._clock()
        found = await load_samples(self.journal, ids, local_midnight(now))
        added = self.history.backfill(found)
        self._fill_trend(ids, now)
        self.chart.refresh()
        logger.info("queue history read back: %d samples for %d queues", added, len(ids))
        return added

    def _fill_trend(self, queue_ids: list[str], now: datetime) -> None:
        """Give the Trend column its last 30 minutes from the history (queues it has none of)."""
        trend = self.model.history
        span = HISTORY_POINTS * HISTORY_INTERVAL_S
        start = now.timestamp() - span
        for queue_id in queue_ids:
            if trend.series(queue_id):
                continue
            steps = self.history.waiting(queue_id, start, now.timestamp())
            if not steps.finite:
                continue
            slot = start
            points = list(zip(steps.x, steps.y, strict=True))
            value: float | None = None
            cursor = 0
            while slot <= now.timestamp():
                while cursor < len(points) and points[cursor][0] <= slot:
                    value = points[cursor][1]
                    cursor += 1
                if value is not None and not math.isnan(value):
                    trend.add(queue_id, int(value), datetime.fromtimestamp(slot, UTC))
                slot += HISTORY_INTERVAL_S
        rows = self.model.rowCount()
        if rows:
            self.model.dataChanged.emit(
                self.model.index(0, self.model.TREND), self.model.index(rows - 1, self.model.TREND)
            )

    # ------------------------------------------------------------------ layout
    def _on_splitter_moved(self, _pos: int, _index: int) -> None:
        self.settings.setValue(SPLITTER_KEY, self.splitter.saveState())

    def widen_count_columns(self) -> None:
        """Grow Name, Trend, Waiting and Interacting (never shrink them): nothing cut off.

        The name gets its whole text with the level's icon and bold. A split by media grows
        its column only as far as the row still shows the Trend cell whole (the columns after
        it may scroll); beyond that the split is elided (the total never is, and the tooltip
        has it all): in a surge the splits grow long and used to push the trend off the
        board. Measuring asks every row for its size, so it waits until the board is in view.
        """
        if not self.view.isVisible():
            return
        header = self.view.horizontalHeader()
        name = self.model.NAME
        wanted_name = self.view.sizeHintForColumn(name)
        if wanted_name > header.sectionSize(name):
            header.resizeSection(name, wanted_name)
        trend = self.model.TREND
        trend_room = self.view.sizeHintForColumn(trend) if not header.isSectionHidden(trend) else 0
        if trend_room > header.sectionSize(trend):  # its value, line and scale, whole
            header.resizeSection(trend, trend_room)
        before_trend = [  # the columns shown left of the trend (the KPIs after it may scroll)
            c
            for c in range(header.count())
            if header.visualIndex(c) < header.visualIndex(trend) and not header.isSectionHidden(c)
        ]
        for column in (self.model.WAITING, self.model.INTERACTING):
            others = sum(header.sectionSize(c) for c in before_trend if c != column)
            room = self.view.viewport().width() - others - trend_room
            current = header.sectionSize(column)
            wanted = min(self.view.sizeHintForColumn(column), max(room, current))
            if wanted > current:
                header.resizeSection(column, wanted)
