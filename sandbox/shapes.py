"""JSON shapes of the org's state, exactly as shared/genesys-api.md documents each surface.

One function per shape, so the casing rules of section 6.11 live in one place: events and
analytics say ``ON_QUEUE``, REST user/presence bodies say ``On Queue``, the new presence
definitions API says ``OnQueue``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.catalog import REST_LABEL
from sandbox.timefmt import interval_30min, iso

if TYPE_CHECKING:
    from sandbox.org import Conversation, Org, Participant, Queue, User

JsonDict = dict[str, Any]

MEDIA_KEYS = ("call", "callback", "email", "message", "chat", "socialExpression", "video")
USER_METRIC_STATUSES = ("IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING", "OFF_QUEUE")


# --------------------------------------------------------------------------- streaming bodies
def presence_event(org: Org, user: User) -> JsonDict:
    """``v2.users.{id}.presence`` body (PresenceEventUserPresence), upper-case systemPresence."""
    return {
        "source": "PURECLOUD",
        "presenceDefinition": {
            "id": user.presence_id,
            "systemPresence": org.presences[user.presence_id].system,
        },
        "primary": True,
        "message": user.presence_message,
        "modifiedDate": iso(user.presence_modified),
    }


def routing_event(user: User) -> JsonDict:
    """``v2.users.{id}.routingStatus`` body (UserRoutingStatusUserRoutingStatus)."""
    return {
        "id": user.id,
        "routingStatus": {"status": user.routing_status, "startTime": iso(user.routing_start)},
    }


def activity_event(
    org: Org,
    user: User,
    *,
    presence: bool = False,
    routing: bool = False,
    ooo: bool = False,
    queues: bool = False,
) -> JsonDict:
    """``v2.users.{id}.activity`` body carrying only the blocks that changed.

    The document leaves open whether every event carries all four blocks; sending only the changed
    ones keeps clients honest about merging field by field (genesys-api.md 5.3).
    """
    body: JsonDict = {"id": user.id}
    if routing:
        body["routingStatus"] = {
            "status": user.routing_status,
            "startTime": iso(user.routing_start),
        }
    if presence:
        body["presence"] = {
            "presenceDefinition": {
                "id": user.presence_id,
                "systemPresence": org.presences[user.presence_id].system,
            },
            "presenceMessage": user.presence_message,
            "modifiedDate": iso(user.presence_modified),
        }
    if ooo:
        body["outOfOffice"] = {"active": user.ooo_active, "modifiedDate": iso(user.ooo_modified)}
    if queues:
        body["activeQueueIds"] = org.active_queue_ids(user.id)
        body["dateActiveQueuesChanged"] = iso(user.active_queues_changed)
    return body


def out_of_office_event(org: Org, user: User) -> JsonDict:
    """``v2.users.{id}.outofoffice`` body (OutOfOfficeEventOutOfOffice)."""
    return {"user": {"id": user.id}, "active": user.ooo_active, "indefinite": False}


def conversation_summary(user: User) -> JsonDict:
    """``v2.users.{id}.conversationsummary`` body; only calls ever carry counts here."""
    body: JsonDict = {"userId": user.id}
    for key in MEDIA_KEYS:
        active, acw = (user.calls_active, user.calls_acw) if key == "call" else (0, 0)
        body[key] = {
            "contactCenter": {"active": active, "acw": acw},
            "enterprise": {"active": 0, "acw": 0},
        }
    return body


def _generic_participant(org: Org, conv: Conversation, part: Participant) -> JsonDict:
    """A participant of the generic topic: the state lives on the nested ``calls[]`` session."""
    queue = org.queues[conv.queue_id]
    out: JsonDict = {"id": part.id, "purpose": part.purpose}
    if part.connected is not None:
        out["connectedTime"] = iso(part.connected)
    if part.end is not None:
        out["endTime"] = iso(part.end)
    if part.purpose == "customer":
        out["name"] = conv.customer_name
        out["address"] = conv.ani
    if part.user_id:
        out["userId"] = part.user_id
        out["name"] = org.users[part.user_id].name
    if part.queue_id:
        out["queueId"] = part.queue_id
        out["name"] = queue.name
    if part.purpose == "agent":
        out["wrapupRequired"] = part.wrapup_required
        out["wrapupExpected"] = True
        if part.start_acw is not None:
            out["startAcwTime"] = iso(part.start_acw)
        if part.end_acw is not None:
            out["endAcwTime"] = iso(part.end_acw)
    if part.purpose in ("acd", "agent"):
        out["conversationRoutingData"] = {
            "queue": {"id": queue.id, "name": queue.name},
            "priority": conv.priority,
            "skills": [],
            "scoredAgents": [],
        }
    call: JsonDict = {
        "id": f"{part.id}-call",
        "state": part.state,
        "direction": "inbound",
        "held": False,
        "muted": False,
        "confined": False,
        "recording": False,
        "recordingState": "none",
        "provider": "Edge",
        "self": {"addressNormalized": conv.dnis if part.purpose != "customer" else conv.ani},
    }
    if part.connected is not None:
        call["connectedTime"] = iso(part.connected)
    if part.end is not None:
        call["disconnectedTime"] = iso(part.end)
    if part.disconnect_type:
        call["disconnectType"] = part.disconnect_type
    out["calls"] = [call]
    out["attributes"] = {}
    return out


def queue_conversation_generic(org: Org, conv: Conversation) -> JsonDict:
    """``v2.routing.queues.{id}.conversations`` body (QueueConversationEventTopicConversation)."""
    return {
        "id": conv.id,
        "maxParticipants": 3,
        "participants": [_generic_participant(org, conv, p) for p in conv.participants],
        "recentTransfers": [],
        "recordingState": "none",
        "divisions": [
            {
                "division": {
                    "id": org.division_id,
                    "selfUri": f"/api/v2/authorization/divisions/{org.division_id}",
                },
                "entities": [{"id": conv.queue_id}],
            }
        ],
    }


def _flat_participant(org: Org, conv: Conversation, part: Participant) -> JsonDict:
    """A flattened participant of the ``.calls`` topic: ``state`` sits on the participant."""
    queue = org.queues[conv.queue_id]
    out: JsonDict = {
        "id": part.id,
        "purpose": part.purpose,
        "state": part.state,
        "initialState": "alerting" if part.purpose == "agent" else "connected",
        "direction": "inbound",
        "startTime": iso(part.start),
        "held": False,
        "muted": False,
        "confined": False,
        "recording": False,
        "recordingState": "none",
        "provider": "Edge",
        "ani": conv.ani,
        "dnis": conv.dnis,
        "address": conv.ani if part.purpose == "customer" else conv.dnis,
        "attributes": {},
        "wrapupRequired": part.wrapup_required,
    }
    if part.purpose == "customer":
        out["name"] = conv.customer_name
    if part.connected is not None:
        out["connectedTime"] = iso(part.connected)
    if part.end is not None:
        out["endTime"] = iso(part.end)
    if part.disconnect_type:
        out["disconnectType"] = part.disconnect_type
    if part.user_id:
        user = org.users[part.user_id]
        out["user"] = {"id": user.id, "name": user.name}
        out["name"] = user.name
    if part.queue_id or part.purpose == "agent":
        out["queue"] = {"id": queue.id, "name": queue.name}
    if part.purpose == "acd":
        out["name"] = queue.name
        out["conversationRoutingData"] = {
            "queue": {"id": queue.id, "name": queue.name},
            "priority": conv.priority,
            "skills": [],
        }
    if part.start_acw is not None:
        out["startAcwTime"] = iso(part.start_acw)
    if part.end_acw is not None:
        out["endAcwTime"] = iso(part.end_acw)
    return out


def queue_conversation_calls(org: Org, conv: Conversation) -> JsonDict:
    """``v2.routing.queues.{id}.conversations.calls`` body (flattened call participants)."""
    return {
        "id": conv.id,
        "participants": [_flat_participant(org, conv, p) for p in conv.participants],
        "otherMediaUris": [],
        "recordingState": "none",
        "maxParticipants": 3,
        "divisions": [{"division": {"id": org.division_id}, "entities": [{"id": conv.queue_id}]}],
    }


def queue_user_metrics(org: Org, queue: Queue) -> list[JsonDict]:
    """User-count observation metrics of a queue, qualified as in genesys-api.md 6.8."""
    joined = [org.users[m.user_id] for m in queue.members.values() if m.joined]
    on_queue: dict[str, int] = {}
    statuses: dict[str, int] = {}
    presences: dict[str, int] = {}
    off_queue = 0
    for user in joined:
        key = org.presence_key(user)
        statuses[user.routing_status] = statuses.get(user.routing_status, 0) + 1
        presences[user.presence_id] = presences.get(user.presence_id, 0) + 1
        if key == "ON_QUEUE":
            on_queue[user.routing_status] = on_queue.get(user.routing_status, 0) + 1
        elif key != "OFFLINE":
            off_queue += 1
    data: list[JsonDict] = [
        {"metric": "oOnQueueUsers", "qualifier": status, "stats": {"count": count}}
        for status, count in sorted(on_queue.items())
    ]
    data.append({"metric": "oOffQueueUsers", "stats": {"count": off_queue}})
    data.append({"metric": "oActiveUsers", "stats": {"count": len(joined)}})
    data.append({"metric": "oMemberUsers", "stats": {"count": len(queue.members)}})
    data.extend(
        {"metric": "oUserRoutingStatuses", "qualifier": status, "stats": {"count": count}}
        for status, count in sorted(statuses.items())
    )
    data.extend(
        {"metric": "oUserPresences", "qualifier": pid, "stats": {"count": count}}
        for pid, count in sorted(presences.items())
    )
    return data


def longest_waiting_ms(org: Org, queue_id: str) -> int | None:
    """How long the oldest waiting conversation of a queue has waited, in ms."""
    now = org.clock()
    waits = [
        now - c.created
        for c in org.conversations.values()
        if c.queue_id == queue_id and c.state in ("waiting", "alerting")
    ]
    return int(max(waits) * 1000) if waits else None


def observations_event(org: Org, queue: Queue) -> JsonDict:
    """``v2.analytics.queues.{id}.observations`` body (StatEventQueueTopicStatsNotification)."""
    counts = org.queue_counts(queue.id)
    metrics: list[JsonDict] = [
        {"metric": "oWaiting", "stats": {"count": counts["waiting"]}},
        {"metric": "oInteracting", "stats": {"count": counts["interacting"]}},
        {"metric": "oAlerting", "stats": {"count": counts["alerting"]}},
    ]
    metrics.extend(queue_user_metrics(org, queue))
    return {
        "group": {"queueId": queue.id, "mediaType": "voice"},
        "data": [{"interval": interval_30min(org.clock()), "metrics": metrics}],
    }


def queue_activity_event(org: Org, queue: Queue) -> JsonDict:
    """``v2.analytics.queues.{id}.activity`` body (V2QueueObservationObservationCountNotification).

    ``calculatedMetricValue`` of ``oLongestWaiting`` is the wait in milliseconds (our reading;
    the document marks its unit unconfirmed).
    """
    counts = org.queue_counts(queue.id)
    data: list[JsonDict] = [
        {"metric": "oWaiting", "count": counts["waiting"]},
        {"metric": "oAlerting", "count": counts["alerting"]},
        {"metric": "oInteracting", "count": counts["interacting"]},
    ]
    longest = longest_waiting_ms(org, queue.id)
    if longest is not None:
        data.append({"metric": "oLongestWaiting", "count": 1, "calculatedMetricValue": longest})
    return {"results": [{"mediaType": "voice", "data": data}]}


# --------------------------------------------------------------------------- REST bodies
def division(org: Org) -> JsonDict:
    """The org's single home division reference."""
    return {
        "id": org.division_id,
        "name": "Home",
        "selfUri": f"/api/v2/authorization/divisions/{org.division_id}",
    }


