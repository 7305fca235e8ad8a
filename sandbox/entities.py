"""The org's entities: plain records of people, queues, presences and conversations.

A leaf module: the org (which mutates them), the JSON shapes (which read them) and the servers
all import it, and it imports nothing of the sandbox but the media table. The two protocols say
what of the org the shape functions read, so the shapes never import the org that calls them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sandbox.media import MEDIA_TYPES, VOICE
from sandbox.variations import Variations

JsonDict = dict[str, Any]
Role = Literal["agent", "supervisor"]
ConvState = Literal["waiting", "alerting", "connected", "acw", "ended"]


@dataclass(slots=True)
class PresenceDefinition:
    """An org presence: a system one or a custom one under a system presence."""

    id: str
    system: str  # upper-snake key, e.g. ON_QUEUE
    labels: dict[str, str]
    type: Literal["System", "User"]
    deactivated: bool = False
    created: float = 0.0


@dataclass(slots=True)
class User:
    """A person in the org and their live state."""

    id: str
    name: str
    email: str
    role: Role
    permissions: frozenset[str]
    presence_id: str
    presence_message: str
    presence_modified: float
    routing_status: str
    routing_start: float
    ooo_active: bool = False
    ooo_modified: float = 0.0
    active_queues_changed: float = 0.0
    # Contact-centre (active, acw) counts per media type, as the conversation summary shows them.
    summary: dict[str, tuple[int, int]] = field(default_factory=dict)
    enterprise_calls: int = 0  # a non-ACD call (routing status COMMUNICATING)
    interactions: list[str] = field(default_factory=list)  # ACD conversations the agent is on
    busy_until: float = 0.0  # when a non-interaction state (break, not responding...) may end
    blocked_until: float = 0.0  # no new offers before this (a ring-out while on other work)
    email_capacity: int = 1


@dataclass(slots=True)
class Member:
    """A user's membership of a queue."""

    user_id: str
    joined: bool
    ring_number: int = 1


@dataclass(slots=True)
class Queue:
    """A routing queue with its members."""

    id: str
    name: str
    description: str
    members: dict[str, Member] = field(default_factory=dict)
    created: float = 0.0
    media: dict[str, float] = field(default_factory=lambda: {VOICE: 1.0})  # traffic shares
    media_seen: set[str] = field(default_factory=set)  # media that ever had a conversation

    def media_groups(self) -> list[str]:
        """Media types the queue has analytics groups for, in a fixed order."""
        present = set(self.media) | self.media_seen
        return [m for m in MEDIA_TYPES if m in present]


@dataclass(slots=True)
class Participant:
    """One leg of a conversation (customer, acd or agent)."""

    id: str
    purpose: str
    state: str
    start: float
    connected: float | None = None
    end: float | None = None
    user_id: str | None = None
    queue_id: str | None = None
    disconnect_type: str | None = None
    wrapup_required: bool = False
    start_acw: float | None = None
    end_acw: float | None = None


@dataclass(slots=True)
class Conversation:
    """An inbound ACD interaction (call, callback, chat, message or email) in a queue."""

    id: str
    queue_id: str
    media: str
    ani: str
    dnis: str
    customer_name: str
    created: float
    participants: list[Participant]
    state: ConvState = "waiting"
    agent_id: str | None = None
    offered_at: float = 0.0
    patience_until: float = 0.0
    talk_until: float = 0.0
    acw_until: float = 0.0
    will_answer: bool = True
    answer_at: float = 0.0
    priority: int = 0


class ShapeSource(Protocol):
    """What the user and presence shapes read of the org."""

    @property
    def id(self) -> str:
        """The org's id."""

    @property
    def name(self) -> str:
        """The org's name."""

    @property
    def division_id(self) -> str:
        """The one division every entity lives in."""

    @property
    def presences(self) -> Mapping[str, PresenceDefinition]:
        """Presence definitions by id."""

    @property
    def variations(self) -> Variations:
        """The spellings and drops this org varies."""

    def active_queue_ids(self, user_id: str) -> list[str]:
        """The queues a user is joined to and active in."""


class ConversationSource(Protocol):
    """What the queue conversation shapes read of the org."""

    @property
    def division_id(self) -> str:
        """The one division every entity lives in."""

    @property
    def users(self) -> Mapping[str, User]:
        """People by id."""

    @property
    def queues(self) -> Mapping[str, Queue]:
        """Queues by id."""
