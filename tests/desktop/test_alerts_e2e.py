"""End to end: a demo queue crosses a rule's threshold → one real D-Bus notification, whose
"Snooze 15 min" button (clicked through the recorder) snoozes the app.

The whole app runs in-process (qasync, offscreen widgets) against the embedded demo org, with
the bed's session bus and its notification recorder; the simulation is paused and calls are put
on queues through the sandbox's control API, so every crossing is ours.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jeepney import DBusAddress, MessageType, new_method_call
from jeepney.io.blocking import DBusConnection
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from core.alerts.model import Condition, Rule
from core.storage.settings.file import load_config
from core.storage.settings.model import AppConfig

pytestmark = [pytest.mark.desktop, pytest.mark.qt_loop]
DEADLINE_S = 20.0
RECORDER_CONTROL = DBusAddress(  # the recorder's test control: "click" a notification's action
    "/org/freedesktop/Notifications",
    bus_name="org.freedesktop.Notifications",
    interface="org.genesys.tray.testbed.NotifyRecorder",
)


def _size(path: Path) -> int:
    return path.stat().st_size


def _ours(log: Path, offset: int) -> list[dict[str, Any]]:
    """Notify calls recorded since ``offset`` bytes into the log, from this app."""
    with log.open(encoding="utf-8") as handle:
        handle.seek(offset)
        calls = [json.loads(line) for line in handle if line.strip()]
    return [c for c in calls if c.get("app_name") == "Genesys Tray"]


async def _until(predicate: Any, what: str) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while not predicate():  # noqa: ASYNC110 - the recorder is another process's file
            await asyncio.sleep(0.05)
    assert predicate(), what


async def test_threshold_crossing_notifies_once_snooze_silences_unsnooze_lets_through(
    notify_recorder: Path, session_bus: DBusConnection, tmp_path: Path
) -> None:
    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    offset = _size(notify_recorder)
    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=1.0
    )
    rule = Rule(
        id="e2e-waiting",
        name="Calls waiting",
        condition=Condition.QUEUE_WAITING_ABOVE,
        threshold=2,
        for_s=0,
    )
    config_file = tmp_path / "config.json"
    options = GuiOptions(
        settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
        config=AppConfig(rules=[rule]),
        config_path=config_file,
    )
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    running = asyncio.ensure_future(app.run())
    assert engine.sandbox_url is not None
    try:
        async with httpx.AsyncClient(base_url=engine.sandbox_url, timeout=10) as control:
            await control.post("/sandbox/simulation/pause")
            await _until(lambda: engine.service.state.value == "live", "the engine went live")
            queues = list(engine.service.watch.queues)
            assert len(queues) >= 3
            truth = (await control.get("/sandbox/truth")).json()["queues"]

            async def cross(queue_id: str) -> None:
                for _ in range(3 - truth[queue_id]["waiting"] + 1):
                    await control.post(f"/sandbox/queues/{queue_id}/conversations")

            await cross(queues[0])
            await _until(lambda: len(_ours(notify_recorder, offset)) == 1, "a notification")
            first = _ours(notify_recorder, offset)[0]
            name = engine.service.store.queues[queues[0]].name
            assert name in first["summary"] and "waiting" in first["summary"]
            assert first["body"].startswith("Rule “Calls waiting”: ")  # and the rule in words
            assert first["actions"] == [
                *("default", ""),  # a click on the notification itself: Open
                *("open", "Open", "snooze", "Snooze 15 min"),
            ]
            await _until(lambda: not app.notifier.coalescing, "the burst window to close")
            assert len(_ours(notify_recorder, offset)) == 1  # exactly one

            # The person clicks "Snooze 15 min" on the notification (the recorder's control).
            reply = session_bus.send_and_get_reply(
                new_method_call(RECORDER_CONTROL, "InvokeAction", "us", (first["id"], "snooze")),
                timeout=5,
            )
            assert reply.header.message_type == MessageType.method_return, reply.body
            await _until(lambda: app.notifier.snoozed, "the snooze from the notification")
            assert app.alerts.config.snooze_until == app.notifier.snoozed_until
            await cross(queues[1])
            await _until(lambda: app.notifier.suppressed >= 1, "the snoozed alert")
            assert len(_ours(notify_recorder, offset)) == 1
            assert load_config(config_file).config.snooze_until is not None  # remembered

            app.alerts.snooze_for(0)
            await cross(queues[2])
            await _until(lambda: len(_ours(notify_recorder, offset)) == 2, "the next notification")
            assert (
                engine.service.store.queues[queues[2]].name
                in _ours(notify_recorder, offset)[1]["summary"]
            )
    finally:
        app.stop_requested.set()
        assert await asyncio.wait_for(running, DEADLINE_S) == 0
        await engine.aclose()
