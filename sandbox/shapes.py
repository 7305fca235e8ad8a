"""JSON shapes of the org's state, exactly as shared/genesys-api.md documents each surface.

One function per shape, so the casing rules of section 6.11 live in one place: events and
analytics usually say ``ON_QUEUE``, REST user/presence bodies ``On Queue``, the new presence
definitions API ``OnQueue`` (its SDK enum). With variations on, the first two surfaces use any of
the three spellings (sandbox.variations). Queue conversation bodies are in
sandbox.conversation_shapes, queue analytics in sandbox.analytics.
"""

from __future__ import annotations

from sandbox.entities import JsonDict, Queue, ShapeSource, User
from sandbox.ledger import SERVICE_LEVEL_GOAL, SERVICE_LEVEL_MS
from sandbox.media import PROFILES
from sandbox.timefmt import iso

MEDIA_KEYS = ("call", "callback", "email", "message", "chat", "socialExpression", "video")
_MEDIA_OF_SUMMARY_KEY = {p.summary_key: p.media for p in PROFILES.values()}


# --------------------------------------------------------------------------- streaming bodies
def presence_event(org: ShapeSource, user: User) -> JsonDict:
    """``v2.users.{id}.presence`` body (PresenceEventUserPresence).

    ``modifiedDate`` is optional (a developer guide shows an event without it, 5.1), so with
    variations on it is left out now and then.
    """
    body: JsonDict = {
        "source": "PURECLOUD",
        "presenceDefinition": {
            "id": user.presence_id,
            "systemPresence": org.variations.presence(
                org.presences[user.presence_id].system, "event"
            ),
        },
        "primary": True,
        "message": user.presence_message,
    }
    if not org.variations.chance(org.variations.config.modified_date_drop_rate):
        body["modifiedDate"] = iso(user.presence_modified)
    return body


def routing_event(user: User) -> JsonDict:
    """``v2.users.{id}.routingStatus`` body (UserRoutingStatusUserRoutingStatus)."""
    return {
        "id": user.id,
        "routingStatus": {"status": user.routing_status, "startTime": iso(user.routing_start)},
    }


def activity_event(
    org: ShapeSource,
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
                "systemPresence": org.variations.presence(
                    org.presences[user.presence_id].system, "event"
                ),
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


def out_of_office_event(org: ShapeSource, user: User) -> JsonDict:
    """``v2.users.{id}.outofoffice`` body (OutOfOfficeEventOutOfOffice)."""
    return {"user": {"id": user.id}, "active": user.ooo_active, "indefinite": False}


def conversation_summary(user: User) -> JsonDict:
    """``v2.users.{id}.conversationsummary`` body: one block per media (5.4).

    ACD interactions count under ``contactCenter``; a non-ACD call (COMMUNICATING) under the
    call block's ``enterprise``.
    """
    body: JsonDict = {"userId": user.id}
    for key in MEDIA_KEYS:
        active, acw = user.summary.get(_MEDIA_OF_SUMMARY_KEY.get(key, ""), (0, 0))
        body[key] = {
            "contactCenter": {"active": active, "acw": acw},
            "enterprise": {"active": user.enterprise_calls if key == "call" else 0, "acw": 0},
        }
    return body


# --------------------------------------------------------------------------- REST bodies
def division(org: ShapeSource) -> JsonDict:
    """The org's single home division reference."""
    return {
        "id": org.division_id,
        "name": "Home",
        "selfUri": f"/api/v2/authorization/divisions/{org.division_id}",
    }


def presence_definition_ref(org: ShapeSource, presence_id: str) -> JsonDict:
    """``presenceDefinition`` as REST user and presence bodies write it (usually ``On Queue``)."""
    return {
        "id": presence_id,
        "systemPresence": org.variations.presence(org.presences[presence_id].system, "rest"),
        "selfUri": f"/api/v2/presencedefinitions/{presence_id}",
    }


def user_presence_rest(org: ShapeSource, user: User) -> JsonDict:
    """``GET /api/v2/users/{id}/presences/purecloud`` body (UserPresence)."""
    return {
        "source": "PURECLOUD",
        "primary": True,
        "presenceDefinition": presence_definition_ref(org, user.presence_id),
        "message": user.presence_message,
        "modifiedDate": iso(user.presence_modified),
        "selfUri": f"/api/v2/users/{user.id}/presences/purecloud",
    }


def bulk_presence_rest(org: ShapeSource, user: User) -> JsonDict:
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


def user_rest(
    org: ShapeSource, user: User, expand: set[str], *, me: bool = False, best_effort: bool = False
) -> JsonDict:
    """A ``User`` with the expansions asked for; unknown expansions are ignored (best effort).

    ``me`` marks ``GET /users/me`` (``UserMe``): only it has the ``organization`` block.
    ``best_effort`` marks ``GET /users``, where an expanded presence or routing status block may
    be missing under load (6.2, 8.17); with variations on, it sometimes is.
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
    if best_effort:
        rate = org.variations.config.expand_drop_rate
        lowered = {
            e
            for e in lowered
            if e not in ("presence", "routingstatus") or not org.variations.chance(rate)
        }
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


def queue_rest(org: ShapeSource, queue: Queue) -> JsonDict:
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
            PROFILES[media].summary_key: {
                "alertingTimeoutSeconds": 8 if media in ("voice", "callback") else 30,
                "serviceLevel": {
                    "percentage": SERVICE_LEVEL_GOAL,
                    "durationMs": SERVICE_LEVEL_MS[media],
                },
            }
            for media in queue.media
        },
        "acwSettings": {"wrapupPrompt": "MANDATORY_TIMEOUT", "timeoutMs": 30000},
        "selfUri": f"/api/v2/routing/queues/{queue.id}",
    }


def member_rest(org: ShapeSource, queue: Queue, user: User, expand: set[str]) -> JsonDict:
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
