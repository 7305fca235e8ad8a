"""REST fill-in after every gap (genesys-api.md 6, 8.1).

The Notification Service has no replay: whatever happened while a socket was down is gone. After
every connect, reconnect, rollover and wake we read the current state through the bulk endpoints
and turn it into the same typed events the stream carries, so the store applies both with one set
of rules (newer wins by the records' own timestamps).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.rest.observations import QueueObservation
from core.rest.schema import PresenceRecord, RoutingRecord, UserRecord
from core.streaming.events import (
    Event,
    PresenceChanged,
    QueueCountersRead,
    RoutingChanged,
    WaitingConversation,
)

logger = logging.getLogger(__name__)


class ResyncApi(Protocol):
    """The REST reads a re-sync needs (``core.rest.client.ApiClient`` provides them)."""

    async def users(self, ids: Iterable[str] | None = None) -> list[UserRecord]:
        """Users with presence and routing status, by id list (chunked by the client)."""

    async def queue_observations(self, queue_ids: Iterable[str]) -> dict[str, QueueObservation]:
        """Queue counters, chunked by the client."""

    async def presences(self, ids: Iterable[str]) -> dict[str, PresenceRecord]:
        """Presence of many users (the bulk endpoint)."""

    async def routing_status(self, user_id: str) -> RoutingRecord | None:
        """One user's routing status."""


# Routing status has no bulk endpoint: this many single reads at once at most (rate limits).
ROUTING_READS_AT_ONCE = 8


@dataclass(frozen=True, slots=True)
class ResyncResult:
    """What a re-sync read, as events."""

    user_events: tuple[Event, ...]
    queue_events: tuple[QueueCountersRead, ...]
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


def counters_read(observation: QueueObservation) -> QueueCountersRead:
    """The store event equivalent to one observation query result (the whole group set)."""
    details = observation.waiting_details
    return QueueCountersRead(
        queue_id=observation.queue_id,
        groups=tuple(sorted(observation.media.items())),
        on_queue=observation.on_queue_total,
        off_queue=observation.off_queue,
        waiting=None
        if details is None
        else tuple(WaitingConversation(cid, since, media) for cid, since, media in details),
    )


def _merge(records: list[UserRecord], again: dict[str, UserRecord]) -> list[UserRecord]:
    """Each record with the blocks a second read found where the first had none."""
    out = []
    for record in records:
        second = again.get(record.id)
        out.append(
            record
            if second is None
            else dataclasses.replace(
                record,
                presence=record.presence or second.presence,
                routing=record.routing or second.routing,
            )
        )
    return out


async def complete_records(api: ResyncApi, records: list[UserRecord]) -> list[UserRecord]:
    """Fill the blocks ``expand`` left out (best effort, genesys-api.md 8.17), so a user's
    presence is never silently left as it was.

    The cheap way first: the users short of a block are read once more in bulk (100 a call);
    what is still missing comes from the presence bulk endpoint (50 a call) and, as routing
    status has no bulk endpoint, one read per user. A re-sync of 1,500 users thus costs a few
    calls more, not a hundred, which the 300-a-minute client limit would punish.
    """
    short = [r.id for r in records if r.presence is None or r.routing is None]
    if not short:
        return records
    again = {r.id: r for r in await api.users(short)}
    records = _merge(records, again)
    no_presence = [r.id for r in records if r.presence is None]
    no_routing = [r.id for r in records if r.routing is None]
    logger.info(
        "re-sync: %d users short of a block; %d presences and %d routing statuses read singly",
        len(short),
        len(no_presence),
        len(no_routing),
    )
    presences = await api.presences(no_presence) if no_presence else {}
    limit = asyncio.Semaphore(ROUTING_READS_AT_ONCE)

    async def routing(user_id: str) -> tuple[str, RoutingRecord | None]:
        async with limit:
            return user_id, await api.routing_status(user_id)

    routings = dict(await asyncio.gather(*(routing(uid) for uid in no_routing)))
    return [
        dataclasses.replace(
            r,
            presence=r.presence or presences.get(r.id),
            routing=r.routing or routings.get(r.id),
        )
        for r in records
    ]


async def read_state(
    api: ResyncApi, user_ids: Sequence[str], queue_ids: Sequence[str]
) -> ResyncResult:
    """Read the watched users and queues now."""
    records = await complete_records(api, await api.users(user_ids)) if user_ids else []
    observations = await api.queue_observations(queue_ids) if queue_ids else {}
    events: list[Event] = []
    for record in records:
        events.extend(user_events(record))
    return ResyncResult(
        user_events=tuple(events),
        queue_events=tuple(counters_read(o) for o in observations.values()),
        users_read=len(records),
        queues_read=len(observations),
    )
