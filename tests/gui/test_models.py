"""The table models, proxies and the sparkline delegate, over a real Store fed real events.

Every model and proxy goes through Qt's own QAbstractItemModelTester (``qtmodeltester``) before
and after it changes; the ``check`` fixture also keeps a tester attached, so every later signal
(insert, trim, reset, dataChanged) is checked as it happens, and any complaint is a Qt warning,
which ``qt_log_level_fail = WARNING`` turns into a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QImage, QPalette
from PySide6.QtTest import QAbstractItemModelTester, QSignalSpy
from PySide6.QtWidgets import QApplication, QTableView
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from core.domain.format import clock_text
from core.feed.entry import KINDS, FeedEntry
from core.state.store import Store
from core.streaming.events import (
    ActiveQueuesChanged,
    Event,
    PresenceChanged,
    QueueConversationChanged,
    QueueMembershipChanged,
    QueueObserved,
    RoutingChanged,
)
from gui.models.agents import AgentsFilterProxy, AgentsModel
from gui.models.feed import FeedFilterProxy, FeedModel
from gui.models.presence_style import (
    PRESENCE_COLOURS,
    contrast_ratio,
    is_dark,
    presence_colour,
)
from gui.models.queues import MEDIA_SPLIT_ROLE, QueueHistory, QueuesModel
from gui.models.table_base import ALERT_ROLE, ENTRY_ROLE, HISTORY_ROLE, ID_ROLE, SORT_ROLE
from gui.window.delegates import CountSplitDelegate, SparklineDelegate

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
DISPLAY = Qt.ItemDataRole.DisplayRole
Index = QModelIndex | QPersistentModelIndex
Check = Callable[[QAbstractItemModel], None]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fixed_clock(seconds: float) -> Callable[[], datetime]:
    return lambda: at(seconds)


@pytest.fixture(autouse=True)
def _app(qapp: QApplication) -> QApplication:
    """Icons and fonts need the QApplication (pytest-qt's, offscreen)."""
    return qapp


@pytest.fixture
def check(qtmodeltester: ModelTester) -> Iterator[Check]:
    """A full model-tester pass now, plus a tester that checks every later signal."""
    watchers: list[QAbstractItemModelTester] = []

    def run(model: QAbstractItemModel) -> None:
        qtmodeltester.check(model)  # type: ignore[no-untyped-call]
        watchers.append(
            QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning)
        )

    yield run
    watchers.clear()


@pytest.fixture
def store() -> Store:
    """Three agents, two queues, fed the way the engine feeds it (names as the service sets)."""
    store = Store()
    store.presence_labels.update({"def-onq": "On Queue", "def-lunch": "Lunch", "def-av": "Ready"})
    for user_id, name in (("u-ana", "Ana Lima"), ("u-bo", "bo Berg"), ("u-cy", "Cy Dunn")):
        store.user(user_id).name = name
    for queue_id, name in (("q-sales", "Sales"), ("q-support", "Support")):
        store.queue(queue_id).name = name
    events: list[Event] = [
        PresenceChanged("u-ana", "def-onq", "ON_QUEUE", "", at(0)),
        RoutingChanged("u-ana", "INTERACTING", at(30)),
        PresenceChanged("u-bo", "def-lunch", "MEAL", "back at one", at(10)),
        RoutingChanged("u-bo", "OFF_QUEUE", at(10)),
        PresenceChanged("u-cy", "def-onq", "ON_QUEUE", "", at(5)),
        RoutingChanged("u-cy", "IDLE", at(50)),
        QueueMembershipChanged("q-sales", "u-ana", True),
        QueueMembershipChanged("q-sales", "u-cy", True),
        QueueMembershipChanged("q-support", "u-cy", True),
        QueueMembershipChanged("q-support", "u-bo", False),
        QueueObserved("q-sales", waiting=3, interacting=2, on_queue=5, off_queue=1),
        QueueObserved("q-support", waiting=0, interacting=1, on_queue=2, off_queue=4),
        QueueConversationChanged("q-sales", "c-1", "waiting", None, at(100)),
        QueueConversationChanged("q-sales", "c-2", "waiting", None, at(160)),
    ]
    for event in events:
        store.apply(event)
    return store


@pytest.fixture
def agents(store: Store) -> AgentsModel:
    model = AgentsModel(store, clock=fixed_clock(200))
    model.set_users(["u-ana", "u-bo", "u-cy"])
    return model


def column(model: QAbstractItemModel, col: int, role: int = DISPLAY) -> list[object]:
    return [model.index(row, col).data(role) for row in range(model.rowCount())]


def ids(model: QAbstractItemModel) -> list[object]:
    return column(model, 0, ID_ROLE)


