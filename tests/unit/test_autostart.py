"""Start at login on each desktop: XDG entry, Windows Run key, macOS LaunchAgent.

The XDG entry and the LaunchAgent are real files in a temp HOME. The Windows registry cannot run
here: the Run key adapter talks to an in-memory registry behind its port, and the real winreg
adapter to an in-memory stand-in of the ``winreg`` module with the same calls.
"""

from __future__ import annotations

import plistlib
import shlex
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gui.platform.autostart import APP_ICON, DESKTOP_TEMPLATE, Autostart, AutostartError
from gui.platform.autostart_base import login_command
from gui.platform.autostart_macos import LABEL, LaunchAgent
from gui.platform.autostart_windows import (
    APPROVED_KEY,
    RUN_KEY,
    VALUE_NAME,
    WindowsRunKey,
    WinregRegistry,
)
from gui.platform.autostart_xdg import XdgAutostart

SPACED = "/opt/genesys tray/bin/genesys-tray"
WIN_GUI = r"C:\Users\Ann Lee\pipx\venvs\genesys-tray\Scripts\genesys-tray-gui.exe"
WIN_CONSOLE = r"C:\Users\Ann Lee\pipx\venvs\genesys-tray\Scripts\genesys-tray.exe"


class MemoryRegistry:
    """HKEY_CURRENT_USER in memory: {(key, name): value}; can be told to refuse writes."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str | bytes] = {}
        self.refuse: OSError | None = None

    def get(self, key: str, name: str) -> str | bytes | None:
        return self.values.get((key, name))

    def set_string(self, key: str, name: str, value: str) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.values[(key, name)] = value

    def delete(self, key: str, name: str) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.values.pop((key, name), None)


def _finder(found: dict[str, str]) -> Callable[[str], str | None]:
    """A stand-in for shutil.which that knows only ``found``."""
    return found.get


# --- Linux: the XDG autostart entry ------------------------------------------------------------


def _xdg(tmp_path: Path, which: dict[str, str]) -> Autostart:
    return Autostart(
        platform="linux",
        environ={"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")},
        which=_finder(which),
    )


def _exec_argv(text: str) -> list[str]:
    """The Exec line read back the way a desktop reads it (string unescape, then quoting)."""
    line = next(x for x in text.splitlines() if x.startswith("Exec="))[5:]
    return shlex.split(line.replace("\\\\", "\\").replace("%%", "%"))


def test_xdg_enable_writes_the_entry_with_the_quoted_command(tmp_path: Path) -> None:
    autostart = _xdg(tmp_path, {"genesys-tray": SPACED})
    assert isinstance(autostart.adapter, XdgAutostart)
    assert not autostart.enabled()
    autostart.set_enabled(True)
    entry = tmp_path / "xdg" / "autostart" / "genesys-tray.desktop"
    assert autostart.entry_path() == entry
    text = entry.read_text(encoding="utf-8")
    assert f'Exec="{SPACED}" --minimized' in text
    assert _exec_argv(text) == [SPACED, "--minimized"]
    assert f"Icon={APP_ICON}" in text
    assert autostart.enabled()
    autostart.set_enabled(False)
    assert not entry.exists() and not autostart.enabled()


def test_xdg_escapes_backslashes_and_percent_signs(tmp_path: Path) -> None:
    odd = "/home/ann/100% \\ tools/genesys-tray"
    autostart = _xdg(tmp_path, {"genesys-tray": odd})
    autostart.set_enabled(True)
    assert _exec_argv(autostart.entry_path().read_text(encoding="utf-8")) == [odd, "--minimized"]


def test_xdg_switched_off_by_the_desktop_reads_as_off(tmp_path: Path) -> None:
    autostart = _xdg(tmp_path, {"genesys-tray": "/usr/bin/genesys-tray"})
    autostart.set_enabled(True)
    path = autostart.entry_path()
    path.write_text(path.read_text(encoding="utf-8") + "Hidden=true\n", encoding="utf-8")
    assert not autostart.enabled()


def test_the_command_is_found_beside_the_interpreter_when_not_on_path(tmp_path: Path) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "genesys-tray").write_text("#!/bin/sh\n", encoding="utf-8")
    python = str(bin_dir / "python")
    assert login_command(_finder({}), python) == [str(bin_dir / "genesys-tray")]
    (bin_dir / "genesys-tray").unlink()
    # No command at all (a checkout without an install): the interpreter runs main.py.
    program, script = login_command(_finder({}), python)
    assert program == python
    assert Path(script).name == "main.py" and Path(script).is_file()


def test_a_template_that_cannot_be_read_is_an_autostart_error(tmp_path: Path) -> None:
    autostart = Autostart(
        platform="linux",
        environ={"XDG_CONFIG_HOME": str(tmp_path)},
        template=tmp_path / "missing.desktop",
        which=_finder({"genesys-tray": "/usr/bin/genesys-tray"}),
    )
    with pytest.raises(AutostartError, match="could not be written"):
        autostart.set_enabled(True)
    assert DESKTOP_TEMPLATE.is_file()


# --- Windows: the per-user Run key ---------------------------------------------------------------


def _windows(registry: Any, which: dict[str, str]) -> Autostart:
    return Autostart(platform="win32", environ={}, which=_finder(which), registry=registry)


def test_windows_enable_writes_the_run_value_with_the_quoted_path() -> None:
    registry = MemoryRegistry()
    autostart = _windows(registry, {"genesys-tray-gui": WIN_GUI, "genesys-tray": WIN_CONSOLE})
    assert isinstance(autostart.adapter, WindowsRunKey)
    assert not autostart.enabled()
    autostart.set_enabled(True)
    # The windowless launcher, in double quotes (its folder holds a space), then the flag.
    assert registry.values[(RUN_KEY, VALUE_NAME)] == f'"{WIN_GUI}" --minimized'
    assert autostart.enabled()
    assert autostart.where == rf"HKEY_CURRENT_USER\{RUN_KEY}\Genesys Tray"
    autostart.set_enabled(False)
    assert (RUN_KEY, VALUE_NAME) not in registry.values
    assert not autostart.enabled()


def test_windows_uses_the_console_command_when_there_is_no_windowless_one() -> None:
    registry = MemoryRegistry()
    _windows(registry, {"genesys-tray": r"C:\Tools\genesys-tray.exe"}).set_enabled(True)
    assert registry.values[(RUN_KEY, VALUE_NAME)] == r"C:\Tools\genesys-tray.exe --minimized"


def test_windows_entry_switched_off_in_task_manager_reads_off_until_enabled_again() -> None:
    registry = MemoryRegistry()
    autostart = _windows(registry, {"genesys-tray-gui": WIN_GUI})
    autostart.set_enabled(True)
    registry.values[(APPROVED_KEY, VALUE_NAME)] = bytes([3]) + bytes(11)  # Task Manager: off
    assert not autostart.enabled()
    registry.values[(APPROVED_KEY, VALUE_NAME)] = bytes([2]) + bytes(11)  # back on there
    assert autostart.enabled()
    registry.values[(APPROVED_KEY, VALUE_NAME)] = bytes([3]) + bytes(11)
    autostart.set_enabled(True)  # the checkbox wins: the "off" mark is cleared
    assert (APPROVED_KEY, VALUE_NAME) not in registry.values
    assert autostart.enabled()


def test_windows_registry_refusal_is_an_autostart_error() -> None:
    registry = MemoryRegistry()
    registry.refuse = PermissionError(13, "Access is denied")
    autostart = _windows(registry, {"genesys-tray-gui": WIN_GUI})
    with pytest.raises(AutostartError, match=r"could not be written.*Access is denied"):
        autostart.set_enabled(True)


class _Key:
    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> _Key:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture
def fake_winreg(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[tuple[str, str], Any]]:
    """A stand-in ``winreg`` module with winreg's call shapes, over a dict."""
    hive = 0x80000001
    store: dict[tuple[str, str], Any] = {}
    keys: set[str] = set()
    mod = types.ModuleType("winreg")

    def open_key(root: int, path: str, reserved: int = 0, access: int = 0) -> _Key:
        assert root == hive and reserved == 0 and access in (0x20019, 0x0002)
        if path not in keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return _Key(path)

    def create_key_ex(root: int, path: str, reserved: int = 0, access: int = 0) -> _Key:
        assert root == hive and access == 0x0002
        keys.add(path)
        return _Key(path)

    def set_value_ex(key: _Key, name: str, reserved: int, kind: int, value: object) -> None:
        assert reserved == 0 and kind == 1 and isinstance(value, str)  # REG_SZ
        store[(key.path, name)] = value

    def query_value_ex(key: _Key, name: str) -> tuple[Any, int]:
        if (key.path, name) not in store:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        value = store[(key.path, name)]
        return value, 1 if isinstance(value, str) else 3

    def delete_value(key: _Key, name: str) -> None:
        if (key.path, name) not in store:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del store[(key.path, name)]

    for name, value in {
        "HKEY_CURRENT_USER": hive,
        "KEY_READ": 0x20019,
        "KEY_SET_VALUE": 0x0002,
        "REG_SZ": 1,
        "OpenKey": open_key,
        "CreateKeyEx": create_key_ex,
        "SetValueEx": set_value_ex,
        "QueryValueEx": query_value_ex,
        "DeleteValue": delete_value,
    }.items():
        setattr(mod, name, value)
    monkeypatch.setitem(sys.modules, "winreg", mod)
    yield store


