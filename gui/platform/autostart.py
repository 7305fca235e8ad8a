"""Start at login, on each desktop by its own mechanism, chosen at run time.

* Linux and the BSDs: the XDG autostart entry (:mod:`gui.platform.autostart_xdg`);
* Windows: a value under the per-user Run key (:mod:`gui.platform.autostart_windows`);
* macOS: a LaunchAgent plist (:mod:`gui.platform.autostart_macos`);
* anything else: clearly unavailable.

Every entry starts the installed command with ``--minimized``, so a login puts the icon in the
tray and no window on the screen. :class:`Autostart` is what the app and the settings dialog use.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from gui.platform.autostart_base import (
    COMMAND,
    AutostartAdapter,
    AutostartError,
    login_command,
    resource_dir,
)
from gui.platform.autostart_macos import LaunchAgent
from gui.platform.autostart_windows import RegistryPort, WindowsRunKey, WinregRegistry
from gui.platform.autostart_xdg import ENTRY_NAME, ICON_PLACEHOLDER, XdgAutostart

RESOURCES: Final = resource_dir()
DESKTOP_TEMPLATE: Final = RESOURCES / "genesys-tray.desktop"
APP_ICON: Final = RESOURCES / "icons" / "live.svg"

__all__ = [
    "APP_ICON",
    "COMMAND",
    "DESKTOP_TEMPLATE",
    "ENTRY_NAME",
    "ICON_PLACEHOLDER",
    "RESOURCES",
    "Autostart",
    "AutostartError",
    "choose_adapter",
]

_XDG_PLATFORMS: Final = ("linux", "freebsd", "openbsd", "netbsd")


def choose_adapter(
    platform: str,
    *,
    environ: Mapping[str, str],
    template: Path,
    icon: Path,
    which: Callable[[str], str | None],
    executable: str,
    registry: RegistryPort | None,
) -> AutostartAdapter | None:
    """This platform's start-at-login mechanism, or None when it has none we can use."""
    if platform.startswith(_XDG_PLATFORMS):
        command = login_command(which, executable)
        return XdgAutostart(environ=environ, template=template, icon=icon, command=command)
    if platform == "win32":
        command = login_command(which, executable, windows=True)
        return WindowsRunKey(registry=registry or WinregRegistry(), command=command)
    if platform == "darwin":
        return LaunchAgent(environ=environ, command=login_command(which, executable))
    return None


class Autostart:
    """The start-at-login switch of one platform.

    Args:
        platform: ``sys.platform`` (tests pass another).
        environ: the environment (``XDG_CONFIG_HOME``, ``HOME``).
        template: the .desktop file to install (XDG).
        icon: the icon file the entry names (XDG).
        which: finds the ``genesys-tray`` command (its absolute path goes into the entry, since a
            login session's PATH may not include the virtualenv's bin).
        executable: the running interpreter; the command beside it is the next choice.
        registry: the Windows registry (default: the real one, on Windows only).
    """

    def __init__(
        self,
        *,
        platform: str = sys.platform,
        environ: Mapping[str, str] | None = None,
        template: Path = DESKTOP_TEMPLATE,
        icon: Path = APP_ICON,
        which: Callable[[str], str | None] = shutil.which,
        executable: str = sys.executable,
        registry: RegistryPort | None = None,
    ) -> None:
        self.adapter = choose_adapter(
            platform,
            environ=os.environ if environ is None else environ,
            template=template,
            icon=icon,
            which=which,
            executable=executable,
            registry=registry,
        )

    @property
    def supported(self) -> bool:
        """Whether this platform has an autostart mechanism we can use."""
        return self.adapter is not None

    @property
    def unavailable_reason(self) -> str:
        """Why start-at-login cannot be offered here ("" when it can)."""
        if self.supported:
            return ""
        return (
            "Starting at login is not available on this system yet; add Genesys Tray to your "
            "login items yourself."
        )

    @property
    def where(self) -> str:
        """Where the entry lives, in words ("" when unsupported)."""
        return self.adapter.where if self.adapter is not None else ""

    def entry_path(self) -> Path:
        """The entry's file (XDG autostart entry or LaunchAgent plist).

        Raises:
            AutostartError: this platform keeps no file (Windows) or has no mechanism.
        """
        if isinstance(self.adapter, XdgAutostart | LaunchAgent):
            return self.adapter.entry_path()
        raise AutostartError(self.unavailable_reason or "The entry here is not a file.")

    def entry_text(self) -> str:
        """The XDG entry as it would be written.

        Raises:
            AutostartError: the platform does not use XDG autostart.
        """
        if isinstance(self.adapter, XdgAutostart):
            return self.adapter.entry_text()
        raise AutostartError("Only the XDG autostart entry is a text file.")

    def enabled(self) -> bool:
        """Whether the entry is installed (and not switched off by the desktop itself)."""
        return self.adapter is not None and self.adapter.enabled()

    def set_enabled(self, enabled: bool) -> None:
        """Install or remove the entry.

        Raises:
            AutostartError: unsupported platform, or the entry could not be written/removed.
        """
        if self.adapter is None:
            raise AutostartError(self.unavailable_reason)
        self.adapter.set_enabled(enabled)