# ================================================================================== agents
def test_agents_show_names_org_labels_routing_time_and_queues(
    agents: AgentsModel, check: Check
) -> None:
    check(agents)
    assert column(agents, AgentsModel.NAME) == ["Ana Lima", "bo Berg", "Cy Dunn"]
    assert column(agents, AgentsModel.PRESENCE) == ["On Queue", "Lunch", "On Queue"]
    assert column(agents, AgentsModel.ROUTING) == ["Interacting", "Off Queue", "Idle"]
    # later of presence and routing: Ana 30 s, Bo 10 s, Cy 50 s; the clock says 200 s
    assert column(agents, AgentsModel.TIME) == ["02:50", "03:10", "02:30"]
    assert column(agents, AgentsModel.TIME, SORT_ROLE) == [170.0, 190.0, 150.0]
    assert column(agents, AgentsModel.QUEUES) == ["Sales", "", "Sales, Support"]
    chip = agents.index(1, AgentsModel.PRESENCE).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(chip, QIcon) and not chip.isNull()
    assert "back at one" in agents.index(1, AgentsModel.PRESENCE).data(Qt.ItemDataRole.ToolTipRole)


def test_durations_are_mm_ss_then_h_mm_ss() -> None:
    assert clock_text(0) == "00:00"
    assert clock_text(59.4) == "00:59"
    assert clock_text(59.9) == "01:00"  # one rounding for every duration: to the nearest second
    assert clock_text(3599) == "59:59"
    assert clock_text(3725) == "1:02:05"
    assert clock_text(-5) == "00:00"


def test_update_users_changes_known_rows_and_appends_new_ones_in_one_insert(
    agents: AgentsModel, store: Store, check: Check
) -> None:
    check(agents)
    events: list[Event] = [
        RoutingChanged("u-bo", "IDLE", at(120)),
        PresenceChanged("u-dee", "def-av", "AVAILABLE", "", at(90)),
        PresenceChanged("u-eve", "def-onq", "ON_QUEUE", "", at(95)),
    ]
    for event in events:
        store.apply(event)
    store.user("u-dee").name = "Dee Fox"
    changed = QSignalSpy(agents.dataChanged)
    inserted = QSignalSpy(agents.rowsInserted)

    agents.update_users(["u-bo", "u-dee", "u-eve", "u-dee"])

    assert changed.count() == 1
    top_left, bottom_right, _roles = changed.at(0)
    assert (top_left.row(), bottom_right.row()) == (1, 1)
    assert agents.index(1, AgentsModel.ROUTING).data() == "Idle"
    assert inserted.count() == 1
    assert inserted.at(0)[1:] == [3, 4]
    # rows already shown never move; new ones are appended in the order given
    assert ids(agents) == ["u-ana", "u-bo", "u-cy", "u-dee", "u-eve"]
    assert agents.index(3, AgentsModel.PRESENCE).data() == "Ready"
    assert agents.index(4, AgentsModel.NAME).data() == "u-eve"  # no name yet: the short id
    check(agents)


def test_tick_changes_only_the_time_column(agents: AgentsModel, check: Check) -> None:
    check(agents)
    before = {c: column(agents, c) for c in range(agents.columnCount()) if c != AgentsModel.TIME}
    spy = QSignalSpy(agents.dataChanged)

    agents.tick(at(260))

    assert spy.count() == 1
    top_left, bottom_right, roles = spy.at(0)
    assert top_left.column() == bottom_right.column() == AgentsModel.TIME
    assert (top_left.row(), bottom_right.row()) == (0, agents.rowCount() - 1)
    assert int(DISPLAY) in roles and SORT_ROLE in roles
    assert column(agents, AgentsModel.TIME) == ["03:50", "04:10", "03:30"]
    assert before == {
        c: column(agents, c) for c in range(agents.columnCount()) if c != AgentsModel.TIME
    }


def test_tick_on_an_empty_model_emits_nothing(store: Store, check: Check) -> None:
    model = AgentsModel(store, clock=fixed_clock(0))
    check(model)
    spy = QSignalSpy(model.dataChanged)
    model.tick(at(1))
    assert spy.count() == 0


