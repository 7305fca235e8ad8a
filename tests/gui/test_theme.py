"""Settings → Theme: System / Light / Dark, applied live to the whole app and remembered."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from core.storage.settings.file import load_config, save_config
from core.storage.settings.model import AppConfig
from gui.dialogs.settings_dialog import SettingsDialog
from gui.window.theme import apply_theme, is_dark


def _window_colour() -> str:
    return QApplication.palette().color(QPalette.ColorRole.Window).name()


@pytest.fixture
def platform_look(qapp: QApplication) -> Iterator[tuple[str, str]]:
    """The platform's style and window colour; the app gets them back after the test."""
    apply_theme("system")
    before = (QApplication.style().name(), _window_colour())
    yield before
    apply_theme("system")
    assert (QApplication.style().name(), _window_colour()) == before


def _screenshot(widget: QWidget, name: str) -> None:
    folder = Path(os.environ.get("ARTIFACTS", "artifacts")) / "theme"
    folder.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(folder / name))


class Saver:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def __call__(self, config: AppConfig) -> None:
        await asyncio.to_thread(save_config, self.path, config)


async def test_choosing_dark_darkens_the_app_at_once_and_is_remembered(
    qtbot: QtBot, tmp_path: Path, platform_look: tuple[str, str]
) -> None:
    assert not is_dark(QApplication.palette())  # the offscreen platform is light
    path = tmp_path / "config.json"
    dialog = SettingsDialog(AppConfig(), save=Saver(path))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.theme.currentData() == "system"
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    assert is_dark(QApplication.palette())  # live, before Save
    qtbot.waitUntil(lambda: is_dark(dialog.palette()), timeout=2000)  # the dialog follows
    _screenshot(dialog, "settings-dark.png")
    assert QApplication.style().name().lower() == "fusion"
    assert await dialog.apply()
    assert load_config(path).config.theme == "dark"
    assert is_dark(QApplication.palette())  # saved: it stays


async def test_cancel_puts_the_previous_theme_back(
    qtbot: QtBot, tmp_path: Path, platform_look: tuple[str, str]
) -> None:
    apply_theme("light")
    light = _window_colour()
    dialog = SettingsDialog(AppConfig(theme="light"), save=Saver(tmp_path / "config.json"))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    assert is_dark(QApplication.palette())
    dialog.reject()
    assert _window_colour() == light and not (tmp_path / "config.json").exists()


def test_system_gives_the_platform_its_look_back(
    qtbot: QtBot, platform_look: tuple[str, str]
) -> None:
    apply_theme("dark")
    assert is_dark(QApplication.palette())
    apply_theme("system")
    assert (QApplication.style().name(), _window_colour()) == platform_look
    with pytest.raises(ValueError, match="unknown theme"):
        apply_theme("sepia")


def test_the_boards_are_restyled_when_the_theme_changes(
    qtbot: QtBot, settings: object, platform_look: tuple[str, str]
) -> None:
    """The window's palette hook re-announces its colours (presence dots suit the new theme)."""
    from core.app.pipeline import Pipeline
    from core.state.store import Store
    from gui.bridge import EngineBridge
    from gui.window.main_window import MainWindow

    store = Store()
    store.user("u1").name = "Agent 1"
    bridge = EngineBridge(Pipeline(store), interval_ms=20)
    window = MainWindow(store, bridge, tray_present=False, settings=settings)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    window.agents.set_users(["u1"])
    window.show()
    restyled: list[object] = []
    window.agents.dataChanged.connect(lambda *args: restyled.append(args))
    apply_theme("dark")
    qtbot.waitUntil(lambda: bool(restyled), timeout=2000)
    assert is_dark(window.palette())
    _screenshot(window, "window-dark.png")
    window.stop_timers()
    bridge.stop()


def test_a_theme_from_the_settings_file_is_applied_at_start(
    qtbot: QtBot, tmp_path: Path, platform_look: tuple[str, str]
) -> None:
    path = tmp_path / "config.json"
    save_config(path, AppConfig(theme="dark"))
    config = load_config(path).config
    assert config.theme == "dark"
    apply_theme(config.theme)
    assert is_dark(QApplication.palette())
