"""``/sandbox/eventbridge/...``: the ground truth of EventBridge delivery and its faults.

- ``GET  /sandbox/eventbridge/published``: ``{"entities": [{"id", "correlation_id", "topic",
  "time"}...], "pending": n}``: every event delivered into the queue (``id`` = envelope id,
  ``time`` = when the event happened, ISO 8601 UTC), in delivery order; ``pending`` counts
  envelopes (and duplicate copies) still on their way.
- ``GET  /sandbox/eventbridge/stats``: queue and DLQ URLs, endpoint, counters, ``holding_s``.
- ``POST /sandbox/eventbridge/hold?seconds=N``: deliver nothing for N s, then all of it.
- ``POST /sandbox/eventbridge/release``: end a hold now.
- ``POST /sandbox/eventbridge/outage?seconds=N``: the SQS server stops listening for N s
  (consumers get connection refused, delivery retries), then listens again on its port.
- ``POST /sandbox/eventbridge/poison?count=N``: N messages that are not JSON, straight into the
  queue (a consumer must leave them to the redrive policy).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from aiohttp import web

from sandbox.control import loopback_routes
from sandbox.errors import bad_request, query_int
from sandbox.eventbridge.delivery import DeliveryScheduler
from sandbox.eventbridge.sqs import LoopbackSqs

POISON_BODY = '{"version":"0","id":"poison","detail-type":'  # cut short: not JSON


def _seconds(request: web.Request) -> float:
    raw = request.query.get("seconds", "10")
    try:
        seconds = float(raw)
    except ValueError:
        raise bad_request("seconds must be a number.") from None
    if not 0 < seconds <= 4 * 86_400:
        raise bad_request("seconds must be in (0, 345600] (Genesys retries for 4 days).")
    return seconds


class Source(Protocol):
    """What the control routes steer (named so this module never imports the source)."""

    scheduler: DeliveryScheduler
    sqs: LoopbackSqs

    def stats(self) -> dict[str, Any]:
        """Delivery counters and queue URLs."""

    async def outage(self, seconds: float) -> None:
        """SQS down now, back after ``seconds``."""


class EventBridgeControl:
    """Handlers of ``/sandbox/eventbridge/...``, loopback only."""

    def __init__(self, source: Source) -> None:
        self.source = source

    def routes(self) -> list[web.RouteDef]:
        """The routes, each guarded to loopback callers."""
        table = [
            ("GET", "/sandbox/eventbridge/published", self.published),
            ("GET", "/sandbox/eventbridge/stats", self.stats),
            ("POST", "/sandbox/eventbridge/hold", self.hold),
            ("POST", "/sandbox/eventbridge/release", self.release),
            ("POST", "/sandbox/eventbridge/poison", self.poison),
            ("POST", "/sandbox/eventbridge/outage", self.outage),
        ]
        return loopback_routes(table)

    async def published(self, request: web.Request) -> web.Response:
        """Every event delivered so far."""
        scheduler = self.source.scheduler
        return web.json_response(
            {"entities": scheduler.published(), "pending": scheduler.stats()["pending"]}
        )

    async def stats(self, request: web.Request) -> web.Response:
        """Queue URLs and delivery counters."""
        return web.json_response(self.source.stats())

    async def hold(self, request: web.Request) -> web.Response:
        """Hold delivery for ``seconds`` (default 10), then release it all."""
        self.source.scheduler.hold(_seconds(request))
        return web.json_response(self.source.stats())

    async def outage(self, request: web.Request) -> web.Response:
        """Stop the SQS server for ``seconds`` (default 10)."""
        await self.source.outage(_seconds(request))
        return web.json_response(self.source.stats())

    async def release(self, request: web.Request) -> web.Response:
        """End a hold now."""
        self.source.scheduler.release()
        return web.json_response(self.source.stats())

    async def poison(self, request: web.Request) -> web.Response:
        """Messages that no consumer can parse, sent at once."""
        count = query_int(request, "count", 1, low=1, high=100)
        for _ in range(count):
            await asyncio.to_thread(self.source.sqs.send_raw, POISON_BODY)
        return web.json_response({"fault": "poison", "count": count})
