"""The Genesys side of EventBridge in the sandbox: integrations, their filters, topic transports.

The wizard's REST sequence (shared/genesys-eventbridge-triggers.md 2.1) against the sandbox,
delivery following filter and state changes at once, and every body checked against the
official SDK's models (``Integration``, ``IntegrationConfiguration``, ``AvailableTopic``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.eventbridge.integrations import DEFAULT_FILTERS, EVENTBRIDGE_TYPE
from sandbox.org import ROUTING_STATUSES
from sandbox.server import Sandbox
from tests.integration.helpers import bearer, pkce_token
from tests.integration.sqs_reader import QueueReader
from tests.integration.test_sdk_shapes import (  # the SDK validator subprocess
    SdkChecker,
    assert_fit,
    sample,
    sdk,  # noqa: F401 - a fixture
)

Json = dict[str, Any]
EB: dict[str, Any] = {
    "eventbridge": True,
    "eventbridge_delay_min_s": 0.02,
    "eventbridge_delay_max_s": 0.1,
    "eventbridge_duplicate_rate": 0.0,
    "eventbridge_reorder_rate": 0.0,
}
EVENTBRIDGE: pytest.MarkDecorator = pytest.mark.sandbox_config(**EB)
BASE = "/api/v2/integrations"


@pytest.fixture
async def reader(sandbox: Sandbox) -> AsyncIterator[QueueReader]:
    """A botocore reader of the sandbox's queue."""
    assert sandbox.eventbridge is not None
    queue = QueueReader(sandbox.eventbridge.queue_url)
    yield queue
    queue.close()


async def call(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    token: str,
    *,
    status: int = 200,
    body: Any = None,
    **params: Any,
) -> Any:
    """One API call, asserting the status; the JSON answer."""
    resp = await http.request(method, path, headers=bearer(token), json=body, params=params)
    assert resp.status_code == status, resp.text
    return resp.json()


def submitted(sandbox: Sandbox) -> int:
    """Envelopes handed to delivery so far (counted when the event happens)."""
    assert sandbox.eventbridge is not None
    return int(sandbox.eventbridge.scheduler.counters["submitted"])


def emit_presence_and_routing(sandbox: Sandbox, user_id: str) -> None:
    """One presence event and one routing status event of one user (plus activity events)."""
    org = sandbox.org
    user = org.users[user_id]
    org.set_presence(user, org.system_presence_id("BREAK"))  # off queue: may move routing too
    status = next(s for s in ROUTING_STATUSES if s != user.routing_status)
    org.set_routing(user, status)


def config_body(current: Json, **properties: Any) -> Json:
    """A PUT body: the current configuration with some properties changed."""
    return {
        "name": current["name"],
        "version": current["version"],
        "properties": {**current["properties"], **properties},
        "advanced": {},
        "notes": "",
        "credentials": {},
    }