def presence_definition_ref(org: Org, presence_id: str) -> JsonDict:
    """``presenceDefinition`` as REST user and presence bodies write it (``On Queue``)."""
    return {
        "id": presence_id,
        "systemPresence": REST_LABEL[org.presences[presence_id].system],
        "selfUri": f"/api/v2/presencedefinitions/{presence_id}",
    }


def user_presence_rest(org: Org, user: User) -> JsonDict:
    """``GET /api/v2/users/{id}/presences/purecloud`` body (UserPresence)."""
    return {
        "source": "PURECLOUD",
        "primary": True,
        "presenceDefinition": presence_definition_ref(org, user.presence_id),
        "message": user.presence_message,
        "modifiedDate": iso(user.presence_modified),
        "selfUri": f"/api/v2/users/{user.id}/presences/purecloud",
    }


def bulk_presence_rest(org: Org, user: User) -> JsonDict:
    """One element of the bare array of presence bulk (UcUserPresence)."""
    return {
        "userId": user.id,
        "source": "PURECLOUD",
        "presenceDefinition": presence_definition_ref(org, user.presence_id),
        "message": user.presence_message,
        "modifiedDate": iso(user.presence_modified),
        "selfUri": f"/api/v2/users/{user.id}/presences",
    }


def routing_status_rest(user: User) -> JsonDict:
    """``GET /api/v2/users/{id}/routingstatus`` body (RoutingStatus)."""
    return {"userId": user.id, "status": user.routing_status, "startTime": iso(user.routing_start)}


