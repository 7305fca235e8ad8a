"""A hostile server's socket frames, on a real channel: the engine stays responsive and plain.

The sandbox org (a real notification socket on loopback) pushes frames no Genesys server sends:
nesting 10,000 levels deep, numbers past a double (1e400, 10**5000 written out), NaN and
Infinity, a 5 MB body, and markup, bidi overrides and control characters in every text field of
the presence, routing, queue conversation, queue membership and queue counter events of the
users and queues the engine watches. Meanwhile a timer on the engine's loop keeps ticking (a
frozen loop would stop it); what cannot be read is counted (``malformed``, ``unparsed``) or,
for the 5 MB frame, ends that socket and the engine reconnects and re-reads; what reaches the
store and the feed is one plain line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.engine.records import ChangeRecord, EngineState, Record, StateRecord
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.feed.builder import FeedBuilder
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.streaming.reconnect import ChannelSettings
from sandbox.server import Sandbox

HOSTILE = "Eve\u202eTNEGA\u202c\nAlerts: all Offline\r\n\x1b[2J\u2066<b>x</b>\u2069\x00\x7f"
HIDDEN = ("\n", "\r", "\x1b", "\x00", "\x7f", "\u202e", "\u202c", "\u2066", "\u2069")
SETTINGS = ChannelSettings(
    first_backoff_s=0.05,
    max_backoff_s=0.5,
    assumed_heartbeat_s=0.3,
    healthy_retry_s=0.05,
    overlap_s=1.0,
    confirm_counters_after_s=0.0,
)
TICK_S = 0.02
MAX_STALL_S = 1.0  # a loaded CI machine stalls for tens of ms; a frozen loop for ever
pytestmark = pytest.mark.sandbox_config(users=12, queues=3, seed=5, heartbeat_s=0.2)


def _frame(topic: str, body: Any, correlation: str = "") -> str:
    return json.dumps(
        {
            "topicName": topic,
            "version": "2",
            "eventBody": body,
            "metadata": {"CorrelationId": correlation or HOSTILE},
        }
    )


def _text_frames(user_id: str, queue_id: str, definition_id: str) -> list[str]:
    """Hostile text in every text field of each event kind the engine reads."""
    now = "2030-01-01T00:00:00.000Z"
    system = "v2.system." + HOSTILE
    return [
        _frame(
            f"v2.users.{user_id}.presence",
            {
                "source": HOSTILE,
                "presenceDefinition": {"id": definition_id, "systemPresence": "Away" + HOSTILE},
                "message": HOSTILE,
                "modifiedDate": now,
            },
        ),
        _frame(
            f"v2.users.{user_id}.routingStatus",
            {"id": user_id, "routingStatus": {"status": "IDLE" + HOSTILE, "startTime": now}},
        ),
        _frame(
            f"v2.users.{user_id}.routingStatus",
            {"id": HOSTILE, "routingStatus": {"status": HOSTILE, "startTime": HOSTILE}},
        ),
        _frame(
            f"v2.routing.queues.{queue_id}.conversations",
            {
                "id": "conv-" + HOSTILE,
                "participants": [
                    {"purpose": "acd", "state": "connected", "connectedTime": HOSTILE},
                    {"purpose": HOSTILE, "state": HOSTILE, "userId": HOSTILE, "name": HOSTILE},
                ],
            },
        ),
        _frame(
            f"v2.routing.queues.{queue_id}.users",
            {"id": user_id, "user": {"id": user_id, "name": HOSTILE}, "joined": True},
        ),
        _frame(
            f"v2.analytics.queues.{queue_id}.observations",
            {
                "group": {"queueId": queue_id, "mediaType": HOSTILE},
                "data": [
                    {
                        "metrics": [
                            {"metric": "oWaiting", "stats": {"count": 2**63 - 1}},
                            {"metric": HOSTILE, "stats": {"count": 1e308}},
                            {"metric": "oInteracting", "stats": {"count": -(2**63)}},
                        ]
                    }
                ],
            },
        ),
        _frame(system, {"reason": HOSTILE, "channelId": HOSTILE}),
        _frame("channel.metadata", {"message": HOSTILE}),
        system,  # a bare topic string is no JSON object: counted as malformed
    ]


def _number_frames(user_id: str, queue_id: str) -> list[str]:
    """Numbers no double holds, and JSON's missing NaN/Infinity, where events carry numbers."""
    topic = f"v2.analytics.queues.{queue_id}.observations"
    frames = []
    for number in ("1e400", "-1e400", "1" + "0" * 5000, "NaN", "Infinity", "-Infinity"):
        frames.append(
            '{"topicName": "'
            + topic
            + '", "version": "2", "eventBody": {"group": {"queueId": "'
            + queue_id
            + '"}, "data": [{"metrics": [{"metric": "oWaiting", "stats": {"count": '
            + number
            + "}}]}]}}"
        )
        frames.append(
            '{"topicName": "v2.users.' + user_id + '.presence", "version": "2", "eventBody": '
            '{"presenceDefinition": {"id": "x", "systemPresence": "Away"}, "message": '
            + number
            + "}}"
        )
    return frames


