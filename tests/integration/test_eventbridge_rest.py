"""core.rest.integrations against the sandbox over loopback: create, configure, transports, 403."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from core.errors import ForbiddenError
from core.eventbridge.setup import SetupPlan, eventbridge_only
from core.rest.client import ApiClient
from core.rest.integrations import (
    available_transports,
    create_eventbridge_integration,
    eventbridge_integrations,
    put_properties,
    set_filters,
)
from core.rest.regions import parse_environment
from sandbox.server import Sandbox
from tests.integration.helpers import bearer, pkce_token

EVENTBRIDGE: pytest.MarkDecorator = pytest.mark.sandbox_config(
    eventbridge=True, eventbridge_duplicate_rate=0.0, eventbridge_reorder_rate=0.0
)
PLAN = SetupPlan(org_id="org", account_id="123456789012", region="eu-west-1", suffix="tray-test")


@pytest.fixture
async def make_api(sandbox: Sandbox) -> AsyncIterator[Callable[[str], ApiClient]]:
    """ApiClients of the sandbox for a token; closed afterwards."""
    made: list[ApiClient] = []

    def build(token: str) -> ApiClient:
        async def provide() -> str:
            return token

        client = ApiClient(parse_environment(sandbox.base_url), provide)
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


async def agent_token(sandbox: Sandbox, http: httpx.AsyncClient) -> str:
    agent = next(u.id for u in sandbox.org.users.values() if u.role == "agent")
    return await pkce_token(http, user=agent)


@EVENTBRIDGE
async def test_a_supervisor_creates_an_enabled_integration(
    make_api: Callable[[str], ApiClient], user_token: str, http: httpx.AsyncClient
) -> None:
    api = make_api(user_token)
    before = {i.id for i in await eventbridge_integrations(api)}
    created = await create_eventbridge_integration(api, PLAN)
    assert created.id not in before and created.intended_state == "ENABLED"
    assert created.properties["eventSourceSuffix"] == "tray-test"
    assert created.filters == PLAN.filters
    listed = {i.id: i for i in await eventbridge_integrations(api)}
    assert listed[created.id].version == created.version
    # Read without the client under test: the sandbox holds what was sent.
    raw = await http.get(
        f"/api/v2/integrations/{created.id}/config/current", headers=bearer(user_token)
    )
    assert raw.json()["properties"]["awsAccountId"] == "123456789012"


@EVENTBRIDGE
async def test_a_stale_version_is_read_again_and_retried(
    make_api: Callable[[str], ApiClient], user_token: str, http: httpx.AsyncClient
) -> None:
    api = make_api(user_token)
    created = await create_eventbridge_integration(api, PLAN)
    path = f"/api/v2/integrations/{created.id}/config/current"
    real_request = api.request
    bumped = False

    async def racing(method: str, p: str, **kwargs: Any) -> httpx.Response:
        # Someone else saves between our GET and our PUT: the PUT's version is then stale.
        nonlocal bumped
        if method == "PUT" and not bumped:
            bumped = True
            current = (await http.get(path, headers=bearer(user_token))).json()
            resp = await http.put(path, headers=bearer(user_token), json=current)
            assert resp.status_code == 200
        return await real_request(method, p, **kwargs)

    api.request = racing  # type: ignore[method-assign,assignment]
    version = await set_filters(api, created.id, ["v2.users.{id}.presence"])
    assert bumped
    final = (await http.get(path, headers=bearer(user_token))).json()
    assert final["version"] == version
    assert final["properties"]["eventFilter"] == ["v2.users.{id}.presence"]


@EVENTBRIDGE
async def test_an_agent_gets_forbidden(
    sandbox: Sandbox, make_api: Callable[[str], ApiClient], http: httpx.AsyncClient
) -> None:
    api = make_api(await agent_token(sandbox, http))
    with pytest.raises(ForbiddenError):
        await create_eventbridge_integration(api, PLAN)
    with pytest.raises(ForbiddenError):
        await put_properties(api, "any", {})


@EVENTBRIDGE
async def test_transports_name_the_eventbridge_only_topics(
    make_api: Callable[[str], ApiClient], user_token: str
) -> None:
    transports = await available_transports(make_api(user_token))
    assert {"EventBridge", "Websocket"} <= set(transports["v2.users.{id}.presence"])
    assert eventbridge_only(transports) == ["v2.audits.entitytype.{id}.entityid.{id}"]
