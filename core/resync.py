"""REST fill-in after every gap (genesys-api.md 6, 8.1).

The Notification Service has no replay: whatever happened while a socket was down is gone. After
every connect, reconnect, rollover and wake we read the current state through the bulk endpoints
and turn it into the same typed events the stream carries, so the store applies both with one set
of rules (newer wins by the records' own timestamps).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.events import Event, PresenceChanged, QueueObserved, RoutingChanged
from core.models import QueueObservation, UserRecord

logger = logging.getLogger(__name__)


class ResyncApi(Protocol):
    """The REST reads a re-sync needs (``core.api.ApiClient`` provides them)."""

    async def users(self, ids: Iterable[str] | None = None) -> list[UserRecord]:
        """Users with presence and routing status, by id list (chunked by the client)."""

    async def queue_observations(self, queue_ids: Iterable[str]) -> dict[str, QueueObservation]:
        """Queue counters, chunked by the client."""


@dataclass(frozen=True, slots=True)
class ResyncResult:
    """What a re-sync read, as events."""

    user_events: tuple[Event, ...]
    queue_events: tuple[QueueObserved, ...]
    users_read: int
    queues_read: int


def user_events(record: UserRecord) -> list[Event]:
    """The presence and routing events equivalent to one REST user record."""
    out: list[Event] = []
    if record.presence is not None:
        p = record.presence
        out.append(
            PresenceChanged(record.id, p.definition_id, p.system_presence, p.message, p.modified)
        )
    if record.routing is not None:
        out.append(RoutingChanged(record.id, record.routing.status, record.routing.since))
    return out


def queue_event(observation: QueueObservation) -> QueueObserved:
    """The counters event equivalent to one observation query result."""
    return QueueObserved(
        queue_id=observation.queue_id,
        waiting=observation.waiting,
        interacting=observation.interacting,
        alerting=observation.alerting,
        on_queue=observation.on_queue_total,
        off_queue=observation.off_queue,
    )


async def read_state(
    api: ResyncApi, user_ids: Sequence[str], queue_ids: Sequence[str]
) -> ResyncResult:
    """Read the watched users and queues now."""
    records = await api.users(user_ids) if user_ids else []
    observations = await api.queue_observations(queue_ids) if queue_ids else {}
    events: list[Event] = []
    for record in records:
        events.extend(user_events(record))
    return ResyncResult(
        user_events=tuple(events),
        queue_events=tuple(queue_event(o) for o in observations.values()),
        users_read=len(records),
        queues_read=len(observations),
    )
