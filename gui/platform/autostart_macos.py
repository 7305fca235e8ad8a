"""Start at login on macOS: a LaunchAgent of this user.

``~/Library/LaunchAgents/<LABEL>.plist`` with ``RunAtLoad``: launchd starts the program at the
next login, in the graphical session only (``LimitLoadToSessionType`` Aqua). Nothing is loaded
now with ``launchctl``: the app is already running, and loading the agent would start a second
one (which would only hand over to the first and exit).
"""

from __future__ import annotations

import os
import plistlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from gui.platform.autostart_base import START_ARGS, AutostartError

LABEL: Final = "org.genesys-tray.monitor"


class LaunchAgent:
    """The LaunchAgent plist of this user.

    Args:
        environ: the environment (``HOME``).
        command: the program to start (and its arguments), without ``--minimized``; an
            absolute path, since launchd's PATH is only the system folders.
    """

    def __init__(self, *, environ: Mapping[str, str], command: Sequence[str]) -> None:
        self._environ = environ
        self._command = list(command)

    @property
    def where(self) -> str:
        """The plist file."""
        return str(self.entry_path())

    def entry_path(self) -> Path:
        """``~/Library/LaunchAgents/org.genesys-tray.monitor.plist``."""
        home = self._environ.get("HOME") or str(Path.home())
        return Path(home) / "Library" / "LaunchAgents" / f"{LABEL}.plist"

    def entry(self) -> dict[str, Any]:
        """The plist's content as it would be written."""
        return {
            "Label": LABEL,
            "ProgramArguments": [*self._command, *START_ARGS],
            "RunAtLoad": True,
            "LimitLoadToSessionType": "Aqua",
            "ProcessType": "Interactive",
        }

    def enabled(self) -> bool:
        """Whether our plist is there, readable, runs at load and is not marked Disabled."""
        try:
            with self.entry_path().open("rb") as handle:
                data = plistlib.load(handle)
        except (OSError, plistlib.InvalidFileException, ValueError):
            return False
        return (
            isinstance(data, dict)
            and data.get("Label") == LABEL
            and data.get("RunAtLoad") is True
            and data.get("Disabled") is not True
            and bool(data.get("ProgramArguments"))
        )

    def set_enabled(self, enabled: bool) -> None:
        """Write or remove the plist.

        Raises:
            AutostartError: the file could not be written/removed.
        """
        path = self.entry_path()
        try:
            if enabled:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.tmp")
                with tmp.open("wb") as handle:
                    plistlib.dump(self.entry(), handle)
                os.replace(tmp, path)
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            verb = "written" if enabled else "removed"
            raise AutostartError(
                f"The start-at-login entry {path} could not be {verb} ({exc.strerror or exc})."
            ) from exc
