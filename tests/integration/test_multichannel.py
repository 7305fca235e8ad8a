"""The sandbox is a multichannel org, split by media type wherever the real service splits.

genesys-api.md 5.9/6.8: the observation topic's and query's ``group`` is ``{queueId, mediaType}``
and each group's counts are that group's only; 5.10: activity ``results[]`` per media; 5.6/5.7:
the generic conversation topic nests the session per media, the media-specific topics carry only
their media; 4.8: at most one analytics notification per second per group, only on change. The
ground truth (``/sandbox/truth``) has the per-media split the client's store must converge to.
Real loopback sockets; httpx and websockets only.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.integration.stream import (
    Json,
    arrive,
    assert_silent,
    collect,
    set_presence,
    subscribed_channel,
    truth,
    wait_for,
)

MEDIA_TOPICS = {
    "voice": "calls",
    "callback": "callbacks",
    "chat": "chats",
    "message": "messages",
    "email": "emails",
}
SESSION_KEYS = {"calls", "callbacks", "chats", "messages", "emails"}
USER_METRICS = {
    "oOnQueueUsers",
    "oOffQueueUsers",
    "oActiveUsers",
    "oMemberUsers",
    "oUserRoutingStatuses",
    "oUserPresences",
}


def mixed_queue(sandbox: Sandbox) -> str:
    """A queue with more than one media type."""
    return next(q.id for q in sandbox.org.queues.values() if len(q.media) > 1)


def counts(metrics: list[Json]) -> dict[str, int]:
    """Conversation counts of one observation event's metrics."""
    found = {"oWaiting": 0, "oInteracting": 0, "oAlerting": 0}
    for metric in metrics:
        if metric["metric"] in found:
            found[metric["metric"]] = int(metric["stats"]["count"])
    return found


def event_metrics(body: Json) -> list[Json]:
    """Every metric of a ``StatEventQueueTopicStatsNotification`` body."""
    return [m for block in body["data"] for m in block["metrics"]]


