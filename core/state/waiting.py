"""The conversations of one queue as a supervisor reads them: who waits, how long, on what media.

The store keeps each queue conversation's state and when it began to wait
(:attr:`core.state.store.QueueState.conversations`), which is all the longest wait needs. The
queue's drill-down also shows the media of each call and the agent a call rings at; the events
carry both (:class:`~core.streaming.events.QueueConversationChanged`,
:class:`~core.streaming.events.WaitingConversation` of a REST read), so :class:`ConversationBook`
keeps them beside the store, fed by :meth:`core.state.store.Store.apply`. The store's own map
stays the truth of which conversations exist: the book only adds details, and forgets those of
conversations the store no longer holds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from core.domain.media import WHOLE_QUEUE
from core.streaming.events import QueueConversationChanged, QueueCountersRead

logger = logging.getLogger(__name__)

KEEP_AT_MOST: Final = 4096
"""Details kept at most: a conversation whose "ended" was lost in a gap must not stay for ever.
Beyond it the least recently named go (their calls then show no media; the state stays)."""

STATE_ORDER: Final = {"waiting": 0, "alerting": 1, "interacting": 2}


@dataclass(frozen=True, slots=True)
class ConversationDetail:
    """What an event said about one conversation besides its state."""

    media_type: str = WHOLE_QUEUE
    agent_user_id: str | None = None


@dataclass(frozen=True, slots=True)
class QueueCall:
    """One conversation of a queue, ready for the drill-down's table."""

    conversation_id: str
    state: str  # waiting | alerting | interacting
    since: datetime | None
    media_type: str
    agent_user_id: str | None

    def wait_s(self, now: datetime) -> float | None:
        """Seconds since the call began to wait (None when nothing said when)."""
        if self.since is None:
            return None
        return max(0.0, (now - self.since).total_seconds())


class ConversationBook:
    """Media and agent of every queue conversation the events named, by conversation id."""

    def __init__(self) -> None:
        self._details: dict[str, ConversationDetail] = {}

    def __len__(self) -> int:
        return len(self._details)

    def detail(self, conversation_id: str) -> ConversationDetail | None:
        """What is known of a conversation besides its state."""
        return self._details.get(conversation_id)

    def note(self, event: QueueConversationChanged | QueueCountersRead) -> None:
        """Keep the details an event carries (an ended conversation is forgotten)."""
        if isinstance(event, QueueConversationChanged):
            if event.state == "ended":
                self._details.pop(event.conversation_id, None)
                return
            known = self._details.get(event.conversation_id)
            media = event.media_type or (known.media_type if known else WHOLE_QUEUE)
            # Back to waiting after a ring-out: no agent any more.
            agent = None if event.state == "waiting" else event.agent_user_id
            self._keep(event.conversation_id, ConversationDetail(media, agent))
        elif event.waiting is not None:
            for item in event.waiting:
                known = self._details.get(item.conversation_id)
                media = item.media_type or (known.media_type if known else WHOLE_QUEUE)
                self._keep(item.conversation_id, ConversationDetail(media, None))

    def _keep(self, conversation_id: str, detail: ConversationDetail) -> None:
        self._details.pop(conversation_id, None)  # re-inserted: the dict's order is recency
        self._details[conversation_id] = detail
        while len(self._details) > KEEP_AT_MOST:
            del self._details[next(iter(self._details))]


def queue_calls(
    conversations: Mapping[str, tuple[str, datetime | None]], book: ConversationBook
) -> list[QueueCall]:
    """A queue's conversations, waiting ones first, each group longest-waiting first."""
    calls = []
    for cid, (state, since) in conversations.items():
        detail = book.detail(cid) or ConversationDetail()
        agent = detail.agent_user_id if state != "waiting" else None
        calls.append(QueueCall(cid, state, since, detail.media_type, agent))

    def key(call: QueueCall) -> tuple[int, float, str]:
        when = call.since.timestamp() if call.since is not None else float("inf")
        return (STATE_ORDER.get(call.state, 3), when, call.conversation_id)

    return sorted(calls, key=key)
