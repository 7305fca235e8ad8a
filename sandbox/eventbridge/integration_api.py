"""``/api/v2/integrations``: the Genesys side of setting up EventBridge (fact sheet 2.1).

The premium-app wizard's sequence works as on a real org: ``POST /api/v2/integrations``
(``{"name", "integrationType": {"id": "amazon-eventbridge-source"}}``), ``PUT
.../{id}/config/current`` with ``version`` and ``properties``, ``PATCH .../{id}`` with
``{"intendedState": "ENABLED"}``, and ``GET /api/v2/integrations?expand=config.current``
filtered on ``integrationType.id``. Permissions ``integrations:integration:view|add|edit|delete``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from sandbox.auth import Token
from sandbox.errors import bad_request, missing_permissions, not_found, query_list, read_json
from sandbox.eventbridge.integrations import Integration, IntegrationStore
from sandbox.rest import page_listing

ApiHandler = Callable[[web.Request, Token], Awaitable[web.StreamResponse]]
Wrap = Callable[[ApiHandler], Callable[[web.Request], Awaitable[web.StreamResponse]]]
VIEW = "integrations:integration:view"


def _require(token: Token, permission: str) -> None:
    if permission not in token.permissions:
        raise missing_permissions(
            f"You are missing the following permission(s): {permission}", [permission]
        )


class IntegrationsApi:
    """Handlers of ``/api/v2/integrations[/{id}[/config/current]]``."""

    def __init__(self, store: IntegrationStore, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock

    def routes(self, wrap: Wrap) -> list[web.RouteDef]:
        """The routes, each behind the server's bearer-token check ``wrap``."""
        base = "/api/v2/integrations"
        one = base + "/{integration_id}"
        return [
            web.get(base, wrap(self.list_integrations), allow_head=False),
            web.post(base, wrap(self.create)),
            web.get(one, wrap(self.get), allow_head=False),
            web.patch(one, wrap(self.patch)),
            web.delete(one, wrap(self.delete)),
            web.get(one + "/config/current", wrap(self.get_config), allow_head=False),
            web.put(one + "/config/current", wrap(self.put_config)),
        ]

    def _one(self, request: web.Request) -> Integration:
        found = self.store.items.get(request.match_info["integration_id"])
        if found is None:
            raise not_found("Integration not found.")
        return found

    @staticmethod
    def _with_config(request: web.Request) -> bool:
        return "config.current" in query_list(request, "expand")

    async def list_integrations(self, request: web.Request, token: Token) -> web.Response:
        """``GET ?pageSize&pageNumber&expand=config.current&integrationType=&ids=``."""
        _require(token, VIEW)
        items = self.store.live()
        type_id = request.query.get("integrationType")
        if type_id:
            items = [i for i in items if i.type_id == type_id]
        ids = set(query_list(request, "ids"))
        if ids:
            items = [i for i in items if i.id in ids]
        with_config = self._with_config(request)
        entities = [i.entity(with_config=with_config) for i in items]
        return web.json_response(page_listing(request, entities, default_size=25, max_size=100))

    async def create(self, request: web.Request, token: Token) -> web.Response:
        """``POST``: a new integration, disabled, configuration version 1."""
        _require(token, "integrations:integration:add")
        body = await read_json(request)
        if not isinstance(body, dict):
            raise bad_request("The body must be a CreateIntegrationRequest object.")
        kind = body.get("integrationType")
        type_id = kind.get("id") if isinstance(kind, dict) else None
        if not isinstance(type_id, str):
            raise bad_request("integrationType.id is required.")
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise bad_request("name must be a string.")
        integration = self.store.create(name or "", type_id, self.clock())
        if not integration.name:
            integration.name = integration.type_id
        return web.json_response(integration.entity(with_config=False))

    async def get(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/integrations/{id}?expand=config.current``."""
        _require(token, VIEW)
        integration = self._one(request)
        return web.json_response(integration.entity(with_config=self._with_config(request)))

    async def patch(self, request: web.Request, token: Token) -> web.Response:
        """``PATCH``: ``intendedState`` (ENABLED starts delivery), ``name``, ``notes``."""
        _require(token, "integrations:integration:edit")
        integration = self._one(request)
        self.store.patch(integration, await read_json(request), self.clock())
        return web.json_response(integration.entity(with_config=self._with_config(request)))

    async def delete(self, request: web.Request, token: Token) -> web.Response:
        """``DELETE``: answers the deleted ``Integration``."""
        _require(token, "integrations:integration:delete")
        integration = self._one(request)
        self.store.delete(integration, self.clock())
        return web.json_response(integration.entity(with_config=False))

    async def get_config(self, request: web.Request, token: Token) -> web.Response:
        """``GET .../config/current``: the ``IntegrationConfiguration``."""
        _require(token, VIEW)
        return web.json_response(self._one(request).config_entity())

    async def put_config(self, request: web.Request, token: Token) -> web.Response:
        """``PUT .../config/current``: filters and AWS target; 409 on a stale ``version``."""
        _require(token, "integrations:integration:edit")
        integration = self._one(request)
        self.store.put_config(integration, await read_json(request), self.clock())
        return web.json_response(integration.config_entity())
