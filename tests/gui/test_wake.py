"""Sleep/resume and network changes → an immediate health check (shard check_now → ping)."""

from __future__ import annotations

import asyncio
import time

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.engine.records import EngineState, Record, StateRecord
from gui.platform.wake import JUMP_THRESHOLD_S, NetworkWatcher, WakeDetector


class Clocks:
    def __init__(self) -> None:
        self.wall = 1_000_000.0
        self.mono = 50.0

    def tick(self, seconds: float, *, slept: float = 0.0) -> None:
        self.mono += seconds
        self.wall += seconds + slept


def test_a_regular_tick_is_not_a_resume(qtbot: QtBot) -> None:
    clocks = Clocks()
    detector = WakeDetector(wall=lambda: clocks.wall, monotonic=lambda: clocks.mono)
    seen: list[float] = []
    detector.resumed.connect(seen.append)
    for _ in range(10):
        clocks.tick(5.0, slept=0.2)  # a little drift is not sleep
        assert detector.check() == 0.0
    assert seen == []


def test_a_wall_clock_jump_is_a_resume(qtbot: QtBot) -> None:
    clocks = Clocks()
    detector = WakeDetector(wall=lambda: clocks.wall, monotonic=lambda: clocks.mono)
    with qtbot.waitSignal(detector.resumed, timeout=500) as blocker:
        clocks.tick(5.0, slept=3600.0)  # suspended: the monotonic clock stood still
        detector.check()
    assert blocker.args == [3600.0]
    clocks.tick(5.0)
    assert detector.check() == 0.0  # the next tick is normal again


def test_a_tick_far_too_late_is_a_resume(qtbot: QtBot) -> None:
    clocks = Clocks()
    detector = WakeDetector(wall=lambda: clocks.wall, monotonic=lambda: clocks.mono)
    clocks.tick(5.0 + JUMP_THRESHOLD_S + 60)  # a monotonic clock that counts suspend
    assert detector.check() == JUMP_THRESHOLD_S + 60


def test_the_network_watcher_loads_a_backend_or_says_why(qtbot: QtBot) -> None:
    watcher = NetworkWatcher()
    started = watcher.start()
    assert started == bool(watcher.backend)
    watcher.stop()


async def test_a_simulated_resume_health_checks_the_live_channel_within_a_second(
    qtbot: QtBot, settings: QSettings
) -> None:
    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=20.0
    )
    records: list[Record] = []
    engine.service.add_listener(records.append)
    app = GuiApp(
        QApplication.instance(),  # type: ignore[arg-type]
        engine.service,
        GuiOptions(settings=settings, timeline=engine.timeline, watch_network=False),
    )
    running = asyncio.ensure_future(app.run())
    try:
        await asyncio.wait_for(_until(lambda: engine.service.state is EngineState.LIVE), 20)
        records.clear()
        started = time.monotonic()
        missed = app.wake.check(wall=time.time() + 3600.0, monotonic=time.monotonic())
        assert missed > 3000
        await asyncio.wait_for(_until(lambda: any(_is_health_check(r) for r in records)), 1.0)
        assert time.monotonic() - started < 1.0
        assert any(e.detail.startswith("resumed from sleep") for e in engine.timeline.entries())
        # A network change does the same (reachabilityChanged → check_now).
        checks: list[bool] = []
        original = engine.service.check_now

        def counting() -> None:
            checks.append(True)
            original()

        setattr(engine.service, "check_now", counting)  # noqa: B010 - a spy on one instance
        app.network.reachability_changed.emit("Online")
        assert checks == [True]
        assert any(e.detail.startswith("network changed") for e in engine.timeline.entries())
    finally:
        app.stop_requested.set()
        await asyncio.wait_for(running, 10)
        await engine.aclose()


def _is_health_check(record: Record) -> bool:
    return (
        isinstance(record, StateRecord)
        and record.state is EngineState.STALE
        and "health check" in record.detail
    )


async def _until(condition: object) -> None:
    assert callable(condition)
    while not condition():  # noqa: ASYNC110 - the state changes on the engine's own schedule
        await asyncio.sleep(0.01)
