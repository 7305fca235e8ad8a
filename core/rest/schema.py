"""Typed, frozen values of the Platform API, parsed once at the boundary (genesys-api.md 3, 6).

Every ``parse_*`` function takes whatever JSON the server sent and either returns a value or
``None``; none of them raises. Optional blocks (``expand`` is best effort, genesys-api.md 8.17)
become ``None``; unreadable timestamps become ``None``; system presences are normalised to the
upper-snake form the events use (genesys-api.md 6.11), so the rest of the engine compares one
spelling only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.domain.format import status_text
from core.domain.presence import normalize_system_presence

logger = logging.getLogger(__name__)

CHANNEL_LIFETIME = timedelta(hours=24)  # genesys-api.md 4.8; used when `expires` is unreadable
FALLBACK_LOCALE = "en_US"


def parse_datetime(value: object) -> datetime | None:
    """An aware UTC datetime from ISO-8601 text (``...Z`` included); anything else is ``None``."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def as_str(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


# --------------------------------------------------------------------------- users and presence
@dataclass(frozen=True, slots=True)
class PresenceRecord:
    """A user's presence as REST reports it."""

    definition_id: str
    system_presence: str  # normalised: ON_QUEUE, AVAILABLE, ...
    message: str
    modified: datetime | None


@dataclass(frozen=True, slots=True)
class RoutingRecord:
    """A user's routing status (``OFF_QUEUE``, ``IDLE``, ``INTERACTING``, ...)."""

    status: str
    since: datetime | None


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user with the presence and routing blocks the server managed to expand."""

    id: str
    name: str
    presence: PresenceRecord | None
    routing: RoutingRecord | None


@dataclass(frozen=True, slots=True)
class Me:
    """The signed-in user and the permissions that decide which topics to offer."""

    id: str
    name: str
    permissions: frozenset[str]
    presence: PresenceRecord | None
    routing: RoutingRecord | None


def parse_presence(raw: object) -> PresenceRecord | None:
    """A ``UserPresence``/``UcUserPresence`` block; ``None`` without a definition id."""
    body = as_dict(raw)
    definition = as_dict(body.get("presenceDefinition"))
    definition_id = opt_str(definition.get("id"))
    if definition_id is None:
        return None
    return PresenceRecord(
        definition_id=definition_id,
        system_presence=normalize_system_presence(as_str(definition.get("systemPresence"))),
        message=as_str(body.get("message")),
        modified=parse_datetime(body.get("modifiedDate")),
    )


def parse_routing(raw: object) -> RoutingRecord | None:
    """A ``RoutingStatus`` block; ``None`` without a status."""
    body = as_dict(raw)
    status = opt_str(body.get("status"))
    if status is None:
        return None
    return RoutingRecord(status=status.strip().upper(), since=parse_datetime(body.get("startTime")))


def parse_user(raw: object) -> UserRecord | None:
    """A ``User`` entity; ``None`` when it has no id."""
    body = as_dict(raw)
    user_id = opt_str(body.get("id"))
    if user_id is None:
        return None
    return UserRecord(
        id=user_id,
        name=as_str(body.get("name")),
        presence=parse_presence(body.get("presence")),
        routing=parse_routing(body.get("routingStatus")),
    )


def parse_me(raw: object) -> Me | None:
    """``GET /api/v2/users/me?expand=presence,routingStatus,authorization``."""
    user = parse_user(raw)
    if user is None:
        return None
    authorization = as_dict(as_dict(raw).get("authorization"))
    return Me(
        id=user.id,
        name=user.name,
        permissions=frozenset(_strings(authorization.get("permissions"))),
        presence=user.presence,
        routing=user.routing,
    )


def parse_bulk_presence(raw: object) -> tuple[str, PresenceRecord] | None:
    """One element of the presence bulk array: ``(userId, presence)``."""
    body = as_dict(raw)
    user_id = opt_str(body.get("userId"))
    presence = parse_presence(body)
    if user_id is None or presence is None:
        return None
    return user_id, presence


# --------------------------------------------------------------------------- tokens
@dataclass(frozen=True, slots=True)
class TokenInfo:
    """``GET /api/v2/tokens/me``: whose token this is and when the org idle timer fires."""

    organization_id: str
    organization_name: str
    home_organization_id: str
    authorized_scope: tuple[str, ...]
    oauth_client_id: str
    oauth_client_name: str
    grant_type: str
    idles_at: datetime | None


def parse_token_info(raw: object) -> TokenInfo:
    """A ``TokenInfo`` (note the capitalised ``OAuthClient`` key, genesys-api.md 2.10)."""
    body = as_dict(raw)
    org = as_dict(body.get("organization"))
    home = as_dict(body.get("homeOrganization"))
    client = as_dict(body.get("OAuthClient"))
    return TokenInfo(
        organization_id=as_str(org.get("id")),
        organization_name=as_str(org.get("name")),
        home_organization_id=as_str(home.get("id"), as_str(org.get("id"))),
        authorized_scope=_strings(body.get("authorizedScope")),
        oauth_client_id=as_str(client.get("id")),
        oauth_client_name=as_str(client.get("name")),
        grant_type=as_str(client.get("authorizedGrantType")),
        idles_at=parse_datetime(body.get("dateTokenIdles")),
    )


# --------------------------------------------------------------------------- presence definitions
@dataclass(frozen=True, slots=True)
class PresenceDefinition:
    """An org presence: a System one, or a custom one (``User``) under a system presence."""

    id: str
    system_presence: str  # normalised
    label: str
    kind: str  # "System", "User" or "" when the API does not say
    deactivated: bool


def pick_label(labels: Mapping[str, Any], locale: str) -> str:
    """``languageLabels[locale]``, then its language alone, then ``en_US``, then any label."""
    candidates = [locale, re.split(r"[_-]", locale, maxsplit=1)[0], FALLBACK_LOCALE]
    for key in candidates:
        value = labels.get(key)
        if isinstance(value, str) and value:
            return value
    for value in labels.values():
        if isinstance(value, str) and value:
            return value
    return ""


def parse_presence_definition(raw: object, locale: str) -> PresenceDefinition | None:
    """An entity of the new or the deprecated presence definitions API."""
    body = as_dict(raw)
    definition_id = opt_str(body.get("id"))
    if definition_id is None:
        return None
    system = normalize_system_presence(as_str(body.get("systemPresence")))
    label = pick_label(as_dict(body.get("languageLabels")), locale) or as_str(body.get("name"))
    kind = as_str(body.get("type"))
    if not kind and isinstance(body.get("primary"), bool):
        kind = "System" if body["primary"] else "User"  # the deprecated API has no `type`
    return PresenceDefinition(
        id=definition_id,
        system_presence=system,
        label=label or status_text(system),
        kind=kind,
        deactivated=_bool(body.get("deactivated")) or False,
    )


# --------------------------------------------------------------------------- queues
@dataclass(frozen=True, slots=True)
class QueueRecord:
    """A routing queue; ``joined`` only from ``/routing/queues/me``."""

    id: str
    name: str
    member_count: int | None
    joined_member_count: int | None
    joined: bool | None = None


@dataclass(frozen=True, slots=True)
class QueueMember:
    """A member of a queue with the user's presence and routing status."""

    user: UserRecord
    joined: bool
    ring_number: int | None

    @property
    def id(self) -> str:
        """The member's user id."""
        return self.user.id


