"""The sandbox varies every choice genesys-api.md leaves open, and ``--no-variations`` stops it.

A client tuned to one spelling (6.11), to expand blocks always being there (6.2, 8.17), to a
fixed key order or no unknown keys (4.2), to ``modifiedDate`` on every presence event (5.1), to
one grouping of the observation user metrics (5.9, 6.8), to full activity events (5.10) or to
zero-count media groups in the query must fail against the sandbox. Each test counts over many
responses that more than one choice occurs, and that with variations off only one does.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from sandbox.__main__ import config_from_args, parse_args
from sandbox.server import Sandbox
from sandbox.variations import EXTRA_KEYS
from tests.integration.stream import (
    Json,
    arrive,
    collect,
    set_presence,
    subscribed_channel,
    wait_for,
)

OFF = pytest.mark.sandbox_config(variations=False)
USER_METRICS = {"oOnQueueUsers", "oActiveUsers", "oMemberUsers", "oUserRoutingStatuses"}


def agent(sandbox: Sandbox) -> str:
    """An agent's id."""
    return next(u.id for u in sandbox.org.users.values() if u.role == "agent")


def has_extra(value: Any) -> bool:
    """Whether any object in a JSON value carries one of the sandbox's unknown keys."""
    if isinstance(value, list):
        return any(has_extra(v) for v in value)
    if isinstance(value, dict):
        return bool(set(value) & set(EXTRA_KEYS)) or any(has_extra(v) for v in value.values())
    return False


async def rest_spellings(http: httpx.AsyncClient, headers: dict[str, str], uid: str) -> set[str]:
    """systemPresence of one on-queue user over 30 single-presence answers."""
    await http.post(f"/sandbox/users/{uid}/presence", json={"presence": "ON_QUEUE"})
    seen: set[str] = set()
    for _ in range(30):
        resp = await http.get(f"/api/v2/users/{uid}/presences/purecloud", headers=headers)
        assert resp.status_code == 200
        seen.add(resp.json()["presenceDefinition"]["systemPresence"])
    return seen


