"""Issue 18's done-when, the sandbox side: the official SDK round-trips every trigger operation.

``ProcessAutomationApi`` and ``ArchitectApi.get_flows`` of ``PureCloudPlatformClientV2`` 269.0.0
run against the sandbox in a subprocess (tests/integration/sdk_triggers_driver.py; importing the
SDK starts a watchdog thread), and every body the sandbox answered is checked field by field
against its SDK model (tests/integration/sdk_validate.py). The other tests drive the same routes
with httpx: validation errors, 409, 403, delivery of invocations on
``v2.flows.instances.flow.{id}`` over a real WebSocket, failures, TTL, delay, the throttle and the
optional-field variations.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from sandbox.catalog import TRIGGER_TOPICS
from sandbox.eventbridge.integrations import EVENTBRIDGE_TYPE
from sandbox.server import Sandbox
from tests.integration.helpers import bearer, pkce_token
from tests.integration.sqs_reader import QueueReader
from tests.integration.stream import set_routing, subscribed_channel, truth, wait_for
from tests.integration.test_sdk_shapes import SdkChecker, assert_fit, sample

ROOT = Path(__file__).resolve().parents[2]
Json = dict[str, Any]
BASE = "/api/v2/processautomation/triggers"
TOPIC = "v2.users.{id}.activity"
FLOW_MODEL = "V2FlowExecutionDataFlowidTopicFlowExecutionHistory"
NOT_RESPONDING = [
    {"jsonPath": "routingStatus.status", "operator": "Equal", "value": "NOT_RESPONDING"}
]


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SdkChecker]:
    """The SDK model validator in a subprocess with an empty HOME."""
    if importlib.util.find_spec("PureCloudPlatformClientV2") is None:
        pytest.fail("PureCloudPlatformClientV2 is missing (it is in the 'test' extra)")
    home = tmp_path_factory.mktemp("sdk-home")
    stderr_path = home / "stderr.txt"
    env = {**os.environ, "HOME": str(home), "USERPROFILE": str(home)}
    with (
        stderr_path.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "tests.integration.sdk_validate"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=ROOT,
            env=env,
        ) as proc,
    ):
        checker = SdkChecker(proc, stderr_path)
        try:
            checker.wait_ready()
            yield checker
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
async def token(http: httpx.AsyncClient) -> dict[str, str]:
    """Bearer headers of a supervisor (every trigger permission)."""
    return bearer(await pkce_token(http))


@pytest.fixture
async def agent(sandbox: Sandbox, http: httpx.AsyncClient) -> dict[str, str]:
    """Bearer headers of an agent (no trigger permission)."""
    user = next(u for u in sandbox.org.users.values() if u.role == "agent")
    return bearer(await pkce_token(http, user=user.id))


@pytest.fixture
async def reader(sandbox: Sandbox) -> AsyncIterator[QueueReader]:
    """A botocore reader of the sandbox's EventBridge queue."""
    assert sandbox.eventbridge is not None
    queue = QueueReader(sandbox.eventbridge.queue_url)
    yield queue
    queue.close()


