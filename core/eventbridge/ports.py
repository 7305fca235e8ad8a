"""What the GUI (and ``listen``) need of the EventBridge source: its status and its changes.

A leaf: the consumer (core.eventbridge.consumer) satisfies :class:`StatusSource` without
importing the GUI, and the GUI shows any source that has this shape (a test's stand-in too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from core.eventbridge.events import SourceStatus

StatusListener = Callable[[SourceStatus], None]


class StatusSource(Protocol):
    """A source whose status the status bar and the tray show."""

    @property
    def status(self) -> SourceStatus:
        """The status now."""
        ...

    def add_status_listener(self, cb: StatusListener) -> Callable[[], None]:
        """Call ``cb`` (on the loop thread) with every new status; returns the remover."""
        ...