def test_not_responding_stands_out_without_relying_on_colour(
    agents: AgentsModel, store: Store, check: Check
) -> None:
    check(agents)
    store.apply(RoutingChanged("u-cy", "NOT_RESPONDING", at(180)))
    agents.update_users(["u-cy"])
    row = 2
    assert agents.index(row, AgentsModel.ROUTING).data() == "Not Responding"
    for col in range(agents.columnCount()):
        index = agents.index(row, col)
        font = index.data(Qt.ItemDataRole.FontRole)
        assert isinstance(font, QFont) and font.bold()
        assert isinstance(index.data(Qt.ItemDataRole.ForegroundRole), QBrush)
        assert isinstance(index.data(Qt.ItemDataRole.BackgroundRole), QBrush)
        assert index.data(ALERT_ROLE) is True
    marker = agents.index(row, AgentsModel.ROUTING).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(marker, QIcon) and not marker.isNull()
    accessible = agents.index(row, AgentsModel.ROUTING).data(Qt.ItemDataRole.AccessibleTextRole)
    assert accessible == "Warning: Not Responding"
    # the other rows stay plain
    for other in (0, 1):
        assert agents.index(other, AgentsModel.NAME).data(Qt.ItemDataRole.FontRole) is None
        assert agents.index(other, AgentsModel.ROUTING).data(ALERT_ROLE) is False
        assert agents.index(other, AgentsModel.ROUTING).data(Qt.ItemDataRole.DecorationRole) is None


def test_proxy_sorts_by_seconds_in_state_and_by_name_ignoring_case(
    agents: AgentsModel, store: Store, check: Check
) -> None:
    proxy = AgentsFilterProxy()
    proxy.setSourceModel(agents)
    check(proxy)

    proxy.sort(AgentsModel.TIME, Qt.SortOrder.AscendingOrder)
    assert ids(proxy) == ["u-cy", "u-ana", "u-bo"]  # 150 s, 170 s, 190 s
    proxy.sort(AgentsModel.TIME, Qt.SortOrder.DescendingOrder)
    assert ids(proxy) == ["u-bo", "u-ana", "u-cy"]

    proxy.sort(AgentsModel.NAME, Qt.SortOrder.AscendingOrder)
    assert column(proxy, AgentsModel.NAME) == ["Ana Lima", "bo Berg", "Cy Dunn"]

    # a state change re-sorts live (dynamic sort): Ana just changed, so she has the least time
    proxy.sort(AgentsModel.TIME, Qt.SortOrder.AscendingOrder)
    store.apply(RoutingChanged("u-ana", "IDLE", at(199)))
    agents.update_users(["u-ana"])
    assert ids(proxy) == ["u-ana", "u-cy", "u-bo"]
    # the 1 Hz tick reaches the view through the proxy, order intact
    agents.tick(at(500))
    assert column(proxy, AgentsModel.TIME) == ["05:01", "07:30", "08:10"]
    check(proxy)


def test_proxy_searches_name_presence_and_routing_and_filters_by_queue(
    agents: AgentsModel, store: Store, check: Check
) -> None:
    proxy = AgentsFilterProxy()
    proxy.setSourceModel(agents)
    check(proxy)

    def shown() -> list[object]:
        return sorted(ids(proxy), key=str)

    proxy.set_search("LUNCH")
    assert shown() == ["u-bo"]
    proxy.set_search("interact")
    assert shown() == ["u-ana"]
    proxy.set_search(" dunn ")
    assert shown() == ["u-cy"]
    proxy.set_search("")
    assert shown() == ["u-ana", "u-bo", "u-cy"]

    proxy.set_queue("q-sales")
    assert shown() == ["u-ana", "u-cy"]
    proxy.set_queue("q-support")  # members count, joined or not
    assert shown() == ["u-bo", "u-cy"]
    proxy.set_search("idle")
    assert shown() == ["u-cy"]
    proxy.set_search("")

    # membership moves with the store: Bo joins Sales, Ana's activity says she left it
    proxy.set_queue("q-sales")
    events: list[Event] = [
        QueueMembershipChanged("q-sales", "u-bo", True),
        ActiveQueuesChanged("u-ana", ("q-support",), at(150)),
    ]
    for event in events:
        store.apply(event)
    agents.update_queues(["q-sales"])
    assert "u-bo" in shown()
    assert agents.index(0, AgentsModel.QUEUES).data() == "Support"

    proxy.set_queue(None)
    assert shown() == ["u-ana", "u-bo", "u-cy"]
    check(proxy)


def test_queue_counters_do_not_repaint_the_agents_queue_column(
    agents: AgentsModel, store: Store
) -> None:
    agents.update_queues(["q-sales", "q-support"])  # first sight: the column is drawn whole
    changed: list[tuple[int, int, int]] = []
    agents.dataChanged.connect(
        lambda first, last, _roles: changed.append((first.row(), last.row(), first.column()))
    )
    store.apply(QueueObserved("q-sales", waiting=9, interacting=4, media_type="voice"))
    agents.update_queues(["q-sales"])  # counters only: the column shows nothing of them
    assert changed == []
    store.apply(QueueMembershipChanged("q-sales", "u-bo", True))  # Bo joins Sales
    agents.update_queues(["q-sales"])
    bo = agents.row_of("u-bo")
    assert changed and all(col == AgentsModel.QUEUES for _, _, col in changed)
    assert any(first <= bo <= last for first, last, _ in changed)
    assert "Sales" in str(agents.index(bo, AgentsModel.QUEUES).data())