async def workflows(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    """Workflow name → id, from ``GET /api/v2/flows?type=workflow``."""
    resp = await http.get("/api/v2/flows", params={"type": "workflow"}, headers=headers)
    assert resp.status_code == 200, resp.text
    return {f["name"]: f["id"] for f in resp.json()["entities"]}


def request_body(flow_id: str, name: str = "Not Responding", **extra: Any) -> Json:
    """A ``CreateTriggerRequest`` on the activity topic."""
    body: Json = {
        "name": name,
        "topicName": TOPIC,
        "enabled": True,
        "target": {"type": "Workflow", "id": flow_id},
        "matchCriteria": NOT_RESPONDING,
    }
    body.update(extra)
    return body


async def create(http: httpx.AsyncClient, headers: dict[str, str], body: Json) -> Json:
    """POST a trigger; assert 200."""
    resp = await http.post(BASE, json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    created: Json = resp.json()
    return created


async def flow_socket(
    http: httpx.AsyncClient, headers: dict[str, str], flow_ids: list[str]
) -> tuple[ClientConnection, list[str]]:
    """A WebSocket subscribed to the flow-instance topics of ``flow_ids``."""
    topics = [f"v2.flows.instances.flow.{f}" for f in flow_ids]
    channel = await subscribed_channel(http, headers, topics)
    return await connect(channel["connectUri"]), topics


async def next_run(ws: ClientConnection, within: float = 5.0) -> Json:
    """The next flow-instance event body."""
    frame = await wait_for(
        ws, lambda f: str(f.get("topicName", "")).startswith("v2.flows."), within
    )
    body: Json = frame["eventBody"]
    return body


def agent_id(sandbox: Sandbox) -> str:
    """An agent of the org (the one whose status the tests change)."""
    return next(u.id for u in sandbox.org.users.values() if u.role == "agent")


# --------------------------------------------------------------------------- the done-when
async def test_the_sdk_round_trips_every_operation_and_every_body_fits_its_model(
    sandbox: Sandbox, http: httpx.AsyncClient, sdk: SdkChecker, tmp_path: Path
) -> None:
    supervisor = await pkce_token(http)
    agent_user = next(u for u in sandbox.org.users.values() if u.role == "agent")
    agent_token = await pkce_token(http, user=agent_user.id)
    env = {**os.environ, "HOME": str(tmp_path), "USERPROFILE": str(tmp_path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.sdk_triggers_driver",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    line = json.dumps({"host": sandbox.base_url, "token": supervisor, "agent_token": agent_token})
    out, err = await asyncio.wait_for(proc.communicate(line.encode() + b"\n"), timeout=90)
    assert proc.returncode == 0, err.decode()[-4000:]
    records: list[Json] = json.loads(out)["records"]
    by_op: dict[str, list[Json]] = {}
    for record in records:
        by_op.setdefault(record["op"], []).append(record)

    statuses = {op: [r["status"] for r in rs] for op, rs in by_op.items()}
    assert statuses["get_flows"] == [200]
    assert statuses["create"] == [200] * 4
    assert statuses["put"] == [200] and statuses["put_stale"] == [409]
    assert statuses["delete"] == [204] and statuses["get_deleted"] == [404]
    assert statuses["test_trigger"] == [200] and statuses["test_topic"] == [200]
    assert statuses["agent_list"] == [403] and statuses["agent_flows"] == [403]

    # Cursor paging: following nextUri visits every topic and trigger exactly once.
    topics = [t for r in by_op["topics"] + by_op["topics_next"] for t in r["body"]["entities"]]
    assert topics == list(TRIGGER_TOPICS)
    listed = [e["id"] for r in by_op["list"] + by_op["list_after"] for e in r["body"]["entities"]]
    created = [r["body"]["id"] for r in by_op["create"]]
    assert listed == created
    before = by_op["list_before"][0]["body"]["entities"]
    assert [e["id"] for e in before] == created[:3]
    filtered = by_op["list_filtered"][0]["body"]["entities"]
    assert [e["name"] for e in filtered] == ["Late break"]

    # What the SDK read back: versions, the edit, the test results.
    assert by_op["get"][0]["sdk"]["version"] == 1
    edited = by_op["put"][0]["sdk"]
    assert edited["version"] == 2 and edited["name"] == "Not Responding (edited)"
    assert edited["enabled"] is False and edited["event_ttl_seconds"] == 120
    assert by_op["put_stale"][0]["body"]["code"] == "general.conflict"
    tested = by_op["test_trigger"][0]["sdk"]
    assert tested["trigger_matches"] is True
    extraction = tested["json_path_validation"]["details"][0]["json_path_extraction"]
    assert extraction == [{"value": "NOT_RESPONDING", "path": "$['routingStatus']['status']"}]
    matched = by_op["test_topic"][0]["sdk"]["trigger_match_validation"]["matched_triggers"]
    assert created[0] in {t["id"] for t in matched}
    assert "processautomation:trigger:view" in by_op["agent_list"][0]["body"]["message"]

    samples = [
        sample(f"{r['op']} #{i}", r["model"], r["body"])
        for i, r in enumerate(records)
        if r["model"] is not None and r["body"] is not None
    ]
    assert {s["model"] for s in samples} >= {
        "FlowEntityListing",
        "TopicCursorEntityListing",
        "Trigger",
        "TriggerEntityListing",
        "TestModeResults",
        "TestModeEventResults",
        "ErrorBody",
    }
    await assert_fit(sdk, samples)


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"topicName": "v2.users.{id}.presence"}, "not a trigger topic"),
        (
            {"matchCriteria": [{"jsonPath": "$..status", "operator": "Equal", "value": 1}]},
            "jsonPath",
        ),
        (
            {"matchCriteria": [{"jsonPath": "$[?(@.a)]", "operator": "Equal", "value": 1}]},
            "jsonPath",
        ),
        ({"matchCriteria": [{"jsonPath": "a", "operator": "Like", "value": 1}]}, "operator"),
        ({"matchCriteria": [{"jsonPath": "a", "operator": "In", "value": 1}]}, "values"),
        (
            {"matchCriteria": [{"jsonPath": "a", "operator": "Equal", "value": 1, "values": [1]}]},
            "only one",
        ),
        ({"eventTTLSeconds": 60, "delayBySeconds": 60}, "Only one of eventTTLSeconds"),
        ({"delayBySeconds": 59}, "between 60 and 900"),
        ({"delayBySeconds": 901}, "between 60 and 900"),
        ({"eventTTLSeconds": 9}, "at least 10"),
        ({"target": {"type": "Workflow", "id": "no-such-flow"}}, "not a workflow"),
        ({"target": {"type": "Queue", "id": "x"}}, "Workflow"),
        ({"name": ""}, "name"),
        ({"enabled": None}, "enabled"),
    ],
)
async def test_a_bad_trigger_is_a_400_genesys_error_body_naming_the_problem(
    http: httpx.AsyncClient, token: dict[str, str], change: Json, words: str
) -> None:
    lead = (await workflows(http, token))["Text the team lead"]
    resp = await http.post(BASE, json=request_body(lead, **change), headers=token)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["code"] == "bad.request" and body["status"] == 400
    assert words in body["message"]
    assert body["contextId"] == resp.headers["ININ-Correlation-Id"]
    listing = await http.get(BASE, headers=token)
    assert listing.json()["entities"] == []