def user_rest(org: Org, user: User, expand: set[str], *, me: bool = False) -> JsonDict:
    """A ``User`` with the expansions asked for; unknown expansions are ignored (best effort).

    ``me`` marks ``GET /users/me`` (``UserMe``): only it has the ``organization`` block.
    """
    body: JsonDict = {
        "id": user.id,
        "name": user.name,
        "division": division(org),
        "email": user.email,
        "state": "active",
        "username": user.email,
        "title": "Supervisor" if user.role == "supervisor" else "Agent",
        "version": 1,
        "acdAutoAnswer": False,
        "selfUri": f"/api/v2/users/{user.id}",
    }
    lowered = {e.lower() for e in expand}
    if "presence" in lowered:
        presence = user_presence_rest(org, user)
        presence.pop("selfUri")
        body["presence"] = presence
    if "routingstatus" in lowered:
        body["routingStatus"] = routing_status_rest(user)
    if "conversationsummary" in lowered:
        body["conversationSummary"] = conversation_summary(user)
    if "outofoffice" in lowered:
        body["outOfOffice"] = {
            "user": {"id": user.id},
            "active": user.ooo_active,
            "indefinite": False,
        }
    if "authorization" in lowered:
        body["authorization"] = {"roles": [], "permissions": sorted(user.permissions)}
    if me and "organization" in lowered:
        body["organization"] = {"id": org.id, "name": org.name}
    return body


