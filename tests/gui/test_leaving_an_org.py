"""The way back from a remembered choice: leaving the demo org shows the welcome dialog again.

The whole launcher runs (``gui.launcher.gui_main``): the remembered demo choice skips the welcome,
Settings → "Connect to Genesys Cloud…" stops the demo's engine and shows the welcome in the same
process, and the demo is no longer the choice for the next launch.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from core.storage.settings.file import load_config, save_config
from core.storage.settings.model import AppConfig
from gui.dialogs.settings_dialog import SettingsDialog
from gui.dialogs.welcome_dialog import WelcomeDialog
from gui.window.main_window import MainWindow

WAIT_S = 20.0
W = TypeVar("W", bound=QWidget)


class Instance(QObject):
    """The single-instance guard's one signal (the real one claims a desktop-wide name)."""

    activation_requested = Signal()


@pytest.fixture(autouse=True)
def _app_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings, journal and logs in the test's own folders, as the app would make them."""
    from gui.options import create_qapp

    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("GENESYS_TRAY_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("GENESYS_CLIENT_ID", raising=False)
    create_qapp()
    yield
    gc.collect()


async def _shown(kind: type[W]) -> W:
    async def find() -> W:
        while True:
            for widget in QApplication.topLevelWidgets():
                if isinstance(widget, kind) and widget.isVisible():
                    return widget
            await asyncio.sleep(0.02)  # Qt shows it on its own schedule

    return await asyncio.wait_for(find(), WAIT_S)


async def test_connect_from_the_demo_org_returns_to_the_welcome(
    qtbot: QtBot, tmp_path: Path
) -> None:
    from gui.launcher import gui_main
    from main import parse_args

    path = tmp_path / "xdg_config_home" / "genesys-tray" / "config.json"
    save_config(path, AppConfig(demo_chosen=True))
    args = parse_args(["--demo-speed", "20"])
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    running = asyncio.ensure_future(gui_main(args, qapp, Instance()))
    try:
        window = await _shown(MainWindow)
        assert "demo org" in window.windowTitle()  # straight to the demo: no welcome
        window.settings_requested.emit()
        settings = await _shown(SettingsDialog)
        assert settings.connect_button.isVisible()
        settings.connect_button.click()
        welcome = await _shown(WelcomeDialog)
        assert not any(  # the demo's app is shut down (and its window deleted) behind it
            isinstance(w, MainWindow) and w.isVisible() for w in QApplication.topLevelWidgets()
        )
        assert load_config(path).config.demo_chosen is False  # the next launch asks again
        welcome.quit_button.click()
        assert await asyncio.wait_for(running, WAIT_S) == 0
    finally:
        if not running.done():
            running.cancel()


async def test_settings_offers_connect_only_in_the_demo_org(qtbot: QtBot) -> None:
    async def save(_config: AppConfig) -> None:
        return None

    in_demo = SettingsDialog(AppConfig(), save=save, offer_connect=True)
    in_org = SettingsDialog(AppConfig(), save=save)
    for dialog in (in_demo, in_org):
        qtbot.addWidget(dialog)
        dialog.show()
    assert in_demo.connect_button.isVisible() and not in_org.connect_button.isVisible()
    with qtbot.waitSignal(in_demo.connect_requested, timeout=1000):
        in_demo.connect_button.click()
