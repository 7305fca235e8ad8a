"""``POST /api/v2/analytics/conversations/aggregates/query`` in the SDK's shapes.

Request ``ConversationAggregationQuery``: ``interval`` ("start/end", ISO-8601), ``granularity``
(an ISO-8601 duration such as ``PT30M``; without it one bucket spans the interval), ``groupBy``
(``queueId``, ``mediaType``), ``filter`` (``type`` and/or, ``predicates``/``clauses`` on
``queueId`` and ``mediaType``) and ``metrics``. Answer ``ConversationAggregateQueryResponse``:
``results[]`` of ``{group, data[]}``, each data block ``{interval, metrics[]}`` with
``{metric, stats}`` (``StatisticalSummary``). Figures come from :mod:`sandbox.ledger`, the same
history the truth's ``today`` is read from.

What the fact sheet leaves open varies (sandbox.variations): a queue the filter names that had
no traffic is either left out (as the real service leaves out empty groups) or present with
zero counts, and metrics come in any order. Bad queries get Genesys error bodies; the endpoint
has a per-token limit of its own (``SandboxConfig.aggregates_rate_per_min``, our setting: the
real figure is unconfirmed), answered with the documented 429.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from datetime import datetime
from typing import Any

from aiohttp import web

from sandbox.auth import Token
from sandbox.config import SandboxConfig
from sandbox.errors import bad_request, missing_permissions, rate_limited, read_json
from sandbox.ledger import AGGREGATE_METRICS, Stats
from sandbox.media import MEDIA_TYPES
from sandbox.org import Org
from sandbox.timefmt import iso

logger = logging.getLogger(__name__)

Json = dict[str, Any]
PERMISSION = "analytics:conversationAggregate:view"
DIMENSIONS = ("queueId", "mediaType")
MAX_INTERVAL_S = 31 * 86_400.0
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def _instant(text: str) -> float:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise bad_request(f"The interval end point {text!r} is not an ISO-8601 date.") from None


def parse_interval(raw: Any) -> tuple[float, float]:
    """``start/end`` as epoch seconds; 400 unless it is a forward interval of at most 31 days."""
    if not isinstance(raw, str) or raw.count("/") != 1:
        raise bad_request("interval is required, as 'start/end' in ISO-8601.")
    start_text, end_text = raw.split("/")
    start, end = _instant(start_text), _instant(end_text)
    if end <= start:
        raise bad_request("The interval must end after it starts.")
    if end - start > MAX_INTERVAL_S:
        raise bad_request("The interval must not span more than 31 days.")
    return start, end


def parse_granularity(raw: Any) -> float | None:
    """A granularity in seconds (None: one bucket); 400 for anything but a positive duration."""
    if raw is None:
        return None
    found = _DURATION.match(raw) if isinstance(raw, str) else None
    if found is None or not any(found.groups()):
        raise bad_request(f"granularity {raw!r} is not an ISO-8601 duration such as PT30M.")
    days, hours, minutes = (int(g or 0) for g in found.groups())
    seconds = days * 86_400 + hours * 3600 + minutes * 60
    if seconds < 60:
        raise bad_request("granularity must be at least one minute.")
    return float(seconds)


def filter_values(filt: Any) -> tuple[set[str], set[str]]:
    """Queue ids and media types the filter names (empty: no restriction)."""
    queues: set[str] = set()
    media: set[str] = set()
    if filt is None:
        return queues, media
    if not isinstance(filt, dict) or filt.get("type") not in ("and", "or"):
        raise bad_request("filter.type must be 'and' or 'or'.")

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            raise bad_request("filter clauses and predicates must be objects.")
        for pred in node.get("predicates") or []:
            if not isinstance(pred, dict):
                raise bad_request("predicates must be objects.")
            dim, value = pred.get("dimension"), pred.get("value")
            if pred.get("operator", "matches") != "matches":
                raise bad_request(f"Operator {pred.get('operator')!r} is not supported here.")
            if dim not in DIMENSIONS:
                raise bad_request(f"Unknown dimension {dim!r}.")
            if not isinstance(value, str) or not value:
                raise bad_request(f"The predicate on {dim} needs a value.")
            if dim == "queueId":
                queues.add(value)
            else:
                media.add(value.lower())
        for clause in node.get("clauses") or []:
            walk(clause)

    walk(filt)
    return queues, media


class AggregatesApi:
    """The handler, its rate limit and its variations."""

    def __init__(self, config: SandboxConfig, org: Org) -> None:
        self.config = config
        self.org = org
        self._windows: dict[str, deque[float]] = {}

    def _limit(self, token: Token) -> None:
        now = self.org.clock()
        window = self._windows.setdefault(token.rate_key, deque())
        while window and window[0] <= now - 60.0:
            window.popleft()
        if len(window) >= self.config.aggregates_rate_per_min:
            raise rate_limited(max(1, round(window[0] + 60.0 - now)))
        window.append(now)

    async def query(self, request: web.Request, token: Token) -> web.Response:
        """``POST /api/v2/analytics/conversations/aggregates/query``."""
        if PERMISSION not in token.permissions:
            raise missing_permissions(
                f"You are missing the following permission(s): {PERMISSION}", [PERMISSION]
            )
        self._limit(token)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise bad_request("The query must be a JSON object.")
        start, end = parse_interval(body.get("interval"))
        step = parse_granularity(body.get("granularity"))
        group_by = body.get("groupBy") or []
        if not isinstance(group_by, list) or any(g not in DIMENSIONS for g in group_by):
            raise bad_request(f"groupBy supports {list(DIMENSIONS)} here, not {group_by!r}.")
        metrics = body.get("metrics")
        if not isinstance(metrics, list) or not metrics:
            raise bad_request("metrics is required.")
        unknown = sorted({str(m) for m in metrics} - AGGREGATE_METRICS)
        if unknown:
            raise bad_request(f"Unknown or unsupported metric(s): {unknown}")
        queues, media = filter_values(body.get("filter"))
        unknown_media = media - set(MEDIA_TYPES)
        if unknown_media:
            raise bad_request(f"Unknown mediaType(s): {sorted(unknown_media)}")
        results = self.results((start, end, step), group_by, frozenset(metrics), queues, media)
        return web.json_response({"results": results})

    def results(
        self,
        window: tuple[float, float, float | None],
        group_by: list[str],
        metrics: frozenset[str],
        queues: set[str],
        media: set[str],
    ) -> list[Json]:
        """``results[]`` of one validated query; ``window`` is (start, end, granularity)."""
        start, end, step = window
        span = step or (end - start)
        buckets: dict[tuple[str, ...], dict[int, Stats]] = {}
        for at, queue_id, kind, metric, value in self.org.ledger.between(start, end):
            if (queues and queue_id not in queues) or (media and kind not in media):
                continue
            key = tuple(queue_id if dim == "queueId" else kind for dim in group_by)
            slot = int((at - start) // span)
            buckets.setdefault(key, {}).setdefault(slot, Stats()).add(metric, value)
        variations = self.org.variations
        zeros = variations.chance(self.config.aggregates_zero_groups_rate)
        if zeros and "queueId" in group_by:
            for queue_id in sorted(queues & set(self.org.queues)):
                for kind in self.org.queues[queue_id].media_groups():
                    if not media or kind in media:
                        key = tuple(queue_id if d == "queueId" else kind for d in group_by)
                        buckets.setdefault(key, {0: Stats()})
        out: list[Json] = []
        for key, slots in buckets.items():
            data: list[Json] = []
            for slot in sorted(slots):
                found = slots[slot].metrics(metrics, zeros=zeros)
                if not found:
                    continue
                if variations.on:
                    variations.rng.shuffle(found)
                low = start + slot * span
                data.append(
                    {"interval": f"{iso(low)}/{iso(min(end, low + span))}", "metrics": found}
                )
            if data:
                out.append({"group": dict(zip(group_by, key, strict=True)), "data": data})
        return out
