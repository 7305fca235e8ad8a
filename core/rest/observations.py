"""Queue observations read through REST (genesys-api.md 6.8), per media group.

The answer of ``POST /api/v2/analytics/queues/observations/query`` groups conversation metrics
by ``{queueId, mediaType}`` and user counts by ``{queueId}``; this module reads it generically by
group keys into one :class:`QueueObservation` per queue. It never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.domain.media import (
    WHOLE_QUEUE,
    MediaCounts,
    busy_groups,
    media_totals,
    normalize_media_type,
)
from core.rest.schema import as_dict, as_int, as_str, opt_str, parse_datetime

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QueueObservation:
    """What a queue looks like right now (genesys-api.md 6.8), per media group.

    ``media`` holds the busy groups only (an idle group and an absent one are the same);
    ``waiting_details`` lists ``(conversationId, observationDate, mediaType)`` of every waiting
    conversation when the answer had complete details, else None.
    """

    queue_id: str
    waiting: int = 0
    interacting: int = 0
    alerting: int = 0
    on_queue: Mapping[str, int] = field(default_factory=dict, hash=False)  # by routing status
    routing_statuses: Mapping[str, int] = field(default_factory=dict, hash=False)
    off_queue: int = 0
    active: int = 0
    members: int = 0
    media: Mapping[str, MediaCounts] = field(default_factory=dict, hash=False)
    waiting_details: tuple[tuple[str, datetime | None, str], ...] | None = None

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
    by_media: dict[str, dict[str, int]] = field(default_factory=dict)
    queue_level: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    qualified: dict[str, dict[str, int]] = field(default_factory=dict)
    waiting: list[tuple[str, datetime | None, str]] = field(default_factory=list)
    details_complete: bool = True


def _waiting_details(item: Mapping[str, Any], media: str, acc: _ObservationSums) -> None:
    """Collect the waiting conversations of one ``oWaiting`` row (complete rows only)."""
    observations = item.get("observations")
    count = as_int(as_dict(item.get("stats")).get("count")) or 0
    if item.get("truncated") is True or (count and not isinstance(observations, list)):
        acc.details_complete = False
        return
    for raw in observations if isinstance(observations, list) else []:
        body = as_dict(raw)
        conversation_id = opt_str(body.get("conversationId"))
        if conversation_id is not None:
            since = parse_datetime(body.get("observationDate"))
            acc.waiting.append((conversation_id, since, media))


def parse_queue_observations(
    raw: object, queue_ids: tuple[str, ...] = (), *, details: bool = False
) -> dict[str, QueueObservation]:
    """``QueueObservationQueryResponse`` → one value per queue, read generically by group keys.

    Conversation metrics are kept per ``mediaType`` group; a queue-only group counts only when
    no media group reported the metric (so a total is never added to its own parts), as the
    ``""`` group. User counts are grouped by queue only, so a repeat in another group is the
    same number: the largest wins. Queues asked for that the answer omits observe zero.
    ``details``: the query asked for ``oWaiting`` details, so their absence means none wait.
    """
    sums: dict[str, _ObservationSums] = {qid: _ObservationSums() for qid in queue_ids}
    results = as_dict(raw).get("results")
    for result in results if isinstance(results, list) else []:
        result_body = as_dict(result)
        group = as_dict(result_body.get("group"))
        queue_id = opt_str(group.get("queueId"))
        if queue_id is None:
            continue
        acc = sums.setdefault(queue_id, _ObservationSums())
        media = normalize_media_type(group.get("mediaType"))
        data = result_body.get("data")
        for entry in data if isinstance(data, list) else []:
            item = as_dict(entry)
            metric = as_str(item.get("metric"))
            count = as_int(as_dict(item.get("stats")).get("count"))
            if count is None:
                continue
            if metric in CONVERSATION_METRICS:
                target = acc.by_media.setdefault(media, {}) if media else acc.queue_level
                target[metric] = target.get(metric, 0) + count
                if metric == "oWaiting" and details:
                    _waiting_details(item, media, acc)
            elif metric in USER_COUNT_METRICS:
                acc.users[metric] = max(acc.users.get(metric, 0), count)
            elif metric in QUALIFIED_USER_METRICS:
                qualifier = as_str(item.get("qualifier"), "UNKNOWN").strip().upper() or "UNKNOWN"
                by_qualifier = acc.qualified.setdefault(metric, {})
                by_qualifier[qualifier] = max(by_qualifier.get(qualifier, 0), count)
    return {queue_id: _observation(queue_id, acc, details) for queue_id, acc in sums.items()}


def _observation(queue_id: str, acc: _ObservationSums, details: bool) -> QueueObservation:
    groups = dict(acc.by_media)
    # A queue-only row of a metric no media group reported is the whole queue's.
    whole = {m: c for m, c in acc.queue_level.items() if not any(m in g for g in groups.values())}
    if whole:
        groups[WHOLE_QUEUE] = whole
    media = busy_groups(
        (
            name,
            MediaCounts(
                waiting=counts.get("oWaiting", 0),
                interacting=counts.get("oInteracting", 0),
                alerting=counts.get("oAlerting", 0),
            ),
        )
        for name, counts in groups.items()
    )
    totals = media_totals(media)
    return QueueObservation(
        queue_id=queue_id,
        waiting=totals.waiting,
        interacting=totals.interacting,
        alerting=totals.alerting,
        on_queue=dict(acc.qualified.get("oOnQueueUsers", {})),
        routing_statuses=dict(acc.qualified.get("oUserRoutingStatuses", {})),
        off_queue=acc.users.get("oOffQueueUsers", 0),
        active=acc.users.get("oActiveUsers", 0),
        members=acc.users.get("oMemberUsers", 0),
        media=media,
        waiting_details=tuple(acc.waiting) if details and acc.details_complete else None,
    )