# ================================================================================== queues
@pytest.fixture
def queues(store: Store) -> QueuesModel:
    model = QueuesModel(store, clock=fixed_clock(200))
    model.set_queues(["q-sales", "q-support"])
    return model


def test_queues_show_counts_and_the_longest_wait(
    queues: QueuesModel, store: Store, check: Check
) -> None:
    check(queues)
    sales = [queues.index(0, c).data() for c in range(queues.TREND)]
    assert sales == ["Sales", 3, 2, 5, 1, "01:40"]  # c-1 waits since 100 s; now 200 s
    support = [queues.index(1, c).data() for c in range(queues.TREND)]
    assert support == ["Support", 0, 1, 2, 4, ""]

    # waiting > 0 is highlighted, subtly: a tint and bold on the Waiting cell only
    waiting = queues.index(0, QueuesModel.WAITING)
    assert isinstance(waiting.data(Qt.ItemDataRole.BackgroundRole), QBrush)
    assert waiting.data(Qt.ItemDataRole.FontRole).bold()
    assert queues.index(0, QueuesModel.NAME).data(Qt.ItemDataRole.BackgroundRole) is None
    assert queues.index(1, QueuesModel.WAITING).data(Qt.ItemDataRole.BackgroundRole) is None

    # the longest wait counts up on tick, in its own column only
    spy = QSignalSpy(queues.dataChanged)
    queues.tick(at(230))
    assert spy.count() == 1
    top_left, bottom_right, _roles = spy.at(0)
    assert top_left.column() == bottom_right.column() == QueuesModel.LONGEST_WAIT
    assert queues.index(0, QueuesModel.LONGEST_WAIT).data() == "02:10"
    assert queues.index(0, QueuesModel.LONGEST_WAIT).data(SORT_ROLE) == 130.0

    # without conversation events, the analytics figure; a new queue appears with unknowns
    # (a queue heard of only through its user counts has no conversation figures yet)
    for event in [
        QueueObserved("q-support", waiting=2, longest_wait_ms=65_000),
        QueueObserved("q-new", on_queue=1),
    ]:
        store.apply(event)
    store.queue("q-new").name = "New"
    queues.update_queues(["q-support", "q-new"])
    assert queues.index(1, QueuesModel.LONGEST_WAIT).data() == "01:05"
    assert [queues.index(2, c).data() for c in range(queues.TREND)] == [
        "New",
        "—",
        "—",
        1,
        "—",
        "",
    ]
    assert queues.index(2, QueuesModel.WAITING).data(SORT_ROLE) == -1
    check(queues)


def test_history_keeps_one_sample_per_slot_in_a_bounded_ring() -> None:
    history = QueueHistory(capacity=5, interval_s=10)
    history.add("q", 1, at(0))
    history.add("q", 2, at(4))  # same slot: the latest wins
    assert history.series("q") == [2]
    history.add("q", 3, at(10))
    history.add("q", 4, at(40))  # 20 s and 30 s were missed: the count held
    assert history.series("q") == [2, 3, 3, 3, 4]
    history.add("q", 5, at(50))
    assert history.series("q") == [3, 3, 3, 4, 5]  # bounded: the oldest fell off
    history.add("q", 9, at(10_000))  # a long sleep never grows the ring
    assert history.series("q") == [5, 5, 5, 5, 9]
    history.retain([])
    assert history.series("q") == []
    with pytest.raises(ValueError):
        QueueHistory(capacity=0)


def test_sample_records_waiting_and_updates_only_the_trend_column(
    queues: QueuesModel, store: Store, check: Check
) -> None:
    check(queues)
    spy = QSignalSpy(queues.dataChanged)
    for step, waiting in enumerate([3, 5, 4, 0]):
        store.apply(QueueObserved("q-sales", waiting=waiting))
        queues.sample(at(200 + 10 * step))
    assert spy.count() == 4
    for i in range(spy.count()):
        top_left, bottom_right, roles = spy.at(i)
        assert top_left.column() == bottom_right.column() == QueuesModel.TREND
        assert HISTORY_ROLE in roles
    assert queues.index(0, QueuesModel.TREND).data(HISTORY_ROLE) == [3, 5, 4, 0]
    assert queues.index(1, QueuesModel.TREND).data(HISTORY_ROLE) == [0, 0, 0, 0]
    assert "peak 5" in queues.index(0, QueuesModel.TREND).data(Qt.ItemDataRole.ToolTipRole)
    assert queues.index(0, QueuesModel.TREND).data() is None  # drawn, not written
    check(queues)