async def test_put_checks_the_version_and_keeps_the_topic(
    http: httpx.AsyncClient, token: dict[str, str]
) -> None:
    lead = (await workflows(http, token))["Text the team lead"]
    made = await create(http, token, request_body(lead))
    one = f"{BASE}/{made['id']}"
    update = {**request_body(lead, enabled=False), "version": 1}
    resp = await http.put(one, json=update, headers=token)
    assert resp.status_code == 200 and resp.json()["version"] == 2
    again = await http.put(one, json=update, headers=token)  # version 1 is stale now
    assert again.status_code == 409 and again.json()["code"] == "general.conflict"
    moved = await http.put(
        one, json={**update, "version": 2, "topicName": TRIGGER_TOPICS[1]}, headers=token
    )
    assert moved.status_code == 400 and "topicName cannot be updated" in moved.json()["message"]
    got = (await http.get(one, headers=token)).json()
    assert got["version"] == 2 and got["enabled"] is False
    camel = await http.get(f"/api/v2/processAutomation/triggers/{made['id']}", headers=token)
    assert camel.status_code == 200  # the provider's spelling of the path


async def test_every_route_answers_403_naming_the_missing_permission(
    http: httpx.AsyncClient, token: dict[str, str], agent: dict[str, str]
) -> None:
    lead = (await workflows(http, token))["Text the team lead"]
    made = await create(http, token, request_body(lead))
    one = f"{BASE}/{made['id']}"
    calls = [
        ("GET", BASE, None, "view"),
        ("POST", BASE, request_body(lead), "add"),
        ("GET", f"{BASE}/topics", None, "view"),
        ("GET", one, None, "view"),
        ("PUT", one, {**request_body(lead), "version": 1}, "edit"),
        ("DELETE", one, None, "delete"),
        ("POST", f"{one}/test", {"id": "x"}, "test"),
        ("POST", f"{BASE}/topics/{TOPIC}/test", {"id": "x"}, "test"),
    ]
    for method, url, body, action in calls:
        resp = await http.request(method, url, json=body, headers=agent)
        assert resp.status_code == 403, (method, url, resp.text)
        error = resp.json()
        assert error["code"] == "missing.permissions"
        assert f"processautomation:trigger:{action}" in error["messageParams"]["permissions"]
    assert (await http.get(one, headers=token)).json()["version"] == 1  # nothing changed


