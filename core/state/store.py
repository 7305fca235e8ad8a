"""The current picture of every watched user and queue.

``apply`` is idempotent and order-tolerant: an event older than what is known (by the event's
own timestamp) is ignored, a repeat changes nothing, so duplicates around reconnects and
rollovers and re-sync results that race the live stream all converge to the same state
(genesys-api.md 8.18). Every effective change is returned as a :class:`Change` record.

The store is the one place server text becomes display text: names, presence labels, messages
and statuses are made plain (:func:`core.domain.text.plain_line`) as they are set, whoever sets
them, so no board, feed line, notification or tooltip shows a bidi override or a faked line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, assert_never

from core.domain.format import status_text
from core.domain.media import WHOLE_QUEUE, MediaCounts, busy_groups, media_totals
from core.domain.text import plain_line
from core.state.kpis import QueueKpis
from core.state.waiting import ConversationBook
from core.streaming.events import (
    ActiveQueuesChanged,
    ConversationSummaryChanged,
    Event,
    PresenceChanged,
    QueueConversationChanged,
    QueueCountersRead,
    QueueMembershipChanged,
    QueueObserved,
    RoutingChanged,
)

logger = logging.getLogger(__name__)

PLAIN_FIELDS: Final = frozenset({"name", "presence_message", "system_presence", "routing_status"})
"""The fields that hold the server's text: always stored as one plain line."""


def _plain(key: str, value: Any) -> Any:
    return plain_line(value) if key in PLAIN_FIELDS and isinstance(value, str) else value


class PresenceLabels(dict[str, str]):
    """The org's presence labels by definition id, each stored as one plain line."""

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key, plain_line(value))

    def update(  # type: ignore[override]  # the two forms the app uses, not keyword items
        self, other: Mapping[str, str] | Iterable[tuple[str, str]] = ()
    ) -> None:
        """Set every label of ``other`` (plain, like one set by key)."""
        items = other.items() if isinstance(other, Mapping) else other
        for key, value in items:
            self[key] = value


@dataclass(slots=True)
class UserState:
    """What we know about one watched user."""

    id: str
    name: str = ""
    definition_id: str | None = None
    system_presence: str | None = None
    presence_message: str = ""
    presence_since: datetime | None = None
    routing_status: str | None = None
    routing_since: datetime | None = None
    active_queue_ids: tuple[str, ...] | None = None
    active_conversations: int = 0
    acw_conversations: int = 0

    def __setattr__(self, key: str, value: Any) -> None:
        # The store's rows are set from outside too (the watch, rule replay): text stays plain.
        object.__setattr__(self, key, _plain(key, value))


@dataclass(slots=True)
class QueueState:
    """What we know about one watched queue.

    ``media`` holds the counters of each busy media group; ``waiting``, ``interacting``,
    ``alerting`` and ``longest_wait_ms`` are the whole queue's (sums, the longest of any),
    kept by the store with every change of ``media``.
    """

    id: str
    name: str = ""
    media: dict[str, MediaCounts] = field(default_factory=dict)
    waiting: int | None = None
    interacting: int | None = None
    alerting: int | None = None
    on_queue: int | None = None
    off_queue: int | None = None
    longest_wait_ms: int | None = None
    member_ids: set[str] = field(default_factory=set)
    joined_ids: set[str] = field(default_factory=set)
    # conversation id -> (waiting | alerting | interacting, when it started waiting)
    conversations: dict[str, tuple[str, datetime | None]] = field(default_factory=dict)

    def __setattr__(self, key: str, value: Any) -> None:
        object.__setattr__(self, key, _plain(key, value))


@dataclass(frozen=True, slots=True)
class Change:
    """One effective change: which entity, which fields, the values before and after."""

    kind: str  # "user" | "queue"
    id: str
    fields: tuple[str, ...]
    before: tuple[Any, ...]
    after: tuple[Any, ...]


def _older(new: datetime | None, known: datetime | None) -> bool:
    """True when ``new`` is strictly older than ``known`` (unknown times never lose)."""
    return new is not None and known is not None and new < known