@EVENTBRIDGE
async def test_the_integration_endpoints_steer_delivery(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str, reader: QueueReader
) -> None:
    tok = user_token
    listing = await call(http, "GET", BASE, tok, expand="config.current")
    assert {e["integrationType"]["id"] for e in listing["entities"]} >= {EVENTBRIDGE_TYPE}
    listing = await call(
        http, "GET", BASE, tok, expand="config.current", integrationType=EVENTBRIDGE_TYPE
    )
    [main] = listing["entities"]
    assert main["intendedState"] == "ENABLED"
    assert main["reportedState"]["code"] == "ACTIVE"
    props = main["config"]["current"]["properties"]
    assert props["eventFilter"] == list(DEFAULT_FILTERS)
    assert props["eventSourceSuffix"] == "tray-monitor"
    assert props["awsAccountId"] == "123456789012"
    assert props["awsAccountRegion"] == "us-east-1"
    one = f"{BASE}/{main['id']}"
    assert "config" not in await call(http, "GET", one, tok)
    current = await call(http, "GET", f"{one}/config/current", tok)
    assert current["version"] == main["config"]["current"]["version"]

    # Bad configurations are refused and change nothing.
    for bad, code in (
        ({"eventFilter": ["v2.analytics.queues.{id}.observations"]}, 400),  # WebSocket only
        ({"eventFilter": ["v2.nothing.{id}.here"]}, 400),
        ({"eventFilter": []}, 400),
        ({"eventSourceSuffix": "no spaces allowed"}, 400),
        ({"awsAccountId": "12345"}, 400),
        ({"awsAccountRegion": "US East"}, 400),
    ):
        await call(
            http, "PUT", f"{one}/config/current", tok, status=code, body=config_body(current, **bad)
        )
    stale = {**config_body(current), "version": current["version"] + 5}
    await call(http, "PUT", f"{one}/config/current", tok, status=409, body=stale)

    # Routing status only: presence events stop at once.
    only_routing = config_body(current, eventFilter=["v2.users.{id}.routingStatus"])
    updated = await call(http, "PUT", f"{one}/config/current", tok, body=only_routing)
    assert updated["version"] == current["version"] + 1
    assert updated["properties"]["eventFilter"] == ["v2.users.{id}.routingStatus"]
    user_id = next(iter(sandbox.org.users))
    before = submitted(sandbox)
    emit_presence_and_routing(sandbox, user_id)
    routing_events = submitted(sandbox) - before
    assert routing_events >= 1
    await reader.until_count(routing_events)
    assert {e["detail-type"] for e in reader.envelopes} == {"v2.users.{id}.routingStatus"}

    # Disabled: nothing is delivered.
    patched = await call(http, "PATCH", one, tok, body={"intendedState": "DISABLED"})
    assert patched["reportedState"]["code"] == "INACTIVE"
    before = submitted(sandbox)
    emit_presence_and_routing(sandbox, user_id)
    assert submitted(sandbox) == before

    # A second integration, made the way the premium-app wizard makes one.
    created = await call(
        http,
        "POST",
        BASE,
        tok,
        body={"name": "Second", "integrationType": {"id": EVENTBRIDGE_TYPE}},
    )
    assert created["intendedState"] == "DISABLED"
    second = f"{BASE}/{created['id']}"
    blank = await call(http, "GET", f"{second}/config/current", tok)
    assert blank["version"] == 1
    body = {
        "name": "Second",
        "version": 1,
        "properties": {
            "awsAccountId": "210987654321",
            "awsAccountRegion": "eu-west-1",
            "eventSourceSuffix": "second.source_2",
            "eventFilter": ["v2.users.{id}.presence"],
        },
        "advanced": {},
        "notes": "",
        "credentials": {},
    }
    await call(http, "PUT", f"{second}/config/current", tok, body=body)
    await call(http, "PATCH", second, tok, body={"intendedState": "ENABLED"})
    count = len(reader.bodies)
    before = submitted(sandbox)
    emit_presence_and_routing(sandbox, user_id)
    assert submitted(sandbox) == before + 1
    await reader.until_count(count + 1)
    envelope = reader.envelopes[-1]
    assert envelope["source"] == (f"aws.partner/genesys.com/cloud/{sandbox.org.id}/second.source_2")
    assert envelope.get("account", "210987654321") == "210987654321"
    assert envelope["region"] == "eu-west-1"
    assert envelope["detail-type"] == "v2.users.{id}.presence"

    deleted = await call(http, "DELETE", second, tok)
    assert deleted["id"] == created["id"]
    await call(http, "GET", second, tok, status=404)
    before = submitted(sandbox)
    emit_presence_and_routing(sandbox, user_id)
    assert submitted(sandbox) == before