def test_the_winreg_adapter_writes_reads_and_removes_under_hkcu(
    fake_winreg: dict[tuple[str, str], Any],
) -> None:
    autostart = Autostart(platform="win32", which=_finder({"genesys-tray-gui": WIN_GUI}))
    assert not autostart.enabled()  # no Run key yet: read as off, not an error
    autostart.set_enabled(False)  # removing what is not there is fine
    autostart.set_enabled(True)
    assert fake_winreg == {(RUN_KEY, VALUE_NAME): f'"{WIN_GUI}" --minimized'}
    assert autostart.enabled()
    assert WinregRegistry().get(APPROVED_KEY, VALUE_NAME) is None
    autostart.set_enabled(False)
    assert fake_winreg == {} and not autostart.enabled()


# --- macOS: the LaunchAgent --------------------------------------------------------------------


def _mac(tmp_path: Path, which: dict[str, str]) -> Autostart:
    return Autostart(platform="darwin", environ={"HOME": str(tmp_path)}, which=_finder(which))


def test_macos_enable_writes_a_launch_agent_that_runs_at_load(tmp_path: Path) -> None:
    command = "/Users/ann lee/.local/bin/genesys-tray"
    autostart = _mac(tmp_path, {"genesys-tray": command})
    assert isinstance(autostart.adapter, LaunchAgent)
    assert not autostart.enabled()
    autostart.set_enabled(True)
    path = tmp_path / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    assert autostart.entry_path() == path
    with path.open("rb") as handle:
        plist = plistlib.load(handle)
    assert plist["Label"] == LABEL
    assert plist["ProgramArguments"] == [command, "--minimized"]  # argv: no shell quoting
    assert plist["RunAtLoad"] is True
    assert autostart.enabled()
    autostart.set_enabled(False)
    assert not path.exists() and not autostart.enabled()


