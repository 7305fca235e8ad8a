"""Start at login on Linux and the BSDs: the XDG autostart entry.

The entry is ``$XDG_CONFIG_HOME/autostart/genesys-tray.desktop`` (``~/.config`` when the
variable is unset or not absolute, as the XDG base directory spec says), written from
``resources/genesys-tray.desktop`` with the command's and the icon's absolute paths filled in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from gui.platform.autostart_base import COMMAND, AutostartError

ENTRY_NAME: Final = "genesys-tray.desktop"
ICON_PLACEHOLDER: Final = "@ICON@"


class XdgAutostart:
    """The XDG autostart entry of this user.

    Args:
        environ: the environment (``XDG_CONFIG_HOME``, ``HOME``).
        template: the .desktop file to install (its ``Exec`` starts with ``genesys-tray``).
        icon: the icon file the entry names.
        command: the program to start, as :func:`~gui.platform.autostart_base.login_command`
            found it; it replaces ``genesys-tray`` in the template's ``Exec``.
    """

    def __init__(
        self, *, environ: Mapping[str, str], template: Path, icon: Path, command: Sequence[str]
    ) -> None:
        self._environ = environ
        self._template = template
        self._icon = icon
        self._command = list(command)

    @property
    def where(self) -> str:
        """The entry's file."""
        return str(self.entry_path())

    def entry_path(self) -> Path:
        """Where the autostart entry lives (``$XDG_CONFIG_HOME/autostart/genesys-tray.desktop``)."""
        base = self._environ.get("XDG_CONFIG_HOME", "")
        if not base or not os.path.isabs(base):
            home = self._environ.get("HOME") or str(Path.home())
            base = os.path.join(home, ".config")
        return Path(base) / "autostart" / ENTRY_NAME

    def enabled(self) -> bool:
        """Whether the entry is installed (and not disabled by the desktop's own switch)."""
        try:
            text = self.entry_path().read_text(encoding="utf-8")
        except OSError:
            return False
        return "Hidden=true" not in text and "X-GNOME-Autostart-enabled=false" not in text

    def entry_text(self) -> str:
        """The entry as it would be written."""
        text = self._template.read_text(encoding="utf-8")
        if self._command:
            program = " ".join(_quote(part) for part in self._command)
            text = text.replace(f"Exec={COMMAND} ", f"Exec={program} ", 1)
        return text.replace(ICON_PLACEHOLDER, str(self._icon))

    def set_enabled(self, enabled: bool) -> None:
        """Install or remove the entry.

        Raises:
            AutostartError: the file could not be written/removed (or the template read).
        """
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


def _quote(argument: str) -> str:
    """One Exec argument as the Desktop Entry spec wants it in the file.

    Reserved characters put it in double quotes, where ``"`` ``\\`` `` ` `` ``$`` take a
    backslash; the file's own string escaping then doubles every backslash, and ``%`` (a field
    code) is written ``%%``.
    """
    if argument and not any(c in argument for c in " \t\n\"'\\$`<>~|&;*?#()"):
        quoted = argument
    else:
        for char in ("\\", '"', "`", "$"):
            argument = argument.replace(char, "\\" + char)
        quoted = '"' + argument + '"'
    return quoted.replace("\\", "\\\\").replace("%", "%%")
