"""The sandbox org as one aiohttp server: OAuth, REST, the streaming socket and the control API.

One base URL serves everything, the way the official SDK treats a host without ``api.``:
``/oauth/*``, ``/api/v2/*``, and ``connectUri`` = ``ws://HOST:PORT/channels/<id>``. It runs in
any asyncio loop (plain asyncio in tests, qasync in the app's demo mode) through
:meth:`Sandbox.start` / :meth:`Sandbox.stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from sandbox.aggregates import AggregatesApi
from sandbox.auth import AuthServer, Token
from sandbox.config import SandboxConfig
from sandbox.control import ControlApi, Faults
from sandbox.errors import CORRELATION_HEADER, ApiError, correlation_id, error_response
from sandbox.eventbridge.source import EventBridgeSource
from sandbox.notification_api import NotificationsApi
from sandbox.notification_socket import NotificationSocket
from sandbox.notifications import StreamingHub
from sandbox.org import Org
from sandbox.rest import RestApi
from sandbox.simulation import Simulation
from sandbox.triggers.service import TriggerService
from sandbox.user_actions import UserActionsApi
from sandbox.variations import Variations

logger = logging.getLogger(__name__)

ApiHandler = Callable[[web.Request, Token], Awaitable[web.StreamResponse]]


class Sandbox:
    """A simulated Genesys Cloud org on loopback."""

    def __init__(
        self, config: SandboxConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config or SandboxConfig()
        self.variations = Variations(self.config)
        self.org = Org(
            users=self.config.users,
            queues=self.config.queues,
            seed=self.config.seed,
            clock=clock,
            multichannel=self.config.multichannel,
            variations=self.variations,
        )
        self.auth = AuthServer(self.config, self.org)
        self.hub = StreamingHub(self.config, self.org, self.auth, self.variations)
        self.rest = RestApi(self.config, self.org)
        self.aggregates = AggregatesApi(self.config, self.org)
        self.eventbridge: EventBridgeSource | None = None
        if self.config.eventbridge:
            self.eventbridge = EventBridgeSource(self.config, self.org, self.variations)
            self.hub.tap = self.eventbridge
        self.triggers = TriggerService(self.config, self.org, self.variations, self.hub.publish)
        self.triggers.attach(self.org)
        self.simulation = Simulation(
            self.org,
            seed=self.config.seed,
            speed=self.config.speed,
            opening_ring_out_s=self.config.opening_ring_out_s,
        )
        self.control = ControlApi(self)
        self.faults = Faults()
        self.paused = not self.config.simulate
        self.rest_calls = 0
        self._runner: web.AppRunner | None = None
        self._sim_task: asyncio.Task[None] | None = None
        self.base_url = ""

    # ------------------------------------------------------------------ life cycle
    async def start(self, *, eventbridge_later: bool = False) -> str:
        """Listen on the configured host/port; returns the base URL.

        ``eventbridge_later``: leave the SQS server to :meth:`start_eventbridge` (moto's start
        costs a fraction of a second the demo's window need not wait for).
        """
        if self._runner is not None:
            return self.base_url
        if self.eventbridge is not None and not eventbridge_later:
            await self.eventbridge.start()
        runner = web.AppRunner(
            self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            if self.eventbridge is not None:
                await self.eventbridge.stop()
            raise
        self._runner = runner
        server = site._server
        assert isinstance(server, asyncio.Server)
        port = server.sockets[0].getsockname()[1]
        self.config.port = port  # a restart keeps the port
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        self.base_url = f"http://{host}:{port}"
        self.hub.start()
        self._sim_task = asyncio.get_running_loop().create_task(self._run_simulation())
        logger.info("sandbox org listening on %s", self.base_url)
        return self.base_url

    async def start_eventbridge(self) -> str:
        """Start the EventBridge source (once); its queue URL ("" when it is off)."""
        return await self.eventbridge.start() if self.eventbridge is not None else ""

    async def stop(self) -> None:
        """Close every socket and stop listening (the org's state is kept for a restart)."""
        if self._sim_task is not None:
            self._sim_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sim_task
            self._sim_task = None
        self.triggers.stop()
        await self.hub.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.eventbridge is not None:
            await self.eventbridge.stop()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _run_simulation(self) -> None:
        tick = self.config.tick_s
        while True:
            await asyncio.sleep(tick)
            if not self.paused:
                self.step(tick * self.config.speed)

    def step(self, sim_seconds: float) -> None:
        """Advance the simulation by ``sim_seconds`` simulated seconds."""
        self.simulation.step(sim_seconds)

    def describe(self) -> str:
        """How to reach the org, for a person at a terminal."""
        c = self.config
        return "\n".join(
            [
                f"Sandbox Genesys Cloud org: {self.base_url}",
                f"  users {c.users}, queues {c.queues}, seed {c.seed},"
                f" heartbeat {c.heartbeat_s:g} s, speed {c.speed:g}x",
                f"  media:                {'multichannel' if c.multichannel else 'voice only'},"
                f" variations {'on' if c.variations else 'off'}",
                f"  PKCE client:          {c.pkce_client_id}",
                f"  authorize:            {self.base_url}/oauth/authorize",
                f"  client credentials:   {c.client_id} / {c.client_secret}",
                f"  ground truth:         {self.base_url}/sandbox/truth",
                *(
                    [
                        "  EventBridge queue:    "
                        + (self.eventbridge.queue_url or "made when the app first reads it")
                    ]
                    if self.eventbridge is not None
                    else []
                ),
                "  stop with Ctrl+C",
            ]
        )

    def stats(self) -> dict[str, Any]:
        """Counters for tests and benchmarks."""
        return {
            **self.hub.stats(),
            "rest_calls": self.rest_calls,
            "tokens_issued": self.auth.issued,
            "paused": self.paused,
            "conversations": len(self.org.conversations),
            **({"eventbridge": self.eventbridge.stats()} if self.eventbridge else {}),
        }

    # ------------------------------------------------------------------ the app
    def _api(self, handler: ApiHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def authenticated(request: web.Request) -> web.StreamResponse:
            token = self.auth.authenticate(request)
            return await handler(request, token)

        return authenticated

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        cid = correlation_id(request)
        is_api = request.path.startswith("/api/v2/")
        response: web.StreamResponse
        try:
            if is_api:
                self.rest_calls += 1
                if self.faults.rate_limit_next > 0:
                    self.faults.rate_limit_next -= 1
                    raise ApiError(
                        429,
                        "too.many.requests.retry.after",
                        "Rate limit exceeded the maximum. Retry the request in "
                        f"[{self.faults.retry_after_s}] seconds",
                        headers={"Retry-After": str(self.faults.retry_after_s)},
                    )
                if self.faults.fail_next > 0:
                    self.faults.fail_next -= 1
                    raise ApiError(
                        self.faults.fail_status, "service.unavailable", "Service Unavailable"
                    )
            response = await handler(request)
        except ApiError as exc:
            response = exc.response(request)
        except web.HTTPNotFound:
            response = error_response(
                request, 404, "not.found", f"No resource at {request.method} {request.path}"
            )
        except web.HTTPMethodNotAllowed:
            response = error_response(
                request, 405, "method.not.allowed", f"{request.method} is not allowed here"
            )
        if is_api:
            response = self._vary(response)
        if not response.prepared:
            response.headers[CORRELATION_HEADER] = cid
        return response

    def _vary(self, response: web.StreamResponse) -> web.StreamResponse:
        """REST JSON bodies with unknown keys and any key order, when variations are on."""
        if (
            not self.variations.on
            or not isinstance(response, web.Response)
            or response.content_type != "application/json"
            or not isinstance(response.body, bytes)
            or not response.body
        ):
            return response
        try:
            body = json.loads(response.body)
        except ValueError:
            return response
        response.body = self.variations.dumps(body).encode()
        return response

    def app(self) -> web.Application:
        """The aiohttp application with every route."""
        app = web.Application(middlewares=[self._middleware], client_max_size=8 * 1024 * 1024)
        auth, hub, rest, api = self.auth, self.hub, self.rest, self._api

        async def tokens_me(request: web.Request, token: Token) -> web.Response:
            if request.method == "DELETE":
                auth.revoke(token)
                return web.Response(status=204)
            if request.method == "HEAD":
                return web.Response(status=200)
            return web.json_response(auth.token_info(token))

        r = app.router
        r.add_get("/oauth/authorize", auth.authorize)
        r.add_post("/oauth/token", auth.token)
        r.add_get("/logout", auth.logout)
        r.add_route(
            "GET",
            "/api/v2/tokens/me",
            api(tokens_me),
        )
        r.add_route("HEAD", "/api/v2/tokens/me", api(tokens_me))
        r.add_route("DELETE", "/api/v2/tokens/me", api(tokens_me))
        channels_api = NotificationsApi(hub)
        base = "/api/v2/notifications/channels"
        r.add_post(base, api(channels_api.post_channels))
        r.add_get(base, api(channels_api.get_channels), allow_head=False)
        r.add_head(base + "/{channel_id}", api(channels_api.head_channel))
        sub = base + "/{channel_id}/subscriptions"
        r.add_get(sub, api(channels_api.get_subscriptions), allow_head=False)
        r.add_put(sub, api(channels_api.change_subscriptions))
        r.add_post(sub, api(channels_api.change_subscriptions))
        r.add_delete(sub, api(channels_api.delete_subscriptions))
        r.add_get("/api/v2/notifications/availabletopics", api(channels_api.available_topics))
        r.add_get("/channels/{channel_id}", NotificationSocket(hub).connect, allow_head=False)
        r.add_get("/api/v2/users", api(rest.get_users))
        r.add_get("/api/v2/users/me", api(rest.get_me))
        r.add_post("/api/v2/users/search", api(rest.search_users))
        r.add_get("/api/v2/users/presences/{source}/bulk", api(rest.bulk_presence))
        r.add_get("/api/v2/users/{user_id}", api(rest.get_user))
        r.add_get("/api/v2/users/{user_id}/presences/purecloud", api(rest.get_presence))
        r.add_get("/api/v2/users/{user_id}/routingstatus", api(rest.get_routing_status))
        r.add_get("/api/v2/presence/definitions", api(rest.presence_definitions))
        r.add_get("/api/v2/presencedefinitions", api(rest.presence_definitions_old))
        r.add_get("/api/v2/systempresences", api(rest.system_presences))
        r.add_get("/api/v2/routing/queues", api(rest.get_queues))
        r.add_get("/api/v2/routing/queues/me", api(rest.get_my_queues))
        r.add_get("/api/v2/routing/queues/{queue_id}", api(rest.get_queue))
        r.add_get("/api/v2/routing/queues/{queue_id}/members", api(rest.get_members))
        r.add_post("/api/v2/analytics/queues/observations/query", api(rest.queue_observations))
        r.add_post("/api/v2/analytics/conversations/aggregates/query", api(self.aggregates.query))
        app.add_routes(UserActionsApi(self.org, auth).routes(api))  # after the GET routes
        app.add_routes(self.control.routes())
        app.add_routes(self.triggers.routes(api))
        if self.eventbridge is not None:
            app.add_routes(self.eventbridge.routes(api))
        return app
