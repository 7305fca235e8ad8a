"""Queue KPIs read through the analytics conversation aggregates query.

``POST /api/v2/analytics/conversations/aggregates/query`` (SDK ``ConversationAggregationQuery``)
with ``groupBy`` ``queueId`` and ``mediaType`` and a ``PT30M`` granularity over today: one answer
gives today (the sum of every interval) and the current interval (the block holding now), per
media group, which is what the live ``.observations`` interval figures are merged against.

The answer is read defensively: groups without a queue id, metrics in any order, metrics left
out (the service leaves out what has no data), queues left out (no traffic reads as zero) and
``oServiceLevel`` with only a ratio all parse; nothing here raises on a strange body.

A queue's own service-level targets come from ``mediaSettings`` of ``GET /api/v2/routing/queues``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from core.domain.media import normalize_media_type
from core.rest.paging import QueryValue, chunks, unique
from core.rest.schema import as_dict, as_str, opt_str, parse_datetime
from core.state.kpis import Figures

logger = logging.getLogger(__name__)

AGGREGATES_PATH = "/api/v2/analytics/conversations/aggregates/query"
AGGREGATE_METRICS = ("nOffered", "tAnswered", "tAbandon", "tAcd", "tHandle", "oServiceLevel")
MAX_AGGREGATE_QUEUES = 100  # queue predicates per query (a modest number; limit unconfirmed)
INTERVAL = timedelta(minutes=30)


class AnalyticsApi(Protocol):
    """What reading KPIs needs of the REST client (``core.rest.client.ApiClient``)."""

    async def request(
        self, method: str, path: str, *, body: Any = None, idempotent: bool | None = None
    ) -> httpx.Response:
        """Send one request with the client's retries; the 2xx response or an ApiError."""

    def paged(
        self, path: str, params: Mapping[str, QueryValue] | None = None, *, item_key: str = ...
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paged listing."""


@dataclass(frozen=True, slots=True)
class AggregateRow:
    """One ``(queue, media, interval)`` block of the answer."""

    queue_id: str
    media: str  # "" when the answer did not split by media
    start: datetime | None
    end: datetime | None
    figures: Figures
    sl_goal: float | None = None


@dataclass(slots=True)
class _Acc:
    values: dict[str, float] = field(default_factory=dict)


def local_midnight(now: datetime) -> datetime:
    """The start of the local day holding ``now`` (aware, UTC)."""
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def today_interval(now: datetime) -> tuple[datetime, datetime]:
    """Local midnight to the end of the 30-minute interval holding ``now`` (both UTC)."""
    start = local_midnight(now)
    slots = int((now - start) / INTERVAL) + 1
    return start, start + slots * INTERVAL


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def aggregates_query(queue_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, Any]:
    """The ``ConversationAggregationQuery`` of these queues' KPIs over ``[start, end)``."""
    return {
        "interval": f"{_iso(start)}/{_iso(end)}",
        "granularity": "PT30M",
        "groupBy": ["queueId", "mediaType"],
        "filter": {
            "type": "or",
            "predicates": [{"dimension": "queueId", "value": qid} for qid in queue_ids],
        },
        "metrics": list(AGGREGATE_METRICS),
    }


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None  # noqa: PLR0124


def _count(stats: Mapping[str, Any]) -> int:
    value = _number(stats.get("count"))
    return max(0, int(value)) if value is not None else 0


def block_figures(metrics: object) -> tuple[Figures, float | None]:
    """The figures of one data block's ``metrics[]`` and the service level's goal if given."""
    got: dict[str, Mapping[str, Any]] = {}
    for raw in metrics if isinstance(metrics, list) else []:
        item = as_dict(raw)
        name = as_str(item.get("metric"))
        if name in AGGREGATE_METRICS and name not in got:
            got[name] = as_dict(item.get("stats"))
    answered = _count(got.get("tAnswered", {}))
    abandoned = _count(got.get("tAbandon", {}))
    level = got.get("oServiceLevel", {})
    numerator, denominator = _number(level.get("numerator")), _number(level.get("denominator"))
    if numerator is None or denominator is None:
        # Only a ratio: weigh it by what ended its wait here (answered + abandoned).
        ratio = _number(level.get("ratio"))
        denominator = float(answered + abandoned) if ratio is not None else 0.0
        numerator = (ratio or 0.0) * denominator
    figures = Figures(
        offered=_count(got.get("nOffered", {})),
        answered=answered,
        abandoned=abandoned,
        sl_numerator=max(0.0, numerator),
        sl_denominator=max(0.0, denominator),
        answer_ms=max(0.0, _number(got.get("tAnswered", {}).get("sum")) or 0.0),
        handled=_count(got.get("tHandle", {})),
        handle_ms=max(0.0, _number(got.get("tHandle", {}).get("sum")) or 0.0),
    )
    return figures, _number(level.get("target"))


def parse_interval(text: object) -> tuple[datetime | None, datetime | None]:
    if not isinstance(text, str) or "/" not in text:
        return None, None
    start, _, end = text.partition("/")
    return parse_datetime(start), parse_datetime(end)


def parse_aggregates(raw: object) -> list[AggregateRow]:
    """``ConversationAggregateQueryResponse`` → one row per queue, media and interval block."""
    rows: list[AggregateRow] = []
    results = as_dict(raw).get("results")
    for result in results if isinstance(results, list) else []:
        body = as_dict(result)
        group = as_dict(body.get("group"))
        queue_id = opt_str(group.get("queueId"))
        if not queue_id:
            continue
        media = normalize_media_type(group.get("mediaType"))
        data = body.get("data")
        for block in data if isinstance(data, list) else []:
            block_body = as_dict(block)
            start, end = parse_interval(block_body.get("interval"))
            figures, goal = block_figures(block_body.get("metrics"))
            rows.append(AggregateRow(queue_id, media, start, end, figures, goal))
    return rows


def parse_service_level_targets(raw: object) -> dict[str, float]:
    """A queue's ``mediaSettings`` → service-level target seconds by media type."""
    out: dict[str, float] = {}
    for key, value in as_dict(as_dict(raw).get("mediaSettings")).items():
        level = as_dict(as_dict(value).get("serviceLevel"))
        duration = _number(level.get("durationMs"))
        media = normalize_media_type(key)
        if duration is not None and duration >= 0 and media:
            out[media] = duration / 1000
    return out


async def query_aggregates(
    api: AnalyticsApi, queue_ids: Iterable[str], start: datetime, end: datetime
) -> list[AggregateRow]:
    """Every block of the watched queues' KPIs over ``[start, end)`` (≤ 100 queues a query)."""
    rows: list[AggregateRow] = []
    for chunk in chunks(unique(queue_ids), MAX_AGGREGATE_QUEUES):
        response = await api.request(
            "POST", AGGREGATES_PATH, body=aggregates_query(chunk, start, end), idempotent=True
        )
        try:
            raw = response.json()
        except ValueError:
            logger.warning("the aggregates answer was not JSON; ignored")
            continue
        rows.extend(parse_aggregates(raw))
    return rows


async def service_level_targets(
    api: AnalyticsApi, queue_ids: Iterable[str]
) -> dict[str, dict[str, float]]:
    """Each queue's service-level targets in seconds by media type."""
    out: dict[str, dict[str, float]] = {}
    for chunk in chunks(unique(queue_ids), 100):
        params: dict[str, QueryValue] = {"pageSize": 100, "id": chunk}
        async for item in api.paged("/api/v2/routing/queues", params):
            queue_id = opt_str(item.get("id"))
            if queue_id:
                out[queue_id] = parse_service_level_targets(item)
    return out
