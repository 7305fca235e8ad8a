"""The sandbox changes a user's status the way Genesys Cloud does, with its permission checks.

``PATCH /api/v2/users/{id}/presences/purecloud`` (and ``/presences/{sourceId}``), ``PUT
/api/v2/users/{id}/routingstatus`` and ``DELETE /api/v2/tokens/{id}`` over real loopback sockets:
a person changes their own status freely; someone else's needs ``presence:userPresence:edit``
(signing out needs ``oauth:token:delete``), which the supervisor profile has and the agent
profile lacks. Each change shows in ``/sandbox/truth`` and arrives as events on the WebSocket and
on EventBridge; every body fits the official SDK's models.
"""

from __future__ import annotations

from typing import Any

import httpx
from websockets.asyncio.client import connect

from sandbox.server import Sandbox
from tests.integration.helpers import bearer, pkce_token
from tests.integration.sqs_reader import QueueReader
from tests.integration.stream import set_presence, set_routing, subscribed_channel, truth
from tests.integration.test_sandbox_eventbridge import EVENTBRIDGE, reader, ws_until
from tests.integration.test_sdk_shapes import SdkChecker, assert_fit, sample, sdk

__all__ = ["reader", "sdk"]  # fixtures used by name below

Json = dict[str, Any]
PRESENCE_EDIT = "presence:userPresence:edit"
LOG_OFF = "oauth:token:delete"


def two_agents(sandbox: Sandbox) -> tuple[str, str]:
    """Two agents' ids (the agent profile: no permission over other people)."""
    ids = [u.id for u in sandbox.org.users.values() if u.role == "agent"]
    return ids[0], ids[1]


def definition(sandbox: Sandbox, key: str) -> str:
    """The System presence definition id of an upper-snake key."""
    return sandbox.org.system_presence_id(key)


async def put_status(http: httpx.AsyncClient, token: str, user_id: str, status: str) -> Any:
    """``PUT /api/v2/users/{id}/routingstatus`` as the SDK sends it."""
    return await http.put(
        f"/api/v2/users/{user_id}/routingstatus", headers=bearer(token), json={"status": status}
    )


async def patch_presence(
    http: httpx.AsyncClient, token: str, user_id: str, body: Json, source: str = "purecloud"
) -> Any:
    """``PATCH /api/v2/users/{id}/presences/{source}``."""
    return await http.patch(
        f"/api/v2/users/{user_id}/presences/{source}", headers=bearer(token), json=body
    )


def refused_for(resp: httpx.Response, permission: str) -> None:
    """A Genesys 403 ``missing.permissions`` body naming ``permission``."""
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert body["code"] == "missing.permissions"
    assert body["status"] == 403
    assert permission in body["message"]
    assert body["messageParams"] == {"permissions": permission}
    assert body["contextId"] == resp.headers["ININ-Correlation-Id"]


