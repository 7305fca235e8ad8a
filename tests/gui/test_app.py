"""The bridge, the window and the whole GUI app against the embedded demo org."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.app.pipeline import Pipeline
from core.engine.records import ChangeRecord, EngineState, EventRecord, StateRecord, WatchRecord
from core.state.store import Store
from core.streaming.events import PresenceChanged, RoutingChanged
from gui.bridge import EngineBridge
from gui.window.main_window import MainWindow

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _store_with(users: int) -> Store:
    store = Store()
    for i in range(users):
        store.user(f"u{i}").name = f"Agent {i}"
    return store


def test_bridge_coalesces_a_burst_into_one_batch_per_tick(qtbot: QtBot) -> None:
    store = _store_with(50)
    bridge = EngineBridge(Pipeline(store), interval_ms=50)
    batches: list[list[str]] = []
    feeds: list[int] = []
    bridge.users_changed.connect(batches.append)
    bridge.feed_appended.connect(lambda entries: feeds.append(len(entries)))
    for n in range(2000):
        user = f"u{n % 50}"
        status = ("IDLE", "INTERACTING")[(n // 50) % 2]  # every record is a real change
        for change in store.apply(RoutingChanged(user, status, T0 + timedelta(seconds=n))):
            bridge.pipeline.on_record(ChangeRecord(change, "stream"))
    assert batches == [] and feeds == []  # nothing reaches Qt before the tick
    with qtbot.waitSignal(bridge.feed_appended, timeout=2000):
        pass
    assert len(batches) == 1 and sorted(batches[0]) == sorted(f"u{i}" for i in range(50))
    assert feeds == [2000]
    bridge.stop()


def test_the_clock_ticks_once_a_second_right_after_a_batch(qtbot: QtBot) -> None:
    """Time-in-state and sparkline repaints share a batch's repaint, never add their own."""
    store = _store_with(3)
    now = [100.0]
    bridge = EngineBridge(Pipeline(store), interval_ms=60_000, monotonic=lambda: now[0])
    order: list[str] = []
    bridge.users_changed.connect(lambda _ids: order.append("users"))
    bridge.clock_ticked.connect(lambda: order.append("clock"))

    def batch(n: int) -> None:
        status = ("IDLE", "INTERACTING")[n % 2]  # every batch is a real change
        for change in store.apply(RoutingChanged("u1", status, T0 + timedelta(seconds=n))):
            bridge.pipeline.on_record(ChangeRecord(change, "stream"))
        bridge._on_timer_flush()

    for step in range(25):  # 2.5 s of 100 ms ticks, each with a batch (the clock is ours)
        now[0] += 0.1
        batch(step)
    assert order.count("users") == 25
    assert order.count("clock") == 2  # at 1.0 s and 2.0 s, not once per batch
    for at, what in enumerate(order):
        if what == "clock":
            assert order[at - 1] == "users", order  # in the same tick, after the batch
    bridge.stop()


def test_state_changes_are_not_delayed(qtbot: QtBot) -> None:
    bridge = EngineBridge(Pipeline(Store()), interval_ms=10_000)
    with qtbot.waitSignal(bridge.state_changed, timeout=100) as blocker:
        bridge.pipeline.on_record(StateRecord(EngineState.RECONNECTING, "socket closed"))
    assert blocker.args == [EngineState.RECONNECTING, "socket closed"]
    assert blocker.args[0] is EngineState.RECONNECTING  # the enum itself, not its value
    bridge.stop()


def test_the_event_rate_is_sampled_without_a_call_per_event(qtbot: QtBot) -> None:
    now = [100.0]
    pipeline = Pipeline(Store())
    bridge = EngineBridge(pipeline, interval_ms=60_000, monotonic=lambda: now[0])
    seen: list[object] = []
    pipeline.add_record_listener(seen.append, events=False)
    event = EventRecord("v2.users.u1.routingStatus", RoutingChanged("u1", "IDLE", T0))
    for _ in range(50):
        pipeline.on_record(event)
    now[0] += 5.0
    assert bridge.events_per_s() == 10.0 and seen == []
    now[0] += 5.0
    assert bridge.events_per_s() == 0.0  # none in the last five seconds
    bridge.stop()


def _window(
    qtbot: QtBot, settings: QSettings, *, tray: bool
) -> tuple[MainWindow, EngineBridge, Store]:
    store = _store_with(3)
    bridge = EngineBridge(Pipeline(store), interval_ms=20)
    window = MainWindow(store, bridge, tray_present=tray, settings=settings)
    qtbot.addWidget(window)
    return window, bridge, store


def test_closing_hides_with_a_tray_and_quits_without(qtbot: QtBot, settings: QSettings) -> None:
    window, bridge, _ = _window(qtbot, settings, tray=True)
    window.show()
    quits: list[bool] = []
    window.quit_requested.connect(lambda: quits.append(True))
    window.close()
    assert not window.isVisible() and quits == []
    bridge.stop()
    lonely, lonely_bridge, _ = _window(qtbot, settings, tray=False)
    lonely.show()
    with qtbot.waitSignal(lonely.quit_requested, timeout=1000):
        lonely.close()
    lonely_bridge.stop()