@EVENTBRIDGE
async def test_agents_lack_the_integration_permissions(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    agent = next(u.id for u in sandbox.org.users.values() if u.role == "agent")
    tok = await pkce_token(http, user=agent)
    error = await call(http, "GET", BASE, tok, status=403)
    assert error["code"] == "missing.permissions" or error["status"] == 403
    create = {"name": "x", "integrationType": {"id": EVENTBRIDGE_TYPE}}
    await call(http, "POST", BASE, tok, status=403, body=create)


@EVENTBRIDGE
async def test_integration_and_topic_bodies_fit_the_sdk_models(
    sandbox: Sandbox,
    http: httpx.AsyncClient,
    user_token: str,
    sdk: SdkChecker,  # noqa: F811
) -> None:
    tok = user_token
    listing = await call(http, "GET", BASE, tok, expand="config.current")
    main = next(e for e in listing["entities"] if e["integrationType"]["id"] == EVENTBRIDGE_TYPE)
    one = f"{BASE}/{main['id']}"
    current = await call(http, "GET", f"{one}/config/current", tok)
    put = await call(http, "PUT", f"{one}/config/current", tok, body=config_body(current))
    created = await call(
        http, "POST", BASE, tok, body={"name": "n", "integrationType": {"id": EVENTBRIDGE_TYPE}}
    )
    samples = [
        sample("GET /integrations?expand", "IntegrationEntityListing", listing),
        sample("GET /integrations/{id}", "Integration", await call(http, "GET", one, tok)),
        sample("GET .../config/current", "IntegrationConfiguration", current),
        sample("PUT .../config/current", "IntegrationConfiguration", put),
        sample("POST /integrations", "Integration", created),
        sample(
            "PATCH /integrations/{id}",
            "Integration",
            await call(http, "PATCH", one, tok, body={"intendedState": "ENABLED"}),
        ),
        sample(
            "DELETE /integrations/{id}",
            "Integration",
            await call(http, "DELETE", f"{BASE}/{created['id']}", tok),
        ),
    ]
    orders: dict[str, set[tuple[str, ...]]] = {}
    for _ in range(12):
        topics = await call(
            http, "GET", "/api/v2/notifications/availabletopics", tok, expand="transports"
        )
        for entity in topics["entities"]:
            orders.setdefault(entity["id"], set()).add(tuple(entity["transports"]))
    samples.append(
        sample("GET availabletopics?expand=transports", "AvailableTopicEntityListing", topics)
    )
    await assert_fit(sdk, samples)

    transports = {topic: {t for order in seen for t in order} for topic, seen in orders.items()}
    for pattern in DEFAULT_FILTERS:  # the default filters are EventBridge-capable
        assert transports[pattern] & {"All", "EventBridge"}, pattern
    assert transports["v2.users.{id}.presence"] == {"Websocket", "EventBridge"}
    assert transports["v2.analytics.queues.{id}.observations"] == {"Websocket"}
    assert transports["v2.audits.entitytype.{id}.entityid.{id}"] == {"EventBridge"}
    # Variations on: the element order varies, so no client may read only element 0.
    assert len(orders["v2.users.{id}.presence"]) == 2


@EVENTBRIDGE
async def test_an_eventbridge_only_topic_is_a_filter_but_no_websocket_subscription(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    tok = user_token
    audit = "v2.audits.entitytype.{id}.entityid.{id}"
    listing = await call(http, "GET", BASE, tok, integrationType=EVENTBRIDGE_TYPE)
    one = f"{BASE}/{listing['entities'][0]['id']}"
    current = await call(http, "GET", f"{one}/config/current", tok)
    filters = [*current["properties"]["eventFilter"], audit]
    put = await call(
        http, "PUT", f"{one}/config/current", tok, body=config_body(current, eventFilter=filters)
    )
    assert put["properties"]["eventFilter"] == filters

    channel = (await http.post("/api/v2/notifications/channels", headers=bearer(tok))).json()
    concrete = f"v2.audits.entitytype.UserPresence.entityid.{next(iter(sandbox.org.users))}"
    error = await call(
        http,
        "PUT",
        f"/api/v2/notifications/channels/{channel['id']}/subscriptions",
        tok,
        status=400,
        body=[{"id": concrete}],
    )
    assert "WebSocket" in error["message"]