def parse_queue(raw: object) -> QueueRecord | None:
    """A ``Queue`` entity."""
    body = as_dict(raw)
    queue_id = opt_str(body.get("id"))
    if queue_id is None:
        return None
    return QueueRecord(
        id=queue_id,
        name=as_str(body.get("name")),
        member_count=as_int(body.get("memberCount")),
        joined_member_count=as_int(body.get("joinedMemberCount")),
        joined=_bool(body.get("joined")),
    )


def parse_queue_member(raw: object) -> QueueMember | None:
    """A ``QueueMember``; the member's own ``routingStatus`` stands in for a missing expand."""
    body = as_dict(raw)
    user = parse_user(body.get("user"))
    member_id = opt_str(body.get("id"))
    if user is None:
        if member_id is None:
            return None
        user = UserRecord(member_id, as_str(body.get("name")), None, None)
    if user.routing is None:
        routing = parse_routing(body.get("routingStatus"))
        if routing is not None:
            user = UserRecord(user.id, user.name, user.presence, routing)
    if not user.name and isinstance(body.get("name"), str):
        user = UserRecord(user.id, body["name"], user.presence, user.routing)
    return QueueMember(
        user=user,
        joined=_bool(body.get("joined")) or False,
        ring_number=as_int(body.get("ringNumber")),
    )


