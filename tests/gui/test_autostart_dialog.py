"""The Settings dialog's "Start Genesys Tray when I log in" on macOS and Windows.

The dialog is the real one; the platform is the adapter's. macOS writes a real LaunchAgent plist
in a temp HOME; Windows writes the Run value into an in-memory registry (tests/unit/
test_autostart.py holds it; winreg does not exist here).
"""

from __future__ import annotations

import plistlib
from pathlib import Path

from pytestqt.qtbot import QtBot

from core.storage.settings.model import AppConfig
from gui.dialogs.settings_dialog import SettingsDialog
from gui.platform.autostart import Autostart
from gui.platform.autostart_macos import LABEL
from gui.platform.autostart_windows import RUN_KEY, VALUE_NAME
from tests.unit.test_autostart import MemoryRegistry

WIN_COMMAND = r"C:\Program Files\Genesys Tray\genesys-tray-gui.exe"


async def _save(_config: AppConfig) -> None:
    return None


async def _tick_and_apply(dialog: SettingsDialog, checked: bool) -> None:
    assert dialog.autostart_box.isEnabled()
    assert dialog.autostart_box.isChecked() is not checked
    dialog.autostart_box.setChecked(checked)
    assert await dialog.apply()


async def test_macos_start_at_login_writes_and_removes_the_launch_agent(
    qtbot: QtBot, tmp_path: Path
) -> None:
    command = "/Users/ann/.local/bin/genesys-tray"
    autostart = Autostart(
        platform="darwin", environ={"HOME": str(tmp_path)}, which={"genesys-tray": command}.get
    )
    dialog = SettingsDialog(AppConfig(), save=_save, autostart=autostart)
    qtbot.addWidget(dialog)
    await _tick_and_apply(dialog, True)
    plist = tmp_path / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    entry = plistlib.loads(plist.read_bytes())
    assert entry["ProgramArguments"] == [command, "--minimized"] and entry["RunAtLoad"] is True
    again = SettingsDialog(AppConfig(), save=_save, autostart=autostart)
    qtbot.addWidget(again)
    await _tick_and_apply(again, False)
    assert not plist.exists()


async def test_windows_start_at_login_writes_and_removes_the_run_value(qtbot: QtBot) -> None:
    registry = MemoryRegistry()
    autostart = Autostart(
        platform="win32", environ={}, which={"genesys-tray-gui": WIN_COMMAND}.get, registry=registry
    )
    dialog = SettingsDialog(AppConfig(), save=_save, autostart=autostart)
    qtbot.addWidget(dialog)
    await _tick_and_apply(dialog, True)
    assert registry.values == {(RUN_KEY, VALUE_NAME): f'"{WIN_COMMAND}" --minimized'}
    again = SettingsDialog(AppConfig(), save=_save, autostart=autostart)
    qtbot.addWidget(again)
    await _tick_and_apply(again, False)
    assert registry.values == {}
