"""Queue analytics as the real service splits it: by ``(queueId, mediaType)`` group.

Conversation metrics (``oWaiting``, ``oInteracting``, ``oAlerting``) exist per media type;
user-count metrics (``oOnQueueUsers``, ``oOffQueueUsers``, ``oActiveUsers``, ``oMemberUsers``,
``oUserRoutingStatuses``, ``oUserPresences``) are queue-wide (genesys-api.md 5.9, 5.10, 6.8).
This module builds the canonical metric lists; :mod:`sandbox.observations` decides when a group
is published and :mod:`sandbox.rest` answers the observations query with them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sandbox.ledger import AGGREGATE_METRICS
from sandbox.timefmt import iso

if TYPE_CHECKING:
    from sandbox.entities import Queue
    from sandbox.org import Org

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]

CONVERSATION_METRICS = ("oWaiting", "oInteracting", "oAlerting")
USER_METRICS = frozenset(
    {
        "oOnQueueUsers",
        "oOffQueueUsers",
        "oActiveUsers",
        "oMemberUsers",
        "oUserRoutingStatuses",
        "oUserPresences",
    }
)
_COUNT_KEY = {"oWaiting": "waiting", "oInteracting": "interacting", "oAlerting": "alerting"}
_DETAIL_STATE = {"oWaiting": "waiting", "oInteracting": "connected", "oAlerting": "alerting"}


def queue_user_metrics(org: Org, queue: Queue) -> list[JsonDict]:
    """User-count observation metrics of a queue, qualified as in genesys-api.md 6.8."""
    joined = [org.users[m.user_id] for m in queue.members.values() if m.joined]
    on_queue: dict[str, int] = {}
    statuses: dict[str, int] = {}
    presences: dict[str, int] = {}
    off_queue = 0
    for user in joined:
        key = org.presence_key(user)
        statuses[user.routing_status] = statuses.get(user.routing_status, 0) + 1
        presences[user.presence_id] = presences.get(user.presence_id, 0) + 1
        if key == "ON_QUEUE":
            on_queue[user.routing_status] = on_queue.get(user.routing_status, 0) + 1
        elif key != "OFFLINE":
            off_queue += 1
    data: list[JsonDict] = [
        {"metric": "oOnQueueUsers", "qualifier": status, "stats": {"count": count}}
        for status, count in sorted(on_queue.items())
    ]
    data.append({"metric": "oOffQueueUsers", "stats": {"count": off_queue}})
    data.append({"metric": "oActiveUsers", "stats": {"count": len(joined)}})
    data.append({"metric": "oMemberUsers", "stats": {"count": len(queue.members)}})
    data.extend(
        {"metric": "oUserRoutingStatuses", "qualifier": status, "stats": {"count": count}}
        for status, count in sorted(statuses.items())
    )
    data.extend(
        {"metric": "oUserPresences", "qualifier": pid, "stats": {"count": count}}
        for pid, count in sorted(presences.items())
    )
    return data


def conversation_metrics(org: Org, queue_id: str, media: str) -> list[JsonDict]:
    """``oWaiting``, ``oInteracting``, ``oAlerting`` of one ``(queueId, mediaType)`` group."""
    counts = org.queue_counts(queue_id, media)
    return [{"metric": m, "stats": {"count": counts[_COUNT_KEY[m]]}} for m in CONVERSATION_METRICS]


def longest_waiting_ms(org: Org, queue_id: str, media: str | None = None) -> int | None:
    """How long the oldest waiting conversation (of one media, or any) has waited, in ms."""
    now = org.clock()
    waits = [
        now - c.created
        for c in org.conversations.values()
        if c.queue_id == queue_id
        and c.state in ("waiting", "alerting")
        and (media is None or c.media == media)
    ]
    return int(max(waits) * 1000) if waits else None


def observation_groups(org: Org, queue: Queue, grouping: str) -> dict[str, JsonDict]:
    """Every group of the ``.observations`` topic: key (media, or "" for users) → group + metrics.

    Media groups carry the current 30-minute interval's aggregates too (``nOffered``,
    ``tAnswered``, ``tAbandon``, ``tAcd``, ``tHandle``, ``oServiceLevel``: sandbox.ledger).
    ``grouping`` "separate" puts the user metrics in a ``{queueId}`` group of their own,
    "repeated" repeats them inside every media group; both are allowed by the fact sheet.
    """
    users = queue_user_metrics(org, queue)
    groups: dict[str, JsonDict] = {}
    if grouping == "separate":
        groups[""] = {"group": {"queueId": queue.id}, "metrics": users}
    now = org.clock()
    for media in queue.media_groups():
        # The 30-minute interval's aggregates (5.9), from the ledger the aggregates query reads.
        interval = org.ledger.slot_stats(queue.id, media, now).metrics(AGGREGATE_METRICS)
        metrics = conversation_metrics(org, queue.id, media) + interval
        if grouping == "repeated":
            metrics = metrics + users
        groups[media] = {"group": {"queueId": queue.id, "mediaType": media}, "metrics": metrics}
    return groups


def activity_blocks(org: Org, queue: Queue) -> dict[str, JsonDict]:
    """Every ``results[]`` block of the ``.activity`` topic, by media type."""
    blocks: dict[str, JsonDict] = {}
    for media in queue.media_groups():
        counts = org.queue_counts(queue.id, media)
        data: list[JsonDict] = [
            {"metric": "oWaiting", "count": counts["waiting"]},
            {"metric": "oAlerting", "count": counts["alerting"]},
            {"metric": "oInteracting", "count": counts["interacting"]},
        ]
        longest = longest_waiting_ms(org, queue.id, media)
        if longest is not None:
            # calculatedMetricValue: the wait in ms (our reading; the unit is unconfirmed, 5.10).
            data.append({"metric": "oLongestWaiting", "count": 1, "calculatedMetricValue": longest})
        blocks[media] = {"mediaType": media, "data": data}
    return blocks


def query_results(
    org: Org,
    queue: Queue,
    metrics: set[str],
    detail: set[str],
    media_filter: set[str],
    *,
    include_zero: bool,
) -> list[JsonDict]:
    """The observations query's ``results[]`` of one queue (genesys-api.md 6.8)."""
    results: list[JsonDict] = []
    user_data = [m for m in queue_user_metrics(org, queue) if m["metric"] in metrics]
    if user_data:
        results.append({"group": {"queueId": queue.id}, "data": user_data})
    for media in queue.media_groups():
        if media_filter and media not in media_filter:
            continue
        data: list[JsonDict] = []
        for entry in conversation_metrics(org, queue.id, media):
            if entry["metric"] not in metrics:
                continue
            if entry["metric"] in detail:
                entry["truncated"] = False
                entry["observations"] = detail_observations(org, queue.id, media, entry["metric"])
            data.append(entry)
        if not data:
            continue
        if not include_zero and all(d["stats"]["count"] == 0 for d in data):
            continue
        results.append({"group": {"queueId": queue.id, "mediaType": media}, "data": data})
    return results


def detail_observations(org: Org, queue_id: str, media: str, metric: str) -> list[JsonDict]:
    """``observations[]`` of one detail metric in one media group."""
    state = _DETAIL_STATE[metric]
    out: list[JsonDict] = []
    for conv in sorted(org.conversations.values(), key=lambda c: c.created):
        if conv.queue_id != queue_id or conv.media != media or conv.state != state:
            continue
        item: JsonDict = {
            "observationDate": iso(conv.created),
            "conversationId": conv.id,
            "sessionId": conv.participants[0].id,
            "direction": "inbound",
            "routingPriority": conv.priority,
            "addressFrom": conv.ani,
            "addressTo": conv.dnis,
            "usedRouting": "Standard",
        }
        if media in ("voice", "callback"):
            item.update(ani=conv.ani, dnis=conv.dnis)
        if conv.agent_id:
            item["userId"] = conv.agent_id
        out.append(item)
    return out