# --------------------------------------------------------------------------- invocations
async def test_a_matching_event_runs_the_workflow_and_a_disabled_trigger_stops(
    sandbox: Sandbox, http: httpx.AsyncClient, token: dict[str, str], sdk: SdkChecker
) -> None:
    lead = (await workflows(http, token))["Text the team lead"]
    made = await create(http, token, request_body(lead))
    ws, _ = await flow_socket(http, token, [lead])
    user = agent_id(sandbox)
    async with ws:
        await set_routing(http, user, "IDLE")  # an event that does not match
        await set_routing(http, user, "NOT_RESPONDING")
        run = await next_run(ws)
        assert run["flowId"] == lead and run["errors"] == []
        assert run["flowExitReason"] == "FLOW_END"
        assert run["invokingContext"]["processAutomation"] == {
            "triggerId": made["id"],
            "triggerName": "Not Responding",
        }
        await assert_fit(sdk, [sample("flow run", FLOW_MODEL, run)])
        tally = (await truth(http))["triggers"][made["id"]]
        assert tally["matched"] == 1 and tally["invocations"] == 1 and tally["lastError"] is None

        # Disable it (GET, then PUT with its version), and add a second trigger as a sentinel:
        # the next run on the topic must be the sentinel's, so the disabled one did not fire.
        got = (await http.get(f"{BASE}/{made['id']}", headers=token)).json()
        put = {**request_body(lead, enabled=False), "version": got["version"]}
        assert (await http.put(f"{BASE}/{made['id']}", json=put, headers=token)).status_code == 200
        sentinel = await create(http, token, request_body(lead, name="Sentinel"))
        await set_routing(http, user, "IDLE")
        await set_routing(http, user, "NOT_RESPONDING")
        run = await next_run(ws)
        assert run["invokingContext"]["processAutomation"]["triggerId"] == sentinel["id"]
    tallies = (await truth(http))["triggers"]
    assert tallies[made["id"]]["invocations"] == 1
    assert tallies[sentinel["id"]]["invocations"] == 1


async def test_a_failing_workflow_is_reported_with_its_reason(
    sandbox: Sandbox, http: httpx.AsyncClient, token: dict[str, str], sdk: SdkChecker
) -> None:
    pager = (await workflows(http, token))["Page the on-call manager"]
    made = await create(http, token, request_body(pager, name="Pager"))
    ws, _ = await flow_socket(http, token, [pager])
    async with ws:
        await set_routing(http, agent_id(sandbox), "NOT_RESPONDING")
        run = await next_run(ws)
    assert run["flowExitReason"] == "FLOW_ERROR"
    assert run["errors"][0]["reason"] and run["errors"][0]["executionId"] == run["executionId"]
    await assert_fit(sdk, [sample("failed run", FLOW_MODEL, run)])
    tally = (await truth(http))["triggers"][made["id"]]
    assert tally["failures"] == 1 and tally["lastError"] == run["errors"][0]["reason"]


