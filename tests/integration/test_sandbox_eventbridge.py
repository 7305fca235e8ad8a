"""The sandbox as an EventBridge source: envelopes in a real loopback SQS queue (moto's server).

Every event the org emits that an enabled ``amazon-eventbridge-source`` integration's filter
covers lands in the queue as a full EventBridge envelope (shared/genesys-eventbridge-triggers.md
1), late, sometimes twice, sometimes out of order, and held back as long as an outage lasts. The
queue is read with botocore over real sockets; waits are deadlines on polls, never sleeps.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import EndpointConnectionError
from websockets.asyncio.client import connect

from sandbox.config import SandboxConfig
from sandbox.eventbridge.delivery import DeliveryScheduler, Published
from sandbox.eventbridge.envelope import ENVELOPE_KEYS
from sandbox.eventbridge.integrations import DEFAULT_FILTERS
from sandbox.org import ROUTING_STATUSES
from sandbox.server import Sandbox
from tests.integration.helpers import bearer
from tests.integration.sqs_reader import QueueReader

Json = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]
# Fast and exact: short delays, no duplicates, no reordering (tests that want them say so).
EB: dict[str, Any] = {
    "eventbridge": True,
    "eventbridge_delay_min_s": 0.02,
    "eventbridge_delay_max_s": 0.1,
    "eventbridge_duplicate_rate": 0.0,
    "eventbridge_reorder_rate": 0.0,
}
EVENTBRIDGE: pytest.MarkDecorator = pytest.mark.sandbox_config(**EB)
ISO_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
async def reader(sandbox: Sandbox) -> AsyncIterator[QueueReader]:
    """A botocore reader of the sandbox's queue."""
    assert sandbox.eventbridge is not None, "mark the test with sandbox_config(eventbridge=True)"
    queue = QueueReader(sandbox.eventbridge.queue_url)
    yield queue
    queue.close()


def flip_routing(sandbox: Sandbox, user_id: str) -> None:
    """Change one user's routing status (one routingStatus event, one activity event)."""
    user = sandbox.org.users[user_id]
    statuses = [s for s in ROUTING_STATUSES if s != user.routing_status]
    sandbox.org.set_routing(user, statuses[0])


def by_correlation(envelopes: list[Json]) -> dict[str, Json]:
    """Envelopes by their ``detail.metadata.CorrelationId``."""
    return {e["detail"]["metadata"]["CorrelationId"]: e for e in envelopes}


async def ws_until(ws: Any, suffixes: set[str], timeout_s: float = 10.0) -> list[Json]:
    """Event frames of a socket (heartbeats skipped) until each topic suffix was seen."""
    frames: list[Json] = []
    async with asyncio.timeout(timeout_s):
        while not suffixes <= {f["topicName"].rsplit(".", 1)[1] for f in frames}:
            frame = json.loads(await ws.recv())
            if frame.get("topicName") != "channel.metadata":
                frames.append(frame)
    return frames


