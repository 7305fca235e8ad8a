"""When to run a callback later: injected into the Notifier so tests drive time by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, QTimer


class Scheduler(Protocol):
    """Runs a callback later; injected so tests drive time by hand."""

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` after ``delay_s`` seconds; returns a function that cancels it."""
        ...


class QtScheduler:
    """:class:`Scheduler` on single-shot QTimers (the app's only event loop is Qt's)."""

    def __init__(self, parent: QObject) -> None:
        """Timers are children of ``parent``, so they die with it."""
        self._parent = parent

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Callable[[], None]:
        """Start a single-shot timer; the returned function stops and deletes it."""
        timer = QTimer(self._parent)
        timer.setSingleShot(True)
        done = False

        def fire() -> None:
            nonlocal done
            done = True
            timer.deleteLater()
            callback()

        def cancel() -> None:
            nonlocal done
            if not done:
                done = True
                timer.stop()
                timer.deleteLater()

        timer.timeout.connect(fire)
        timer.start(max(0, round(delay_s * 1000)))
        return cancel
