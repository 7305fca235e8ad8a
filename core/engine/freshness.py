"""When the stream last spoke for each part of a watched subject.

A re-sync reads through REST while the stream keeps flowing. Whatever the stream said after
the read was asked for is newer than the read, and timestamps alone cannot tell (a presence
event may lack ``modifiedDate``, queue counters carry none), so the engine keeps this record and
lets a re-sync's read change only the parts the stream has not spoken for since.
"""

from __future__ import annotations

import dataclasses
import math

from core.streaming.events import (
    Event,
    PresenceChanged,
    QueueConversationChanged,
    QueueCountersRead,
    QueueObserved,
    RoutingChanged,
)

USERS_PART = "#users"  # a queue's user counts
CONVERSATIONS_PART = "#conversations"  # a queue's known conversations


class StreamFreshness:
    """The monotonic time the stream last spoke for a user's status or a part of a queue."""

    def __init__(self) -> None:
        # A part of a queue (a media group, USERS_PART, CONVERSATIONS_PART) -> when.
        self._queue_at: dict[str, dict[str, float]] = {}
        # A user's presence and routing status: (user id, event type) -> when.
        self._user_at: dict[tuple[str, type[Event]], float] = {}

    def note(self, event: Event, now: float) -> None:
        """Remember which part of a user or queue the stream just spoke for.

        Only that part is newer than a re-sync's read: a chat counter says nothing about voice,
        and a conversation event nothing about counters (it used to veto the re-sync's
        counters, which then stayed stale until the next change; found by the chaos run).
        """
        if isinstance(event, PresenceChanged | RoutingChanged):
            self._user_at[(event.user_id, type(event))] = now
        elif isinstance(event, QueueObserved):
            parts = self._queue_at.setdefault(event.queue_id, {})
            if event.names_conversations:
                parts[event.media_type] = now
            if event.on_queue is not None or event.off_queue is not None:
                parts[USERS_PART] = now
        elif isinstance(event, QueueConversationChanged):
            self._queue_at.setdefault(event.queue_id, {})[CONVERSATIONS_PART] = now

    def streamed_since(self, event: Event, asked_at: float) -> bool:
        """True when the stream spoke for this user's presence (or routing) after ``asked_at``.

        Timestamps alone cannot decide it: a presence event may come without ``modifiedDate``
        (5.1), and then the re-sync's older read would overwrite it (found by CI's chaos run: a
        user left ON_QUEUE after a token fault while the org had them in TRAINING).
        """
        if not isinstance(event, PresenceChanged | RoutingChanged):
            return False
        return self._user_at.get((event.user_id, type(event)), -math.inf) > asked_at

    def fresher_than(self, read: QueueCountersRead, asked_at: float) -> QueueCountersRead:
        """The read with the parts the stream spoke for since ``asked_at`` kept as they are."""
        newer = {p for p, at in self._queue_at.get(read.queue_id, {}).items() if at > asked_at}
        if not newer:
            return read
        return dataclasses.replace(
            read,
            keep_media=frozenset(newer - {USERS_PART, CONVERSATIONS_PART}),
            keep_users=USERS_PART in newer,
            keep_conversations=CONVERSATIONS_PART in newer,
        )

    def forget_user(self, user_id: str) -> None:
        """A user is no longer watched."""
        self._user_at.pop((user_id, PresenceChanged), None)
        self._user_at.pop((user_id, RoutingChanged), None)

    def forget_queue(self, queue_id: str) -> None:
        """A queue is no longer watched."""
        self._queue_at.pop(queue_id, None)