# --------------------------------------------------------------------------- notifications
@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """A notification channel we can connect to."""

    id: str
    connect_uri: str
    expires: datetime


@dataclass(frozen=True, slots=True)
class ListedChannel:
    """An entry of ``GET /channels``; other tokens' channels come without id or URI."""

    id: str | None
    connect_uri: str | None
    expires: datetime | None


@dataclass(frozen=True, slots=True)
class RejectedTopic:
    """A topic the server refused, and why."""

    id: str
    reason: str
    missing_permissions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscriptionResult:
    """What a channel is subscribed to after a change, and what was refused."""

    permitted: tuple[str, ...]
    rejected: tuple[RejectedTopic, ...]


@dataclass(frozen=True, slots=True)
class AvailableTopic:
    """A subscribable topic family of ``availabletopics``."""

    id: str
    description: str
    requires_permissions: tuple[str, ...]
    allows_current_user: bool
    visibility: str


def parse_channel(raw: object, now: datetime) -> ChannelInfo | None:
    """A ``Channel``; ``None`` without id or connect URI, ``now + 24 h`` for a bad ``expires``."""
    body = as_dict(raw)
    channel_id = opt_str(body.get("id"))
    connect_uri = opt_str(body.get("connectUri"))
    if channel_id is None or connect_uri is None:
        return None
    expires = parse_datetime(body.get("expires"))
    if expires is None:
        logger.warning("channel without a readable expiry; assuming the documented 24 h")
        expires = now + CHANNEL_LIFETIME
    return ChannelInfo(id=channel_id, connect_uri=connect_uri, expires=expires)


def parse_listed_channel(raw: object) -> ListedChannel | None:
    """An entry of ``ChannelEntityListing``."""
    if not isinstance(raw, dict):
        return None
    return ListedChannel(
        id=opt_str(raw.get("id")),
        connect_uri=opt_str(raw.get("connectUri")),
        expires=parse_datetime(raw.get("expires")),
    )


def parse_subscriptions(raw: object) -> SubscriptionResult:
    """``ChannelTopicEntityListing``; an entry without ``state`` counts as permitted."""
    permitted: list[str] = []
    rejected: list[RejectedTopic] = []
    entities = as_dict(raw).get("entities")
    for entry in entities if isinstance(entities, list) else []:
        item = as_dict(entry)
        topic = opt_str(item.get("id"))
        if topic is None:
            continue
        if as_str(item.get("state")).lower() == "rejected":
            rejected.append(
                RejectedTopic(
                    id=topic,
                    reason=as_str(item.get("rejectionReason")),
                    missing_permissions=_strings(item.get("missingPermissions")),
                )
            )
        else:
            permitted.append(topic)
    return SubscriptionResult(permitted=tuple(permitted), rejected=tuple(rejected))


def parse_available_topic(raw: object) -> AvailableTopic | None:
    """An ``AvailableTopic``."""
    body = as_dict(raw)
    topic = opt_str(body.get("id"))
    if topic is None:
        return None
    allows = _bool(body.get("requiresCurrentUserOrPermission"))
    if allows is None:
        details = body.get("permissionDetails")
        allows = any(
            _bool(as_dict(d).get("allowsCurrentUser")) is True
            for d in (details if isinstance(details, list) else [])
        )
    return AvailableTopic(
        id=topic,
        description=as_str(body.get("description")),
        requires_permissions=_strings(body.get("requiresPermissions")),
        allows_current_user=allows,
        visibility=as_str(body.get("visibility"), "Public"),
    )