async def test_over_the_rate_limits_an_invocation_is_throttled_and_reported(
    sandbox: Sandbox, http: httpx.AsyncClient, token: dict[str, str], sdk: SdkChecker
) -> None:
    flows = await workflows(http, token)
    lead, ticket = flows["Text the team lead"], flows["Open a ticket"]
    # 5 a minute for the org: one workflow may take int(5 * 0.8) = 4 of them.
    resp = await http.post("/sandbox/triggers/limits", params={"perMinute": 5})
    assert resp.status_code == 200
    first = await create(http, token, request_body(lead, name="Lead"))
    ws, _ = await flow_socket(http, token, [lead, ticket])
    user = agent_id(sandbox)

    async def not_responding() -> Json:
        await set_routing(http, user, "IDLE")
        await set_routing(http, user, "NOT_RESPONDING")
        return await next_run(ws)

    async with ws:
        runs = [await not_responding() for _ in range(5)]
        assert [r["flowExitReason"] for r in runs] == ["FLOW_END"] * 4 + ["THROTTLED"]
        assert "one workflow" in runs[4]["errors"][0]["reason"]
        assert "executionId" not in runs[4]
        await assert_fit(sdk, [sample("throttled", FLOW_MODEL, runs[4])])
        # Another workflow still has the minute's fifth invocation; then the org limit holds.
        put = {**request_body(lead, enabled=False), "version": first["version"]}
        await http.put(f"{BASE}/{first['id']}", json=put, headers=token)
        second = await create(http, token, request_body(ticket, name="Ticket"))
        assert (await not_responding())["flowExitReason"] == "FLOW_END"
        last = await not_responding()
        assert last["flowExitReason"] == "THROTTLED"
        assert "5 workflow invocations per minute" in last["errors"][0]["reason"]
    tallies = (await truth(http))["triggers"]
    assert tallies[first["id"]]["throttled"] == 1 and tallies[first["id"]]["invocations"] == 4
    assert tallies[second["id"]]["throttled"] == 1 and tallies[second["id"]]["invocations"] == 1


async def test_ttl_drops_late_events_and_delay_waits(
    sandbox: Sandbox, http: httpx.AsyncClient, token: dict[str, str]
) -> None:
    lead = (await workflows(http, token))["Text the team lead"]
    ttl = await create(http, token, request_body(lead, name="TTL", eventTTLSeconds=30))
    delayed = await create(http, token, request_body(lead, name="Later", delayBySeconds=900))
    assert (await http.post("/sandbox/triggers/lag", params={"seconds": 45})).status_code == 200
    await set_routing(http, agent_id(sandbox), "NOT_RESPONDING")
    tallies = (await truth(http))["triggers"]
    assert tallies[ttl["id"]]["expired"] == 1 and tallies[ttl["id"]]["invocations"] == 0
    assert tallies[delayed["id"]]["pending"] == 1 and tallies[delayed["id"]]["invocations"] == 0
    flushed = (await http.post("/sandbox/triggers/flush")).json()
    assert flushed["flushed"] == 1
    assert flushed["triggers"][delayed["id"]]["invocations"] == 1


async def test_a_delayed_invocation_of_a_trigger_disabled_meanwhile_is_dropped(
    sandbox: Sandbox, http: httpx.AsyncClient, token: dict[str, str]
) -> None:
    lead = (await workflows(http, token))["Text the team lead"]
    made = await create(http, token, request_body(lead, delayBySeconds=60))
    await set_routing(http, agent_id(sandbox), "NOT_RESPONDING")
    put = {**request_body(lead, enabled=False, delayBySeconds=60), "version": 1}
    assert (await http.put(f"{BASE}/{made['id']}", json=put, headers=token)).status_code == 200
    flushed = (await http.post("/sandbox/triggers/flush")).json()
    tally = flushed["triggers"][made["id"]]
    assert tally["dropped"] == 1 and tally["invocations"] == 0


async def test_the_test_routes_show_each_step(
    http: httpx.AsyncClient, token: dict[str, str]
) -> None:
    flows = await workflows(http, token)
    draft = flows["Escalate to HR (draft)"]
    made = await create(http, token, request_body(draft, name="Draft"))
    event = {"id": "u1", "routingStatus": {"status": "NOT_RESPONDING"}}
    result = (await http.post(f"{BASE}/{made['id']}/test", json=event, headers=token)).json()
    assert result["schemaValidation"]["matches"] is True
    assert result["targetValidation"]["matches"] is False  # the workflow is not published
    assert result["jsonPathValidation"]["matches"] is True
    assert result["triggerMatches"] is False
    bad = {"routingStatus": {"status": "ASLEEP"}}
    result = (await http.post(f"{BASE}/{made['id']}/test", json=bad, headers=token)).json()
    assert result["schemaValidation"]["matches"] is False and result["schemaValidation"]["details"]
    topic = await http.post(f"{BASE}/topics/{TOPIC}/test", json={"id": "u1"}, headers=token)
    step = topic.json()["triggerMatchValidation"]
    assert step["matchedTriggers"] == [] and step["unmatchedTriggers"][0]["id"] == made["id"]
    unknown = await http.post(
        f"{BASE}/topics/v2.users.{{id}}.presence/test", json={}, headers=token
    )
    assert unknown.status_code == 400