def test_macos_disabled_or_broken_plists_read_as_off(tmp_path: Path) -> None:
    autostart = _mac(tmp_path, {"genesys-tray": "/usr/local/bin/genesys-tray"})
    autostart.set_enabled(True)
    path = autostart.entry_path()
    plist = plistlib.loads(path.read_bytes())
    path.write_bytes(plistlib.dumps({**plist, "Disabled": True}))
    assert not autostart.enabled()
    path.write_bytes(b"not a plist")
    assert not autostart.enabled()
    autostart.set_enabled(True)  # rewritten whole
    assert autostart.enabled()


def test_macos_unwritable_folder_is_an_autostart_error(tmp_path: Path) -> None:
    (tmp_path / "Library").write_text("a file where a folder should be", encoding="utf-8")
    autostart = _mac(tmp_path, {"genesys-tray": "/usr/local/bin/genesys-tray"})
    with pytest.raises(AutostartError, match="could not be written"):
        autostart.set_enabled(True)


# --- the choice ----------------------------------------------------------------------------------


def test_other_systems_say_it_is_unavailable(tmp_path: Path) -> None:
    autostart = Autostart(platform="sunos5", environ={"HOME": str(tmp_path)})
    assert autostart.adapter is None and not autostart.supported and not autostart.enabled()
    assert "not available" in autostart.unavailable_reason
    with pytest.raises(AutostartError, match="not available"):
        autostart.set_enabled(True)
    assert list(tmp_path.iterdir()) == []
