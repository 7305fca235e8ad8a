"""Queue conversation event bodies for every media type (genesys-api.md 5.6, 5.7, 8.15).

Two shapes: the generic ``v2.routing.queues.{id}.conversations`` topic nests the state on the
participant's media session array (``calls[]``, ``callbacks[]``, ``chats[]``, ``emails[]``,
``messages[]``), while the media-specific topics (``.conversations.calls`` and friends) flatten
it: ``state`` sits on the participant next to ``user{id}`` and ``queue{id}``. Only the keys each
media's SDK model knows are written (a chat session has no ``direction``, an email no
``terminated`` state).
"""

from __future__ import annotations

import logging

from sandbox.entities import Conversation, ConversationSource, JsonDict, Participant
from sandbox.media import PROFILES
from sandbox.timefmt import iso

logger = logging.getLogger(__name__)


# Session states the email and message models lack; they end as "disconnected".
_NO_TERMINATED = frozenset({"email", "message"})


def _media_fields(conv: Conversation, media: str) -> JsonDict:
    """What a session of one media carries in both the nested and the flattened shape."""
    if media == "voice":
        return {"muted": False, "confined": False, "recording": False, "recordingState": "none"}
    if media == "callback":
        return {"callbackNumbers": [conv.ani.removeprefix("tel:")]}
    if media == "chat":
        return {"roomId": f"{conv.id}@conference.sandbox.example"}
    if media == "email":
        return {"subject": conv.customer_name + ": a question", "messagesSent": 0}
    if media == "message":
        return {"type": "webmessaging"}
    return {}


def _state(conv: Conversation, part: Participant) -> str:
    if part.state == "terminated" and conv.media in _NO_TERMINATED:
        return "disconnected"
    return part.state


def _address(conv: Conversation, part: Participant) -> str:
    return conv.ani if part.purpose == "customer" else conv.dnis


def _session(conv: Conversation, part: Participant) -> JsonDict:
    """One media session of the generic topic's participant."""
    media = conv.media
    session: JsonDict = {
        "id": f"{part.id}-{PROFILES[media].summary_key}",
        "state": _state(conv, part),
        "held": False,
        "provider": "Edge" if media in ("voice", "callback") else "PureCloud",
    }
    if media != "chat":
        session["direction"] = "inbound"
    session.update(_media_fields(conv, media))
    if media == "voice":
        session["self"] = {"addressNormalized": _address(conv, part)}
    if part.connected is not None:
        session["connectedTime"] = iso(part.connected)
    if part.end is not None:
        session["disconnectedTime"] = iso(part.end)
    if part.disconnect_type:
        session["disconnectType"] = part.disconnect_type
    return session


def _routing_data(conv: Conversation, queue_id: str, name: str) -> JsonDict:
    return {"queue": {"id": queue_id, "name": name}, "priority": conv.priority, "skills": []}


def _generic_participant(
    org: ConversationSource, conv: Conversation, part: Participant
) -> JsonDict:
    """A participant of the generic topic: the state lives on the nested media session."""
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
            **_routing_data(conv, queue.id, queue.name),
            "scoredAgents": [],
        }
    out[PROFILES[conv.media].session_key] = [_session(conv, part)]
    out["attributes"] = {}
    return out


def generic(org: ConversationSource, conv: Conversation) -> JsonDict:
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


def _flat_participant(org: ConversationSource, conv: Conversation, part: Participant) -> JsonDict:
    """A flattened participant of a media-specific topic: ``state`` sits on the participant."""
    queue = org.queues[conv.queue_id]
    media = conv.media
    out: JsonDict = {
        "id": part.id,
        "purpose": part.purpose,
        "state": _state(conv, part),
        "initialState": "alerting" if part.purpose == "agent" else "connected",
        "direction": "inbound",
        "startTime": iso(part.start),
        "held": False,
        "provider": "Edge" if media in ("voice", "callback") else "PureCloud",
        "address": _address(conv, part),
        "attributes": {},
        "wrapupRequired": part.wrapup_required,
    }
    out.update(_media_fields(conv, media))
    if media == "voice":
        out.update(ani=conv.ani, dnis=conv.dnis)
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
        out["conversationRoutingData"] = _routing_data(conv, queue.id, queue.name)
    if part.start_acw is not None:
        out["startAcwTime"] = iso(part.start_acw)
    if part.end_acw is not None:
        out["endAcwTime"] = iso(part.end_acw)
    return out


def flattened(org: ConversationSource, conv: Conversation) -> JsonDict:
    """Body of the media's own topic, e.g. ``.conversations.chats`` (flattened participants)."""
    body: JsonDict = {
        "id": conv.id,
        "participants": [_flat_participant(org, conv, p) for p in conv.participants],
        "otherMediaUris": [],
        "divisions": [{"division": {"id": org.division_id}, "entities": [{"id": conv.queue_id}]}],
    }
    if conv.media == "voice":
        body.update(recordingState="none", maxParticipants=3)
    return body
