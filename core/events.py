"""Typed, frozen events: the only shape in which streaming data travels past the boundary.

``parse_event`` turns a decoded :class:`core.protocol.TopicEvent` into one of the values below,
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

from core.models import normalize_system_presence, parse_datetime
from core.protocol import TopicEvent

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


@dataclass(frozen=True, slots=True)
class QueueObserved:
    """Queue counters from an analytics topic; None where the event did not say."""

    queue_id: str
    waiting: int | None = None
    interacting: int | None = None
    alerting: int | None = None
    on_queue: int | None = None
    off_queue: int | None = None
    longest_wait_ms: int | None = None


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
    | ConversationSummaryChanged
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
        call = body.get("call")
        center = call.get("contactCenter") if isinstance(call, dict) else None
        if not isinstance(center, dict):
            return []
        return [
            ConversationSummaryChanged(
                user_id, _int(center.get("active")) or 0, _int(center.get("acw")) or 0
            )
        ]
    return []


def _participant_state(participant: Mapping[str, Any]) -> str | None:
    """State of a participant: flattened (``.calls``) or nested in media sessions (generic)."""
    state = participant.get("state")
    if isinstance(state, str):
        return state
    for key in ("calls", "callbacks", "chats", "emails", "messages", "videos"):
        sessions = participant.get(key)
        if isinstance(sessions, list):
            for session in sessions:
                if isinstance(session, dict) and isinstance(session.get("state"), str):
                    return str(session["state"])
    return None


def _participant_user(participant: Mapping[str, Any]) -> str | None:
    user = participant.get("user")
    if isinstance(user, dict):
        return _str(user.get("id"))
    return _str(participant.get("userId"))


def _queue_conversation(queue_id: str, body: Mapping[str, Any]) -> QueueConversationChanged | None:
    """Classify a queue conversation with the supervisor heuristics of genesys-api.md 5.7."""
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
        purpose, state = part.get("purpose"), _participant_state(part)
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
    return QueueConversationChanged(queue_id, conversation_id, kind, agent_user, acd_since)


def _observations(queue_id: str, body: Mapping[str, Any]) -> QueueObserved | None:
    """``.observations`` (StatEventQueueTopicStatsNotification): sum counts over media types."""
    data = body.get("data")
    if not isinstance(data, list):
        return None
    totals: dict[str, int] = {}
    for block in data:
        metrics = block.get("metrics") if isinstance(block, dict) else None
        if not isinstance(metrics, list):
            continue
        for metric in metrics:
            if not isinstance(metric, dict):
                continue
            name, stats = metric.get("metric"), metric.get("stats")
            count = _int(stats.get("count")) if isinstance(stats, dict) else None
            if isinstance(name, str) and count is not None:
                totals[name] = totals.get(name, 0) + count
    if not totals:
        return None
    return QueueObserved(
        queue_id=queue_id,
        waiting=totals.get("oWaiting"),
        interacting=totals.get("oInteracting"),
        alerting=totals.get("oAlerting"),
        on_queue=totals.get("oOnQueueUsers"),
        off_queue=totals.get("oOffQueueUsers"),
    )


def _queue_activity(queue_id: str, body: Mapping[str, Any]) -> QueueObserved | None:
    """``.activity`` (V2QueueObservationObservationCountNotification): counts per media type."""
    results = body.get("results")
    if not isinstance(results, list):
        return None
    totals: dict[str, int] = {}
    longest: int | None = None
    for result in results:
        data = result.get("data") if isinstance(result, dict) else None
        if not isinstance(data, list):
            continue
        for entry in data:
            if not isinstance(entry, dict) or not isinstance(entry.get("metric"), str):
                continue
            name = str(entry["metric"])
            if name == "oLongestWaiting":
                value = _int(entry.get("calculatedMetricValue"))
                if value is not None:
                    longest = max(longest or 0, value)
                continue
            count = _int(entry.get("count"))
            if count is not None:
                totals[name] = totals.get(name, 0) + count
    if not totals and longest is None:
        return None
    return QueueObserved(
        queue_id=queue_id,
        waiting=totals.get("oWaiting"),
        interacting=totals.get("oInteracting"),
        alerting=totals.get("oAlerting"),
        longest_wait_ms=longest,
    )


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
            found = _queue_conversation(queue_id, body)
            return [found] if found else None
        return None
    if len(parts) == 5 and parts[:3] == ["v2", "analytics", "queues"]:
        queue_id, suffix = parts[3], parts[4]
        observed = (
            _observations(queue_id, body)
            if suffix == "observations"
            else _queue_activity(queue_id, body)
            if suffix == "activity"
            else None
        )
        return [observed] if observed else None
    return None
