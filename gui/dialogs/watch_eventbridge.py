""" "What to watch", EventBridge part: org-wide classes beyond the WebSocket's limits.

Shown only when this org has an EventBridge queue. The WebSocket needs one topic per person
(1,000 a channel, 20 channels); EventBridge's filters cover whole classes, so "every user's
presence and routing" costs no topics at all. The box also names the topics only EventBridge
carries, read from ``availabletopics`` ``transports`` through an injected core coroutine (the
dialog does no network I/O).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QGroupBox, QLabel, QVBoxLayout, QWidget

from core.errors import GenesysTrayError

logger = logging.getLogger(__name__)

LoadTopics = Callable[[], Awaitable[list[str]]]
ORG_WIDE = "Follow everyone's presence and routing through EventBridge"
ORG_WIDE_NOTE = (
    "EventBridge covers whole classes of events, so this costs no live topics and has no "
    "per-person limit. Events still arrive while this computer is offline."
)


TOPIC_WORDS = {
    "v2.audits.entitytype.{id}.entityid.{id}": "audit events (who changed what)",
    "v2.users.{id}.presence": "presence",
    "v2.users.{id}.routingStatus": "routing status",
    "v2.routing.queues.{id}.conversations": "queue conversations",
}


def only_words(topics: list[str]) -> str:
    """The EventBridge-only topics in a sentence, in words where the app knows them."""
    if not topics:
        return "Every kind of event this org offers also comes over the live connection."
    return "Only EventBridge carries: " + ", ".join(TOPIC_WORDS.get(t, t) for t in topics) + "."


class EventBridgeWatchBox(QGroupBox):
    """The org-wide switch and the EventBridge-only topics.

    Signals:
        edited(): the switch changed (the dialog's Apply follows it).
    """

    edited = Signal()

    def __init__(
        self, org_wide: bool, load_topics: LoadTopics | None, parent: QWidget | None = None
    ) -> None:
        super().__init__("EventBridge", parent)
        self.setObjectName("eventBridgeWatch")
        self.applied_org_wide = org_wide
        self._load_topics = load_topics
        box = QVBoxLayout(self)
        self.org_wide_box = QCheckBox(ORG_WIDE)
        self.org_wide_box.setChecked(org_wide)
        self.org_wide_box.toggled.connect(self._on_org_wide_toggled)
        note = QLabel(ORG_WIDE_NOTE)
        note.setWordWrap(True)
        self.topics = QLabel("" if load_topics is None else "Reading which topics need it…")
        self.topics.setObjectName("eventBridgeOnly")
        self.topics.setWordWrap(True)
        box.addWidget(self.org_wide_box)
        box.addWidget(note)
        box.addWidget(self.topics)

    def org_wide(self) -> bool:
        """Whether the switch is on."""
        return self.org_wide_box.isChecked()

    def changed(self) -> bool:
        """Whether the switch differs from what was applied."""
        return self.org_wide() != self.applied_org_wide

    def mark_applied(self) -> None:
        """The dialog applied: the switch's state is now the applied one."""
        self.applied_org_wide = self.org_wide()

    async def load(self) -> list[str] | None:
        """Read and show the EventBridge-only topics; None when they could not be read."""
        if self._load_topics is None:
            return None
        try:
            topics = await self._load_topics()
        except GenesysTrayError as exc:
            logger.info("EventBridge-only topics not read: %s", exc)
            self.topics.setText("Which topics only EventBridge carries could not be read.")
            return None
        self.topics.setText(only_words(topics))
        self.topics.setToolTip("\n".join(topics))  # the topic names, for an admin
        return topics

    def _on_org_wide_toggled(self, _on: bool) -> None:
        self.edited.emit()
