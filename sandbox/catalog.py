"""Static facts of the sandbox org: system presences, permission sets and the topic catalogue.

The catalogue is what ``GET /api/v2/notifications/availabletopics`` returns and what subscription
requests are checked against: a topic that matches no template is invalid, a topic whose
permissions the caller lacks is rejected with ``missingPermissions``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (upper-snake key used by events and analytics, REST label, new-definitions-API enum)
SYSTEM_PRESENCES: tuple[tuple[str, str, str], ...] = (
    ("AVAILABLE", "Available", "Available"),
    ("AWAY", "Away", "Away"),
    ("BUSY", "Busy", "Busy"),
    ("OFFLINE", "Offline", "Offline"),
    ("IDLE", "Idle", "Idle"),
    ("ON_QUEUE", "On Queue", "OnQueue"),
    ("MEAL", "Meal", "Meal"),
    ("TRAINING", "Training", "Training"),
    ("MEETING", "Meeting", "Meeting"),
    ("BREAK", "Break", "Break"),
)
REST_LABEL = {key: rest for key, rest, _ in SYSTEM_PRESENCES}
NEW_API_ENUM = {key: enum for key, _, enum in SYSTEM_PRESENCES}

AGENT_PERMISSIONS = frozenset(
    {"directory:user:view", "routing:queue:view", "presence:presenceDefinition:view"}
)
SUPERVISOR_PERMISSIONS = AGENT_PERMISSIONS | frozenset(
    {
        "analytics:queueObservation:view",
        "analytics:conversationAggregate:view",
        "analytics:userAggregate:view",
        "conversation:communication:view",
        "routing:queueMember:manage",
        # Changing someone else's status and signing them out (sandbox/user_actions.py).
        "presence:userPresence:edit",
        "oauth:token:delete",
        # The Genesys side of EventBridge (shared/genesys-eventbridge-triggers.md 2.1).
        "integrations:integration:view",
        "integrations:integration:add",
        "integrations:integration:edit",
        "integrations:integration:delete",
        # Process Automation triggers and the workflows they run (fact sheet 5.1).
        "processautomation:trigger:view",
        "processautomation:trigger:add",
        "processautomation:trigger:edit",
        "processautomation:trigger:delete",
        "processautomation:trigger:test",
        "architect:flow:view",
    }
)
CLIENT_PERMISSIONS = SUPERVISOR_PERMISSIONS

QUEUE_MEDIA = (
    "calls",
    "callbacks",
    "chats",
    "cobrowseSessions",
    "emails",
    "messages",
    "screenshares",
    "socialexpressions",
    "videos",
)
USER_MEDIA = QUEUE_MEDIA


@dataclass(frozen=True, slots=True)
class TopicTemplate:
    """One subscribable topic family, e.g. ``v2.users.{id}.presence``."""

    template: str
    description: str
    permissions: tuple[str, ...] = ()
    current_user_or_permission: bool = False  # the user's own topic needs no permission
    api_paths: tuple[str, ...] = ()
    visibility: str = "Public"
    # AvailableTopic.transports (shared/genesys-eventbridge-triggers.md 2.3): All, Websocket,
    # EventBridge. Which real topic has which is open question 1; the sandbox mixes them so a
    # client must read the field.
    transports: tuple[str, ...] = ("All",)

    @property
    def websocket(self) -> bool:
        """Whether the Notification Service's WebSocket carries this topic."""
        return "All" in self.transports or "Websocket" in self.transports

    @property
    def prefix(self) -> str:
        """The part before ``{id}``, e.g. ``v2.users.``."""
        return self.template.split("{id}")[0]

    @property
    def suffix(self) -> str:
        """The part after ``{id}.``, e.g. ``presence``."""
        return self.template.split("{id}")[1].lstrip(".")


WEBSOCKET_ONLY = ("Websocket",)
BOTH = ("Websocket", "EventBridge")


def _user(
    suffix: str,
    description: str,
    *perms: str,
    own: bool = False,
    paths: tuple[str, ...] = (),
    transports: tuple[str, ...] = ("All",),
) -> TopicTemplate:
    return TopicTemplate(
        f"v2.users.{{id}}.{suffix}", description, perms, own, paths, transports=transports
    )


def _queue(
    suffix: str, description: str, *perms: str, transports: tuple[str, ...] = WEBSOCKET_ONLY
) -> TopicTemplate:
    return TopicTemplate(
        f"v2.routing.queues.{{id}}.{suffix}", description, perms, transports=transports
    )


