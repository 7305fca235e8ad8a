"""What every start-at-login adapter shares: the error, the adapter shape, the command to start.

The command matters most: a login session's PATH rarely holds a virtualenv's or pipx's bin
folder, so an entry names the installed ``genesys-tray`` by its absolute path. On Windows the
windowless ``genesys-tray-gui`` launcher comes first (the console one would leave a console
window open after every login).
"""

from __future__ import annotations

import site
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final, Protocol

COMMAND: Final = "genesys-tray"
GUI_COMMAND: Final = "genesys-tray-gui"  # [project.gui-scripts]: no console window on Windows
START_ARGS: Final = ("--minimized",)  # a login puts the icon in the tray, no window on the screen
_SHARE: Final = Path("share") / "genesys-tray" / "resources"
# A checkout: resources/ beside gui/. An installed wheel: main.py sits in site-packages beside
# the gui package, so the same parent holds it in both cases.
_ROOT: Final = Path(__file__).resolve().parents[2]


class AutostartError(Exception):
    """The autostart entry could not be written or removed (message for the person)."""


class AutostartAdapter(Protocol):
    """One platform's start-at-login mechanism."""

    @property
    def where(self) -> str:
        """Where the entry lives, in words (a file path or a registry value)."""

    def enabled(self) -> bool:
        """Whether the entry is installed and not switched off by the desktop itself."""

    def set_enabled(self, enabled: bool) -> None:
        """Install or remove the entry.

        Raises:
            AutostartError: the entry could not be written or removed.
        """


def resource_dir() -> Path:
    """``resources/`` of a checkout, else the one an installed wheel put under ``<prefix>/share``.

    ``pip install --user`` puts the wheel's data files under the user base instead of
    ``sys.prefix``; that is the last place looked.
    """
    candidates = [
        _ROOT / "resources",
        Path(sys.prefix) / _SHARE,
        Path(site.getuserbase()) / _SHARE,
    ]
    for candidate in candidates:
        if (candidate / "genesys-tray.desktop").is_file():
            return candidate
    return candidates[0]


def login_command(
    which: Callable[[str], str | None], executable: str, *, windows: bool = False
) -> list[str]:
    """The program (and its arguments, ``--minimized`` excluded) a login should start.

    In order: the installed command found on PATH; the one beside the running interpreter (a
    virtualenv or pipx folder that is not on the login PATH); the interpreter running
    ``main.py`` (a checkout without an install).

    Args:
        which: finds a command on PATH (``shutil.which``).
        executable: the running interpreter (``sys.executable``).
        windows: prefer the windowless launchers (``genesys-tray-gui``, ``pythonw.exe``).
    """
    names = (GUI_COMMAND, COMMAND) if windows else (COMMAND,)
    for name in names:
        found = which(name)
        if found:
            return [found]
    folder = Path(executable).parent
    for name in names:
        sibling = folder / (f"{name}.exe" if windows else name)
        if sibling.is_file():
            return [str(sibling)]
    python = executable
    if windows and (folder / "pythonw.exe").is_file():
        python = str(folder / "pythonw.exe")
    return [python, str(_ROOT / "main.py")]