async def wait_until(condition: Any, within: float = 3.0) -> None:
    """Poll an async condition until it holds; fail after a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():
        assert loop.time() < deadline, f"not true within {within} s"
        await asyncio.sleep(0.02)


# ----------------------------------------------------------------------------- the org itself
@pytest.mark.parametrize("queues", [4, 20])
@pytest.mark.parametrize("seed", [1, 7, 11])
def test_at_least_half_of_the_queues_are_mixed_and_some_voice_only(seed: int, queues: int) -> None:
    sandbox = Sandbox(_config(seed=seed, queues=queues))
    mixes = [q.media for q in sandbox.org.queues.values()]
    mixed = [m for m in mixes if len(m) > 1]
    assert len(mixed) * 2 >= len(mixes)
    assert any(m == {"voice": 1.0} for m in mixes)
    assert all(abs(sum(m.values()) - 1.0) < 1e-9 for m in mixes)
    assert all(set(m) <= set(MEDIA_TOPICS) and "voice" in m for m in mixes)


def test_voice_only_org_has_voice_only_queues() -> None:
    sandbox = Sandbox(_config(seed=1, queues=6, multichannel=False))
    assert all(q.media == {"voice": 1.0} for q in sandbox.org.queues.values())


def _config(**kwargs: Any) -> SandboxConfig:
    return SandboxConfig(users=30, simulate=False, **kwargs)


async def test_truth_splits_queues_by_media_and_totals_are_the_sums(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    queue = mixed_queue(sandbox)
    idle = next(q for q in sandbox.org.queues if q != queue)
    for media in ("voice", "voice", "chat", "email"):
        await arrive(http, queue, media)
    queues = (await truth(http))["queues"]
    assert queues[queue]["media"] == {
        "voice": {"waiting": 2, "interacting": 0},
        "chat": {"waiting": 1, "interacting": 0},
        "email": {"waiting": 1, "interacting": 0},
    }
    assert (queues[queue]["waiting"], queues[queue]["interacting"]) == (4, 0)
    quiet = {"offered": 0, "answered": 0, "abandoned": 0, "serviceLevel": None}
    quiet |= {"asa": None, "aht": None}
    assert queues[idle] == {"waiting": 0, "interacting": 0, "media": {}, "today": quiet}


@pytest.mark.sandbox_config(simulate=True, speed=300, tick_s=0.05)
async def test_simulated_traffic_is_multichannel_and_agents_hold_several_digital_ones(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    seen: set[str] = set()

    async def busy() -> bool:
        queues = (await truth(http))["queues"]
        seen.update(m for q in queues.values() for m in q["media"])
        for q in queues.values():
            assert q["waiting"] == sum(m["waiting"] for m in q["media"].values())
            assert q["interacting"] == sum(m["interacting"] for m in q["media"].values())
            assert all(m["waiting"] or m["interacting"] for m in q["media"].values())
        return len(seen) >= 4

    await wait_until(busy, within=20.0)
    for user in sandbox.org.users.values():
        held = [sandbox.org.conversations[c] for c in user.interactions]
        if any(c.media in ("voice", "callback") for c in held):
            assert len(held) == 1  # a call or callback is exclusive
        assert sum(1 for c in held if c.media in ("chat", "message")) <= 3
        assert sum(1 for c in held if c.media == "email") <= 2
        if held:
            assert user.routing_status == "INTERACTING"


# ----------------------------------------------------------------------------- observations
@pytest.mark.sandbox_config(observation_min_interval_s=0.3)
async def test_mixed_queue_observations_one_per_group_throttled_coalesced_and_summing_to_truth(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    interval = 0.3
    queue = mixed_queue(sandbox)
    topic = f"v2.analytics.queues.{queue}.observations"
    channel = await subscribed_channel(http, auth_headers, [topic])
    burst = ["voice", "chat", "voice", "email", "chat", "voice", "voice", "chat"]
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        for media in burst:
            await arrive(http, queue, media)
        frames = [f for f in await collect(ws, 3 * interval) if f[1]["topicName"] == topic]
        await assert_silent(ws, 2 * interval)  # nothing changes any more: nothing is published
    assert frames
    by_group: dict[str | None, list[tuple[float, Json]]] = {}
    for at, frame in frames:
        group = frame["eventBody"]["group"]
        assert group["queueId"] == queue
        assert set(group) <= {"queueId", "mediaType"}
        by_group.setdefault(group.get("mediaType"), []).append((at, frame["eventBody"]))
    assert {"voice", "chat", "email"} <= set(by_group)
    for kind, events in by_group.items():
        times = [at for at, _ in events]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(gap >= interval * 0.8 for gap in gaps), (kind, gaps)  # ≤ 1 per interval
    assert len(by_group["voice"]) < burst.count("voice")  # the burst coalesced
    media = (await truth(http))["queues"][queue]["media"]
    total = 0
    for kind, events in by_group.items():
        if kind is None:  # the queue-wide user metrics group carries no conversation metrics
            assert {m["metric"] for m in event_metrics(events[-1][1])} <= USER_METRICS
            continue
        last = counts(event_metrics(events[-1][1]))  # coalesced to the group's last value
        expected = media.get(kind, {"waiting": 0, "interacting": 0})
        assert last["oWaiting"] == expected["waiting"] == burst.count(kind), kind
        assert last["oInteracting"] == expected["interacting"]
        total += last["oWaiting"]
    assert total == len(burst) == (await truth(http))["queues"][queue]["waiting"]


@pytest.mark.sandbox_config(speed=1000.0, user_metrics_grouping="separate")
async def test_a_group_that_drops_to_zero_publishes_the_zeros_once(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue = mixed_queue(sandbox)
    topic = f"v2.analytics.queues.{queue}.observations"
    channel = await subscribed_channel(http, auth_headers, [topic])

    def chat_group(frame: Json) -> bool:
        return frame.get("topicName") == topic and frame["eventBody"]["group"].get("mediaType") == (
            "chat"
        )

    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await arrive(http, queue, "chat")
        first = await wait_for(ws, chat_group)
        assert counts(event_metrics(first["eventBody"]))["oWaiting"] == 1
        chats: list[Json] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15.0
        while any(c.queue_id == queue for c in sandbox.org.conversations.values()):
            assert loop.time() < deadline, "the chat never ended"
            await http.post("/sandbox/simulation/step", params={"seconds": 0.001})
            chats += [f["eventBody"] for _, f in await collect(ws, 0.02) if chat_group(f)]
        chats += [f["eventBody"] for _, f in await collect(ws, 0.3) if chat_group(f)]
        await assert_silent(ws, 0.3)
    zeros = [b for b in chats if not any(counts(event_metrics(b)).values())]
    assert zeros and chats[-1] is zeros[-1]
    # The zeros go out once; they go out again only when something else of the group changed:
    # the interval's aggregates (issue 16: tHandle counts when the wrap-up ends).
    values = [
        json.dumps({m["metric"]: m["stats"] for m in event_metrics(b)}, sort_keys=True)
        for b in zeros
    ]
    assert len(set(values)) == len(values)
    assert len(zeros) <= 2


@pytest.mark.sandbox_config(variations=False)
async def test_user_metrics_are_queue_wide_in_their_own_group_without_variations(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue = mixed_queue(sandbox)
    member = next(m.user_id for m in sandbox.org.queues[queue].members.values() if m.joined)
    topic = f"v2.analytics.queues.{queue}.observations"
    channel = await subscribed_channel(http, auth_headers, [topic])
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        current = (await truth(http))["users"][member]["presence"]
        await set_presence(http, member, "MEETING" if current != "MEETING" else "BUSY")
        await arrive(http, queue, "chat")
        frames = [f["eventBody"] for _, f in await collect(ws, 0.4) if f["topicName"] == topic]
    groups = {tuple(sorted(b["group"])): b for b in frames}
    assert set(groups) == {("queueId",), ("mediaType", "queueId")}
    assert {m["metric"] for m in event_metrics(groups[("queueId",)])} <= USER_METRICS
    chat = groups[("mediaType", "queueId")]
    assert chat["group"]["mediaType"] == "chat"
    assert not {m["metric"] for m in event_metrics(chat)} & USER_METRICS


async def test_activity_has_one_block_per_media_with_longest_waiting_where_something_waits(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue = mixed_queue(sandbox)
    topic = f"v2.analytics.queues.{queue}.activity"
    channel = await subscribed_channel(http, auth_headers, [topic])
    blocks: dict[str, Json] = {}
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await arrive(http, queue, "voice")
        await arrive(http, queue, "email")
        async with asyncio.timeout(3.0):
            while not {"voice", "email"} <= {m for m, b in blocks.items() if _waiting(b)}:
                frame = await wait_for(ws, lambda f: f.get("topicName") == topic)
                for result in frame["eventBody"]["results"]:
                    blocks[result["mediaType"]] = result  # a partial event updates its blocks
    for media, block in blocks.items():
        longest = [d for d in block["data"] if d["metric"] == "oLongestWaiting"]
        if media in ("voice", "email"):
            assert _waiting(block) == 1
            assert longest and isinstance(longest[0]["calculatedMetricValue"], int)
        else:
            assert _waiting(block) == 0 and not longest


def _waiting(block: Json) -> int:
    return sum(int(d["count"]) for d in block["data"] if d["metric"] == "oWaiting")


async def test_observation_query_media_groups_sum_to_the_truth(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queues = list(sandbox.org.queues)
    for index, queue in enumerate(queues):
        for media in list(MEDIA_TOPICS)[: index + 2]:
            await arrive(http, queue, media)
    for _ in range(4):  # zero-count media groups may be present or left out: both must add up
        resp = await http.post(
            "/api/v2/analytics/queues/observations/query",
            headers=auth_headers,
            json={
                "filter": {
                    "type": "or",
                    "predicates": [{"dimension": "queueId", "value": q} for q in queues],
                },
                "metrics": ["oWaiting", "oInteracting", "oAlerting", "oActiveUsers"],
            },
        )
        assert resp.status_code == 200, resp.text
        expected = (await truth(http))["queues"]
        sums: dict[str, int] = dict.fromkeys(queues, 0)
        for result in resp.json()["results"]:
            group = result["group"]
            metrics = {d["metric"] for d in result["data"]}
            if "mediaType" not in group:
                assert metrics <= USER_METRICS
                continue
            assert not metrics & USER_METRICS
            waiting = counts(result["data"])["oWaiting"]
            media = expected[group["queueId"]]["media"].get(group["mediaType"])
            assert waiting == (media["waiting"] if media else 0), group
            sums[group["queueId"]] += waiting
        assert sums == {q: expected[q]["waiting"] for q in queues}


# ----------------------------------------------------------------------------- conversations
async def test_media_specific_topics_carry_only_their_media_and_generic_carries_all(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue = mixed_queue(sandbox)
    base = f"v2.routing.queues.{queue}.conversations"
    topics = [base, *(f"{base}.{suffix}" for suffix in MEDIA_TOPICS.values())]
    channel = await subscribed_channel(http, auth_headers, topics)
    media_of: dict[str, str] = {}
    got: dict[str, list[Json]] = {t: [] for t in topics}
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        for media in MEDIA_TOPICS:
            media_of[await arrive(http, queue, media)] = media
        async with asyncio.timeout(3.0):
            while not all(got.values()) or len(got[base]) < len(MEDIA_TOPICS):
                frame = await wait_for(ws, lambda f: f.get("topicName") in got)
                got[frame["topicName"]].append(frame["eventBody"])
    for media, suffix in MEDIA_TOPICS.items():
        for body in got[f"{base}.{suffix}"]:
            assert media_of[body["id"]] == media
            for participant in body["participants"]:
                assert "state" in participant  # flattened
                assert not SESSION_KEYS & set(participant)
    for body in got[base]:
        key = MEDIA_TOPICS[media_of[body["id"]]]
        for participant in body["participants"]:
            assert "state" not in participant  # nested on the media session
            assert SESSION_KEYS & set(participant) == {key}
            assert all("state" in session for session in participant[key])
