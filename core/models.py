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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

logger = logging.getLogger(__name__)

SYSTEM_PRESENCES: tuple[str, ...] = (
    "AVAILABLE",
    "AWAY",
    "BUSY",
    "OFFLINE",
    "IDLE",
    "ON_QUEUE",
    "MEAL",
    "TRAINING",
    "MEETING",
    "BREAK",
)
# "On Queue" (REST), "OnQueue" (new definitions API) and "ON_QUEUE" (events) all squash to this.
_SQUASHED = {p.replace("_", ""): p for p in SYSTEM_PRESENCES}
_SQUASH_RE = re.compile(r"[\s_\-]+")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])")
CHANNEL_LIFETIME = timedelta(hours=24)  # genesys-api.md 4.8; used when `expires` is unreadable
FALLBACK_LOCALE = "en_US"


def normalize_system_presence(value: str) -> str:
    """The upper-snake system presence (``ON_QUEUE``) of any spelling the API uses.

    REST writes ``On Queue``, the new definitions API ``OnQueue``, events ``ON_QUEUE``; they must
    compare equal. An unknown value is still made upper-snake (``OutOfOffice`` →
    ``OUT_OF_OFFICE``) so it compares stably, and the function never raises.
    """
    text = value.strip() if isinstance(value, str) else ""
    known = _SQUASHED.get(_SQUASH_RE.sub("", text).upper())
    if known is not None:
        return known
    snake = _SQUASH_RE.sub("_", _CAMEL_RE.sub("_", text)).strip("_")
    return snake.upper()


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


