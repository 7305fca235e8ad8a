"""Dialogs without a Qt parent are deleted on the GUI thread at shutdown.

Left to Python's cycle collector, a closed settings, "What to watch" or filters dialog could be
freed on a worker thread (asyncio.to_thread, the journal writer), and Qt then crashed the
process at random (found as a rare segfault at the end of a GUI test). The probe runs the app
in a subprocess, opens and closes every dialog twice, shuts the app down and runs a cycle
collection on another thread: the process must end normally.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_dialogs_survive_a_cycle_collection_on_another_thread(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    for attempt in range(3):
        proc = subprocess.run(
            [sys.executable, "-X", "faulthandler", "-m", "tests.gui.dialog_lifetime_probe"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert proc.returncode == 0, (attempt, proc.returncode, proc.stderr[-3000:])