async def test_rest_spells_system_presence_every_documented_way(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    seen = await rest_spellings(http, auth_headers, agent(sandbox))
    assert len(seen) > 1
    assert seen <= {"On Queue", "OnQueue", "ON_QUEUE"}


@OFF
async def test_without_variations_rest_spells_it_one_way(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    assert await rest_spellings(http, auth_headers, agent(sandbox)) == {"On Queue"}


async def presence_events(
    sandbox: Sandbox, http: httpx.AsyncClient, headers: dict[str, str]
) -> list[Json]:
    """30 presence event bodies of one user flipping between on queue and meal."""
    uid = agent(sandbox)
    topic = f"v2.users.{uid}.presence"
    channel = await subscribed_channel(http, headers, [topic])
    bodies: list[Json] = []
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        for index in range(30):
            await set_presence(http, uid, "ON_QUEUE" if index % 2 else "MEAL")
            frame = await wait_for(ws, lambda f: f.get("topicName") == topic)
            bodies.append(frame)
    return bodies


async def test_presence_events_vary_spelling_modified_date_and_extra_keys(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    frames = await presence_events(sandbox, http, auth_headers)
    bodies = [f["eventBody"] for f in frames]
    on_queue = {b["presenceDefinition"]["systemPresence"] for b in bodies[1::2]}
    assert len(on_queue) > 1 and on_queue <= {"On Queue", "OnQueue", "ON_QUEUE"}
    assert any("modifiedDate" not in b for b in bodies)
    assert any("modifiedDate" in b for b in bodies)
    assert any(has_extra(f) for f in frames)  # envelope, metadata or body
    orders = {tuple(f) for f in frames}
    assert len(orders) > 1  # envelope keys in any order


@OFF
async def test_without_variations_presence_events_are_fixed(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    frames = await presence_events(sandbox, http, auth_headers)
    bodies = [f["eventBody"] for f in frames]
    assert {b["presenceDefinition"]["systemPresence"] for b in bodies[1::2]} == {"ON_QUEUE"}
    assert all("modifiedDate" in b for b in bodies)
    assert not any(has_extra(f) for f in frames)
    assert {tuple(f) for f in frames} == {("topicName", "version", "eventBody", "metadata")}


async def users_pages(http: httpx.AsyncClient, headers: dict[str, str]) -> list[Json]:
    """Every user with presence and routing status expanded, read 5 times."""
    users: list[Json] = []
    for _ in range(5):
        resp = await http.get(
            "/api/v2/users",
            headers=headers,
            params={"pageSize": 100, "expand": "presence,routingStatus"},
        )
        assert resp.status_code == 200
        users += resp.json()["entities"]
    return users


async def test_users_expand_is_best_effort_but_dedicated_endpoints_always_answer(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    users = await users_pages(http, auth_headers)
    missing = [u for u in users if "presence" not in u or "routingStatus" not in u]
    assert missing and len(missing) < len(users)
    assert any(has_extra(u) for u in users)
    for user in missing[:5]:
        uid = user["id"]
        single = await http.get(f"/api/v2/users/{uid}/presences/purecloud", headers=auth_headers)
        routing = await http.get(f"/api/v2/users/{uid}/routingstatus", headers=auth_headers)
        bulk = await http.get(
            "/api/v2/users/presences/purecloud/bulk", headers=auth_headers, params={"id": uid}
        )
        assert single.status_code == routing.status_code == bulk.status_code == 200
        assert single.json()["presenceDefinition"]["id"]
        assert routing.json()["status"]
        assert bulk.json()[0]["userId"] == uid


@OFF
async def test_without_variations_every_expand_block_is_there(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    users = await users_pages(http, auth_headers)
    assert all("presence" in u and "routingStatus" in u for u in users)
    assert not any(has_extra(u) for u in users)


@pytest.mark.sandbox_config(queues=8)
async def test_observation_user_metrics_are_grouped_both_ways_across_queues(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    assert await observation_groupings(sandbox, http, auth_headers) == {"separate", "repeated"}


@pytest.mark.sandbox_config(queues=8, variations=False)
async def test_without_variations_user_metrics_have_their_own_group(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    assert await observation_groupings(sandbox, http, auth_headers) == {"separate"}


async def observation_groupings(
    sandbox: Sandbox, http: httpx.AsyncClient, headers: dict[str, str]
) -> set[str]:
    """How each queue's voice-group observation event carries the user metrics."""
    queues = list(sandbox.org.queues)
    topics = {f"v2.analytics.queues.{q}.observations": q for q in queues}
    channel = await subscribed_channel(http, headers, list(topics))
    found: dict[str, str] = {}
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        for queue in queues:
            await arrive(http, queue, "voice")
        for _, frame in await collect(ws, 0.6):
            body = frame["eventBody"]
            if frame["topicName"] in topics and body["group"].get("mediaType") == "voice":
                names = {m["metric"] for block in body["data"] for m in block["metrics"]}
                found[topics[frame["topicName"]]] = (
                    "repeated" if names & USER_METRICS else "separate"
                )
    assert set(found) == set(queues)
    return set(found.values())


@pytest.mark.sandbox_config(partial_activity_rate=0.5)
async def test_activity_events_carry_all_or_only_the_changed_media_blocks(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue = max(sandbox.org.queues.values(), key=lambda q: len(q.media))
    topic = f"v2.analytics.queues.{queue.id}.activity"
    channel = await subscribed_channel(http, auth_headers, [topic])
    sizes: list[int] = []
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        for _ in range(16):
            await arrive(http, queue.id, "chat")
            frame = await wait_for(ws, lambda f: f.get("topicName") == topic)
            sizes.append(len(frame["eventBody"]["results"]))
    assert 1 in sizes  # only the chat block changed
    assert len(queue.media_groups()) in sizes  # every block


async def test_observation_query_lists_zero_media_groups_sometimes(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue = max(sandbox.org.queues.values(), key=lambda q: len(q.media))
    await arrive(http, queue.id, "voice")
    group_counts: set[int] = set()
    for _ in range(20):
        resp = await http.post(
            "/api/v2/analytics/queues/observations/query",
            headers=auth_headers,
            json={
                "filter": {
                    "type": "or",
                    "predicates": [{"dimension": "queueId", "value": queue.id}],
                },
                "metrics": ["oWaiting"],
            },
        )
        assert resp.status_code == 200
        group_counts.add(len(resp.json()["results"]))
    assert group_counts == {1, len(queue.media_groups())}


async def test_rest_key_order_varies_between_identical_requests(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    path = f"/api/v2/users/{agent(sandbox)}/routingstatus"
    orders = set()
    for _ in range(10):
        resp = await http.get(path, headers=auth_headers)
        orders.add(tuple(json.loads(resp.text)))
    assert len(orders) > 1


def test_command_line_flags_turn_multichannel_and_variations_off() -> None:
    default = config_from_args(parse_args([]))
    assert default.multichannel and default.variations
    plain = config_from_args(parse_args(["--voice-only", "--no-variations"]))
    assert not plain.multichannel and not plain.variations