class Store:
    """Users and queues by id, updated only through :meth:`apply`."""

    def __init__(self) -> None:
        self.users: dict[str, UserState] = {}
        self.queues: dict[str, QueueState] = {}
        self.presence_labels = PresenceLabels()  # org presence definition id -> label
        self.kpis: dict[str, QueueKpis] = {}  # by queue id, kept by core.engine.kpis
        self.ignored_stale = 0
        self.conversation_details = ConversationBook()  # media and agent (core.state.waiting)

    def user(self, user_id: str) -> UserState:
        """The state of a user, created empty on first sight."""
        state = self.users.get(user_id)
        if state is None:
            state = self.users[user_id] = UserState(user_id)
        return state

    def queue(self, queue_id: str) -> QueueState:
        """The state of a queue, created empty on first sight."""
        state = self.queues.get(queue_id)
        if state is None:
            state = self.queues[queue_id] = QueueState(queue_id)
        return state

    def apply(self, event: Event) -> list[Change]:
        """Apply one event; returns the changes it caused (empty for stale or repeated ones)."""
        if isinstance(event, PresenceChanged):
            return self._presence(event)
        if isinstance(event, RoutingChanged):
            return self._routing(event)
        if isinstance(event, QueueObserved):
            return self._observed(event)
        if isinstance(event, QueueCountersRead):
            self.conversation_details.note(event)
            return self._counters_read(event)
        if isinstance(event, ActiveQueuesChanged):
            return self._set("user", self.user(event.user_id), active_queue_ids=event.queue_ids)
        if isinstance(event, QueueMembershipChanged):
            return self._membership(event)
        if isinstance(event, QueueConversationChanged):
            self.conversation_details.note(event)
            return self._conversation(event)
        if isinstance(event, ConversationSummaryChanged):
            return self._set(
                "user",
                self.user(event.user_id),
                active_conversations=event.active,
                acw_conversations=event.acw,
            )
        assert_never(event)

    def _set(self, kind: str, state: UserState | QueueState, **values: Any) -> list[Change]:
        for k in PLAIN_FIELDS.intersection(values):  # compared as they will be kept
            values[k] = _plain(k, values[k])
        names = tuple(k for k, v in values.items() if getattr(state, k) != v)
        if not names:
            return []
        before = tuple(getattr(state, k) for k in names)
        for k in names:
            object.__setattr__(state, k, values[k])  # already plain: skip the rows' own hook
        return [Change(kind, state.id, names, before, tuple(values[k] for k in names))]

    def _presence(self, event: PresenceChanged) -> list[Change]:
        state = self.user(event.user_id)
        if _older(event.modified, state.presence_since):
            self.ignored_stale += 1
            return []
        return self._set(
            "user",
            state,
            definition_id=event.definition_id,
            system_presence=event.system_presence,
            presence_message=event.message,
            presence_since=event.modified or state.presence_since,
        )

    def _routing(self, event: RoutingChanged) -> list[Change]:
        state = self.user(event.user_id)
        if _older(event.since, state.routing_since):
            self.ignored_stale += 1
            return []
        return self._set(
            "user",
            state,
            routing_status=event.status,
            routing_since=event.since or state.routing_since,
        )

    def _observed(self, event: QueueObserved) -> list[Change]:
        """One media group's counters (a partial body changes only what it names)."""
        state = self.queue(event.queue_id)
        values: dict[str, Any] = {}
        if event.on_queue is not None:
            values["on_queue"] = event.on_queue
        if event.off_queue is not None:
            values["off_queue"] = event.off_queue
        if event.names_conversations:
            key = event.media_type
            # A media group and a source without the split never add up: the newer wins.
            media = {
                k: v for k, v in state.media.items() if (k != WHOLE_QUEUE) == (key != WHOLE_QUEUE)
            }
            counts = media.get(key, MediaCounts()).merged(
                waiting=event.waiting,
                interacting=event.interacting,
                alerting=event.alerting,
                longest_wait_ms=event.longest_wait_ms,
            )
            media[key] = counts
            values.update(_media_values(busy_groups(media.items())))
        return self._set("queue", state, **values)

    def _counters_read(self, event: QueueCountersRead) -> list[Change]:
        """A REST read replaces the group set: a group it does not name is idle now."""
        state = self.queue(event.queue_id)
        media: dict[str, MediaCounts] = {}
        for key, read in event.groups:
            known = state.media.get(key)
            if known is not None and (read.waiting or read.alerting) and not read.longest_wait_ms:
                # The query has no longest-wait metric; the stream's figure still holds.
                media[key] = read.merged(longest_wait_ms=known.longest_wait_ms)
            else:
                media[key] = read
        for key in event.keep_media:  # the stream spoke for these after the read was asked
            media.pop(key, None)
            if key in state.media:
                media[key] = state.media[key]
        media = busy_groups(media.items())
        values = _media_values(media)
        if not event.keep_users:
            if event.on_queue is not None:
                values["on_queue"] = event.on_queue
            if event.off_queue is not None:
                values["off_queue"] = event.off_queue
        if not event.keep_conversations:
            values["conversations"] = _reconcile(state.conversations, event, media_totals(media))
        return self._set("queue", state, **values)

    def _membership(self, event: QueueMembershipChanged) -> list[Change]:
        state = self.queue(event.queue_id)
        members = set(state.member_ids) | {event.user_id}
        joined = set(state.joined_ids)
        if event.joined:
            joined.add(event.user_id)
        else:
            joined.discard(event.user_id)
        return self._set("queue", state, member_ids=members, joined_ids=joined)

    def _conversation(self, event: QueueConversationChanged) -> list[Change]:
        """Track one conversation (the longest wait is read off the waiting ones)."""
        state = self.queue(event.queue_id)
        conversations = dict(state.conversations)
        if event.state == "ended":
            conversations.pop(event.conversation_id, None)
        else:
            known = conversations.get(event.conversation_id)
            since = event.since or (known[1] if known else None)
            conversations[event.conversation_id] = (event.state, since)
        return self._set("queue", state, conversations=conversations)

    # ------------------------------------------------------------------ derived views
    def presence_label(self, user_id: str) -> str:
        """The org's own label of a user's presence ("Lunch"), else the system presence."""
        state = self.users.get(user_id)
        if state is None or state.definition_id is None:
            return ""
        label = self.presence_labels.get(state.definition_id)
        return label or status_text(state.system_presence)

    def active_queues(self, user_id: str) -> tuple[str, ...]:
        """Queues a user is joined to: from the activity topic, else from queue membership."""
        state = self.users.get(user_id)
        if state is not None and state.active_queue_ids is not None:
            return state.active_queue_ids
        return tuple(q.id for q in self.queues.values() if user_id in q.joined_ids)

    def longest_wait_s(self, queue_id: str, now: datetime) -> float | None:
        """How long the oldest conversation still waiting in the queue has waited.

        A call already ringing at an agent is not counted (it is not in Waiting either): the
        board read "Longest wait 00:01" beside "Waiting 0" for every call being offered. A
        ring-out puts the call back to waiting with its first start, so its wait stays whole.
        """
        state = self.queues.get(queue_id)
        if state is None:
            return None
        starts = [
            since
            for kind, since in state.conversations.values()
            if kind == "waiting" and since is not None
        ]
        if starts:
            return max(0.0, (now - min(starts)).total_seconds())
        if state.longest_wait_ms is not None and state.waiting != 0:
            return state.longest_wait_ms / 1000
        return None

    def snapshot(self) -> dict[str, Any]:
        """The state in the ``--state-out`` / ``/sandbox/truth`` shape."""
        return {
            "users": {
                u.id: {
                    "presence": u.system_presence,
                    "presenceDefinitionId": u.definition_id,
                    "routingStatus": u.routing_status,
                }
                for u in self.users.values()
            },
            "queues": {q.id: queue_snapshot(q) for q in self.queues.values()},
        }


