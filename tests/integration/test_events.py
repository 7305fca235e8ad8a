"""Event bodies of the sandbox's topics against genesys-api.md sections 5.0-5.10 and 6.11.

User presence / routing status / activity, queue conversations (generic and flattened call
topics), queue membership, the analytics topics (on change, at most once per interval) and the
REST-vs-event casing rule. The last test lets the simulation run fast and checks the invariant
the chaos tests build on: the last state per user seen on the stream equals the org's truth.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.integration.stream import (
    ISO_MS_Z,
    ROUTING_STATUSES,
    Json,
    arrive,
    assert_silent,
    collect,
    drain,
    member_ids,
    normalise,
    queue_ids,
    recv_json,
    set_presence,
    set_routing,
    strip_extras,
    subscribed_channel,
    truth,
    user_ids,
    wait_for,
    wait_topic,
)

USER_SUFFIXES = "presence&routingStatus&activity"
INTERVAL = re.compile(r"^(\S+)/(\S+)$")


def _user_topics(user: str) -> dict[str, str]:
    return {s: f"v2.users.{user}.{s}" for s in USER_SUFFIXES.split("&")}


async def _user_events_until(
    ws: ClientConnection, user: str, done: Any, within: float = 2.0
) -> dict[str, list[Json]]:
    """Collect the user's presence/routingStatus/activity bodies until ``done(bodies)``."""
    topics = _user_topics(user)
    by_suffix: dict[str, list[Json]] = {s: [] for s in topics}
    async with asyncio.timeout(within):
        while not done(by_suffix):
            frame = await recv_json(ws)
            for suffix, name in topics.items():
                if frame.get("topicName") == name:
                    by_suffix[suffix].append(frame["eventBody"])
    return by_suffix


def _merge(blocks: list[Json]) -> Json:
    """Merge partial activity bodies field by field (genesys-api.md 5.3)."""
    merged: Json = {}
    for body in blocks:
        merged.update(body)
    return merged


async def _definitions(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Json]:
    resp = await http.get("/api/v2/presence/definitions", headers=headers)
    assert resp.status_code == 200, resp.text
    return {d["id"]: d for d in resp.json()["entities"]}


