"""Both event sources in the status bar: the WebSocket's state and EventBridge's lag and backlog.

:class:`StatusRelay` turns a core :class:`core.eventbridge.ports.StatusSource` (plain
callbacks on the loop thread) into a Qt signal, as :class:`gui.bridge.EngineBridge` does for the
engine. :class:`EventBridgeLabel` shows the source's status; a source that is down or behind is
shown in the warning colour with a warning sign, and its problem in the tooltip.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QWidget

from core.eventbridge.events import SourceStatus
from core.eventbridge.ports import StatusSource
from core.eventbridge.words import problem_line, short_text, unhealthy

logger = logging.getLogger(__name__)

WARNING_STYLE = "color: #c5221f; font-weight: bold;"
WARNING_SIGN = "\u26a0 "
HELP = "EventBridge keeps events in a queue, so a gap in the WebSocket loses none."


class StatusRelay(QObject):
    """Re-emits a status source's changes as ``changed(SourceStatus)`` (queued across threads).

    Signals:
        changed(object): the source's new :class:`SourceStatus`.
    """

    changed = Signal(object)

    def __init__(self, source: StatusSource, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self._remove: Callable[[], None] | None = source.add_status_listener(self.changed.emit)

    @property
    def status(self) -> SourceStatus:
        """The source's status now."""
        return self.source.status

    def stop(self) -> None:
        """Stop listening (part of the staged shutdown)."""
        if self._remove is not None:
            self._remove()
            self._remove = None


class EventBridgeLabel(QLabel):
    """``· EventBridge lag 0.8 s, backlog 0``; empty while no queue is set up."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("eventBridgeLabel")
        self.warning = False

    def show_status(self, status: SourceStatus | None) -> None:
        """Show ``status``; None empties the label (no EventBridge queue for this org).

        The label is emptied, never hidden or shown: the status bar hides its widgets while a
        message shows, and showing one then would paint it over the message.
        """
        if status is None:
            self.warning = False
            self.setText("")
            self.setStyleSheet("")
            self.setToolTip("")
            return
        self.warning = unhealthy(status)
        sign = WARNING_SIGN if self.warning else ""
        self.setText(f"· {sign}{short_text(status)}")
        self.setStyleSheet(WARNING_STYLE if self.warning else "")
        self.setToolTip(problem_line(status) or HELP)
