"""Real-client helpers for the Notification Service streaming tests (httpx + websockets only).

They speak the surfaces of genesys-api.md 3-5 (channels, subscriptions, the WebSocket) and the
sandbox control API; nothing here knows the sandbox's internals beyond the published list of
unknown keys it adds when variations are on (``sandbox.variations.EXTRA_KEYS``).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection

from sandbox.variations import EXTRA_KEYS

Json = dict[str, Any]

HEARTBEAT = {"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}}
PONG = {"topicName": "channel.metadata", "eventBody": {"message": "pong"}}
PING = json.dumps({"message": "ping"})
ROUTING_STATUSES = {"OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING"}
ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$")


def normalise(value: str) -> str:
    """The casing normaliser genesys-api.md 6.11 recommends (``On Queue`` → ``ONQUEUE``)."""
    return re.sub(r"[\s_]", "", value).upper()


async def create_channel(http: httpx.AsyncClient, headers: dict[str, str]) -> Json:
    """``POST /api/v2/notifications/channels`` → the ``Channel`` body."""
    resp = await http.post("/api/v2/notifications/channels", headers=headers)
    assert resp.status_code == 200, resp.text
    body: Json = resp.json()
    return body


async def put_topics(
    http: httpx.AsyncClient, headers: dict[str, str], channel_id: str, topics: list[str]
) -> Json:
    """Replace a channel's subscriptions; every topic must come back ``Permitted``."""
    resp = await http.put(
        f"/api/v2/notifications/channels/{channel_id}/subscriptions",
        headers=headers,
        json=[{"id": t} for t in topics],
    )
    assert resp.status_code == 200, resp.text
    body: Json = resp.json()
    assert all(e["state"] == "Permitted" for e in body["entities"]), body
    return body


async def subscribed_channel(
    http: httpx.AsyncClient, headers: dict[str, str], topics: list[str]
) -> Json:
    """A new channel with ``topics`` subscribed."""
    channel = await create_channel(http, headers)
    await put_topics(http, headers, channel["id"], topics)
    return channel


async def recv_text(ws: ClientConnection, within: float = 2.0) -> str:
    """The next frame's text, within ``within`` seconds."""
    async with asyncio.timeout(within):
        raw = await ws.recv()
    assert isinstance(raw, str), "the Notification Service sends text frames"
    return raw


async def recv_json(ws: ClientConnection, within: float = 2.0) -> Json:
    """The next frame, decoded (must be a JSON object)."""
    frame = json.loads(await recv_text(ws, within))
    assert isinstance(frame, dict), frame
    return frame


async def wait_for(
    ws: ClientConnection, predicate: Callable[[Json], bool], within: float = 2.0
) -> Json:
    """Skip frames until one matches ``predicate``; fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            raw = await ws.recv()
            assert isinstance(raw, str)
            frame = json.loads(raw)
            if isinstance(frame, dict) and predicate(frame):
                return frame


def topic_is(name: str) -> Callable[[Json], bool]:
    """Predicate: the frame's ``topicName`` is exactly ``name``."""
    return lambda frame: frame.get("topicName") == name


async def wait_topic(ws: ClientConnection, name: str, within: float = 2.0) -> Json:
    """The next frame of topic ``name``."""
    return await wait_for(ws, topic_is(name), within)


async def collect(ws: ClientConnection, seconds: float) -> list[tuple[float, Json]]:
    """Every JSON-object frame arriving within ``seconds``, with its arrival time."""
    loop = asyncio.get_running_loop()
    frames: list[tuple[float, Json]] = []
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            async with asyncio.timeout(left):
                raw = await ws.recv()
        except TimeoutError:
            break
        assert isinstance(raw, str)
        frame = json.loads(raw)
        if isinstance(frame, dict):
            frames.append((loop.time(), frame))
    return frames