# ================================================================================== media
def multichannel(store: Store) -> QueuesModel:
    """Sales takes voice, chat and email; Support voice only; Legacy a source without the split."""
    store.queue("q-legacy").name = "Legacy"
    for event in [
        QueueObserved("q-sales", waiting=3, interacting=2, media_type="voice"),
        QueueObserved("q-sales", waiting=1, interacting=0, media_type="chat"),
        QueueObserved("q-sales", waiting=0, interacting=4, media_type="email"),
        QueueObserved("q-support", waiting=2, interacting=1, media_type="voice"),
        QueueObserved("q-legacy", waiting=9, interacting=1),
    ]:
        store.apply(event)
    model = QueuesModel(store, clock=fixed_clock(200))
    model.set_queues(["q-sales", "q-support", "q-legacy"])
    return model


def test_a_multichannel_queue_shows_its_split_by_media(store: Store, check: Check) -> None:
    queues = multichannel(store)
    check(queues)
    tip = Qt.ItemDataRole.ToolTipRole
    waiting, interacting = QueuesModel.WAITING, QueuesModel.INTERACTING
    # the cells keep the totals (what the board sorts by); the split comes beside them
    assert [queues.index(0, c).data() for c in (waiting, interacting)] == [4, 6]
    assert queues.index(0, waiting).data(SORT_ROLE) == 4
    assert queues.index(0, waiting).data(MEDIA_SPLIT_ROLE) == "(Voice 3, Chat 1)"
    assert queues.index(0, interacting).data(MEDIA_SPLIT_ROLE) == "(Email 4, Voice 2)"
    assert queues.index(0, waiting).data(tip) == "Waiting 4 (Voice 3, Chat 1)"
    assert queues.index(0, interacting).data(tip) == "Interacting 6 (Email 4, Voice 2)"
    assert queues.index(0, waiting).data(Qt.ItemDataRole.AccessibleTextRole) == (
        "4 (Voice 3, Chat 1)"
    )
    # one media: just the number in the cell, the media named in the tooltip
    assert queues.index(1, waiting).data() == 2
    assert queues.index(1, waiting).data(MEDIA_SPLIT_ROLE) is None
    assert queues.index(1, waiting).data(tip) == "Waiting 2 (Voice 2)"
    # a source that does not split by media: nothing to say about media
    assert queues.index(2, waiting).data(MEDIA_SPLIT_ROLE) is None
    assert queues.index(2, waiting).data(tip) == "Waiting 9"
    # the columns that lay out for a split, per the header
    header = [
        queues.headerData(c, Qt.Orientation.Horizontal, MEDIA_SPLIT_ROLE)
        for c in range(queues.columnCount())
    ]
    assert header == [c in (waiting, interacting) for c in range(queues.columnCount())]

    # the chat caller is answered: voice has all the waiting, the cell says which media
    store.apply(QueueObserved("q-sales", waiting=0, interacting=1, media_type="chat"))
    queues.update_queues(["q-sales"])
    assert queues.index(0, waiting).data() == 3
    assert queues.index(0, waiting).data(MEDIA_SPLIT_ROLE) == "(Voice)"
    assert queues.index(0, interacting).data(MEDIA_SPLIT_ROLE) == "(Email 4, Voice 2, Chat 1)"
    # every group but voice goes idle: a single-media queue again, the columns lay out as before
    for media in ("chat", "email"):
        store.apply(QueueObserved("q-sales", waiting=0, interacting=0, media_type=media))
    queues.update_queues(["q-sales"])
    assert queues.index(0, waiting).data(MEDIA_SPLIT_ROLE) is None
    assert not queues.headerData(waiting, Qt.Orientation.Horizontal, MEDIA_SPLIT_ROLE)
    check(queues)


