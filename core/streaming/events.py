"""Typed, frozen events: the only shape in which streaming data travels past the boundary.

``parse_event`` turns a decoded :class:`core.streaming.protocol.TopicEvent` into one of the values
below,
normalising casing once (``On Queue`` / ``OnQueue`` / ``ON_QUEUE`` → ``ON_QUEUE``) and reading
timestamps once. A body that does not have the documented shape yields None (counted by the
caller), never an exception (genesys-api.md 5.1-5.10).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.domain.media import (
    MEDIA_SESSION_KEYS,
    WHOLE_QUEUE,
    MediaCounts,
    normalize_media_type,
)
from core.domain.presence import normalize_system_presence
from core.rest.schema import parse_datetime
from core.streaming.protocol import TopicEvent

logger = logging.getLogger(__name__)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """A user's presence: org definition id + normalised system presence."""

    user_id: str
    definition_id: str
    system_presence: str
    message: str
    modified: datetime | None


@dataclass(frozen=True, slots=True)
class RoutingChanged:
    """A user's routing status (OFF_QUEUE, IDLE, INTERACTING, NOT_RESPONDING, COMMUNICATING)."""

    user_id: str
    status: str
    since: datetime | None


@dataclass(frozen=True, slots=True)
class ActiveQueuesChanged:
    """The queues a user is joined to (from the activity topic)."""

    user_id: str
    queue_ids: tuple[str, ...]
    changed: datetime | None


@dataclass(frozen=True, slots=True)
class QueueMembershipChanged:
    """A user joined/unjoined (or left) a queue."""

    queue_id: str
    user_id: str
    joined: bool


@dataclass(frozen=True, slots=True)
class QueueConversationChanged:
    """A conversation on a queue: waiting, alerting an agent, connected, or over."""

    queue_id: str
    conversation_id: str
    state: str  # waiting | alerting | interacting | ended
    agent_user_id: str | None
    since: datetime | None
    media_type: str = WHOLE_QUEUE


@dataclass(frozen=True, slots=True)
class QueueObserved:
    """Counters of one media group of a queue from an analytics topic; None where unsaid.

    ``media_type`` names the group (``voice``, ``chat``, ...); ``""`` is a source that does not
    split by media. User counts (``on_queue``, ``off_queue``) are queue-wide in every group.
    """

    queue_id: str
    waiting: int | None = None
    interacting: int | None = None
    alerting: int | None = None
    on_queue: int | None = None
    off_queue: int | None = None
    longest_wait_ms: int | None = None
    media_type: str = WHOLE_QUEUE

    @property
    def names_conversations(self) -> bool:
        """Whether it says anything about conversations (a users-only group does not)."""
        return not (
            self.waiting is None
            and self.interacting is None
            and self.alerting is None
            and self.longest_wait_ms is None
        )


@dataclass(frozen=True, slots=True)
class WaitingConversation:
    """A conversation a REST read saw waiting, with when it began to wait."""

    conversation_id: str
    since: datetime | None
    media_type: str


@dataclass(frozen=True, slots=True)
class QueueCountersRead:
    """A REST read of a queue's counters: the *whole* group set, as of the read.

    A group it does not name is idle now (one that went quiet must not linger), except those
    in ``keep_media``: the stream spoke for them after the read was asked, so it is newer.
    ``waiting`` lists the waiting conversations when the read had their details (None: it did
    not), so conversations whose "ended" event was lost cannot wait forever.
    """

    queue_id: str
    groups: tuple[tuple[str, MediaCounts], ...]
    on_queue: int | None = None
    off_queue: int | None = None
    waiting: tuple[WaitingConversation, ...] | None = None
    keep_media: frozenset[str] = frozenset()
    keep_users: bool = False
    keep_conversations: bool = False


@dataclass(frozen=True, slots=True)
class ConversationSummaryChanged:
    """Active and after-call-work contact-centre conversation counts of a user."""

    user_id: str
    active: int
    acw: int


Event = (
    PresenceChanged
    | RoutingChanged
    | ActiveQueuesChanged
    | QueueMembershipChanged
    | QueueConversationChanged
    | QueueObserved
    | QueueCountersRead
    | ConversationSummaryChanged
)


_SUMMARY_MEDIA = frozenset(
    {"call", "callback", "chat", "email", "message", "socialExpression", "video"}
)