def queue_snapshot(queue: QueueState | None) -> dict[str, Any]:
    """A queue in the ``/sandbox/truth`` shape: totals and the busy media groups' split."""
    if queue is None:
        return {"waiting": 0, "interacting": 0, "media": {}}
    return {
        "waiting": queue.waiting or 0,
        "interacting": queue.interacting or 0,
        "media": {
            media: {"waiting": c.waiting, "interacting": c.interacting}
            for media, c in queue.media.items()
            if c.waiting or c.interacting
        },
    }


def _media_values(media: dict[str, MediaCounts]) -> dict[str, Any]:
    """The fields of a queue that follow from its media groups."""
    totals = media_totals(media)
    return {
        "media": media,
        "waiting": totals.waiting,
        "interacting": totals.interacting,
        "alerting": totals.alerting,
        "longest_wait_ms": totals.longest_wait_ms,
    }


Conversations = dict[str, tuple[str, datetime | None]]


def _newest(items: list[tuple[str, tuple[str, datetime | None]]], keep: int) -> Conversations:
    """The ``keep`` most recent conversations (an unknown start counts as recent)."""
    if keep <= 0:
        return {}
    latest = datetime.max.replace(tzinfo=UTC)
    ordered = sorted(items, key=lambda item: item[1][1] or latest)
    return dict(ordered[-keep:])


def _reconcile(known: Conversations, read: QueueCountersRead, totals: MediaCounts) -> Conversations:
    """The conversations a re-sync leaves: never more in a state than the read counted.

    A conversation whose "ended" event was lost in a gap would otherwise wait for ever (the
    longest wait read 7,200 s two hours later while the re-synced count was 0). With the read's
    details the waiting set is exact; without them the oldest surplus goes.
    """
    by_state: dict[str, list[tuple[str, tuple[str, datetime | None]]]] = {}
    for cid, entry in known.items():
        by_state.setdefault(entry[0], []).append((cid, entry))
    out: Conversations = {}
    if read.waiting is not None:
        for item in read.waiting:
            previous = known.get(item.conversation_id)
            since = item.since or (previous[1] if previous else None)
            out[item.conversation_id] = ("waiting", since)
    else:
        out.update(_newest(by_state.get("waiting", []), totals.waiting))
    for kind, limit in (("alerting", totals.alerting), ("interacting", totals.interacting)):
        kept = _newest([i for i in by_state.get(kind, []) if i[0] not in out], limit)
        out.update(kept)
    return out