def test_the_split_fits_its_cell_and_never_hides_the_total(qtbot: QtBot, store: Store) -> None:
    queues = multichannel(store)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(queues)
    delegate = CountSplitDelegate(view)
    view.setItemDelegateForColumn(QueuesModel.WAITING, delegate)
    view.resize(900, 200)
    view.show()
    qtbot.waitExposed(view)
    view.resizeColumnToContents(QueuesModel.WAITING)
    full = view.fontMetrics().horizontalAdvance("4 (Voice 3, Chat 1)")
    assert view.columnWidth(QueuesModel.WAITING) >= full  # fitting the column shows it all

    def ink(row: int) -> tuple[int, int]:
        """Leftmost and rightmost columns of text pixels in a Waiting cell."""
        image = view.viewport().grab().toImage()
        rect = view.visualRect(queues.index(row, QueuesModel.WAITING)).adjusted(1, 1, -1, -1)
        base = image.pixelColor(rect.left() + 1, rect.top() + 1)
        xs = [
            x
            for x in range(rect.left(), rect.right() + 1)
            for y in range(rect.top(), rect.bottom() + 1)
            if contrast_ratio(image.pixelColor(x, y), base) >= 3
        ]
        return min(xs), max(xs)

    split_left, split_right = ink(0)
    plain_left, plain_right = ink(1)
    assert split_right - split_left > 4 * (plain_right - plain_left)  # the split is drawn
    assert abs(split_left - plain_left) <= 2  # totals line up down the column
    view.setColumnWidth(QueuesModel.WAITING, 40)  # too narrow: the total still shows
    narrow_left, _ = ink(0)
    assert narrow_left == split_left


# ================================================================================== sparkline
def light_palette() -> QPalette:
    palette = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, "#efefef"),
        (QPalette.ColorRole.WindowText, "#000000"),
        (QPalette.ColorRole.Base, "#ffffff"),
        (QPalette.ColorRole.AlternateBase, "#f5f5f5"),
        (QPalette.ColorRole.Text, "#000000"),
        (QPalette.ColorRole.Highlight, "#308cc6"),
        (QPalette.ColorRole.HighlightedText, "#ffffff"),
    ):
        palette.setColor(role, QColor(colour))
    return palette


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, "#2b2b2b"),
        (QPalette.ColorRole.WindowText, "#e6e6e6"),
        (QPalette.ColorRole.Base, "#1e1e1e"),
        (QPalette.ColorRole.AlternateBase, "#262626"),
        (QPalette.ColorRole.Text, "#e6e6e6"),
        (QPalette.ColorRole.Highlight, "#2a82da"),
        (QPalette.ColorRole.HighlightedText, "#ffffff"),
    ):
        palette.setColor(role, QColor(colour))
    return palette


def drawn_pixels(image: QImage, area: QRect, base: QColor) -> int:
    """Pixels of ``area`` (every other column) that clearly differ from the background."""
    return sum(
        1
        for y in range(area.top(), area.bottom() + 1)
        for x in range(area.left(), area.right() + 1, 2)
        if contrast_ratio(image.pixelColor(x, y), base) >= 1.6
    )


