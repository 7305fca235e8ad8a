"""The Queues board's chart and Trend cell, the mini view and the wallboard (offscreen Qt)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, QSettings, QSize, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QMenu, QMenuBar, QStyleOptionViewItem, QTableView
from pytestqt.qtbot import QtBot

from core.feed.entry import FeedEntry
from core.feed.payloads import FeedKind, QueueData
from core.state.intraday import QueueSample
from core.state.kpis import Figures, QueueKpis
from core.state.levels import Level
from core.state.store import Store
from core.storage.journal.journal import Journal
from core.storage.journal.samples import record_samples
from core.streaming.events import PresenceChanged, QueueObserved, RoutingChanged
from gui.models.level_style import level_background
from gui.models.queue_levels import LEVEL_ROLE, QueueLevelsProxy
from gui.models.queues import QueueHistory, QueuesModel
from gui.models.table_base import ID_ROLE
from gui.window.charts import QueueChart
from gui.window.delegates import SparklineDelegate
from gui.window.layouts import Layouts
from gui.window.mini_view import MiniModel, MiniView
from gui.window.queues_board import QueuesBoard
from gui.window.wallboard import TILE_COLOURS, Wallboard, grid_shape

# Noon today, local time: "today" and "the last 30 minutes" then never straddle a midnight.
NOW = datetime.now().astimezone().replace(hour=12, minute=0, second=0, microsecond=0)
NOW = NOW.astimezone(UTC)


def clock() -> datetime:
    return NOW


def _store() -> Store:
    store = Store()
    for queue_id, name, waiting in (("q-sales", "Sales", 9), ("q-help", "Help", 1)):
        store.queue(queue_id).name = name
        store.apply(QueueObserved(queue_id, waiting=waiting, interacting=2, on_queue=4))
    answered_in_time = Figures(offered=10, answered=10, sl_numerator=9, sl_denominator=10)
    store.kpis["q-help"] = QueueKpis("q-help", today=answered_in_time)
    return store


def _queue_entry(at: datetime, queue_id: str, waiting: int) -> FeedEntry:
    data = QueueData("websocket", waiting, None)
    return FeedEntry(at, FeedKind.QUEUE, queue_id, "Sales", f"Sales: {waiting}", "info", data)


# ================================================================== Trend cell
def test_the_trend_cell_is_compact_and_says_its_value(qtbot: QtBot) -> None:
    """Defect 3: two minutes of history in a wide column used to be a smear at the right edge."""
    store = _store()
    model = QueuesModel(store, history=QueueHistory(), clock=clock)
    model.set_queues(["q-sales"])
    for step, waiting in enumerate([0, 2, 5, 3, 7, 6, 4, 8, 6, 5, 7, 9]):  # two minutes
        store.apply(QueueObserved("q-sales", waiting=waiting))
        model.sample(NOW + timedelta(seconds=10 * step))
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegateForColumn(QueuesModel.TREND, SparklineDelegate(view))
    view.setShowGrid(False)
    view.verticalHeader().setDefaultSectionSize(30)
    view.setColumnWidth(QueuesModel.TREND, 600)
    view.resize(1400, 120)
    view.show()
    qtbot.waitExposed(view)
    image = view.viewport().grab().toImage()
    base = view.palette().color(QPalette.ColorRole.Base)
    cell = view.visualRect(model.index(0, QueuesModel.TREND))

    def inked(area: QRect) -> int:
        return sum(
            1
            for y in range(area.top() + 1, area.bottom())
            for x in range(area.left(), area.right())
            if image.pixelColor(x, y) != base
        )

    value = QRect(cell.left(), cell.top(), 30, cell.height())
    far_right = QRect(cell.left() + 300, cell.top(), 300, cell.height())
    assert inked(value) > 10  # the value "9" is written at the left
    assert inked(far_right) == 0  # nothing smeared at the far edge of a wide column
    option = QStyleOptionViewItem()
    option.font = view.font()
    hint = SparklineDelegate().sizeHint(option, model.index(0, QueuesModel.TREND))
    assert hint.width() < 300  # a compact column when fitted


def test_the_trend_value_is_the_live_count_not_the_last_sample(qtbot: QtBot) -> None:
    """Sampled every 10 s, the cell once said 0 beside a Waiting cell that said 3."""
    store = _store()
    model = QueuesModel(store, history=QueueHistory(), clock=clock)
    model.set_queues(["q-sales", "q-help"])
    for queue_id in ("q-sales", "q-help"):
        store.apply(QueueObserved(queue_id, waiting=4))
    model.sample(NOW)
    store.apply(QueueObserved("q-help", waiting=7))  # not sampled yet
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegateForColumn(
        QueuesModel.TREND, SparklineDelegate(view, live_column=QueuesModel.WAITING)
    )
    view.setShowGrid(False)
    view.setColumnWidth(QueuesModel.TREND, 200)
    view.resize(1200, 120)
    view.show()
    qtbot.waitExposed(view)
    image = view.viewport().grab().toImage()

    def value_pixels(row: int) -> list[int]:
        cell = view.visualRect(model.index(row, QueuesModel.TREND))
        return [
            image.pixel(x, y)
            for y in range(cell.top() + 2, cell.bottom() - 1)
            for x in range(cell.left(), cell.left() + 30)
        ]

    # the same history, different counts now: the cells differ where the value is written
    assert value_pixels(0) != value_pixels(1)


# ================================================================== chart and backfill
async def test_the_chart_is_backfilled_from_the_journal_file(
    qtbot: QtBot, tmp_path: Path, settings: QSettings
) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = await Journal.open(path, clock=clock)
    for minutes, waiting in ((50, 1), (20, 4), (10, 9)):
        journal.append(_queue_entry(NOW - timedelta(minutes=minutes), "q-sales", waiting))
    for minutes in range(50, 0, -1):
        at = (NOW - timedelta(minutes=minutes)).timestamp()
        record_samples(journal, {"q-sales": QueueSample(at, None, 0.9 - minutes / 100)}, now=NOW)
    await journal.close()

    journal = await Journal.open(path, clock=clock)  # a restart
    try:
        store = _store()
        model = QueuesModel(store, clock=clock)
        board = QueuesBoard(model, store=store, journal=journal, settings=settings, clock=clock)
        qtbot.addWidget(board)
        model.set_queues(["q-sales", "q-help"])  # the board starts reading the journal back
        assert board.backfill_task is not None
        assert await board.backfill_task > 0
        # at start the rows go from the last known picture to none to the live selection
        model.set_queues([])
        model.set_queues(["q-sales", "q-help"])
        assert board.backfill_task is not None
        assert await board.backfill_task > 0  # read back again, not lost
    finally:
        await journal.close()
    assert board.select_queue("q-sales")
    chart = board.chart
    assert chart.queue_id == "q-sales"
    x, y = chart.waiting_curve.getData()
    assert x is not None and len(x) > 2
    assert max(y) == 9 and min(y) >= 1  # the last half hour: 4 then 9 (1 is older)
    sl_x, sl_y = chart.sl_curve.getData()
    assert sl_x is not None and len(sl_x) > 10 and 50 < sl_y[-1] <= 90
    assert "Sales" in chart.title.text() and "service level" in chart.title.text()
    # the Trend column starts with the half hour too, not empty
    assert len(model.history.series("q-sales")) >= 150

    # labelled axes, clock ticks, a value scale
    item = chart.plot.getPlotItem()
    assert item.getAxis("left").labelText.startswith("Waiting")
    assert item.getAxis("right").labelText.startswith("Service level")
    assert item.getAxis("bottom").labelText == "Time"
    board.resize(900, 600)
    board.show()
    qtbot.waitExposed(board)
    board.grab()  # paints the axes (the time axis measures its labels while painting)
    start = NOW.timestamp() - 1800
    axis = chart.time_axis
    ticks = [
        text
        for spacing, values in axis.tickValues(start, NOW.timestamp(), 600)
        for text in axis.tickStrings(values, 1.0, spacing)
    ]
    assert ticks and all(len(t) == 5 and t[2] == ":" for t in ticks), ticks
    low, high = item.viewRange()[1]
    assert -1 < low < 0 and high >= 9  # a little room under 0, for its label
    assert chart.target_line.isVisible() and chart.target_line.value() == 80  # the SL warning


def test_the_chart_period_is_remembered(qtbot: QtBot, settings: QSettings) -> None:
    board = QueuesBoard(QueuesModel(_store(), clock=clock), settings=settings, clock=clock)
    qtbot.addWidget(board)
    assert board.chart.period == "30min"
    board.chart.set_period("today")
    again = QueueChart(board.history, settings, clock=clock)
    qtbot.addWidget(again)
    assert again.period == "today"
    low, high = again.plot.getPlotItem().viewRange()[0]
    assert high - low > 11 * 3600  # noon: the day so far


def test_live_samples_reach_the_chart_and_the_journal(qtbot: QtBot, settings: QSettings) -> None:
    written: list[object] = []

    class Recorder:
        def submit(self, job: object) -> None:
            written.append(job)

        async def select(self, sql: str, params: object = ()) -> list[tuple[object, ...]]:
            return []

    store = _store()
    model = QueuesModel(store, clock=clock)
    board = QueuesBoard(model, store=store, journal=Recorder(), settings=settings, clock=clock)
    qtbot.addWidget(board)
    model.set_queues(["q-sales", "q-help"])
    assert board.sample(NOW) == 2
    store.apply(QueueObserved("q-sales", waiting=3))
    assert board.sample(NOW + timedelta(seconds=10)) == 1  # Help did not change
    assert len(written) == 1  # one journal write a minute
    board.sample(NOW + timedelta(seconds=70))
    assert len(written) == 2
    assert board.history.samples("q-help")[0] == QueueSample(NOW.timestamp(), 1, 0.9)


# ================================================================== levels and sorting
def test_the_board_is_coloured_by_level_and_sorts(qtbot: QtBot, settings: QSettings) -> None:
    store = _store()
    model = QueuesModel(store, clock=clock)
    board = QueuesBoard(model, store=store, settings=settings, clock=clock)
    qtbot.addWidget(board)
    model.set_queues(["q-sales", "q-help"])
    view = board.view
    assert isinstance(board.levels, QueueLevelsProxy)
    assert isinstance(view.itemDelegateForColumn(QueuesModel.TREND), SparklineDelegate)
    view.sortByColumn(QueuesModel.WAITING, Qt.SortOrder.AscendingOrder)
    ids = [view.model().index(r, 0).data(ID_ROLE) for r in range(2)]
    assert ids == ["q-help", "q-sales"]
    sales = view.model().index(1, QueuesModel.WAITING)
    assert sales.data(LEVEL_ROLE) == "critical"  # 9 waiting: at or over 8
    assert board.select_queue("q-sales")
    assert board.selected_queue() == "q-sales"
    assert view.selectionModel().selectedRows()[0].row() == 1


def test_in_a_surge_the_splits_never_push_the_trend_off_the_board(
    qtbot: QtBot, settings: QSettings
) -> None:
    store = Store()
    store.queue("q-long").name = "Escalations and complaints EN"
    model = QueuesModel(store, clock=clock)
    board = QueuesBoard(model, store=store, settings=settings, clock=clock)
    qtbot.addWidget(board)
    model.set_queues(["q-long"])
    board.resize(1200, 500)
    board.show()
    qtbot.waitExposed(board)
    for media in ("voice", "chat", "message", "email", "callback"):
        store.apply(QueueObserved("q-long", waiting=12, interacting=15, media_type=media))
    model.update_queues(["q-long"])
    for _ in range(3):  # every update widens again
        board.widen_count_columns()
    view, header = board.view, board.view.horizontalHeader()
    trend_left = header.sectionViewportPosition(QueuesModel.TREND)
    assert trend_left + view.sizeHintForColumn(QueuesModel.TREND) <= view.viewport().width()
    assert header.sectionSize(QueuesModel.NAME) >= view.sizeHintForColumn(QueuesModel.NAME)
    assert header.sectionSize(QueuesModel.TREND) >= view.sizeHintForColumn(QueuesModel.TREND)
    assert header.sectionSize(QueuesModel.INTERACTING) > 80  # grown, as far as there is room


# ================================================================== mini view
def test_the_mini_view_lists_queues_on_top_and_remembers_its_place(
    qtbot: QtBot, settings: QSettings
) -> None:
    store = _store()
    model = QueuesModel(store, clock=clock)
    model.set_queues(["q-sales", "q-help"])
    levels = QueueLevelsProxy(model, settings=settings, clock=clock)
    mini = MiniView(levels, settings)
    qtbot.addWidget(mini)
    assert mini.windowFlags() & Qt.WindowType.WindowStaysOnTopHint
    mini.open()
    qtbot.waitExposed(mini)
    rows = [
        [mini.model.index(r, c).data() for c in range(mini.model.columnCount())]
        for r in range(mini.model.rowCount())
    ]
    assert rows == [["Sales", "9", "—"], ["Help", "1", "90 %"]]
    fill = mini.model.index(0, MiniModel.WAITING).data(Qt.ItemDataRole.BackgroundRole)
    assert fill.color() == level_background(Level.CRITICAL)
    assert mini.model.index(1, MiniModel.WAITING).data(Qt.ItemDataRole.BackgroundRole) is None

    mini.move(QPoint(123, 77))
    mini.resize(QSize(300, 140))
    mini.close()
    assert str(settings.value("miniView/open")).lower() == "false"
    again = MiniView(levels, settings)
    qtbot.addWidget(again)
    again.open()
    qtbot.waitExposed(again)
    assert again.size() == QSize(300, 140)
    assert again.geometry() == mini.geometry()

    store.apply(QueueObserved("q-help", waiting=5))  # the board's model says so: the view follows
    model.update_queues(["q-help"])
    assert again.model.index(1, MiniModel.WAITING).data() == "5"


def test_the_view_menu_opens_both_layouts(qtbot: QtBot, settings: QSettings) -> None:
    store = _store()
    model = QueuesModel(store, clock=clock)
    board = QueuesBoard(model, store=store, settings=settings, clock=clock)
    qtbot.addWidget(board)
    bar = QMenuBar()
    qtbot.addWidget(bar)
    layouts = Layouts(board, store, settings)
    layouts.add_menu(bar)
    menu = bar.findChild(QMenu, "viewMenu")
    assert menu is not None
    texts = [a.text().replace("&", "") for a in menu.actions()]
    assert texts == ["Mini view", "Wallboard"]
    assert layouts.wallboard_action.shortcut().toString() == "F11"
    layouts.mini_action.trigger()
    assert layouts.mini_view is not None and layouts.mini_view.isVisible()
    layouts.mini_view.close()
    assert not layouts.mini_action.isChecked()
    layouts.wallboard_action.trigger()
    assert layouts.wallboard is not None and layouts.wallboard.isVisible()
    layouts.close_all()


# ================================================================== wallboard
def test_the_wallboard_shows_big_coloured_tiles_and_esc_leaves(
    qtbot: QtBot, settings: QSettings
) -> None:
    store = _store()
    store.user("u-ana").name = "Ana"
    store.apply(PresenceChanged("u-ana", "def-on", "ON_QUEUE", "", NOW))
    store.apply(RoutingChanged("u-ana", "IDLE", NOW))
    store.user("u-ana").active_queue_ids = ("q-help",)
    model = QueuesModel(store, clock=clock)
    model.set_queues(["q-sales", "q-help"])
    levels = QueueLevelsProxy(model, settings=settings, clock=clock)
    board = Wallboard(levels, store)
    qtbot.addWidget(board)
    board.open()
    qtbot.waitExposed(board)
    assert board.isFullScreen()
    texts = board.tile_texts()
    assert texts[0].startswith("Sales: 9 waiting") and texts[0].endswith("critical: waiting")
    assert "SL 90 %" in texts[1] and "1 agent free" in texts[1]
    assert board.tiles[0].fill == QColor(TILE_COLOURS[Level.CRITICAL][0])
    assert board.tiles[1].fill == QColor(TILE_COLOURS[Level.OK][0])
    # read across the room: the count takes a big share of its tile, and grows with it
    screen = board.screen().geometry()
    qtbot.waitUntil(lambda: board.size() == screen.size(), timeout=2000)
    big = board.tiles[0].waiting.font().pixelSize()
    assert big >= board.tiles[0].height() * 0.3
    board.showNormal()
    board.resize(screen.width() // 3, screen.height() // 3)
    qtbot.waitUntil(lambda: board.tiles[0].waiting.font().pixelSize() < big / 2, timeout=2000)

    with qtbot.waitSignal(board.closed, timeout=2000):
        qtbot.keyClick(board, Qt.Key.Key_Escape)  # type: ignore[no-untyped-call]
    assert not board.isVisible()
    assert not board.timer.isActive()


@pytest.mark.parametrize(("count", "shape"), [(1, (1, 1)), (4, (2, 2)), (6, (3, 2))])
def test_the_wallboard_grid_follows_the_screen(count: int, shape: tuple[int, int]) -> None:
    assert grid_shape(count, 1600, 900) == shape