def _presence(user_id: str, definition: Any, message: Any, modified: Any) -> PresenceChanged | None:
    if not isinstance(definition, dict):
        return None
    definition_id = _str(definition.get("id"))
    system = _str(definition.get("systemPresence"))
    if definition_id is None or system is None:
        return None
    return PresenceChanged(
        user_id=user_id,
        definition_id=definition_id,
        system_presence=normalize_system_presence(system),
        message=message if isinstance(message, str) else "",
        modified=parse_datetime(modified),
    )


def _routing(user_id: str, block: Any) -> RoutingChanged | None:
    if not isinstance(block, dict):
        return None
    status = _str(block.get("status"))
    if status is None:
        return None
    return RoutingChanged(user_id, status.upper(), parse_datetime(block.get("startTime")))


def _user_events(user_id: str, suffix: str, body: Mapping[str, Any]) -> list[Event]:
    if suffix == "presence":
        found = _presence(
            user_id, body.get("presenceDefinition"), body.get("message"), body.get("modifiedDate")
        )
        return [found] if found else []
    if suffix == "routingStatus":
        routing = _routing(user_id, body.get("routingStatus"))
        return [routing] if routing else []
    if suffix == "activity":
        out: list[Event] = []
        presence = body.get("presence")
        if isinstance(presence, dict):
            found = _presence(
                user_id,
                presence.get("presenceDefinition"),
                presence.get("presenceMessage"),
                presence.get("modifiedDate"),
            )
            if found:
                out.append(found)
        routing = _routing(user_id, body.get("routingStatus"))
        if routing:
            out.append(routing)
        queue_ids = body.get("activeQueueIds")
        if isinstance(queue_ids, list):
            out.append(
                ActiveQueuesChanged(
                    user_id,
                    tuple(q for q in queue_ids if isinstance(q, str)),
                    parse_datetime(body.get("dateActiveQueuesChanged")),
                )
            )
        return out
    if suffix == "conversationsummary":
        # One block per media (call, callback, chat, email, message, ...): an agent may hold
        # several digital interactions at once, so the contact-centre counts add up.
        centers = [
            block.get("contactCenter")
            for key, block in body.items()
            if key in _SUMMARY_MEDIA and isinstance(block, dict)
        ]
        counted = [c for c in centers if isinstance(c, dict)]
        if not counted:
            return []
        return [
            ConversationSummaryChanged(
                user_id,
                sum(_int(c.get("active")) or 0 for c in counted),
                sum(_int(c.get("acw")) or 0 for c in counted),
            )
        ]
    return []


def _participant_state(participant: Mapping[str, Any]) -> tuple[str | None, str]:
    """State and media of a participant: flattened (``.calls``) or in media sessions (generic)."""
    state = participant.get("state")
    if isinstance(state, str):
        return state, WHOLE_QUEUE
    for key in MEDIA_SESSION_KEYS:
        sessions = participant.get(key)
        if isinstance(sessions, list):
            for session in sessions:
                if isinstance(session, dict) and isinstance(session.get("state"), str):
                    return str(session["state"]), normalize_media_type(key)
    return None, WHOLE_QUEUE


def _participant_user(participant: Mapping[str, Any]) -> str | None:
    user = participant.get("user")
    if isinstance(user, dict):
        return _str(user.get("id"))
    return _str(participant.get("userId"))


def _queue_conversation(
    queue_id: str, body: Mapping[str, Any], media_type: str
) -> QueueConversationChanged | None:
    """Classify a queue conversation with the supervisor heuristics of genesys-api.md 5.7.

    ``media_type`` comes from a media-specific topic; the generic topic's sessions say it.
    """
    conversation_id = _str(body.get("id"))
    participants = body.get("participants")
    if conversation_id is None or not isinstance(participants, list):
        return None
    acd_live = False
    acd_since: datetime | None = None
    agent_state: str | None = None
    agent_user: str | None = None
    customer_gone = False
    for part in participants:
        if not isinstance(part, dict):
            continue
        state, seen_media = _participant_state(part)
        media_type = media_type or seen_media
        purpose = part.get("purpose")
        if purpose == "acd":
            if state in ("connected", "alerting", "offering"):
                acd_live = True
                acd_since = parse_datetime(part.get("connectedTime")) or parse_datetime(
                    part.get("startTime")
                )
        elif purpose in ("agent", "user"):
            if state in ("alerting", "connected", "offering", "contacting"):
                agent_state, agent_user = state, _participant_user(part)
        elif purpose in ("customer", "external") and state in ("disconnected", "terminated"):
            customer_gone = True
    if agent_state == "connected":
        kind = "interacting"
    elif customer_gone and agent_state is None:
        kind = "ended"
    elif agent_state in ("alerting", "offering", "contacting"):
        kind = "alerting"
    elif acd_live:
        kind = "waiting"
    else:
        kind = "ended"
    return QueueConversationChanged(
        queue_id, conversation_id, kind, agent_user, acd_since, media_type
    )