# --------------------------------------------------------------------------- variations
@pytest.mark.sandbox_config(trigger_optional_drop_rate=1.0)
async def test_unset_optional_fields_may_be_absent(
    http: httpx.AsyncClient, token: dict[str, str]
) -> None:
    lead = (await workflows(http, token))["Text the team lead"]
    made = await create(http, token, request_body(lead, matchCriteria=None))
    for key in ("description", "eventTTLSeconds", "delayBySeconds", "matchCriteria"):
        assert key not in made
    listing = (await http.get(BASE, headers=token)).json()
    assert "nextUri" not in listing and "previousUri" not in listing


@pytest.mark.sandbox_config(variations=False)
async def test_without_variations_unset_optional_fields_are_null(
    http: httpx.AsyncClient, token: dict[str, str]
) -> None:
    lead = (await workflows(http, token))["Text the team lead"]
    made = await create(http, token, request_body(lead))
    assert made["description"] is None and made["delayBySeconds"] is None
    listing = (await http.get(BASE, headers=token)).json()
    assert listing["nextUri"] is None and listing["previousUri"] is None


async def test_the_workflow_catalog_filters_by_type_and_name(
    http: httpx.AsyncClient, token: dict[str, str]
) -> None:
    names = await workflows(http, token)
    assert {"Text the team lead", "Open a ticket", "Page the on-call manager"} <= set(names)
    calls = await http.get("/api/v2/flows", params={"type": "inboundcall"}, headers=token)
    assert calls.json()["entities"] == []
    found = await http.get("/api/v2/flows", params={"name": "ticket"}, headers=token)
    assert [f["name"] for f in found.json()["entities"]] == ["Open a ticket"]
    one = await http.get(f"/api/v2/flows/{names['Open a ticket']}", headers=token)
    assert one.json()["type"] == "WORKFLOW" and one.json()["active"] is True


@pytest.mark.sandbox_config(
    eventbridge=True,
    eventbridge_delay_min_s=0.02,
    eventbridge_delay_max_s=0.1,
    eventbridge_duplicate_rate=0.0,
    eventbridge_reorder_rate=0.0,
)
async def test_runs_reach_eventbridge_when_a_filter_covers_the_flow_topic(
    sandbox: Sandbox, http: httpx.AsyncClient, token: dict[str, str], reader: QueueReader
) -> None:
    listing = await http.get(
        "/api/v2/integrations",
        params={"expand": "config.current", "integrationType": EVENTBRIDGE_TYPE},
        headers=token,
    )
    integration = listing.json()["entities"][0]
    current = integration["config"]["current"]
    config = {
        "name": current["name"],
        "version": current["version"],
        "properties": {**current["properties"], "eventFilter": ["v2.flows.instances.flow.{id}"]},
        "advanced": {},
        "notes": "",
        "credentials": {},
    }
    resp = await http.put(
        f"/api/v2/integrations/{integration['id']}/config/current", json=config, headers=token
    )
    assert resp.status_code == 200, resp.text
    lead = (await workflows(http, token))["Text the team lead"]
    made = await create(http, token, request_body(lead))
    await set_routing(http, agent_id(sandbox), "NOT_RESPONDING")
    await reader.until_count(1)
    envelope = reader.envelopes[-1]
    assert envelope["detail-type"] == "v2.flows.instances.flow.{id}"
    assert envelope["detail"]["topicName"] == f"v2.flows.instances.flow.{lead}"
    context = envelope["detail"]["eventBody"]["invokingContext"]["processAutomation"]
    assert context["triggerId"] == made["id"]
