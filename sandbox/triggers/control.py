"""``/sandbox/triggers/...``: the trigger service's ground truth and its knobs (loopback only).

- ``GET  /sandbox/triggers``: ``{"triggers": {id: tally}, "workflows": [{id, name, active,
  fails}], "pending": n}`` (the tallies are also under ``triggers`` in ``/sandbox/truth``).
- ``GET  /sandbox/triggers/invocations``: the last 500 reports as published on
  ``v2.flows.instances.flow.{id}``, each ``{"triggerId", "inputs", "message"}``.
- ``POST /sandbox/triggers/flush``: run every delayed invocation now.
- ``POST /sandbox/triggers/lag?seconds=N``: events reach the trigger service N s late (0 ends
  it), so a trigger whose ``eventTTLSeconds`` is below N drops them.
- ``POST /sandbox/triggers/limits?perMinute=&perHour=``: shrink the rate limits (tests).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.control import loopback_routes
from sandbox.errors import bad_request, query_int
from sandbox.triggers.engine import TriggerEngine


class TriggersControl:
    """Handlers of ``/sandbox/triggers/...``."""

    def __init__(self, engine: TriggerEngine) -> None:
        self.engine = engine

    def routes(self) -> list[web.RouteDef]:
        """The routes, each guarded to loopback callers."""
        return loopback_routes(
            [
                ("GET", "/sandbox/triggers", self.state),
                ("GET", "/sandbox/triggers/invocations", self.invocations),
                ("POST", "/sandbox/triggers/flush", self.flush),
                ("POST", "/sandbox/triggers/lag", self.lag),
                ("POST", "/sandbox/triggers/limits", self.limits),
            ]
        )

    def _state(self) -> dict[str, Any]:
        engine = self.engine
        return {
            "triggers": engine.truth(),
            "workflows": [
                {"id": w.id, "name": w.name, "active": w.active, "fails": w.fails}
                for w in engine.workflows.items.values()
            ],
            "pending": len(engine.waiting),
            "lagSeconds": engine.lag_s,
            "limits": {
                "perMinute": engine.config.triggers_per_minute,
                "perHour": engine.config.triggers_per_hour,
                "targetRatio": engine.config.triggers_target_ratio,
            },
        }

    async def state(self, request: web.Request) -> web.Response:
        """Tallies, workflows and knobs."""
        return web.json_response(self._state())

    async def invocations(self, request: web.Request) -> web.Response:
        """The recent reports, oldest first."""
        return web.json_response({"entities": list(self.engine.recent)})

    async def flush(self, request: web.Request) -> web.Response:
        """Run the delayed invocations now."""
        return web.json_response({"flushed": self.engine.flush(), **self._state()})

    async def lag(self, request: web.Request) -> web.Response:
        """Make the trigger service late by ``seconds``."""
        try:
            seconds = float(request.query.get("seconds", "0"))
        except ValueError:
            raise bad_request("seconds must be a number.") from None
        if not 0 <= seconds <= 86_400:
            raise bad_request("seconds must be in [0, 86400].")
        self.engine.lag_s = seconds
        return web.json_response(self._state())

    async def limits(self, request: web.Request) -> web.Response:
        """Set the per-minute and per-hour limits."""
        config = self.engine.config
        config.triggers_per_minute = query_int(
            request, "perMinute", config.triggers_per_minute, low=1, high=1_000_000
        )
        config.triggers_per_hour = query_int(
            request, "perHour", config.triggers_per_hour, low=1, high=10_000_000
        )
        return web.json_response(self._state())
