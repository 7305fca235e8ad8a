"""A 10 ms QTimer that measures how long the GUI loop went without running it.

A test that must not freeze the app starts one, does its work, stops it and asserts on
:attr:`Ticks.longest`: the longest gap between two ticks (or between the last tick and the stop,
so a stall that ran to the end counts too).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer


class Ticks:
    """A 10 ms QTimer and the longest gap between two of its ticks while it ran."""

    def __init__(self, interval_ms: int = 10) -> None:
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._on_timeout)
        self.last = time.monotonic()
        self.longest = 0.0
        self.count = 0

    def _on_timeout(self) -> None:
        now = time.monotonic()
        self.longest = max(self.longest, now - self.last)
        self.last = now
        self.count += 1

    def start(self) -> None:
        """Start ticking; the gaps count from now."""
        self.last = time.monotonic()
        self.timer.start()

    def stop(self) -> None:
        """Stop; a stall that ran up to now counts too (no tick came after it)."""
        self.timer.stop()
        self.longest = max(self.longest, time.monotonic() - self.last)