def queue_rest(org: Org, queue: Queue) -> JsonDict:
    """A routing ``Queue``."""
    joined = sum(1 for m in queue.members.values() if m.joined)
    return {
        "id": queue.id,
        "name": queue.name,
        "division": division(org),
        "description": queue.description,
        "dateCreated": iso(queue.created),
        "memberCount": len(queue.members),
        "userMemberCount": len(queue.members),
        "joinedMemberCount": joined,
        "mediaSettings": {
            "call": {
                "alertingTimeoutSeconds": 8,
                "serviceLevel": {"percentage": 0.8, "durationMs": 20000},
            }
        },
        "acwSettings": {"wrapupPrompt": "MANDATORY_TIMEOUT", "timeoutMs": 30000},
        "selfUri": f"/api/v2/routing/queues/{queue.id}",
    }


def member_rest(org: Org, queue: Queue, user: User, expand: set[str]) -> JsonDict:
    """A ``QueueMember`` of ``GET /api/v2/routing/queues/{id}/members``."""
    member = queue.members[user.id]
    return {
        "id": user.id,
        "name": user.name,
        "user": user_rest(org, user, expand),
        "ringNumber": member.ring_number,
        "joined": member.joined,
        "memberBy": "user",
        "routingStatus": routing_status_rest(user),
        "selfUri": f"/api/v2/routing/queues/{queue.id}/members/{user.id}",
    }