@pytest.mark.parametrize("palette_factory", [light_palette, dark_palette], ids=["light", "dark"])
def test_sparkline_draws_the_history_in_light_and_dark_palettes(
    qtbot: QtBot, store: Store, check: Check, palette_factory: Callable[[], QPalette]
) -> None:
    model = QueuesModel(store, history=QueueHistory(capacity=30), clock=fixed_clock(0))
    model.set_queues(["q-sales", "q-support"])
    check(model)
    for step, waiting in enumerate([0, 1, 3, 2, 6, 4, 8, 5, 2, 7]):
        store.apply(QueueObserved("q-sales", waiting=waiting))
        store.apply(QueueObserved("q-support", waiting=0))
        model.sample(at(10 * step))

    view = QTableView()
    qtbot.addWidget(view)
    palette = palette_factory()
    view.setPalette(palette)
    view.setShowGrid(False)
    view.setModel(model)
    view.setItemDelegateForColumn(QueuesModel.TREND, SparklineDelegate(view, capacity=30))
    view.verticalHeader().setDefaultSectionSize(40)
    view.setColumnWidth(QueuesModel.TREND, 160)
    view.resize(900, 200)
    view.show()
    qtbot.waitExposed(view)
    image = view.viewport().grab().toImage()
    base = palette.color(QPalette.ColorRole.Base)

    busy = view.visualRect(model.index(0, QueuesModel.TREND))
    flat = view.visualRect(model.index(1, QueuesModel.TREND))
    assert busy.width() > 100 and busy.height() > 30
    upper = QRect(busy.left(), busy.top(), busy.width(), busy.height() // 2)
    # the non-flat history draws above the baseline, in a colour that stands out...
    assert drawn_pixels(image, upper, base) > 20
    strongest = max(
        contrast_ratio(image.pixelColor(x, y), base)
        for x in range(busy.left(), busy.right())
        for y in range(busy.top(), busy.bottom())
    )
    assert strongest >= 3.0
    # ...while nobody waiting is just a baseline: nothing in the upper half of its cell
    flat_upper = QRect(flat.left(), flat.top(), flat.width(), flat.height() // 2)
    flat_lower = QRect(flat.left(), flat_upper.bottom() + 1, flat.width(), flat.height() // 2)
    assert drawn_pixels(image, flat_upper, base) == 0
    assert drawn_pixels(image, flat_lower, base) > 0


# ================================================================================== feed
def entries(start: int, count: int, kinds: tuple[str, ...] = KINDS) -> list[FeedEntry]:
    return [
        FeedEntry(
            at(i / 1000),
            kinds[i % len(kinds)],
            f"id-{i}",
            f"Subject {i}",
            f"event {i}",
            "warning" if i % 7 == 0 else "info",
        )
        for i in range(start, start + count)
    ]


def test_feed_caps_at_10000_rows_with_one_insert_per_batch() -> None:
    """25,000 entries in batches of 500: one insert per batch, one trim per batch once full.

    (No attached model tester here: Qt's tester re-walks every row on every signal, which on
    10,000 rows would measure the tester. The small-capacity test below runs it throughout.)
    """
    model = FeedModel()
    assert model.capacity == 10_000
    inserted = QSignalSpy(model.rowsInserted)
    removed = QSignalSpy(model.rowsRemoved)
    for start in range(0, 25_000, 500):
        model.append(entries(start, 500))
    assert model.rowCount() == 10_000
    assert inserted.count() == 50
    assert all(inserted.at(i)[1:] == [0, 499] for i in range(50))
    assert removed.count() == 30  # 20 batches fill it; each later batch trims once
    assert all(removed.at(i)[1:] == [9_500, 9_999] for i in range(30))
    # newest first: the last entry appended is row 0, the oldest kept is entry 15,000
    assert model.index(0, FeedModel.SUMMARY).data() == "event 24999"
    assert model.index(9_999, FeedModel.SUMMARY).data() == "event 15000"


def test_feed_trims_and_inserts_correctly_under_the_model_tester(check: Check) -> None:
    model = FeedModel(capacity=50)
    check(model)
    for start in range(0, 130, 20):
        model.append(entries(start, 20))
    assert model.rowCount() == 50
    assert column(model, FeedModel.SUMMARY)[:2] == ["event 139", "event 138"]
    assert column(model, FeedModel.SUMMARY)[-1] == "event 90"
    model.append(entries(1_000, 120))  # a batch larger than the feed keeps only its newest
    assert column(model, FeedModel.SUMMARY)[0] == "event 1119"
    assert column(model, FeedModel.SUMMARY)[-1] == "event 1070"
    check(model)


def test_feed_pause_buffers_counts_new_entries_and_resume_inserts_them_at_once(
    check: Check,
) -> None:
    model = FeedModel(capacity=100)
    check(model)
    counts: list[int] = []
    model.pending_changed.connect(counts.append)
    model.append(entries(0, 5))

    model.set_paused(True)
    for start, size in ((5, 2), (7, 3), (10, 4)):
        model.append(entries(start, size))
    assert model.rowCount() == 5
    assert model.index(0, FeedModel.SUMMARY).data() == "event 4"  # the table held still
    assert model.pending_count == 9
    assert counts == [2, 5, 9]

    inserted = QSignalSpy(model.rowsInserted)
    model.set_paused(False)
    assert inserted.count() == 1
    assert inserted.at(0)[1:] == [0, 8]
    assert model.rowCount() == 14
    assert model.index(0, FeedModel.SUMMARY).data() == "event 13"
    assert model.pending_count == 0
    assert counts[-1] == 0
    check(model)


def test_pending_beyond_capacity_counts_everything_but_keeps_the_newest(check: Check) -> None:
    model = FeedModel(capacity=10)
    check(model)
    model.set_paused(True)
    model.append(entries(0, 25))
    assert model.pending_count == 25
    model.set_paused(False)
    assert model.rowCount() == 10
    assert column(model, FeedModel.SUMMARY)[0] == "event 24"
    assert column(model, FeedModel.SUMMARY)[-1] == "event 15"


def test_feed_rows_show_local_time_and_mark_warnings(check: Check) -> None:
    model = FeedModel()
    check(model)
    warning = FeedEntry(
        at(3), "routing", "u-cy", "Cy Dunn", "Cy Dunn: Idle → Not Responding", "warning"
    )
    info = FeedEntry(at(4), "presence", "u-ana", "Ana Lima", "Ana Lima: On Queue → Lunch")
    model.append([warning, info])
    # The Subject column says "Ana Lima": the summary does not repeat it (the tooltip does).
    assert model.index(0, FeedModel.SUMMARY).data() == "On Queue → Lunch"
    assert info.summary in model.index(0, FeedModel.SUMMARY).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(0, FeedModel.TIME).data() == info.at.astimezone().strftime("%H:%M:%S")
    assert model.index(1, FeedModel.KIND).data() == "Routing"
    assert model.index(1, FeedModel.SUBJECT).data(ENTRY_ROLE) is warning
    for col in range(model.columnCount()):
        assert isinstance(model.index(1, col).data(Qt.ItemDataRole.ForegroundRole), QBrush)
        assert model.index(0, col).data(Qt.ItemDataRole.ForegroundRole) is None
    icon = model.index(1, FeedModel.KIND).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QIcon) and not icon.isNull()
    assert model.index(1, FeedModel.KIND).data(ALERT_ROLE) is True


def test_feed_filter_by_kind_and_text(check: Check) -> None:
    model = FeedModel(capacity=100)
    model.append(
        [
            FeedEntry(at(1), "presence", "u-1", "Dana Agent", "Dana Agent: On Queue → Lunch"),
            FeedEntry(at(2), "routing", "u-1", "Dana Agent", "Dana Agent: Idle → Interacting"),
            FeedEntry(at(3), "routing", "u-2", "Eli Agent", "Eli Agent: Idle → Not Responding"),
            FeedEntry(at(4), "queue", "q-1", "Sales", "Sales: waiting 0 → 2"),
            FeedEntry(at(5), "gap", "", "Connection", "Disconnected (socket closed)", "warning"),
        ]
    )
    proxy = FeedFilterProxy()
    proxy.setSourceModel(model)
    check(model)
    check(proxy)

    def summaries() -> list[object]:
        entries = column(proxy, FeedModel.SUMMARY, ENTRY_ROLE)
        return [e.summary for e in entries if isinstance(e, FeedEntry)]

    proxy.set_kinds({"routing"})
    assert summaries() == ["Eli Agent: Idle → Not Responding", "Dana Agent: Idle → Interacting"]
    proxy.set_search("DANA")
    assert summaries() == ["Dana Agent: Idle → Interacting"]
    proxy.set_kinds(None)
    assert summaries() == ["Dana Agent: Idle → Interacting", "Dana Agent: On Queue → Lunch"]
    proxy.set_search("sales")  # the subject counts too
    assert summaries() == ["Sales: waiting 0 → 2"]

    # new entries are filtered as they arrive, newest first
    proxy.set_search("dana")
    model.append([FeedEntry(at(6), "presence", "u-1", "Dana Agent", "Dana Agent: Lunch → Away")])
    model.append([FeedEntry(at(7), "presence", "u-3", "Fay", "Fay: Away → On Queue")])
    assert summaries()[0] == "Dana Agent: Lunch → Away"
    assert len(summaries()) == 3

    proxy.set_kinds(set())
    assert summaries() == []
    proxy.set_kinds(None)
    proxy.set_search("")
    assert proxy.rowCount() == model.rowCount() == 7
    check(proxy)


# ================================================================================== colours
def test_presence_colours_cover_every_system_presence_in_both_palettes() -> None:
    light, dark = light_palette(), dark_palette()
    assert not is_dark(light) and is_dark(dark)
    system = {"AVAILABLE", "ON_QUEUE", "MEAL", "BREAK", "MEETING", "TRAINING", "AWAY", "BUSY"}
    assert system | {"IDLE", "OFFLINE"} <= set(PRESENCE_COLOURS)
    for name in PRESENCE_COLOURS:
        for palette in (light, dark):
            colour = presence_colour(name, palette)
            base = palette.color(QPalette.ColorRole.Base)
            assert contrast_ratio(colour, base) >= 2.5, (name, colour.name())
    assert presence_colour("AVAILABLE", light) != presence_colour("AVAILABLE", dark)
    assert presence_colour("BUSY", light) != presence_colour("AVAILABLE", light)
    assert presence_colour(None, light) == presence_colour("OFFLINE", light)


def test_colours_follow_the_application_palette(
    qapp: QApplication, agents: AgentsModel, store: Store, check: Check
) -> None:
    check(agents)
    store.apply(RoutingChanged("u-ana", "NOT_RESPONDING", at(190)))
    agents.update_users(["u-ana"])
    light = agents.index(0, AgentsModel.NAME).data(Qt.ItemDataRole.BackgroundRole).color()
    original = qapp.palette()
    try:
        qapp.setPalette(dark_palette())
        spy = QSignalSpy(agents.dataChanged)
        agents.restyle()
        assert spy.count() == 1
        dark = agents.index(0, AgentsModel.NAME).data(Qt.ItemDataRole.BackgroundRole).color()
    finally:
        qapp.setPalette(original)
    assert light.lightness() > 128 > dark.lightness()