@EVENTBRIDGE
async def test_envelope_is_the_websocket_message_plus_timestamp(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str, reader: QueueReader
) -> None:
    agent = next(u.id for u in sandbox.org.users.values() if u.role == "agent")
    headers = bearer(user_token)
    channel = (await http.post("/api/v2/notifications/channels", headers=headers)).json()
    topics = [f"v2.users.{agent}.presence", f"v2.users.{agent}.routingStatus"]
    put = await http.put(
        f"/api/v2/notifications/channels/{channel['id']}/subscriptions",
        headers=headers,
        json=[{"id": t} for t in topics],
    )
    assert put.status_code == 200, put.text
    async with connect(channel["connectUri"]) as ws:
        resp = await http.post(f"/sandbox/users/{agent}/presence", json={"presence": "ON_QUEUE"})
        assert resp.status_code == 200, resp.text
        flip_routing(sandbox, agent)
        frames = await ws_until(ws, {"presence", "routingStatus"})
    # A queue's conversations reach EventBridge although no socket subscribed to them.
    queue_id = next(iter(sandbox.org.queues))
    resp = await http.post(f"/sandbox/queues/{queue_id}/conversations", json={})
    assert resp.status_code == 200, resp.text

    wanted = {f["metadata"]["CorrelationId"] for f in frames}
    await reader.until(
        lambda envs: (
            wanted <= set(by_correlation(envs))
            and any(e["detail"]["topicName"].endswith(".conversations") for e in envs)
        )
    )
    envelopes = by_correlation(reader.envelopes)
    source = f"aws.partner/genesys.com/cloud/{sandbox.org.id}/tray-monitor"
    for frame in frames:
        envelope = envelopes[frame["metadata"]["CorrelationId"]]
        assert set(envelope) in (set(ENVELOPE_KEYS), set(ENVELOPE_KEYS) - {"account"})
        assert envelope["version"] == "0"
        assert re.fullmatch(r"[0-9a-f-]{36}", envelope["id"])
        pattern = "v2.users.{id}." + frame["topicName"].rsplit(".", 1)[1]
        assert envelope["detail-type"] == pattern
        assert envelope["source"] == source
        assert envelope.get("account", "123456789012") == "123456789012"
        assert envelope["region"] == "us-east-1"
        assert envelope["resources"] == []
        assert ISO_SECONDS.match(envelope["time"])
        detail = dict(envelope["detail"])
        timestamp = detail.pop("timestamp")
        assert ISO_MILLIS.match(timestamp)
        assert timestamp[:19] == envelope["time"][:19]
        assert detail == frame  # the same message on both transports, CorrelationId included
    conversation = next(
        e for e in reader.envelopes if e["detail"]["topicName"].endswith(".conversations")
    )
    assert conversation["detail-type"] == "v2.routing.queues.{id}.conversations"
    assert conversation["detail"]["topicName"] == f"v2.routing.queues.{queue_id}.conversations"


@EVENTBRIDGE
async def test_class_wide_filters_cover_every_user_and_queue_and_published_lists_them(
    sandbox: Sandbox, http: httpx.AsyncClient, reader: QueueReader
) -> None:
    users = list(sandbox.org.users)
    queues = list(sandbox.org.queues)
    for user_id in users:
        flip_routing(sandbox, user_id)
    for queue_id in queues:
        resp = await http.post(f"/sandbox/queues/{queue_id}/conversations", json={})
        assert resp.status_code == 200, resp.text
    expected = {f"v2.users.{u}.routingStatus" for u in users}
    expected |= {f"v2.routing.queues.{q}.conversations" for q in queues}
    await reader.until(lambda envs: expected <= {e["detail"]["topicName"] for e in envs})
    # Nothing outside the filters (activity, per-media conversation topics) was delivered.
    envelopes = reader.envelopes
    assert {e["detail-type"] for e in envelopes} <= set(DEFAULT_FILTERS)
    assert len(envelopes) == len({e["id"] for e in envelopes})

    published = (await http.get("/sandbox/eventbridge/published")).json()
    listed = {p["id"]: p for p in published["entities"]}
    assert set(listed) == {e["id"] for e in envelopes}
    for envelope in envelopes:
        entry = listed[envelope["id"]]
        assert set(entry) == {"id", "correlation_id", "topic", "time"}
        assert entry["correlation_id"] == envelope["detail"]["metadata"]["CorrelationId"]
        assert entry["topic"] == envelope["detail"]["topicName"]
        assert ISO_MILLIS.match(entry["time"])
        assert entry["time"] == envelope["detail"]["timestamp"]  # when it happened
    assert published["pending"] == 0
    # Variations (on by default): any key order, "account" sometimes absent (as moto sends it).
    assert len({tuple(e) for e in envelopes}) > 1
    assert len({tuple(e["detail"]).index("timestamp") for e in envelopes}) > 1
    assert any("account" not in e for e in envelopes)
    assert any("account" in e for e in envelopes)


RATES = {
    **EB,
    "users": 150,
    "variations": False,
    "eventbridge_delay_min_s": 0.01,
    "eventbridge_delay_max_s": 0.05,
    "eventbridge_duplicate_rate": 0.2,
    "eventbridge_reorder_rate": 0.2,
}
AT_RATES: pytest.MarkDecorator = pytest.mark.sandbox_config(**RATES)


