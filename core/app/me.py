"""Who "me" is and what my own status reads like: the tray's "My status" and the "Me" tab.

A person signed in (authorization code + PKCE) has a "me": their presence and routing status,
their queues. A service account (client credentials) has none, so nothing here is offered to
it. :func:`load_me` reads, once, what the menu offers (the org's presences, primary ones first,
the org's custom ones after) and whether the person is a supervisor or an agent (an agent gets
the agent-first window). Setting a presence or routing status goes through
:mod:`core.rest.user_actions`; the new status comes back through the stream, like anyone's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from core.domain.format import status_text
from core.errors import ApiError, TransportError
from core.rest.schema import Me, PresenceDefinition, QueueRecord
from core.state.store import Store

logger = logging.getLogger(__name__)

#: Any one of these makes the person a supervisor; without them the window starts on "Me".
SUPERVISOR_PERMISSIONS = frozenset(
    {
        "analytics:queueObservation:view",
        "analytics:userAggregate:view",
        "routing:queueMember:manage",
    }
)
#: Without it an agent's queues show no waiting counts (the topics and reads are refused).
QUEUE_FIGURES_PERMISSION = "analytics:queueObservation:view"
#: Presences a person cannot choose: On Queue is "Go On Queue", Idle is set by the system.
NOT_CHOSEN = frozenset({"ON_QUEUE", "IDLE"})
#: The order Genesys Cloud's own presence menu lists the primary presences in.
PRIMARY_ORDER = (
    "AVAILABLE",
    "BUSY",
    "AWAY",
    "BREAK",
    "MEAL",
    "MEETING",
    "TRAINING",
    "OFFLINE",
)
#: Routing statuses of someone on queue (anything else but NOT_RESPONDING is off queue).
ON_QUEUE_ROUTING = frozenset({"IDLE", "INTERACTING", "COMMUNICATING"})


class MeApi(Protocol):
    """The reads :func:`load_me` needs (``core.rest.client.ApiClient`` provides them)."""

    async def me(self) -> Me:
        """The signed-in user with permissions."""

    async def presence_definitions(self, locale: str = "en_US") -> list[PresenceDefinition]:
        """The org's active presences."""

    async def my_queues(self) -> list[QueueRecord]:
        """The queues the signed-in user is a member of."""


@dataclass(frozen=True, slots=True)
class PresenceChoice:
    """One presence the person can choose: its definition id, label and system presence."""

    id: str
    label: str
    system_presence: str
    primary: bool


@dataclass(frozen=True, slots=True)
class MeProfile:
    """The signed-in person: who, supervisor or agent, what they can choose, their queues."""

    user_id: str
    name: str = ""
    supervisor: bool = False
    choices: tuple[PresenceChoice, ...] = ()
    queues: dict[str, str] = field(default_factory=dict)  # my queues: id -> name
    sees_queue_figures: bool = True  # holds QUEUE_FIGURES_PERMISSION (or could not tell)


@dataclass(frozen=True, slots=True)
class MyStatus:
    """My presence and routing as the store has them, in the words the tray shows."""

    definition_id: str | None
    system_presence: str | None
    label: str
    routing: str | None
    since: datetime | None  # the later of the presence and routing changes

    @property
    def on_queue(self) -> bool:
        """Whether routing has me on queue (Not Responding counts: the router still offers)."""
        return self.routing in ON_QUEUE_ROUTING or self.routing == "NOT_RESPONDING"

    def words(self) -> str:
        """``Available · Off queue``, ``On Queue · Not Responding``: the tooltip's line."""
        routing = "Off queue" if self.routing == "OFF_QUEUE" else status_text(self.routing)
        return " · ".join(part for part in (self.label, routing) if part)


def is_supervisor(permissions: Iterable[str]) -> bool:
    """Whether the permissions are a supervisor's (any of :data:`SUPERVISOR_PERMISSIONS`)."""
    have = set(permissions)
    return "*" in have or bool(have & SUPERVISOR_PERMISSIONS)


def presence_choices(definitions: Iterable[PresenceDefinition]) -> tuple[PresenceChoice, ...]:
    """What "My status" offers: the primary presences in Genesys' order, then the custom ones."""
    primary: dict[str, PresenceChoice] = {}
    custom: list[PresenceChoice] = []
    for definition in definitions:
        key = definition.system_presence
        if definition.deactivated or key in NOT_CHOSEN or not key:
            continue
        label = definition.label or status_text(key)
        if definition.kind == "User":
            custom.append(PresenceChoice(definition.id, label, key, primary=False))
        else:
            primary.setdefault(key, PresenceChoice(definition.id, label, key, primary=True))
    rank = {key: index for index, key in enumerate(PRIMARY_ORDER)}
    ordered = sorted(primary.values(), key=lambda c: (rank.get(c.system_presence, 99), c.label))
    custom.sort(key=lambda c: (rank.get(c.system_presence, 99), c.label.casefold()))
    return (*ordered, *custom)


async def load_me(api: MeApi, user_id: str) -> MeProfile:
    """Read who I am, what I can choose and my queues; a failed read leaves that part empty.

    The person still gets "My status" when their permissions cannot be read (they are then
    taken for an agent: the window starts on "Me", which hides nothing).
    """
    name, supervisor, figures = "", False, True
    try:
        me = await api.me()
        name, supervisor = me.name, is_supervisor(me.permissions)
        figures = bool({"*", QUEUE_FIGURES_PERMISSION} & me.permissions)
    except (ApiError, TransportError) as exc:
        logger.warning("who is signed in could not be read: %s", exc)
    choices: tuple[PresenceChoice, ...] = ()
    try:
        choices = presence_choices(await api.presence_definitions())
    except (ApiError, TransportError) as exc:
        logger.warning("the org's presences could not be read: %s", exc)
    queues: dict[str, str] = {}
    try:
        queues = {q.id: q.name for q in await api.my_queues()}
    except (ApiError, TransportError) as exc:
        logger.warning("my queues could not be read: %s", exc)
    return MeProfile(user_id, name, supervisor, choices, queues, figures)


def my_status(store: Store, user_id: str) -> MyStatus | None:
    """My status as the store has it now; None while it knows nothing of me yet."""
    state = store.users.get(user_id)
    if state is None or (state.system_presence is None and state.routing_status is None):
        return None
    times = [t for t in (state.presence_since, state.routing_since) if t is not None]
    return MyStatus(
        definition_id=state.definition_id,
        system_presence=state.system_presence,
        label=store.presence_label(user_id) or status_text(state.system_presence),
        routing=state.routing_status,
        since=max(times) if times else None,
    )