def _metric_counts(metrics: Any, count_of: Any) -> dict[str, int]:
    """Counts by metric name; qualified rows of one metric (per routing status) add up."""
    totals: dict[str, int] = {}
    for metric in metrics if isinstance(metrics, list) else []:
        if not isinstance(metric, dict) or not isinstance(metric.get("metric"), str):
            continue
        count = count_of(metric)
        if count is not None:
            name = str(metric["metric"])
            totals[name] = totals.get(name, 0) + count
    return totals


def _stats_count(metric: Mapping[str, Any]) -> int | None:
    stats = metric.get("stats")
    return _int(stats.get("count")) if isinstance(stats, dict) else None


def _observations(queue_id: str, body: Mapping[str, Any]) -> list[Event]:
    """``.observations`` (StatEventQueueTopicStatsNotification): one group's counters.

    The group is ``{queueId, mediaType}`` for conversation metrics, or ``{queueId}`` alone
    (user counts, or a source without the split). Each ``data`` block is one interval of the
    same group; the last block that names a metric holds its current value.
    """
    data = body.get("data")
    if not isinstance(data, list):
        return []
    group = body.get("group")
    media = normalize_media_type(group.get("mediaType")) if isinstance(group, dict) else ""
    totals: dict[str, int] = {}
    for block in data:
        if isinstance(block, dict):
            totals.update(_metric_counts(block.get("metrics"), _stats_count))
    if not totals:
        return []
    return [
        QueueObserved(
            queue_id=queue_id,
            waiting=totals.get("oWaiting"),
            interacting=totals.get("oInteracting"),
            alerting=totals.get("oAlerting"),
            on_queue=totals.get("oOnQueueUsers"),
            off_queue=totals.get("oOffQueueUsers"),
            media_type=media,
        )
    ]


def _queue_activity(queue_id: str, body: Mapping[str, Any]) -> list[Event]:
    """``.activity`` (V2QueueObservationObservationCountNotification): one event per media block.

    A body may carry only the blocks (and metrics) that changed; what it leaves out is unsaid,
    not zero.
    """
    results = body.get("results")
    out: list[Event] = []
    for result in results if isinstance(results, list) else []:
        if not isinstance(result, dict):
            continue
        data = result.get("data")
        totals = _metric_counts(data, lambda entry: _int(entry.get("count")))
        longest: int | None = None
        for entry in data if isinstance(data, list) else []:
            if isinstance(entry, dict) and entry.get("metric") == "oLongestWaiting":
                value = _int(entry.get("calculatedMetricValue"))
                if value is not None:
                    longest = max(longest or 0, value)
        if not totals.keys() - {"oLongestWaiting"} and longest is None:
            continue
        out.append(
            QueueObserved(
                queue_id=queue_id,
                waiting=totals.get("oWaiting"),
                interacting=totals.get("oInteracting"),
                alerting=totals.get("oAlerting"),
                longest_wait_ms=longest,
                media_type=normalize_media_type(result.get("mediaType")),
            )
        )
    return out


def parse_event(frame: TopicEvent) -> list[Event] | None:
    """The typed events of one frame; None when its topic or body is not one we understand."""
    parts = frame.topic.split(".")
    body = frame.body
    if len(parts) >= 4 and parts[0] == "v2" and parts[1] == "users":
        events = _user_events(parts[2], ".".join(parts[3:]), body)
        return events or None
    if len(parts) >= 5 and parts[:3] == ["v2", "routing", "queues"]:
        queue_id, suffix = parts[3], ".".join(parts[4:])
        if suffix == "users":
            user = body.get("user")
            user_id = _str(user.get("id")) if isinstance(user, dict) else _str(body.get("id"))
            joined = body.get("joined")
            if user_id is None or not isinstance(joined, bool):
                return None
            return [QueueMembershipChanged(queue_id, user_id, joined)]
        if suffix == "conversations" or suffix.startswith("conversations."):
            media = normalize_media_type(suffix.partition(".")[2].lower()) if "." in suffix else ""
            found = _queue_conversation(queue_id, body, media)
            return [found] if found else None
        return None
    if len(parts) == 5 and parts[:3] == ["v2", "analytics", "queues"]:
        queue_id, suffix = parts[3], parts[4]
        if suffix == "observations":
            return _observations(queue_id, body) or None
        if suffix == "activity":
            return _queue_activity(queue_id, body) or None
        return None
    return None