TOPICS: tuple[TopicTemplate, ...] = (
    _user(
        "presence",
        "Presence changes of one user",
        paths=("/api/v2/users/{id}/presences/purecloud",),
        transports=BOTH,
    ),
    _user(
        "routingStatus",
        "Routing status changes of one user",
        paths=("/api/v2/users/{id}/routingstatus",),
    ),
    _user("activity", "Presence, routing status, out of office and active queues of one user"),
    _user(
        "conversationsummary",
        "Active and after-call-work conversation counts of one user",
        "conversation:communication:view",
        own=True,
        transports=WEBSOCKET_ONLY,
    ),
    _user("outofoffice", "Out-of-office changes of one user"),
    _user("station", "Station association changes of one user"),
    _user("geolocation", "Geolocation changes of one user"),
    _user(
        "conversations", "Conversations of one user", "conversation:communication:view", own=True
    ),
    *(
        _user(
            f"conversations.{m}",
            f"{m} conversations of one user",
            "conversation:communication:view",
            own=True,
        )
        for m in USER_MEDIA
    ),
    _queue(
        "conversations",
        "Conversations routed through a queue",
        "routing:queue:view",
        "conversation:communication:view",
        transports=BOTH,
    ),
    *(
        _queue(
            f"conversations.{m}",
            f"{m} conversations routed through a queue",
            "routing:queue:view",
            "conversation:communication:view",
        )
        for m in QUEUE_MEDIA
    ),
    _queue("users", "Membership changes of a queue", "routing:queue:view"),
    TopicTemplate(
        "v2.analytics.queues.{id}.observations",
        "Queue observations",
        ("analytics:queueObservation:view",),
        transports=WEBSOCKET_ONLY,
    ),
    TopicTemplate(
        "v2.analytics.queues.{id}.activity",
        "Queue observation counts",
        ("analytics:queueObservation:view",),
        transports=WEBSOCKET_ONLY,
    ),
    # EventBridge only (the Developer Tools tester hides such topics, fact sheet 2.3): the
    # sandbox lists it so a client sees one; a WebSocket subscription to it is refused.
    TopicTemplate(
        "v2.audits.entitytype.{id}.entityid.{id}",
        "Audit events of one entity",
        ("audits:audit:view",),
        transports=("EventBridge",),
    ),
    # A workflow's execution history; trigger runs carry invokingContext.processAutomation
    # (fact sheet 5.4). The sandbox publishes one per trigger invocation (sandbox/triggers).
    TopicTemplate(
        "v2.flows.instances.flow.{id}",
        "Executions of one Architect flow",
        ("architect:flow:view",),
        transports=BOTH,
    ),
    TopicTemplate(
        "v2.analytics.users.{id}.aggregates",
        "User aggregates",
        ("analytics:userAggregate:view",),
        transports=WEBSOCKET_ONLY,
    ),
)

_ID = r"[A-Za-z0-9-]{1,64}"
_TEMPLATE_RES = [
    (re.compile("^" + re.escape(t.template).replace(re.escape("{id}"), f"({_ID})") + "$"), t)
    for t in TOPICS
]


def match_topic(name: str) -> tuple[TopicTemplate, str] | None:
    """The template and entity id of a concrete (non-combined) topic name, or None."""
    for pattern, template in _TEMPLATE_RES:
        found = pattern.match(name)
        if found:
            return template, found.group(1)
    return None


def expand_combined(name: str) -> list[str] | None:
    """Expand ``v2.users.<id>?presence&routingStatus`` into concrete topic names.

    Returns None when the name is not a well-formed combined topic.
    """
    prefix, sep, query = name.partition("?")
    if not sep or not query or prefix.endswith("."):
        return None
    suffixes = query.split("&")
    if any(not s for s in suffixes):
        return None
    return [f"{prefix}.{s}" for s in suffixes]


def is_system_topic(name: str) -> bool:
    """System topics are delivered to every channel and can never be subscribed."""
    return name == "channel.metadata" or name.startswith("v2.system")


# What ``GET /api/v2/processautomation/triggers/topics`` lists (fact sheet 5.3, the help
# examples). The sandbox emits only ``v2.users.{id}.activity`` of these; the others are listed,
# accepted and testable through ``/test`` but never fire on their own.
TRIGGER_TOPICS: tuple[str, ...] = (
    "v2.users.{id}.activity",
    "v2.users.{id}.integrationpresence",
    *(
        f"v2.detail.events.conversation.{{id}}.{suffix}"
        for suffix in (
            "acd.start",
            "acd.end",
            "acw",
            "wrapup",
            "attributes",
            "customer.start",
            "customer.end",
            "outbound",
            "user.start",
            "user.end",
            "voicemail.start",
            "voicemail.end",
        )
    ),
    "v2.operations.events.{id}",
    "v2.quality.evaluations",
    "v2.integrations.inbound.webhook.{id}.invocation",
)