def _deep_frames(user_id: str) -> list[str]:
    """10,000 levels: in the body, in a text field, and as the whole frame."""
    deep_object = '{"a":' * 10_000 + "1" + "}" * 10_000
    deep_list = "[" * 10_000 + "]" * 10_000
    return [
        '{"topicName": "v2.users.' + user_id + '.presence", "eventBody": ' + deep_object + "}",
        '{"topicName": "v2.users.'
        + user_id
        + '.presence", "eventBody": {"message": '
        + deep_list
        + "}}",
        deep_list,
    ]


def _huge_frame(user_id: str) -> str:
    """A 5 MB presence message: past the socket's frame cap."""
    return _frame(
        f"v2.users.{user_id}.presence",
        {
            "presenceDefinition": {"id": "x", "systemPresence": "Away"},
            "message": "<b>" + "x" * (5 * 1024 * 1024) + "</b>",
        },
    )


def assert_plain(text: str | None) -> None:
    assert text is not None
    assert not any(ch in text for ch in HIDDEN), repr(text)
    assert text.isprintable(), repr(text)


class Ticker:
    """A timer on the engine's loop: the longest gap between its ticks is the loop's stall."""

    def __init__(self) -> None:
        self.ticks = 0
        self.longest_gap_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            self.longest_gap_s = max(self.longest_gap_s, now - last)
            self.ticks += 1
            last = now

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None and not self._task.done(), "the ticker died"
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@pytest.fixture
async def service(sandbox: Sandbox) -> AsyncIterator[MonitorService]:
    env = parse_environment(sandbox.base_url)
    auth = Authenticator(
        env, "sandbox-client", MemoryCredentialStore(), client_secret="sandbox-secret"
    )
    api = ApiClient(env, auth.access_token, on_unauthorized=auth.renew_rejected)
    queues = tuple(sorted(sandbox.org.queues)[:2])
    monitor = MonitorService(
        api, auth, Selection(queues=queues, users="members"), settings=SETTINGS
    )
    try:
        await auth.sign_in_client_credentials()
        yield monitor
    finally:
        await monitor.stop()
        await api.aclose()
        await auth.aclose()


async def _until(check: Any) -> None:
    async with asyncio.timeout(10.0):
        while not check():  # noqa: ASYNC110 - counters move on the engine's own schedule
            await asyncio.sleep(0.02)


