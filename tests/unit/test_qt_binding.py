"""The Qt binding must survive a day of calls: guard against PySide6's None-refcount bug.

PySide6-Essentials 6.12.0 on Python 3.11 released a reference to ``None`` on every Qt method
that returns nothing; a tray app makes millions of such calls a day and the interpreter aborts
with ``none_dealloc``. The pin in pyproject.toml keeps us off it; this test fails if a future
bump brings the bug back.
"""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from PySide6.QtCore import QObject
obj = QObject()
before = sys.getrefcount(None)
for _ in range(50_000):
    obj.setObjectName("x")
print(sys.getrefcount(None) - before)
"""


def test_void_qt_calls_keep_the_refcount_of_none() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert abs(int(done.stdout.strip())) < 100