async def test_a_supervisor_puts_a_not_responding_agent_on_queue_and_the_events_say_so(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    agent, _ = two_agents(sandbox)
    await set_presence(http, agent, "ON_QUEUE")
    await set_routing(http, agent, "NOT_RESPONDING")
    topics = [f"v2.users.{agent}.routingStatus", f"v2.users.{agent}.presence"]
    channel = await subscribed_channel(http, bearer(user_token), topics)
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        resp = await put_status(http, user_token, agent, "IDLE")
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "IDLE"
        assert resp.json()["userId"] == agent
        frames = await ws_until(ws, {"routingStatus"})
    event = next(f for f in frames if f["topicName"].endswith(".routingStatus"))
    assert event["eventBody"]["routingStatus"]["status"] == "IDLE"
    users = (await truth(http))["users"]
    assert users[agent]["routingStatus"] == "IDLE"
    assert users[agent]["presence"] == "ON_QUEUE"


async def test_off_queue_from_on_queue_leaves_the_agent_available_and_idle_puts_them_on(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    agent, _ = two_agents(sandbox)
    await set_presence(http, agent, "ON_QUEUE")
    resp = await put_status(http, user_token, agent, "OFF_QUEUE")
    assert resp.status_code == 200, resp.text
    assert (await truth(http))["users"][agent] == {
        "presence": "AVAILABLE",
        "presenceDefinitionId": definition(sandbox, "AVAILABLE"),
        "routingStatus": "OFF_QUEUE",
    }
    await set_presence(http, agent, "BREAK")
    resp = await put_status(http, user_token, agent, "IDLE")
    assert resp.status_code == 200, resp.text
    state = (await truth(http))["users"][agent]
    assert (state["presence"], state["routingStatus"]) == ("ON_QUEUE", "IDLE")


async def test_an_agent_may_change_their_own_status_but_not_someone_elses(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    me, other = two_agents(sandbox)
    token = await pkce_token(http, user=me)
    meal = definition(sandbox, "MEAL")
    resp = await patch_presence(http, token, me, {"presenceDefinition": {"id": meal}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["presenceDefinition"]["id"] == meal
    assert (await truth(http))["users"][me]["presenceDefinitionId"] == meal
    resp = await put_status(http, token, me, "IDLE")
    assert resp.status_code == 200, resp.text
    assert (await truth(http))["users"][me]["routingStatus"] == "IDLE"

    before = (await truth(http))["users"][other]
    refused_for(
        await patch_presence(http, token, other, {"presenceDefinition": {"id": meal}}),
        PRESENCE_EDIT,
    )
    refused_for(await put_status(http, token, other, "IDLE"), PRESENCE_EDIT)
    refused_for(await http.delete(f"/api/v2/tokens/{other}", headers=bearer(token)), LOG_OFF)
    assert (await truth(http))["users"][other] == before


async def test_logging_an_agent_off_ends_their_sessions_and_sets_them_offline(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    agent, _ = two_agents(sandbox)
    await set_presence(http, agent, "ON_QUEUE")
    agent_token = await pkce_token(http, user=agent)
    assert (await http.get("/api/v2/users/me", headers=bearer(agent_token))).status_code == 200
    resp = await http.delete(f"/api/v2/tokens/{agent}", headers=bearer(user_token))
    assert resp.status_code == 204, resp.text
    assert (await http.get("/api/v2/users/me", headers=bearer(agent_token))).status_code == 401
    state = (await truth(http))["users"][agent]
    assert (state["presence"], state["routingStatus"]) == ("OFFLINE", "OFF_QUEUE")
    # The supervisor's own session goes on.
    assert (await http.get("/api/v2/users/me", headers=bearer(user_token))).status_code == 200


async def test_malformed_changes_are_refused_with_genesys_error_bodies(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    agent, _ = two_agents(sandbox)
    before = (await truth(http))["users"][agent]
    cases = [
        (
            await patch_presence(http, user_token, agent, {"presenceDefinition": {"id": "nope"}}),
            400,
        ),
        (await patch_presence(http, user_token, agent, {}), 400),
        (await patch_presence(http, user_token, agent, {"message": 5}), 400),
        (await put_status(http, user_token, agent, "INTERACTING"), 400),
        (await put_status(http, user_token, agent, "ON_QUEUE"), 400),  # not in the enum
        (await put_status(http, user_token, "no-such-user", "IDLE"), 404),
        (await patch_presence(http, user_token, agent, {"message": "x"}, "MICROSOFTTEAMS"), 404),
    ]
    for resp, status in cases:
        assert resp.status_code == status, resp.text
        assert resp.json()["status"] == status
    assert (await truth(http))["users"][agent] == before
    # The source in the path is case-insensitive; a message alone keeps the presence.
    resp = await patch_presence(http, user_token, agent, {"message": "back soon"}, "PURECLOUD")
    assert resp.status_code == 200, resp.text
    assert resp.json()["message"] == "back soon"
    assert (await truth(http))["users"][agent] == before


async def test_every_body_fits_the_sdk_models(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str, sdk: SdkChecker
) -> None:
    me, other = two_agents(sandbox)
    agent_token = await pkce_token(http, user=me)
    busy = {"presenceDefinition": {"id": definition(sandbox, "BUSY")}}
    by_source = f"/api/v2/users/{other}/presences/PURECLOUD"
    answers = [
        ("PATCH answer", "UserPresence", await patch_presence(http, user_token, other, busy)),
        ("GET by source", "UserPresence", await http.get(by_source, headers=bearer(user_token))),
        ("PUT answer", "RoutingStatus", await put_status(http, user_token, other, "IDLE")),
        ("403 answer", "ErrorBody", await put_status(http, agent_token, other, "OFF_QUEUE")),
        ("400 answer", "ErrorBody", await put_status(http, user_token, other, "BOGUS")),
    ]
    samples = [
        sample("PATCH body", "UserPresence", busy),
        sample("PUT body", "RoutingStatus", {"status": "IDLE"}),
        *(sample(label, model, resp.json()) for label, model, resp in answers),
    ]
    await assert_fit(sdk, samples)


@EVENTBRIDGE
async def test_a_change_reaches_eventbridge_too(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str, reader: QueueReader
) -> None:
    agent, _ = two_agents(sandbox)
    await set_presence(http, agent, "ON_QUEUE")
    await set_routing(http, agent, "NOT_RESPONDING")
    resp = await put_status(http, user_token, agent, "IDLE")
    assert resp.status_code == 200, resp.text
    topic = f"v2.users.{agent}.routingStatus"

    def landed(envelopes: list[Json]) -> bool:
        return any(
            e["detail"]["topicName"] == topic
            and e["detail"]["eventBody"]["routingStatus"]["status"] == "IDLE"
            for e in envelopes
        )

    await reader.until(landed)


async def test_a_break_set_from_the_app_holds_while_the_simulation_runs(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    agent, _ = two_agents(sandbox)
    await set_presence(http, agent, "ON_QUEUE")
    sandbox.org.users[agent].busy_until = 0.0  # no aux of the simulation's own still running
    brk = definition(sandbox, "BREAK")
    resp = await patch_presence(http, user_token, agent, {"presenceDefinition": {"id": brk}})
    assert resp.status_code == 200, resp.text
    for _ in range(20):
        sandbox.step(1.0)
    assert (await truth(http))["users"][agent]["presenceDefinitionId"] == brk
