"""The sandbox's own control API under ``/sandbox/...`` (loopback only, not Genesys' surface).

Tests and the chaos driver use it to read the ground truth, inject every fault the streaming
client must survive, and steer the simulation deterministically.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from sandbox.auth import AuthServer
from sandbox.errors import ApiError, bad_request, not_found, query_int, read_json
from sandbox.media import MEDIA_TYPES
from sandbox.notifications import StreamingHub
from sandbox.org import ROUTING_STATUSES, Org
from sandbox.simulation import Simulation

logger = logging.getLogger(__name__)

MALFORMED_FRAMES = (
    "{not json",
    "[]",
    '"just a string"',
    "null",
    '{"eventBody": {"message": "no topic"}}',
    '{"topicName": 42, "eventBody": {}}',
    '{"topicName": "v2.users.x.presence", "eventBody": "not an object"}',
    '{"topicName": "v2.users.x.presence", "version": "2", "eventBody": {"presenceDefinition": 7}}',
)


@dataclass(slots=True)
class Faults:
    """REST faults armed through the control API, consumed by the next calls."""

    rate_limit_next: int = 0
    retry_after_s: int = 1
    fail_next: int = 0
    fail_status: int = 503


class Truthful(Protocol):
    """A part of the sandbox with ground truth of its own."""

    def truth(self) -> dict[str, Any]:
        """Its ground truth as JSON."""


class Controlled(Protocol):
    """What the control API steers: the server's parts, named so control never imports it."""

    org: Org
    hub: StreamingHub
    auth: AuthServer
    simulation: Simulation
    faults: Faults
    paused: bool

    @property
    def triggers(self) -> Truthful:
        """The trigger service (its tallies join the ground truth)."""

    def stats(self) -> dict[str, Any]:
        """Counters of the whole sandbox."""

    def step(self, sim_seconds: float) -> None:
        """Advance the simulation by ``sim_seconds`` while paused."""


def loopback_only(request: web.Request) -> None:
    """403 unless the caller is on loopback (every ``/sandbox/...`` route)."""
    remote = request.remote or ""
    try:
        if ipaddress.ip_address(remote).is_loopback:
            return
    except ValueError:
        pass
    raise ApiError(403, "forbidden", "The sandbox control API answers loopback clients only.")


def loopback_routes(table: list[tuple[str, str, Any]]) -> list[web.RouteDef]:
    """aiohttp routes of ``(method, path, handler)``, each answering loopback callers only."""

    def guard(handler: Any) -> Any:
        async def guarded(request: web.Request) -> web.StreamResponse:
            loopback_only(request)
            result: web.StreamResponse = await handler(request)
            return result

        return guarded

    return [web.route(method, path, guard(handler)) for method, path, handler in table]


