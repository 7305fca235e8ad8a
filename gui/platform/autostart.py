"""Start at login: the XDG autostart entry on Linux, clearly unavailable elsewhere.

The entry is ``$XDG_CONFIG_HOME/autostart/genesys-tray.desktop`` (``~/.config`` when the
variable is unset or not absolute, as the XDG base directory spec says), written from
``resources/genesys-tray.desktop`` with the icon's absolute path filled in. It starts the app with
``--minimized``, so a login puts the icon in the tray and no window on the screen.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

RESOURCES: Final = Path(__file__).resolve().parents[2] / "resources"
DESKTOP_TEMPLATE: Final = RESOURCES / "genesys-tray.desktop"
APP_ICON: Final = RESOURCES / "icons" / "live.svg"
ENTRY_NAME: Final = "genesys-tray.desktop"
COMMAND: Final = "genesys-tray"
ICON_PLACEHOLDER: Final = "@ICON@"


class AutostartError(Exception):
    """The autostart entry could not be written or removed (message for the person)."""


class Autostart:
    """The start-at-login switch of one platform.

    Args:
        platform: ``sys.platform`` (tests pass another).
        environ: the environment (``XDG_CONFIG_HOME``, ``HOME``).
        template: the .desktop file to install.
        icon: the icon file the entry names.
        which: finds the ``genesys-tray`` command (its absolute path goes into ``Exec``, since a
            login session's PATH may not include the virtualenv's bin).
    """

    def __init__(
        self,
        *,
        platform: str = sys.platform,
        environ: Mapping[str, str] | None = None,
        template: Path = DESKTOP_TEMPLATE,
        icon: Path = APP_ICON,
        which: Callable[[str], str | None] = shutil.which,
    ) -> None:
        self._platform = platform
        self._environ = os.environ if environ is None else environ
        self._template = template
        self._icon = icon
        self._which = which

    @property
    def supported(self) -> bool:
        """Whether this platform has an autostart mechanism we can use."""
        return self._platform.startswith(("linux", "freebsd", "openbsd", "netbsd"))

    @property
    def unavailable_reason(self) -> str:
        """Why start-at-login cannot be offered here ("" when it can)."""
        if self.supported:
            return ""
        return (
            "Starting at login is not available on this system yet; add Genesys Tray to your "
            "login items yourself."
        )

    def entry_path(self) -> Path:
        """Where the autostart entry lives (``$XDG_CONFIG_HOME/autostart/genesys-tray.desktop``)."""
        base = self._environ.get("XDG_CONFIG_HOME", "")
        if not base or not os.path.isabs(base):
            home = self._environ.get("HOME") or str(Path.home())
            base = os.path.join(home, ".config")
        return Path(base) / "autostart" / ENTRY_NAME

    def enabled(self) -> bool:
        """Whether the entry is installed (and not disabled by the desktop's own switch)."""
        if not self.supported:
            return False
        try:
            text = self.entry_path().read_text(encoding="utf-8")
        except OSError:
            return False
        return "Hidden=true" not in text and "X-GNOME-Autostart-enabled=false" not in text

    def entry_text(self) -> str:
        """The entry as it would be written."""
        text = self._template.read_text(encoding="utf-8")
        command = self._which(COMMAND)
        if command:
            text = text.replace(f"Exec={COMMAND} ", f"Exec={_quote(command)} ", 1)
        return text.replace(ICON_PLACEHOLDER, str(self._icon))

    def set_enabled(self, enabled: bool) -> None:
        """Install or remove the entry.

        Raises:
            AutostartError: unsupported platform, or the file could not be written/removed.
        """
        if not self.supported:
            raise AutostartError(self.unavailable_reason)
        path = self.entry_path()
        try:
            if enabled:
                text = self.entry_text()
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_text(text, encoding="utf-8")
                os.replace(tmp, path)
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            verb = "written" if enabled else "removed"
            raise AutostartError(
                f"The start-at-login entry {path} could not be {verb} ({exc.strerror or exc})."
            ) from exc


def _quote(command: str) -> str:
    """Quote an Exec program path per the Desktop Entry spec when it holds spaces or quotes."""
    if not any(c in command for c in " \t\"'\\$`"):
        return command
    for char in ("\\", '"', "`", "$"):
        command = command.replace(char, "\\" + char)
    return '"' + command + '"'
