"""The app started before its org answers: "Offline: retrying", then Live with no one's help."""

from __future__ import annotations

import asyncio
import socket

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.auth.credentials import MemoryCredentialStore
from gui.window.main_window import STATE_TEXT
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_the_app_started_offline_shows_it_then_goes_live(
    qtbot: QtBot, settings: QSettings
) -> None:
    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    port = _free_port()
    org = SandboxConfig(port=port, users=30, queues=4, seed=3, simulate=False)
    engine = await build_engine(  # raised "Could not reach the sign-in server" before
        demo=False,
        environment=f"http://127.0.0.1:{port}",
        queues="all",
        users="members",
        client_id=org.client_id,
        client_secret=org.client_secret,
        open_store=lambda _name: MemoryCredentialStore(insecure_reason="test: no keyring"),
    )
    app = GuiApp(QApplication.instance(), engine.service, GuiOptions(settings=settings))  # type: ignore[arg-type]
    shown: list[str] = []
    offline, live = asyncio.Event(), asyncio.Event()

    def check(*_: object) -> None:
        text = app.window.state_label.text()
        if not shown or shown[-1] != text:
            shown.append(text)
        if text == STATE_TEXT["offline"]:
            offline.set()
        if text == STATE_TEXT["live"] and app.window.agents.rowCount() > 0:
            live.set()

    app.bridge.state_changed.connect(check)
    app.bridge.users_changed.connect(check)
    running = asyncio.ensure_future(app.run())
    sandbox = Sandbox(org)
    try:
        await asyncio.wait_for(offline.wait(), 20)
        assert not running.done(), "the app gave up while its org was unreachable"
        if app.tray is not None:
            assert app.tray._state == "offline"
        await sandbox.start()
        app.service.check_now()  # what a network change or "Reconnect now" does
        await asyncio.wait_for(live.wait(), 20)
        assert shown.index(STATE_TEXT["offline"]) < shown.index(STATE_TEXT["live"])
    finally:
        app.stop_requested.set()
        assert await asyncio.wait_for(running, 10) == 0
        await engine.aclose()
        await sandbox.stop()
