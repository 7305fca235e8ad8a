"""Start at login on Windows: a value under the per-user Run key.

``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run`` holds one string per program, a
command line. Task Manager's Startup tab switches an entry off without removing it, by a binary
value of the same name under ``...\\Explorer\\StartupApproved\\Run`` whose first byte is odd; an
entry switched off there reads as off here, and turning it on again clears that value.

The registry is reached through :class:`RegistryPort`, so the adapter runs (and is tested) where
``winreg`` does not exist; :class:`WinregRegistry` is the real one.
"""

from __future__ import annotations

import importlib
import logging
import subprocess
from collections.abc import Sequence
from typing import Any, Final, Protocol

from gui.platform.autostart_base import START_ARGS, AutostartError

logger = logging.getLogger(__name__)

RUN_KEY: Final = r"Software\Microsoft\Windows\CurrentVersion\Run"
APPROVED_KEY: Final = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
VALUE_NAME: Final = "Genesys Tray"


class RegistryPort(Protocol):
    """The few HKEY_CURRENT_USER operations the Run key needs (``key`` is below HKCU)."""

    def get(self, key: str, name: str) -> str | bytes | None:
        """The value ``name`` of ``key``; None when the key or the value is missing."""

    def set_string(self, key: str, name: str, value: str) -> None:
        """Write ``name`` = ``value`` (REG_SZ), creating ``key`` when needed."""

    def delete(self, key: str, name: str) -> None:
        """Remove ``name`` from ``key``; nothing happens when it is missing."""


class WinregRegistry:
    """:class:`RegistryPort` over :mod:`winreg` (Windows only; imported on first use)."""

    def __init__(self) -> None:
        self._winreg: Any = importlib.import_module("winreg")

    def get(self, key: str, name: str) -> str | bytes | None:
        """The value, or None when the key or the value is missing."""
        reg = self._winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, key, 0, reg.KEY_READ) as handle:
                value, _kind = reg.QueryValueEx(handle, name)
        except FileNotFoundError:
            return None
        return value if isinstance(value, str | bytes) else None

    def set_string(self, key: str, name: str, value: str) -> None:
        """Write a REG_SZ value."""
        reg = self._winreg
        with reg.CreateKeyEx(reg.HKEY_CURRENT_USER, key, 0, reg.KEY_SET_VALUE) as handle:
            reg.SetValueEx(handle, name, 0, reg.REG_SZ, value)

    def delete(self, key: str, name: str) -> None:
        """Remove a value; a missing key or value is fine."""
        reg = self._winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, key, 0, reg.KEY_SET_VALUE) as handle:
                reg.DeleteValue(handle, name)
        except FileNotFoundError:
            return


class WindowsRunKey:
    """The Run key entry of this user.

    Args:
        registry: the registry (the real one, or a stand-in in tests).
        command: the program to start (and its arguments), without ``--minimized``.
    """

    def __init__(self, *, registry: RegistryPort, command: Sequence[str]) -> None:
        self._registry = registry
        self._command = list(command)

    @property
    def where(self) -> str:
        """The registry value."""
        return f"HKEY_CURRENT_USER\\{RUN_KEY}\\{VALUE_NAME}"

    def command_line(self) -> str:
        """The value written: one Windows command line, paths with spaces in double quotes."""
        return subprocess.list2cmdline([*self._command, *START_ARGS])

    def enabled(self) -> bool:
        """Whether the Run value exists and Task Manager has not switched it off."""
        try:
            value = self._registry.get(RUN_KEY, VALUE_NAME)
            approved = self._registry.get(APPROVED_KEY, VALUE_NAME)
        except OSError as exc:
            logger.warning("autostart: the Run key could not be read: %s", exc)
            return False
        if not isinstance(value, str) or not value.strip():
            return False
        return not (isinstance(approved, bytes) and approved[:1] and approved[0] % 2 == 1)

    def set_enabled(self, enabled: bool) -> None:
        """Write or remove the Run value (and clear Task Manager's "disabled" mark on enable).

        Raises:
            AutostartError: the registry refused.
        """
        try:
            if enabled:
                self._registry.set_string(RUN_KEY, VALUE_NAME, self.command_line())
                self._registry.delete(APPROVED_KEY, VALUE_NAME)
            else:
                self._registry.delete(RUN_KEY, VALUE_NAME)
        except OSError as exc:
            verb = "written" if enabled else "removed"
            raise AutostartError(
                f"The start-at-login entry {self.where} could not be {verb} "
                f"({exc.strerror or exc})."
            ) from exc
