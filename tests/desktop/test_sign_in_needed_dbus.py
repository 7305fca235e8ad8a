"""Sign-in needed, on the real desktop bus: the notification's "Sign in" button signs in again.

The app runs in-process (qasync, offscreen widgets) against a sandbox org whose refresh tokens the
test revokes; the bed's notification recorder receives the real ``Notify`` call and, through its
test control, clicks the notification's "Sign in" action as a person would. The app must sign in
again and come back live with a picture equal to ``/sandbox/truth``.
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

from core.cli.listen import state_snapshot
from core.engine.records import EngineState
from gui.app import GuiApp
from gui.options import GuiOptions
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.gui.test_sign_in_needed import Watcher, _expected, _fault, _signed_in_engine

pytestmark = [pytest.mark.desktop, pytest.mark.qt_loop]
DEADLINE_S = 20.0
RECORDER_CONTROL = DBusAddress(
    "/org/freedesktop/Notifications",
    bus_name="org.freedesktop.Notifications",
    interface="org.genesys.tray.testbed.NotifyRecorder",
)


def _size(path: Path) -> int:
    return path.stat().st_size


def _ours(log: Path, offset: int) -> list[dict[str, Any]]:
    with log.open(encoding="utf-8") as handle:
        handle.seek(offset)
        calls = [json.loads(line) for line in handle if line.strip()]
    return [c for c in calls if c.get("app_name") == "Genesys Tray"]


async def test_the_notifications_sign_in_button_brings_the_board_back_live(
    notify_recorder: Path, session_bus: DBusConnection, tmp_path: Path
) -> None:
    sandbox = Sandbox(
        SandboxConfig(port=0, users=30, queues=4, seed=7, simulate=False, pkce_refresh_tokens=True)
    )
    url = await sandbox.start()
    engine = await _signed_in_engine(sandbox)
    offset = _size(notify_recorder)
    options = GuiOptions(
        settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
        sign_in_again=engine.sign_in_again,
        watch_network=False,
    )
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    watcher = Watcher(app)
    running = asyncio.ensure_future(app.run())
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            await watcher.state(EngineState.LIVE)
            assert app.notifier.backend_name == "desktop"  # the bed's real notification server
            assert await _fault(http, "revoke_refresh_tokens") >= 1
            assert await _fault(http, "revoke_tokens") >= 1
            await watcher.state(EngineState.SIGN_IN_NEEDED)

            async def delivered() -> dict[str, Any]:
                while True:
                    for call in _ours(notify_recorder, offset):
                        if call["summary"] == "Sign-in needed":
                            return call
                    await asyncio.sleep(0.05)  # the recorder is another process's file

            call = await asyncio.wait_for(delivered(), DEADLINE_S)
            assert call["actions"] == ["default", "", "sign_in", "Sign in"]  # default: a click
            assert call["hints"]["urgency"] == 1  # a warning: the boards are stale
            assert "stale" in call["body"]

            reply = session_bus.send_and_get_reply(
                new_method_call(RECORDER_CONTROL, "InvokeAction", "us", (call["id"], "sign_in")),
                timeout=5,
            )
            assert reply.header.message_type == MessageType.method_return, reply.body
            await watcher.state(EngineState.LIVE)
            assert app.sign_in_task is not None
            await asyncio.wait_for(app.sign_in_task, DEADLINE_S)
            assert not app.window.sign_in_banner.isVisible()
            service = app.service
            picture = state_snapshot(service.store, service.watch.users, service.watch.queues)
            assert picture == await _expected(http, app)
    finally:
        app.stop_requested.set()
        assert await asyncio.wait_for(running, DEADLINE_S) == 0
        await engine.aclose()
        await sandbox.stop()
