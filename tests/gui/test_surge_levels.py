"""Done-when of the glance issue: a surge on the demo org turns the glance amber, and back.

The whole app runs in-process on qasync over the embedded demo org, as a supervisor would run
it. The simulation is paused and calls are put on one queue through the sandbox's control API
until it holds the warning level of calls waiting (3 by default); then the simulation runs
again, the agents take the calls, and the queue is within its limits again. The header strip
and the Queues board's level proxy are built here over the app's real store, bridge and Queues
model (another change mounts them in the window); the tray is the app's own, fed by the app.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from core.alerts.model import Condition, Rule
from core.state.levels import DEFAULT_LIMITS, Level
from core.storage.settings.model import AppConfig
from gui.models.queue_levels import FIRING_ROLE, LEVEL_ROLE, ROW_LEVEL_ROLE
from gui.models.queues import QueuesModel
from gui.tray.controller import TrayController
from gui.tray.icons import tray_icon

DEADLINE_S = 30.0


async def _until(predicate: Callable[[], bool], what: str) -> float:
    """Wait for ``predicate`` (the app moves on its own schedule); the seconds it took."""
    start = time.monotonic()
    try:
        async with asyncio.timeout(DEADLINE_S):
            while not predicate():  # noqa: ASYNC110 - the app moves on its own schedule
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {DEADLINE_S:g} s: {what}") from None
    return time.monotonic() - start


# Offscreen the app's tray (made available below) cannot dock, and Qt says so once.
@pytest.mark.qt_log_ignore("No such signal QPlatformNativeInterface::systemTrayWindowChanged")
async def test_a_surge_turns_the_glance_amber_and_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    # Offscreen has no system tray: let the app build its own tray controller all the same, so
    # the icon is fed by the app's wiring, not by this test.
    monkeypatch.setattr(TrayController, "available", staticmethod(lambda: True))
    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=1.0
    )
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    rule = Rule(
        id="surge", name="Calls waiting", condition=Condition.QUEUE_WAITING_ABOVE, threshold=2
    )
    options = GuiOptions(settings=settings, config=AppConfig(rules=[rule]))
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    running = asyncio.ensure_future(app.run())
    store = engine.service.store
    assert app.tray is not None and engine.sandbox_url is not None
    tray = app.tray
    # The window's own strip and the Queues board's own level proxy, as the app wires them.
    strip = app.window.header_strip
    proxy = app.window.queues_board.levels
    warn_at = int(DEFAULT_LIMITS.waiting.warning or 0)
    try:
        async with httpx.AsyncClient(base_url=engine.sandbox_url, timeout=10) as control:
            await control.post("/sandbox/simulation/pause")
            await _until(lambda: engine.service.state.value == "live", "the engine went live")
            queue_id = sorted(engine.service.watch.queues)[0]
            await _until(lambda: proxy.rowCount() > 0, "the Queues board has its rows")

            def row() -> int:
                return int(app.window.queues.row_of(queue_id))

            def cell(column: int, role: int) -> Any:
                return proxy.index(row(), column).data(role)

            def all_within_limits() -> bool:
                return (
                    tray.queue_level() == "ok"
                    and strip.level_of("waiting") is Level.OK
                    and all(
                        proxy.index(r, 0).data(ROW_LEVEL_ROLE) == "ok"
                        for r in range(proxy.rowCount())
                    )
                )

            await _until(all_within_limits, "the paused demo starts within its limits")
            waiting = (await control.get("/sandbox/truth")).json()["queues"][queue_id]["waiting"]
            for _ in range(warn_at - waiting):
                await control.post(f"/sandbox/queues/{queue_id}/conversations")

            def surged() -> bool:
                return (
                    tray.queue_level() == "warning"
                    and strip.level_of("waiting") is Level.WARNING
                    and cell(QueuesModel.WAITING, LEVEL_ROLE) == "warning"
                    and cell(QueuesModel.NAME, ROW_LEVEL_ROLE) == "warning"
                )

            took = await _until(surged, "the surge shows amber on the strip, board and tray")
            name = store.queues[queue_id].name
            assert strip.text_of("waiting") == str(warn_at)
            assert strip.button("waiting").accessibleName() == f"Waiting: {warn_at}, warning"
            assert tray.waiting() == warn_at
            assert tray.icon().cacheKey() == (
                tray_icon("live", queue_level="warning", waiting=warn_at).cacheKey()
            )
            assert f"{name}: {warn_at} waiting (warning)" in tray.tooltip().splitlines()
            background = cell(QueuesModel.WAITING, Qt.ItemDataRole.BackgroundRole)
            assert background is not None and cell(QueuesModel.WAITING, Qt.ItemDataRole.FontRole)
            await _until(lambda: bool(cell(QueuesModel.NAME, FIRING_ROLE)), "its row is marked")
            await _until(lambda: "1 alert" in tray.tooltip().splitlines(), "the alert count")
            alert_lines = [line for line in tray.tooltip().splitlines() if "alert" in line]
            assert alert_lines == ["1 alert"]  # said once (the app added "1 active alert" too)
            lines = tray.tooltip().splitlines()
            heads = [line.lower().split(" ·")[0] for line in lines]
            said = [head for head in heads if head in ("live", "websocket live")]
            assert len(said) == 1, lines  # defect 10: the connection is said once
            print(f"surge seen on strip, board and tray {took:.2f} s after the calls arrived")

            await control.post("/sandbox/simulation/resume")  # the agents take the calls
            took = await _until(all_within_limits, "the glance is back within limits")
            print(f"back within limits {took:.2f} s after the surge ended")
            assert "All queues within limits" in tray.tooltip().splitlines()
            assert cell(QueuesModel.WAITING, Qt.ItemDataRole.BackgroundRole) is None
    finally:
        strip.deleteLater()
        app.stop_requested.set()
        assert await asyncio.wait_for(running, DEADLINE_S) == 0
        await engine.aclose()