async def test_hostile_frames_leave_the_engine_responsive_and_its_text_plain(
    sandbox: Sandbox,
    http: httpx.AsyncClient,
    service: MonitorService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="core")
    records: list[Record] = []
    service.add_listener(records.append)
    await service.start()
    await _until(lambda: service.state is EngineState.LIVE)
    user_id = sorted(service.watch.users)[0]
    queue_id = sorted(service.watch.queues)[0]
    definition_id = sorted(service.store.presence_labels)[0]
    shard = service.working_shards[0]
    frames_before = shard.counters["frames"]
    connects_before = shard.counters["connects"]
    counters = dict(service.counters)

    ticker = Ticker()
    ticker.start()
    junk = _number_frames(user_id, queue_id) + _deep_frames(user_id)
    texts = _text_frames(user_id, queue_id, definition_id)
    for frame in [*junk, *texts]:
        assert sandbox.hub.send_raw(frame) >= 1
    # Everything above arrives, in order, on the live socket.
    await _until(lambda: shard.counters["frames"] >= frames_before + len(junk) + len(texts))
    assert service.state is EngineState.LIVE
    malformed = service.counters["malformed"] - counters["malformed"]
    # Each number and nesting frame is refused whole (orjson: no NaN, no infinity, 1024 levels).
    assert malformed >= len(junk)
    assert service.counters["events"] > counters["events"]  # the text frames were applied
    assert "malformed frame" in caplog.text

    # The 5 MB frame: past the socket's cap, so that socket ends; a new one, and a re-read.
    assert sandbox.hub.send_raw(_huge_frame(user_id)) >= 1
    await _until(lambda: shard.counters["connects"] > connects_before)
    await _until(lambda: service.state is EngineState.LIVE)

    # Still working: a real change arrives and is applied.
    other = sorted(service.watch.users)[1]
    heard = asyncio.Event()
    service.add_listener(
        lambda r: heard.set() if isinstance(r, ChangeRecord) and r.change.id == other else None
    )
    truth = (await http.get("/sandbox/truth")).json()["users"][other]
    presence = "TRAINING" if truth["presence"] != "TRAINING" else "AWAY"
    resp = await http.post(f"/sandbox/users/{other}/presence", json={"presence": presence})
    assert resp.status_code == 200, resp.text
    async with asyncio.timeout(10):
        await heard.wait()
    await ticker.stop()
    assert ticker.ticks > 0
    assert ticker.longest_gap_s < MAX_STALL_S, f"the loop stalled {ticker.longest_gap_s:.2f} s"

    # Nothing the hostile frames carried reaches the store or the feed other than as plain text.
    store = service.store
    for user in store.users.values():
        for text in (user.name, user.presence_message, user.system_presence, user.routing_status):
            if text is not None:
                assert_plain(text)
        assert_plain(store.presence_label(user.id))
    for queue in store.queues.values():
        assert_plain(queue.name)
    feed = FeedBuilder(store)
    entries = [e for r in records if isinstance(r, ChangeRecord) for e in feed.entries(r)]
    assert entries
    for entry in entries:
        assert_plain(entry.subject)
        assert_plain(entry.summary)
    assert any("<b>x</b>" in (u.presence_message or "") for u in store.users.values()), (
        "markup is kept as literal text (shown plain), not stripped or interpreted"
    )
    assert not any(isinstance(r, StateRecord) and r.state is EngineState.STOPPED for r in records)


async def test_a_deep_frame_during_a_socket_switch_keeps_the_new_socket(
    sandbox: Sandbox, http: httpx.AsyncClient, service: MonitorService
) -> None:
    """1,000 levels (within what the frame decoder follows) while the old and the new socket
    overlap: the repeat check raised RecursionError and the new socket's reader died with it,
    so the engine had to reconnect; a server could cut every switch-over that way."""
    await service.start()
    await _until(lambda: service.state is EngineState.LIVE)
    shard = service.working_shards[0]
    resp = await http.post("/sandbox/faults/socket_closing", params={"grace": "5"})
    assert resp.status_code == 200, resp.text
    await _until(lambda: shard.counters["socket_switches"] >= 1)
    connects, frames = shard.counters["connects"], shard.counters["frames"]
    unparsed = service.counters["unparsed"]
    user_id = sorted(service.watch.users)[0]
    deep = '{"a":' * 1_000 + "1" + "}" * 1_000
    frame = '{"topicName": "v2.users.' + user_id + '.presence", "eventBody": ' + deep + "}"
    assert sandbox.hub.send_raw(frame) == 1
    await _until(lambda: service.counters["unparsed"] > unparsed)
    assert shard.counters["frames"] > frames
    # The socket goes on: a real change comes through it, with no reconnect in between.
    other = sorted(service.watch.users)[1]
    heard = asyncio.Event()
    service.add_listener(
        lambda r: heard.set() if isinstance(r, ChangeRecord) and r.change.id == other else None
    )
    truth = (await http.get("/sandbox/truth")).json()["users"][other]
    presence = "TRAINING" if truth["presence"] != "TRAINING" else "AWAY"
    resp = await http.post(f"/sandbox/users/{other}/presence", json={"presence": presence})
    assert resp.status_code == 200, resp.text
    async with asyncio.timeout(10):
        await heard.wait()
    assert shard.counters["connects"] == connects
    assert service.state is EngineState.LIVE