class ControlApi:
    """Handlers of ``/sandbox/...``."""

    def __init__(self, sandbox: Controlled) -> None:
        self.sandbox = sandbox

    def routes(self) -> list[web.RouteDef]:
        """The control routes, each guarded to loopback."""
        table = [
            ("GET", "/sandbox/truth", self.truth),
            ("GET", "/sandbox/stats", self.stats),
            ("POST", "/sandbox/faults/{kind}", self.fault),
            ("POST", "/sandbox/simulation/{action}", self.simulation),
            ("POST", "/sandbox/users/{user_id}/presence", self.set_presence),
            ("POST", "/sandbox/users/{user_id}/routingstatus", self.set_routing),
            ("POST", "/sandbox/queues/{queue_id}/conversations", self.add_conversation),
            ("POST", "/sandbox/queues/{queue_id}/members", self.set_member),
        ]
        return loopback_routes(table)

    async def truth(self, request: web.Request) -> web.Response:
        """The org's ground truth, with every trigger's tally under ``triggers``."""
        return web.json_response(
            {**self.sandbox.org.truth(), "triggers": self.sandbox.triggers.truth()}
        )

    async def stats(self, request: web.Request) -> web.Response:
        """Channel, socket, token and REST call counters."""
        return web.json_response(self.sandbox.stats())

    async def fault(self, request: web.Request) -> web.Response:
        """Inject one fault; the answer says how many sockets, calls or tokens it touched."""
        kind = request.match_info["kind"].replace("-", "_")
        hub, auth = self.sandbox.hub, self.sandbox.auth
        count: int
        if kind == "drop":
            count = hub.drop_all()
        elif kind == "stall":
            count = hub.stall_all()
        elif kind == "socket_closing":
            grace = float(request.query.get("grace", hub.config.socket_closing_grace_s))
            count = hub.socket_closing(grace)
        elif kind == "expire_channels":
            count = await hub.expire(request.query.get("channel"))
        elif kind == "no_longer_subscribed":
            count = hub.no_longer_subscribed(request.query.get("channel"))
        elif kind == "revoke_tokens":
            count = auth.revoke_all(request.query.get("user"))
        elif kind == "revoke_refresh_tokens":
            count = auth.revoke_refresh_tokens(request.query.get("user"))
        elif kind == "expire_tokens":
            count = auth.expire_all(request.query.get("user"))
            await hub.sweep()
        elif kind == "rate_limit":
            count = query_int(request, "count", 1, low=0, high=1_000_000)
            self.sandbox.faults.rate_limit_next = count
            self.sandbox.faults.retry_after_s = query_int(
                request, "retry_after", 1, low=0, high=3600
            )
        elif kind == "server_error":
            count = query_int(request, "count", 1, low=0, high=1_000_000)
            self.sandbox.faults.fail_next = count
            self.sandbox.faults.fail_status = query_int(request, "status", 503, low=500, high=599)
        elif kind == "malformed":
            repeat = query_int(request, "count", len(MALFORMED_FRAMES), low=1, high=10_000)
            count = 0
            for i in range(repeat):
                count = hub.send_raw(MALFORMED_FRAMES[i % len(MALFORMED_FRAMES)])
        elif kind == "oversized":
            size = query_int(request, "bytes", 512 * 1024, low=1024, high=16 * 1024 * 1024)
            frame = json.dumps(
                {
                    "topicName": "v2.users.00000000-0000-4000-8000-000000000000.conversations",
                    "version": "2",
                    "eventBody": {"id": "oversized", "padding": "x" * size},
                    "metadata": {"CorrelationId": "oversized"},
                }
            )
            count = hub.send_raw(frame)
        elif kind == "unknown_topic":
            repeat = query_int(request, "count", 1, low=1, high=10_000)
            frame = json.dumps(
                {
                    "topicName": "v2.sandbox.unknown.topic",
                    "version": "2",
                    "eventBody": {"hello": "world"},
                    "metadata": {"CorrelationId": "unknown"},
                }
            )
            count = 0
            for _ in range(repeat):
                count = hub.send_raw(frame)
        else:
            raise not_found(f"Unknown fault {kind!r}.")
        logger.info("fault %s injected (%d)", kind, count)
        return web.json_response({"fault": kind, "count": count})

    async def simulation(self, request: web.Request) -> web.Response:
        """``pause``, ``resume`` or ``step?seconds=S`` the simulation."""
        action = request.match_info["action"]
        sandbox = self.sandbox
        if action == "pause":
            sandbox.paused = True
        elif action == "resume":
            sandbox.paused = False
        elif action == "step":
            seconds = float(request.query.get("seconds", "1"))
            if not 0 < seconds <= 3600:
                raise bad_request("seconds must be in (0, 3600].")
            sandbox.step(seconds)
        else:
            raise not_found(f"Unknown simulation action {action!r}.")
        return web.json_response({"paused": sandbox.paused})

    def _body_user(self, request: web.Request) -> Any:
        user = self.sandbox.org.users.get(request.match_info["user_id"])
        if user is None:
            raise not_found("No such user.")
        return user

    async def set_presence(self, request: web.Request) -> web.Response:
        """Set a user's presence by system key (``ON_QUEUE``) or presence definition id."""
        org = self.sandbox.org
        user = self._body_user(request)
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("presence"), str):
            raise bad_request('Send {"presence": "ON_QUEUE" | <definition id>, "message"?: str}.')
        ref = body["presence"]
        if ref in org.presences:
            presence_id = ref
        else:
            try:
                presence_id = org.system_presence_id(ref.upper())
            except KeyError:
                raise bad_request(f"Unknown presence {ref!r}.") from None
        message = body.get("message")
        org.set_presence(user, presence_id, message if isinstance(message, str) else None)
        return web.json_response(org.truth()["users"][user.id])

    async def set_routing(self, request: web.Request) -> web.Response:
        """Set a user's routing status."""
        org = self.sandbox.org
        user = self._body_user(request)
        body = await read_json(request)
        status = body.get("status") if isinstance(body, dict) else None
        if status not in ROUTING_STATUSES:
            raise bad_request(f"status must be one of {', '.join(ROUTING_STATUSES)}.")
        org.set_routing(user, status)
        return web.json_response(org.truth()["users"][user.id])

    async def add_conversation(self, request: web.Request) -> web.Response:
        """An interaction arrives at the queue now.

        Optional body ``{"mediaType": "chat"}``; without it the media is drawn by the queue's
        traffic shares (always ``voice`` on a voice-only queue).
        """
        queue_id = request.match_info["queue_id"]
        if queue_id not in self.sandbox.org.queues:
            raise not_found("No such queue.")
        media: str | None = None
        if request.can_read_body:
            body = await read_json(request)
            if body is not None:
                if not isinstance(body, dict) or body.get("mediaType", "voice") not in MEDIA_TYPES:
                    raise bad_request(f'Send {{"mediaType": one of {", ".join(MEDIA_TYPES)}}}.')
                media = body.get("mediaType")
        conv = self.sandbox.simulation.arrive(queue_id, media)
        return web.json_response({"conversationId": conv.id, "mediaType": conv.media})

    async def set_member(self, request: web.Request) -> web.Response:
        """Add (``joined`` true/false) or remove (``remove`` true) a queue member."""
        org = self.sandbox.org
        queue = org.queues.get(request.match_info["queue_id"])
        body = await read_json(request)
        if queue is None:
            raise not_found("No such queue.")
        if not isinstance(body, dict) or body.get("userId") not in org.users:
            raise bad_request('Send {"userId": id, "joined"?: bool, "remove"?: bool}.')
        user = org.users[body["userId"]]
        remove = bool(body.get("remove", False))
        org.set_membership(queue, user, member=not remove, joined=bool(body.get("joined", True)))
        return web.json_response({"members": len(queue.members)})