# ----------------------------------------------------------------------------- 5.1 - 5.3
@pytest.mark.sandbox_config(variations=False)  # the usual spelling of each surface
async def test_going_on_queue_publishes_presence_routing_and_activity_bodies(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    user = (await user_ids(http, not_presence="ON_QUEUE"))[0]
    channel = await subscribed_channel(http, auth_headers, [f"v2.users.{user}?{USER_SUFFIXES}"])
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await set_presence(http, user, "ON_QUEUE", message="back at 2pm")
        got = await _user_events_until(
            ws,
            user,
            lambda b: (
                b["presence"]
                and b["routingStatus"]
                and "presence" in _merge(b["activity"])
                and "routingStatus" in _merge(b["activity"])
            ),
        )

    presence = got["presence"][-1]
    assert {"source", "presenceDefinition", "primary", "message", "modifiedDate"} <= set(presence)
    assert "presenceMessage" not in presence  # 5.1: that name is only used by .activity
    assert isinstance(presence["source"], str)
    assert set(presence["presenceDefinition"]) >= {"id", "systemPresence"}
    assert presence["presenceDefinition"]["systemPresence"] == "ON_QUEUE"
    assert presence["primary"] is True
    assert presence["message"] == "back at 2pm"
    assert ISO_MS_Z.match(presence["modifiedDate"])

    routing = got["routingStatus"][-1]
    assert routing["id"] == user
    assert routing["routingStatus"]["status"] == "IDLE"  # going on queue → IDLE
    assert ISO_MS_Z.match(routing["routingStatus"]["startTime"])

    activity = _merge(got["activity"])
    assert all(body["id"] == user for body in got["activity"])
    assert activity["routingStatus"]["status"] == "IDLE"
    assert ISO_MS_Z.match(activity["routingStatus"]["startTime"])
    block = activity["presence"]
    assert block["presenceDefinition"]["systemPresence"] == "ON_QUEUE"
    assert block["presenceDefinition"]["id"] == presence["presenceDefinition"]["id"]
    assert block["presenceMessage"] == "back at 2pm"
    assert "message" not in block
    assert ISO_MS_Z.match(block["modifiedDate"])


@pytest.mark.sandbox_config(variations=False)  # the usual spelling of each surface
async def test_going_on_break_sets_routing_off_queue(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    user = (await user_ids(http))[1]
    await set_presence(http, user, "ON_QUEUE")
    channel = await subscribed_channel(http, auth_headers, [f"v2.users.{user}?{USER_SUFFIXES}"])
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await set_presence(http, user, "BREAK")
        got = await _user_events_until(ws, user, lambda b: b["presence"] and b["routingStatus"])
    assert got["presence"][-1]["presenceDefinition"]["systemPresence"] == "BREAK"
    assert got["routingStatus"][-1]["routingStatus"]["status"] == "OFF_QUEUE"
    assert got["routingStatus"][-1]["id"] == user


@pytest.mark.sandbox_config(variations=False)  # the usual spelling of each surface
async def test_presence_ids_in_events_are_presence_definition_ids(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    definitions = await _definitions(http, auth_headers)
    custom = [d for d in definitions.values() if d["type"] == "User" and not d["deactivated"]]
    assert custom
    user = (await user_ids(http))[2]
    topic = f"v2.users.{user}.presence"
    channel = await subscribed_channel(http, auth_headers, [topic])
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        for definition in custom[:2]:
            await set_presence(http, user, definition["id"])
            body = (await wait_topic(ws, topic))["eventBody"]
            assert body["presenceDefinition"]["id"] == definition["id"]
            event_presence = body["presenceDefinition"]["systemPresence"]
            assert event_presence == event_presence.upper()
            assert normalise(event_presence) == normalise(definition["systemPresence"])
        await set_presence(http, user, "ON_QUEUE")
        body = (await wait_topic(ws, topic))["eventBody"]
    on_queue = definitions[body["presenceDefinition"]["id"]]
    assert on_queue["type"] == "System"
    assert on_queue["systemPresence"] == "OnQueue"


async def test_routing_status_change_alone_publishes_routing_and_activity(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    user = (await user_ids(http))[3]
    await set_presence(http, user, "ON_QUEUE")
    channel = await subscribed_channel(http, auth_headers, [f"v2.users.{user}?{USER_SUFFIXES}"])
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await set_routing(http, user, "NOT_RESPONDING")
        got = await _user_events_until(
            ws, user, lambda b: b["routingStatus"] and "routingStatus" in _merge(b["activity"])
        )
        await assert_silent(ws, 0.15)
    assert got["presence"] == []  # presence did not change
    assert got["routingStatus"][-1]["routingStatus"]["status"] == "NOT_RESPONDING"
    assert _merge(got["activity"])["routingStatus"]["status"] == "NOT_RESPONDING"


@pytest.mark.sandbox_config(variations=False)  # the usual spelling of each surface
async def test_events_use_upper_case_presence_while_rest_says_on_queue(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    user = (await user_ids(http, not_presence="ON_QUEUE"))[0]
    channel = await subscribed_channel(http, auth_headers, [f"v2.users.{user}?{USER_SUFFIXES}"])
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await set_presence(http, user, "ON_QUEUE")
        got = await _user_events_until(
            ws, user, lambda b: b["presence"] and "presence" in _merge(b["activity"])
        )
    assert got["presence"][-1]["presenceDefinition"]["systemPresence"] == "ON_QUEUE"
    assert _merge(got["activity"])["presence"]["presenceDefinition"]["systemPresence"] == (
        "ON_QUEUE"
    )
    single = await http.get(f"/api/v2/users/{user}/presences/purecloud", headers=auth_headers)
    assert single.status_code == 200
    assert single.json()["presenceDefinition"]["systemPresence"] == "On Queue"
    listing = await http.get(
        "/api/v2/users", headers=auth_headers, params={"id": user, "expand": "presence"}
    )
    assert listing.status_code == 200
    (entity,) = listing.json()["entities"]
    assert entity["presence"]["presenceDefinition"]["systemPresence"] == "On Queue"
    routing = await http.get(f"/api/v2/users/{user}/routingstatus", headers=auth_headers)
    assert routing.json()["status"] == "IDLE"  # routing status is upper snake everywhere


# ----------------------------------------------------------------------------- 5.7
async def _queue_with_idle_agent(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> tuple[str, str]:
    """A queue and a joined member made the only IDLE on-queue agent of it."""
    queue = (await queue_ids(http, headers))[0]
    members = await member_ids(http, headers, queue)
    agent = members[0]
    for other in members[1:]:
        await set_presence(http, other, "AWAY")
    resp = await http.post(f"/sandbox/queues/{queue}/members", json={"userId": agent})
    assert resp.status_code == 200, resp.text
    await set_presence(http, agent, "ON_QUEUE")
    await set_routing(http, agent, "IDLE")
    return queue, agent


async def test_queue_conversation_topics_have_generic_and_flattened_shapes(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue, agent = await _queue_with_idle_agent(http, auth_headers)
    generic = f"v2.routing.queues.{queue}.conversations"
    calls = f"{generic}.calls"
    channel = await subscribed_channel(http, auth_headers, [generic, calls])
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        conv = await arrive(http, queue, "voice")
        bodies: dict[str, Json] = {}
        async with asyncio.timeout(2.0):
            while len(bodies) < 2:
                frame = await recv_json(ws)
                if frame["eventBody"].get("id") == conv:
                    bodies[frame["topicName"]] = frame["eventBody"]
        assert set(bodies) == {generic, calls}

        # Generic topic: the state lives on the nested media session (5.6, 8.15).
        purposes = {p["purpose"]: p for p in bodies[generic]["participants"]}
        assert {"customer", "acd"} <= set(purposes)
        for participant in purposes.values():
            assert "state" not in participant
            assert isinstance(participant["calls"], list) and participant["calls"]
            assert all("state" in call for call in participant["calls"])
        assert purposes["acd"]["queueId"] == queue

        # Flattened call topic: state on the participant, queue/user as references (5.7).
        flat = {p["purpose"]: p for p in bodies[calls]["participants"]}
        assert {"customer", "acd"} <= set(flat)
        for participant in flat.values():
            assert "calls" not in participant
            assert participant["state"] in ("connected", "alerting")
        assert flat["acd"]["queue"]["id"] == queue
        assert isinstance(flat["acd"]["queue"]["name"], str)

        # Route it: the idle agent is offered the call.
        resp = await http.post("/sandbox/simulation/step", params={"seconds": 0.01})
        assert resp.status_code == 200

        def agent_on_it(frame: Json) -> bool:
            body = frame["eventBody"]
            return (
                frame["topicName"] == calls
                and body.get("id") == conv
                and any(p["purpose"] == "agent" for p in body["participants"])
            )

        body = (await wait_for(ws, agent_on_it))["eventBody"]
    agent_part = next(p for p in body["participants"] if p["purpose"] == "agent")
    assert agent_part["user"]["id"] == agent
    assert isinstance(agent_part["user"]["name"], str)
    assert agent_part["queue"]["id"] == queue
    assert agent_part["state"] == "alerting"
    assert (await truth(http))["users"][agent]["routingStatus"] == "INTERACTING"


# ----------------------------------------------------------------------------- 5.8
async def test_queue_membership_events_carry_user_queue_and_joined(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue = (await queue_ids(http, auth_headers))[0]
    members = set(await member_ids(http, auth_headers, queue))
    outsider = next(u for u in await user_ids(http) if u not in members)
    topic = f"v2.routing.queues.{queue}.users"
    channel = await subscribed_channel(http, auth_headers, [topic])
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        for body, joined in (
            ({"userId": outsider, "joined": True}, True),
            ({"userId": outsider, "joined": False}, False),
            ({"userId": outsider, "remove": True}, False),
        ):
            resp = await http.post(f"/sandbox/queues/{queue}/members", json=body)
            assert resp.status_code == 200, resp.text
            event = (await wait_topic(ws, topic))["eventBody"]
            assert event["id"] == outsider
            assert strip_extras(event["user"]) == {"id": outsider}
            assert event["queueId"] == queue
            assert event["joined"] is joined
            assert "presence" not in event and "routingStatus" not in event


# ----------------------------------------------------------------------------- 5.9 / 5.10
# The voice-only, no-variations contract; the multichannel split is in test_multichannel.py.
@pytest.mark.sandbox_config(multichannel=False, variations=False)
async def test_queue_analytics_topics_publish_waiting_counts_on_change(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue = (await queue_ids(http, auth_headers))[1]
    observations = f"v2.analytics.queues.{queue}.observations"
    activity = f"v2.analytics.queues.{queue}.activity"
    channel = await subscribed_channel(http, auth_headers, [observations, activity])
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await arrive(http, queue)
        bodies: dict[str, Json] = {}
        async with asyncio.timeout(2.0):
            while len(bodies) < 2:
                frame = await recv_json(ws)
                bodies[frame["topicName"]] = frame["eventBody"]
    assert set(bodies) == {observations, activity}

    obs = bodies[observations]
    assert obs["group"]["queueId"] == queue
    assert obs["data"]
    for block in obs["data"]:
        found = INTERVAL.match(block["interval"])
        assert found and ISO_MS_Z.match(found[1]) and ISO_MS_Z.match(found[2])
        assert found[1] < found[2]
        for metric in block["metrics"]:
            assert isinstance(metric["metric"], str)
            assert all(isinstance(v, int | float) for v in metric["stats"].values())
    waiting = [
        m["stats"]["count"]
        for block in obs["data"]
        for m in block["metrics"]
        if m["metric"] == "oWaiting"
    ]
    assert waiting == [1]

    act = bodies[activity]
    assert act["results"]
    allowed = {
        "oAlerting",
        "oInteracting",
        "oWaiting",
        "oFlow",
        "oLongestWaiting",
        "oLongestInteracting",
    }
    for result in act["results"]:
        assert isinstance(result["mediaType"], str)
        for item in result["data"]:
            assert item["metric"] in allowed
            assert isinstance(item["count"], int)
    act_waiting = [
        d["count"] for r in act["results"] for d in r["data"] if d["metric"] == "oWaiting"
    ]
    assert act_waiting == [1]


@pytest.mark.sandbox_config(observation_min_interval_s=0.25, multichannel=False, variations=False)
async def test_queue_analytics_publish_at_most_once_per_interval_and_only_on_change(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    interval = 0.25
    queue = (await queue_ids(http, auth_headers))[2]
    observations = f"v2.analytics.queues.{queue}.observations"
    activity = f"v2.analytics.queues.{queue}.activity"
    channel = await subscribed_channel(http, auth_headers, [observations, activity])
    loop = asyncio.get_running_loop()
    calls = 16
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        start = loop.time()
        for _ in range(calls):
            await arrive(http, queue)
            await asyncio.sleep(0.04)
        frames = await collect(ws, 2 * interval + 0.1)  # the last change is flushed too
        window = loop.time() - start
        per_topic: dict[str, list[Json]] = {observations: [], activity: []}
        for _, frame in frames:
            per_topic[frame["topicName"]].append(frame["eventBody"])
        for topic, bodies in per_topic.items():
            assert 2 <= len(bodies) <= window / interval + 1, (topic, len(bodies), window)
        final = [
            d["count"]
            for d in per_topic[activity][-1]["results"][0]["data"]
            if d["metric"] == "oWaiting"
        ]
        assert final == [calls]
        # Nothing changes any more: nothing is published.
        await assert_silent(ws, 2.5 * interval)


async def test_analytics_topics_stay_silent_when_their_body_does_not_change(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue = (await queue_ids(http, auth_headers))[0]
    member = (await member_ids(http, auth_headers, queue, joined=True))[0]
    observations = f"v2.analytics.queues.{queue}.observations"
    activity = f"v2.analytics.queues.{queue}.activity"
    channel = await subscribed_channel(http, auth_headers, [observations, activity])
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        # A member's presence changes the user observations but not the conversation counts.
        current = (await truth(http))["users"][member]["presence"]
        await set_presence(http, member, "MEETING" if current != "MEETING" else "BUSY")
        frames = await collect(ws, 0.4)
    topics = [frame["topicName"] for _, frame in frames]
    assert observations in topics
    assert activity not in topics


# ----------------------------------------------------------------------------- simulation
@pytest.mark.sandbox_config(simulate=True, speed=200, tick_s=0.05, users=60, queues=6)
async def test_simulated_stream_ends_equal_to_the_truth(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    assert (await http.post("/sandbox/simulation/pause")).status_code == 200
    users = await user_ids(http)
    queues = await queue_ids(http, auth_headers)
    topics = [f"v2.users.{u}?{USER_SUFFIXES}" for u in users]
    for q in queues:
        topics += [
            f"v2.routing.queues.{q}.conversations",
            f"v2.routing.queues.{q}.conversations.calls",
            f"v2.routing.queues.{q}.users",
            f"v2.analytics.queues.{q}.observations",
            f"v2.analytics.queues.{q}.activity",
        ]
    channel = await subscribed_channel(http, auth_headers, topics)
    last_presence: dict[str, Json] = {}
    last_routing: dict[str, str] = {}
    kinds: set[str] = set()
    statuses: set[str] = set()

    def apply(frame: Json) -> None:
        name = frame["topicName"]
        body = frame["eventBody"]
        kind = name.rsplit(".", 1)[-1] if name.startswith("v2.users.") else name.split(".", 4)[-1]
        kinds.add(kind)
        if name.startswith("v2.users.") and name.endswith(".presence"):
            last_presence[name.split(".")[2]] = body["presenceDefinition"]
        elif name.startswith("v2.users.") and name.endswith(".routingStatus"):
            status = body["routingStatus"]["status"]
            assert status in ROUTING_STATUSES
            statuses.add(status)
            last_routing[body["id"]] = status
        elif (
            name.startswith("v2.users.") and name.endswith(".activity") and "routingStatus" in body
        ):
            assert body["routingStatus"]["status"] in ROUTING_STATUSES

    async with connect(channel["connectUri"], ping_interval=None) as ws:
        assert (await http.post("/sandbox/simulation/resume")).status_code == 200
        async with asyncio.timeout(6.0):
            while not ({"IDLE", "INTERACTING"} <= statuses and len(kinds) >= 6):
                apply(await recv_json(ws))
        frames = await collect(ws, 0.5)
        for _, frame in frames:
            apply(frame)
        assert (await http.post("/sandbox/simulation/pause")).status_code == 200
        for frame in await drain(ws, quiet_s=0.3):
            apply(frame)
        final = await truth(http)

    assert {"presence", "routingStatus", "activity", "conversations", "conversations.calls"} <= (
        kinds
    ), kinds
    assert {"IDLE", "INTERACTING"} <= statuses
    assert last_presence and last_routing
    for user, definition in last_presence.items():
        assert definition["id"] == final["users"][user]["presenceDefinitionId"], user
        assert normalise(definition["systemPresence"]) == normalise(
            final["users"][user]["presence"]
        ), user
    for user, status in last_routing.items():
        assert status == final["users"][user]["routingStatus"], user