async def drain(ws: ClientConnection, quiet_s: float, limit_s: float = 5.0) -> list[Json]:
    """Read until no frame arrived for ``quiet_s`` seconds (fails after ``limit_s``)."""
    frames: list[Json] = []
    async with asyncio.timeout(limit_s):
        while True:
            try:
                async with asyncio.timeout(quiet_s):
                    raw = await ws.recv()
            except TimeoutError:
                return frames
            assert isinstance(raw, str)
            frame = json.loads(raw)
            if isinstance(frame, dict):
                frames.append(frame)


async def assert_silent(ws: ClientConnection, seconds: float) -> None:
    """No frame at all arrives within ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            raw = await ws.recv()
    except TimeoutError:
        return
    raise AssertionError(f"expected silence, got {raw!r:.200}")


async def ping_pong(ws: ClientConnection, within: float = 2.0) -> None:
    """Send the documented JSON ping and wait for the pong (genesys-api.md 4.4)."""
    await ws.send(PING)
    await wait_for(ws, lambda f: f == PONG, within)


async def truth(http: httpx.AsyncClient) -> Json:
    """``GET /sandbox/truth``."""
    resp = await http.get("/sandbox/truth")
    assert resp.status_code == 200, resp.text
    body: Json = resp.json()
    return body


async def set_presence(
    http: httpx.AsyncClient, user_id: str, presence: str, message: str | None = None
) -> Json:
    """Control API: set a user's presence by system key or definition id."""
    body: Json = {"presence": presence}
    if message is not None:
        body["message"] = message
    resp = await http.post(f"/sandbox/users/{user_id}/presence", json=body)
    assert resp.status_code == 200, resp.text
    result: Json = resp.json()
    return result


async def set_routing(http: httpx.AsyncClient, user_id: str, status: str) -> None:
    """Control API: set a user's routing status."""
    resp = await http.post(f"/sandbox/users/{user_id}/routingstatus", json={"status": status})
    assert resp.status_code == 200, resp.text


async def fault(http: httpx.AsyncClient, kind: str, **params: Any) -> Json:
    """Control API: inject a fault."""
    resp = await http.post(f"/sandbox/faults/{kind}", params=params)
    assert resp.status_code == 200, resp.text
    body: Json = resp.json()
    return body


def strip_extras(value: Any) -> Any:
    """A JSON value without the unknown keys the sandbox adds when variations are on."""
    if isinstance(value, list):
        return [strip_extras(item) for item in value]
    if isinstance(value, dict):
        return {k: strip_extras(v) for k, v in value.items() if k not in EXTRA_KEYS}
    return value


async def arrive(http: httpx.AsyncClient, queue_id: str, media: str | None = None) -> str:
    """Control API: an interaction arrives at a queue; returns its conversation id.

    Without ``media`` the sandbox draws it by the queue's traffic shares.
    """
    body = None if media is None else {"mediaType": media}
    resp = await http.post(f"/sandbox/queues/{queue_id}/conversations", json=body)
    assert resp.status_code == 200, resp.text
    conv_id = resp.json()["conversationId"]
    assert isinstance(conv_id, str)
    return conv_id


async def user_ids(http: httpx.AsyncClient, *, not_presence: str | None = None) -> list[str]:
    """Ids of the org's users (optionally only those whose presence is not ``not_presence``)."""
    users: dict[str, Json] = (await truth(http))["users"]
    return [
        uid for uid, u in users.items() if not_presence is None or u["presence"] != not_presence
    ]


async def queue_ids(http: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    """Ids of the org's queues through ``GET /api/v2/routing/queues``."""
    resp = await http.get("/api/v2/routing/queues", headers=headers, params={"pageSize": 100})
    assert resp.status_code == 200, resp.text
    return [q["id"] for q in resp.json()["entities"]]


async def member_ids(
    http: httpx.AsyncClient, headers: dict[str, str], queue_id: str, *, joined: bool | None = None
) -> list[str]:
    """User ids of a queue's members through ``GET .../members``."""
    params: dict[str, Any] = {"pageSize": 100}
    if joined is not None:
        params["joined"] = str(joined).lower()
    resp = await http.get(
        f"/api/v2/routing/queues/{queue_id}/members", headers=headers, params=params
    )
    assert resp.status_code == 200, resp.text
    return [m["id"] for m in resp.json()["entities"]]