def _str(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _dict(value: object) -> dict[str, Any]:
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
    body = _dict(raw)
    definition = _dict(body.get("presenceDefinition"))
    definition_id = _opt_str(definition.get("id"))
    if definition_id is None:
        return None
    return PresenceRecord(
        definition_id=definition_id,
        system_presence=normalize_system_presence(_str(definition.get("systemPresence"))),
        message=_str(body.get("message")),
        modified=parse_datetime(body.get("modifiedDate")),
    )


def parse_routing(raw: object) -> RoutingRecord | None:
    """A ``RoutingStatus`` block; ``None`` without a status."""
    body = _dict(raw)
    status = _opt_str(body.get("status"))
    if status is None:
        return None
    return RoutingRecord(status=status.strip().upper(), since=parse_datetime(body.get("startTime")))


def parse_user(raw: object) -> UserRecord | None:
    """A ``User`` entity; ``None`` when it has no id."""
    body = _dict(raw)
    user_id = _opt_str(body.get("id"))
    if user_id is None:
        return None
    return UserRecord(
        id=user_id,
        name=_str(body.get("name")),
        presence=parse_presence(body.get("presence")),
        routing=parse_routing(body.get("routingStatus")),
    )


def parse_me(raw: object) -> Me | None:
    """``GET /api/v2/users/me?expand=presence,routingStatus,authorization``."""
    user = parse_user(raw)
    if user is None:
        return None
    authorization = _dict(_dict(raw).get("authorization"))
    return Me(
        id=user.id,
        name=user.name,
        permissions=frozenset(_strings(authorization.get("permissions"))),
        presence=user.presence,
        routing=user.routing,
    )


def parse_bulk_presence(raw: object) -> tuple[str, PresenceRecord] | None:
    """One element of the presence bulk array: ``(userId, presence)``."""
    body = _dict(raw)
    user_id = _opt_str(body.get("userId"))
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
    body = _dict(raw)
    org = _dict(body.get("organization"))
    home = _dict(body.get("homeOrganization"))
    client = _dict(body.get("OAuthClient"))
    return TokenInfo(
        organization_id=_str(org.get("id")),
        organization_name=_str(org.get("name")),
        home_organization_id=_str(home.get("id"), _str(org.get("id"))),
        authorized_scope=_strings(body.get("authorizedScope")),
        oauth_client_id=_str(client.get("id")),
        oauth_client_name=_str(client.get("name")),
        grant_type=_str(client.get("authorizedGrantType")),
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
    body = _dict(raw)
    definition_id = _opt_str(body.get("id"))
    if definition_id is None:
        return None
    system = normalize_system_presence(_str(body.get("systemPresence")))
    label = pick_label(_dict(body.get("languageLabels")), locale) or _str(body.get("name"))
    kind = _str(body.get("type"))
    if not kind and isinstance(body.get("primary"), bool):
        kind = "System" if body["primary"] else "User"  # the deprecated API has no `type`
    return PresenceDefinition(
        id=definition_id,
        system_presence=system,
        label=label or system.replace("_", " ").title(),
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
    body = _dict(raw)
    queue_id = _opt_str(body.get("id"))
    if queue_id is None:
        return None
    return QueueRecord(
        id=queue_id,
        name=_str(body.get("name")),
        member_count=_int(body.get("memberCount")),
        joined_member_count=_int(body.get("joinedMemberCount")),
        joined=_bool(body.get("joined")),
    )


def parse_queue_member(raw: object) -> QueueMember | None:
    """A ``QueueMember``; the member's own ``routingStatus`` stands in for a missing expand."""
    body = _dict(raw)
    user = parse_user(body.get("user"))
    member_id = _opt_str(body.get("id"))
    if user is None:
        if member_id is None:
            return None
        user = UserRecord(member_id, _str(body.get("name")), None, None)
    if user.routing is None:
        routing = parse_routing(body.get("routingStatus"))
        if routing is not None:
            user = UserRecord(user.id, user.name, user.presence, routing)
    if not user.name and isinstance(body.get("name"), str):
        user = UserRecord(user.id, body["name"], user.presence, user.routing)
    return QueueMember(
        user=user,
        joined=_bool(body.get("joined")) or False,
        ring_number=_int(body.get("ringNumber")),
    )


# --------------------------------------------------------------------------- observations
@dataclass(frozen=True, slots=True)
class QueueObservation:
    """What a queue looks like right now (genesys-api.md 6.8)."""

    queue_id: str
    waiting: int = 0
    interacting: int = 0
    alerting: int = 0
    on_queue: Mapping[str, int] = field(default_factory=dict, hash=False)  # by routing status
    routing_statuses: Mapping[str, int] = field(default_factory=dict, hash=False)
    off_queue: int = 0
    active: int = 0
    members: int = 0

    @property
    def on_queue_total(self) -> int:
        """Users on queue in any routing status."""
        return sum(self.on_queue.values())


CONVERSATION_METRICS = {
    "oWaiting": "waiting",
    "oInteracting": "interacting",
    "oAlerting": "alerting",
}
USER_COUNT_METRICS = {
    "oOffQueueUsers": "off_queue",
    "oActiveUsers": "active",
    "oMemberUsers": "members",
}
QUALIFIED_USER_METRICS = {"oOnQueueUsers": "on_queue", "oUserRoutingStatuses": "routing_statuses"}


@dataclass(slots=True)
class _ObservationSums:
    media_level: dict[str, int] = field(default_factory=dict)
    queue_level: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    qualified: dict[str, dict[str, int]] = field(default_factory=dict)


def parse_queue_observations(
    raw: object, queue_ids: tuple[str, ...] = ()
) -> dict[str, QueueObservation]:
    """``QueueObservationQueryResponse`` → one value per queue, read generically by group keys.

    Conversation metrics are summed over every group that carries a ``mediaType``; a queue-only
    group counts only when no media group reported the metric (so a total is never added to its
    own parts). User counts are grouped by queue only, so a repeat in another group is the same
    number: the largest wins. Queues asked for that the answer omits observe zero.
    """
    sums: dict[str, _ObservationSums] = {qid: _ObservationSums() for qid in queue_ids}
    results = _dict(raw).get("results")
    for result in results if isinstance(results, list) else []:
        result_body = _dict(result)
        group = _dict(result_body.get("group"))
        queue_id = _opt_str(group.get("queueId"))
        if queue_id is None:
            continue
        acc = sums.setdefault(queue_id, _ObservationSums())
        per_media = any(k != "queueId" for k in group)
        data = result_body.get("data")
        for entry in data if isinstance(data, list) else []:
            item = _dict(entry)
            metric = _str(item.get("metric"))
            count = _int(_dict(item.get("stats")).get("count"))
            if count is None:
                continue
            if metric in CONVERSATION_METRICS:
                target = acc.media_level if per_media else acc.queue_level
                target[metric] = target.get(metric, 0) + count
            elif metric in USER_COUNT_METRICS:
                acc.users[metric] = max(acc.users.get(metric, 0), count)
            elif metric in QUALIFIED_USER_METRICS:
                qualifier = _str(item.get("qualifier"), "UNKNOWN").strip().upper() or "UNKNOWN"
                by_qualifier = acc.qualified.setdefault(metric, {})
                by_qualifier[qualifier] = max(by_qualifier.get(qualifier, 0), count)
    out: dict[str, QueueObservation] = {}
    for queue_id, acc in sums.items():
        conv = {
            name: acc.media_level.get(metric, acc.queue_level.get(metric, 0))
            for metric, name in CONVERSATION_METRICS.items()
        }
        out[queue_id] = QueueObservation(
            queue_id=queue_id,
            waiting=conv["waiting"],
            interacting=conv["interacting"],
            alerting=conv["alerting"],
            on_queue=dict(acc.qualified.get("oOnQueueUsers", {})),
            routing_statuses=dict(acc.qualified.get("oUserRoutingStatuses", {})),
            off_queue=acc.users.get("oOffQueueUsers", 0),
            active=acc.users.get("oActiveUsers", 0),
            members=acc.users.get("oMemberUsers", 0),
        )
    return out


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
    body = _dict(raw)
    channel_id = _opt_str(body.get("id"))
    connect_uri = _opt_str(body.get("connectUri"))
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
        id=_opt_str(raw.get("id")),
        connect_uri=_opt_str(raw.get("connectUri")),
        expires=parse_datetime(raw.get("expires")),
    )


def parse_subscriptions(raw: object) -> SubscriptionResult:
    """``ChannelTopicEntityListing``; an entry without ``state`` counts as permitted."""
    permitted: list[str] = []
    rejected: list[RejectedTopic] = []
    entities = _dict(raw).get("entities")
    for entry in entities if isinstance(entities, list) else []:
        item = _dict(entry)
        topic = _opt_str(item.get("id"))
        if topic is None:
            continue
        if _str(item.get("state")).lower() == "rejected":
            rejected.append(
                RejectedTopic(
                    id=topic,
                    reason=_str(item.get("rejectionReason")),
                    missing_permissions=_strings(item.get("missingPermissions")),
                )
            )
        else:
            permitted.append(topic)
    return SubscriptionResult(permitted=tuple(permitted), rejected=tuple(rejected))


def parse_available_topic(raw: object) -> AvailableTopic | None:
    """An ``AvailableTopic``."""
    body = _dict(raw)
    topic = _opt_str(body.get("id"))
    if topic is None:
        return None
    allows = _bool(body.get("requiresCurrentUserOrPermission"))
    if allows is None:
        details = body.get("permissionDetails")
        allows = any(
            _bool(_dict(d).get("allowsCurrentUser")) is True
            for d in (details if isinstance(details, list) else [])
        )
    return AvailableTopic(
        id=topic,
        description=_str(body.get("description")),
        requires_permissions=_strings(body.get("requiresPermissions")),
        allows_current_user=allows,
        visibility=_str(body.get("visibility"), "Public"),
    )