@AT_RATES
async def test_duplicates_and_reordering_follow_the_seeded_rates(
    sandbox: Sandbox, reader: QueueReader
) -> None:
    assert sandbox.eventbridge is not None
    users = list(sandbox.org.users)
    for user_id in users:  # one burst: a held-back event is overtaken by the ones after it
        flip_routing(sandbox, user_id)
    counters = dict(sandbox.eventbridge.scheduler.counters)
    assert counters["submitted"] == len(users)
    await reader.until_count(len(users) + counters["duplicated"])

    envelopes = reader.envelopes
    seen: dict[str, int] = {}
    for envelope in envelopes:
        seen[envelope["id"]] = seen.get(envelope["id"], 0) + 1
    assert len(seen) == len(users)
    assert sum(1 for n in seen.values() if n == 2) == counters["duplicated"]
    assert max(seen.values()) <= 2
    assert abs(counters["duplicated"] - 0.2 * len(users)) <= 15
    bodies: dict[str, set[str]] = {}
    for body in reader.bodies:
        bodies.setdefault(json.loads(body)["id"], set()).add(body)
    assert all(len(b) == 1 for b in bodies.values())  # a duplicate is the same message

    # Out of order: an event is overtaken when a later one arrived first.
    emitted = {f"v2.users.{u}.routingStatus": i for i, u in enumerate(users)}
    first: list[int] = []
    for envelope in envelopes:
        index = emitted[envelope["detail"]["topicName"]]
        if index not in first:
            first.append(index)
    overtaken = {i for pos, i in enumerate(first) if any(j > i for j in first[:pos])}
    assert 1 <= len(overtaken) <= counters["reordered"]
    assert abs(counters["reordered"] - 0.2 * len(users)) <= 15

    # Seeded: the same seed makes the same choices for the same events.
    replay = DeliveryScheduler(SandboxConfig(**RATES, seed=sandbox.config.seed), lambda _: [])
    for i, topic in enumerate(emitted):
        replay.submit("{}", Published(str(i), "c", topic, 0.0))
    assert replay.counters["duplicated"] == counters["duplicated"]
    assert replay.counters["reordered"] == counters["reordered"]


@EVENTBRIDGE
async def test_a_hold_delivers_nothing_then_everything(
    sandbox: Sandbox, http: httpx.AsyncClient, reader: QueueReader
) -> None:
    hold_s = 1.5
    resp = await http.post("/sandbox/eventbridge/hold", params={"seconds": hold_s})
    assert resp.status_code == 200, resp.text
    held_at = time.monotonic()
    assert resp.json()["holding_s"] > 1.0
    users = list(sandbox.org.users)[:5]
    for user_id in users:
        flip_routing(sandbox, user_id)
    published = (await http.get("/sandbox/eventbridge/published")).json()
    assert published == {"entities": [], "pending": 5}
    while True:  # the hold guarantees an empty queue until it ends
        got = await asyncio.to_thread(reader.receive_once, 0)
        if time.monotonic() >= held_at + hold_s:
            break
        assert got == [], "delivered during the hold"
        await asyncio.sleep(0.05)
    await reader.until_count(5, timeout_s=10)
    assert time.monotonic() >= held_at + hold_s - 0.05
    topics = [e["detail"]["topicName"] for e in reader.envelopes]
    assert topics == [f"v2.users.{u}.routingStatus" for u in users]  # released in order
    published = (await http.get("/sandbox/eventbridge/published")).json()
    assert [p["topic"] for p in published["entities"]] == topics

    # A long hold ends early on release.
    await http.post("/sandbox/eventbridge/hold", params={"seconds": 600})
    flip_routing(sandbox, users[0])
    await http.post("/sandbox/eventbridge/release")
    await reader.until_count(6, timeout_s=10)
    stats = (await http.get("/sandbox/eventbridge/stats")).json()
    assert stats["holding_s"] == 0
    assert stats["holds"] == 2
    bad = await http.post("/sandbox/eventbridge/hold", params={"seconds": "-1"})
    assert bad.status_code == 400


