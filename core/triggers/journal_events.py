"""The journal's recent events as trigger event bodies, for "Would it fire?".

The journal keeps what the feed showed, not the event bodies: a presence row keeps the agent
(``subject_id``), the system presence (upper-snake) and the org's definition id; a routing row
keeps the routing status (and the one before). Each is rebuilt here as the body the matching
topic carries (``v2.users.{id}.activity``, ``.presence``, ``.routingStatus``; genesys-api.md
5.1-5.3), holding only what the row knew. Other topics have no rows to rebuild from.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from core.feed.entry import FeedEntry
from core.feed.payloads import FeedKind, PresenceData, RoutingData
from core.triggers.evaluate import CriterionResult, explain
from core.triggers.model import Criterion

logger = logging.getLogger(__name__)

ACTIVITY: Final = "v2.users.{id}.activity"
PRESENCE: Final = "v2.users.{id}.presence"
ROUTING: Final = "v2.users.{id}.routingStatus"
KINDS_OF_TOPIC: Final = {
    ACTIVITY: (FeedKind.PRESENCE.value, FeedKind.ROUTING.value),
    PRESENCE: (FeedKind.PRESENCE.value,),
    ROUTING: (FeedKind.ROUTING.value,),
}


def journal_kinds(topic: str) -> tuple[str, ...]:
    """The journal kinds whose rows can stand for events of ``topic`` (empty: none)."""
    return KINDS_OF_TOPIC.get(topic, ())


def event_body(topic: str, entry: FeedEntry) -> dict[str, Any] | None:
    """The body of ``topic`` that ``entry`` stands for; None when it stands for none."""
    data = entry.data
    if isinstance(data, PresenceData) and entry.kind == FeedKind.PRESENCE:
        definition = {"id": data.definition_id, "systemPresence": data.presence}
        if topic == ACTIVITY:
            return {"id": entry.subject_id, "presence": {"presenceDefinition": definition}}
        if topic == PRESENCE:
            return {"presenceDefinition": definition}
    routing = isinstance(data, RoutingData) and entry.kind == FeedKind.ROUTING
    if routing and topic in (ACTIVITY, ROUTING) and isinstance(data, RoutingData):
        return {"id": entry.subject_id, "routingStatus": {"status": data.routing_status}}
    return None


@dataclass(frozen=True, slots=True)
class Hit:
    """One journal event and how the trigger's criteria went on it."""

    entry: FeedEntry
    body: dict[str, Any]
    fired: bool
    results: tuple[CriterionResult, ...]


def would_fire(
    topic: str, criteria: tuple[Criterion, ...], entries: Iterable[FeedEntry]
) -> list[Hit]:
    """Every journal entry that stands for an event of ``topic``, evaluated (newest first as
    given); :attr:`Hit.fired` says which would have run the workflow."""
    out = []
    for entry in entries:
        body = event_body(topic, entry)
        if body is None:
            continue
        results = tuple(explain(body, criteria))
        out.append(Hit(entry, body, all(r.matched for r in results), results))
    return out