def test_window_fills_from_the_bridge_and_remembers_column_widths(
    qtbot: QtBot, settings: QSettings
) -> None:
    window, bridge, store = _window(qtbot, settings, tray=True)
    window.show()
    bridge.pipeline.on_record(WatchRecord({"u0": "Agent 0", "u1": "Agent 1", "u2": "Agent 2"}, {}))
    for change in store.apply(PresenceChanged("u1", "d", "ON_QUEUE", "", T0)):
        bridge.pipeline.on_record(ChangeRecord(change, "stream"))
    qtbot.waitUntil(
        lambda: window.agents.rowCount() == 3 and window.feed.rowCount() == 1, timeout=2000
    )
    window.agents_view.horizontalHeader().resizeSection(0, 234)
    window.save_settings()
    window.stop_timers()
    bridge.stop()
    again, again_bridge, _ = _window(qtbot, settings, tray=True)
    assert again.agents_view.horizontalHeader().sectionSize(0) == 234
    again.stop_timers()
    again_bridge.stop()


def test_paused_feed_counts_new_entries(qtbot: QtBot, settings: QSettings) -> None:
    window, bridge, store = _window(qtbot, settings, tray=True)
    window.show()
    window.set_paused(True)
    for n in range(3):
        for change in store.apply(
            RoutingChanged("u0", ("IDLE", "INTERACTING")[n % 2], T0 + timedelta(seconds=n))
        ):
            bridge.pipeline.on_record(ChangeRecord(change, "stream"))
    qtbot.waitUntil(lambda: window.new_label.text() == "3 new", timeout=2000)
    assert window.feed.rowCount() == 0
    window.set_paused(False)
    assert window.feed.rowCount() == 3 and window.new_label.text() == ""
    window.stop_timers()
    bridge.stop()


def test_hidden_boards_rest_and_wake_up_to_date_when_shown(
    qtbot: QtBot, settings: QSettings
) -> None:
    window, bridge, store = _window(qtbot, settings, tray=True)
    window.show()
    bridge.pipeline.on_record(WatchRecord({"u0": "Agent 0", "u1": "Agent 1", "u2": "Agent 2"}, {}))
    qtbot.waitUntil(lambda: window.agents.rowCount() == 3, timeout=2000)
    window.hide()  # to the tray: nobody can see the boards
    updates: list[int] = []
    window.agents.dataChanged.connect(lambda *_: updates.append(1))
    for n, status in enumerate(("INTERACTING", "IDLE", "NOT_RESPONDING")):
        for change in store.apply(RoutingChanged("u1", status, T0 + timedelta(seconds=n))):
            bridge.pipeline.on_record(ChangeRecord(change, "stream"))
    qtbot.waitUntil(lambda: bool(window._feed_backlog), timeout=2000)
    qtbot.waitUntil(lambda: len(window._feed_backlog) == 3, timeout=2000)
    assert updates == [] and window.feed.rowCount() == 0  # rested: no model work while hidden
    window.show()
    assert window.feed.rowCount() == 3  # woken before the first paint
    row = window.agents.row_of("u1")
    shown = window.agents.data(window.agents.index(row, window.agents.ROUTING))
    assert shown == "Not Responding"
    window.stop_timers()
    bridge.stop()


async def test_the_app_shows_live_demo_data_and_shuts_down_without_leftovers(
    qtbot: QtBot, settings: QSettings
) -> None:
    from core.app.bootstrap import build_engine
    from core.auth.keyring_worker import default_worker
    from gui.app import GuiApp
    from gui.options import GuiOptions

    before = asyncio.all_tasks()
    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=20.0
    )
    app = GuiApp(QApplication.instance(), engine.service, GuiOptions(settings=settings))  # type: ignore[arg-type]
    ready = asyncio.Event()

    def check(*_: object) -> None:
        window = app.window
        if (
            window.agents.rowCount() > 0
            and window.queues.rowCount() > 0
            and window.state_label.text() == "Live"
            and window.feed.rowCount() > 0
        ):
            ready.set()

    for signal in (app.bridge.feed_appended, app.bridge.state_changed, app.bridge.queues_changed):
        signal.connect(check)
    keyring = default_worker()
    assert await keyring.call(5.0, lambda: True)  # the keyring thread runs, as after a sign-in
    settings.setValue("miniView/open", True)  # the mini view was open when the app last quit
    running = asyncio.ensure_future(app.run())
    try:
        await asyncio.wait_for(ready.wait(), 20)
        assert app.window.isVisible()
        mini = app.window.layouts.mini_view
        assert mini is not None and mini.isVisible()  # ... so it is back
        boards = Path(os.environ.get("ARTIFACTS", "artifacts")) / "boards"
        boards.mkdir(parents=True, exist_ok=True)
        for index, name in enumerate(("agents", "queues", "feed")):
            app.window.tabs.setCurrentIndex(index)
            assert app.window.grab().save(str(boards / f"{name}.png"))
    finally:
        app.stop_requested.set()
        assert await asyncio.wait_for(running, 10) == 0
        await engine.aclose()
    assert not app.window.isVisible()
    assert not keyring.alive  # the shutdown ended the idle keyring thread
    leftovers = {t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()}
    assert leftovers == set()