@EVENTBRIDGE
async def test_an_sqs_outage_refuses_consumers_and_delivery_retries_through_it(
    sandbox: Sandbox, http: httpx.AsyncClient, reader: QueueReader
) -> None:
    # Longer than the longest delivery delay (2 s): every first delivery attempt meets the outage.
    resp = await http.post("/sandbox/eventbridge/outage", params={"seconds": 3.0})
    assert resp.status_code == 200, resp.text
    assert resp.json()["sqs_up"] is False
    with pytest.raises(EndpointConnectionError):
        await asyncio.to_thread(reader.receive_once, 0)
    users = list(sandbox.org.users)[:3]
    for user_id in users:
        flip_routing(sandbox, user_id)
    deadline = time.monotonic() + 20
    while len(reader.bodies) < 3:
        assert time.monotonic() < deadline, "events lost in the outage"
        try:
            await asyncio.to_thread(reader.receive_once)
        except EndpointConnectionError:
            await asyncio.sleep(0.1)  # still down: poll again, as a consumer would
    assert [e["detail"]["topicName"] for e in reader.envelopes] == [
        f"v2.users.{u}.routingStatus" for u in users
    ]
    stats = (await http.get("/sandbox/eventbridge/stats")).json()
    assert stats["sqs_up"] is True
    assert stats["send_failures"] >= 1
    assert stats["published"] == 3


@EVENTBRIDGE
async def test_poison_messages_go_straight_into_the_queue(
    sandbox: Sandbox, http: httpx.AsyncClient, reader: QueueReader
) -> None:
    resp = await http.post("/sandbox/eventbridge/poison", params={"count": 2})
    assert resp.json() == {"fault": "poison", "count": 2}
    deadline = time.monotonic() + 10
    while len(reader.bodies) < 2 and time.monotonic() < deadline:
        await asyncio.to_thread(reader.receive_once)
    assert len(reader.bodies) == 2
    for body in reader.bodies:
        with pytest.raises(ValueError):
            json.loads(body)
    stats = (await http.get("/sandbox/eventbridge/stats")).json()
    assert stats["dlq_url"].endswith("-dlq")
    assert (await http.get("/sandbox/eventbridge/published")).json()["entities"] == []


async def test_without_the_flag_there_is_no_eventbridge(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    assert sandbox.eventbridge is None
    assert sandbox.hub.tap is None
    assert (await http.get("/sandbox/eventbridge/published")).status_code == 404


async def test_python_m_sandbox_eventbridge_writes_the_queue_url_second(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--eventbridge",
        "--users=5",
        "--queues=2",
        "--no-simulation",
        f"--ready-file={ready}",
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.returncode is None, "the sandbox exited early"
            assert time.monotonic() < deadline, "no ready file after 60 s"
            await asyncio.sleep(0.1)
        base_url, queue_url = ready.read_text().splitlines()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
        assert re.fullmatch(
            r"http://127\.0\.0\.1:\d+/123456789012/genesys-eventbridge-[0-9a-f]{8}", queue_url
        )
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            stats = (await http.get("/sandbox/eventbridge/stats")).json()
        assert stats["queue_url"] == queue_url
        reader = QueueReader(queue_url)
        try:
            assert await asyncio.to_thread(reader.receive_once, 0) == []
        finally:
            reader.close()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, stderr.decode(errors="replace")[-2000:]


@EVENTBRIDGE
async def test_a_sandbox_restart_keeps_the_queue_and_what_was_on_its_way(
    sandbox: Sandbox, reader: QueueReader
) -> None:
    assert sandbox.eventbridge is not None
    queue_url = sandbox.eventbridge.queue_url
    sandbox.eventbridge.scheduler.hold(600)
    user_id = next(iter(sandbox.org.users))
    flip_routing(sandbox, user_id)
    await sandbox.stop()
    await sandbox.start()
    assert sandbox.eventbridge.queue_url == queue_url
    sandbox.eventbridge.scheduler.release()
    await reader.until_count(1)
    assert reader.envelopes[0]["detail"]["topicName"] == f"v2.users.{user_id}.routingStatus"
