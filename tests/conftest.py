"""Suite-wide settings. Keep this small: fixtures belong next to the tests that use them.

Defaults for a plain ``pytest`` run outside tests/testbed/run.sh (which sets both itself):

* ``QT_QPA_PLATFORM=offscreen``: GUI unit tests never need an X server. Tests that need the real
  tray run their Qt part in a subprocess on xcb (tests/desktop/qt_probe.py).
* no session bus when none is configured: with DISPLAY set and DBUS_SESSION_BUS_ADDRESS unset,
  libdbus would autolaunch a dbus-daemon that outlives the run (recipe gotcha G6).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_runtime_bus = Path(os.environ.get("XDG_RUNTIME_DIR", "/nonexistent")) / "bus"
if "DBUS_SESSION_BUS_ADDRESS" not in os.environ and not _runtime_bus.exists():
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent"
