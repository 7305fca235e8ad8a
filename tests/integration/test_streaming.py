"""The streaming WebSocket of the sandbox against genesys-api.md section 4 (and 8.4, 8.8-8.10).

Connecting without credentials, heartbeats, ping/pong, the event envelope, combined topics,
subscribing over the socket, one socket per channel, and every streaming fault the tray client
must survive: socket_closing, drop, stall, channel expiry, token revocation and expiry, and junk
frames.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.integration.helpers import bearer, pkce_token
from tests.integration.stream import (
    HEARTBEAT,
    PONG,
    Json,
    assert_silent,
    create_channel,
    fault,
    normalise,
    ping_pong,
    recv_json,
    recv_text,
    set_presence,
    subscribed_channel,
    user_ids,
    wait_for,
    wait_topic,
)


async def _closed(within: float, ws: ClientConnection) -> ConnectionClosed:
    """Wait until ``ws`` is closed; returns the exception the client library raised."""
    try:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    except ConnectionClosed as exc:
        return exc
    raise AssertionError("unreachable")


async def _presence_channel(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> tuple[Json, str, str]:
    """A channel subscribed to one user's presence: (channel, user id, presence topic)."""
    user = (await user_ids(http, not_presence="ON_QUEUE"))[0]
    topic = f"v2.users.{user}.presence"
    channel = await subscribed_channel(http, headers, [topic])
    return channel, user, topic


async def _presence_flows(
    http: httpx.AsyncClient, ws: ClientConnection, user: str, topic: str, presence: str
) -> Json:
    """Change the user's presence and return the event the socket receives."""
    await set_presence(http, user, presence)
    return await wait_for(
        ws,
        lambda f: (
            f.get("topicName") == topic
            and normalise(f["eventBody"]["presenceDefinition"]["systemPresence"])
            == normalise(presence)
        ),
    )


# ----------------------------------------------------------------------------- 4.1 connecting
async def test_connects_to_connect_uri_without_any_credentials(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel = await create_channel(http, auth_headers)
    uri = channel["connectUri"]
    parts = urlsplit(uri)
    assert parts.scheme in ("ws", "wss")
    assert parts.path == f"/channels/{channel['id']}"
    assert parts.query == ""  # no token in the URL (4.1, 8.20)
    async with connect(uri, ping_interval=None) as ws:  # and no Authorization header
        await ping_pong(ws)


async def test_unknown_channel_id_refuses_the_upgrade_with_404(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel = await create_channel(http, auth_headers)
    base = channel["connectUri"].rsplit("/", 1)[0]
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"{base}/streaming-1-doesnotexist0000000000000000"):
            pass
    assert info.value.response.status_code == 404


# ----------------------------------------------------------------------------- 4.3 / 4.4
@pytest.mark.sandbox_config(heartbeat_s=0.2)
async def test_heartbeats_arrive_at_the_configured_interval(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel = await create_channel(http, auth_headers)
    loop = asyncio.get_running_loop()
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        start = loop.time()
        arrivals: list[float] = []
        async with asyncio.timeout(1.2):
            while len(arrivals) < 3:
                frame = await recv_json(ws)
                assert frame == HEARTBEAT
                arrivals.append(loop.time())
    gaps = [b - a for a, b in zip([start, *arrivals], arrivals, strict=False)]
    assert all(0.1 <= gap <= 0.6 for gap in gaps), gaps


async def test_json_ping_is_answered_with_pong(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel = await create_channel(http, auth_headers)
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await ws.send(json.dumps({"message": "ping"}))
        assert await recv_json(ws) == PONG
        await ws.send(json.dumps({"message": "ping"}))
        assert await recv_json(ws) == PONG


# ----------------------------------------------------------------------------- 4.2 envelope
async def test_event_envelope_has_topic_string_version_body_and_correlation_id(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel, user, topic = await _presence_channel(http, auth_headers)
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await set_presence(http, user, "ON_QUEUE")
        frame = await wait_topic(ws, topic)
    assert set(frame) == {"topicName", "version", "eventBody", "metadata"}
    assert frame["version"] == "2"
    assert isinstance(frame["eventBody"], dict)
    assert set(frame["metadata"]) == {"CorrelationId"}
    assert isinstance(frame["metadata"]["CorrelationId"], str)
    assert frame["metadata"]["CorrelationId"]


async def test_each_event_carries_its_own_correlation_id(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel, user, topic = await _presence_channel(http, auth_headers)
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        first = await _presence_flows(http, ws, user, topic, "ON_QUEUE")
        second = await _presence_flows(http, ws, user, topic, "BUSY")
    assert first["metadata"]["CorrelationId"] != second["metadata"]["CorrelationId"]


async def test_combined_topic_delivers_events_under_expanded_names(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    user = (await user_ids(http, not_presence="ON_QUEUE"))[0]
    combined = f"v2.users.{user}?presence&routingStatus"
    channel = await subscribed_channel(http, auth_headers, [combined])
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await set_presence(http, user, "ON_QUEUE")
        seen: set[str] = set()
        async with asyncio.timeout(2.0):
            while seen != {f"v2.users.{user}.presence", f"v2.users.{user}.routingStatus"}:
                frame = await recv_json(ws)
                name = frame["topicName"]
                assert name != combined
                assert "?" not in name and "&" not in name
                seen.add(name)


# ----------------------------------------------------------------------------- 4.5 WS subscribe
async def test_subscribe_over_the_socket_confirms_and_then_delivers(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    user = (await user_ids(http, not_presence="ON_QUEUE"))[0]
    topic = f"v2.users.{user}.presence"
    channel = await create_channel(http, auth_headers)
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await ws.send(json.dumps({"message": "subscribe", "topics": [topic], "correlationId": "x"}))
        reply = await recv_json(ws)
        assert reply == {"result": "200", "status": "subscribed", "correlationId": "x"}
        await set_presence(http, user, "ON_QUEUE")
        event = await wait_topic(ws, topic)
    assert normalise(event["eventBody"]["presenceDefinition"]["systemPresence"]) == "ONQUEUE"


async def test_without_subscription_no_event_arrives(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    user = (await user_ids(http, not_presence="ON_QUEUE"))[0]
    channel = await create_channel(http, auth_headers)
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await set_presence(http, user, "ON_QUEUE")
        await assert_silent(ws, 0.3)


# ----------------------------------------------------------------------------- 4.1 / 8.4
async def test_second_socket_on_a_channel_kicks_the_first(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel, user, topic = await _presence_channel(http, auth_headers)
    async with connect(channel["connectUri"], ping_interval=None) as first:
        await ping_pong(first)
        async with connect(channel["connectUri"], ping_interval=None) as second:
            closed = await _closed(2.0, first)
            assert closed.rcvd is not None  # a close frame, not a dropped connection
            await ping_pong(second)
            await _presence_flows(http, second, user, topic, "ON_QUEUE")


# ----------------------------------------------------------------------------- 4.6 socket_closing
async def test_socket_closing_warns_then_closes_and_a_new_socket_keeps_working(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    user = (await user_ids(http, not_presence="ON_QUEUE"))[0]
    topic = f"v2.users.{user}.presence"
    ignored = await subscribed_channel(http, auth_headers, [topic])
    moving = await subscribed_channel(http, auth_headers, [topic])
    loop = asyncio.get_running_loop()
    async with (
        connect(ignored["connectUri"], ping_interval=None) as stay,
        connect(moving["connectUri"], ping_interval=None) as old,
    ):
        await ping_pong(stay)
        await ping_pong(old)
        assert (await fault(http, "socket_closing", grace=0.3))["count"] == 2
        warned_at = loop.time()
        for ws in (stay, old):
            warning = await wait_topic(ws, "v2.system.socket_closing")
            assert isinstance(warning["eventBody"], dict)
        # The warning is a warning: the socket still works until the grace is over.
        await ping_pong(stay)
        async with connect(moving["connectUri"], ping_interval=None) as new:
            # The socket nobody moved away from is closed by the server after the grace.
            await _closed(2.0, stay)
            assert loop.time() - warned_at >= 0.2
            # The socket opened after the warning outlives the grace and still gets events.
            await asyncio.sleep(max(0.0, warned_at + 0.45 - loop.time()))
            await ping_pong(new)
            await _presence_flows(http, new, user, topic, "ON_QUEUE")


# ----------------------------------------------------------------------------- 4.9 / 8.8 faults
async def test_drop_closes_without_close_frame_and_the_channel_reconnects(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel, user, topic = await _presence_channel(http, auth_headers)
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await ping_pong(ws)
        assert (await fault(http, "drop"))["count"] == 1
        closed = await _closed(2.0, ws)
        assert closed.rcvd is None
        assert ws.close_code == 1006
    async with connect(channel["connectUri"], ping_interval=None) as again:
        await _presence_flows(http, again, user, topic, "ON_QUEUE")


@pytest.mark.sandbox_config(heartbeat_s=0.1)
async def test_stall_sends_nothing_on_an_open_socket_until_a_fresh_one_connects(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel, user, topic = await _presence_channel(http, auth_headers)
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        assert await recv_json(ws) == HEARTBEAT
        assert (await fault(http, "stall"))["count"] == 1
        # Frames already on the wire may still land; then nothing: no heartbeat, no pong, no event.
        await asyncio.sleep(0.05)
        while True:
            try:
                await recv_text(ws, 0.05)
            except TimeoutError:
                break
        await ws.send(json.dumps({"message": "ping"}))
        await set_presence(http, user, "ON_QUEUE")
        await assert_silent(ws, 0.5)  # five heartbeat intervals
        assert ws.close_code is None  # the TCP connection is still open
        async with connect(channel["connectUri"], ping_interval=None) as fresh:
            await ping_pong(fresh)
            assert await wait_for(fresh, lambda f: f == HEARTBEAT, 1.0)
            await _presence_flows(http, fresh, user, topic, "BUSY")


async def test_expire_channels_closes_the_socket_and_head_answers_404(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel, _, _ = await _presence_channel(http, auth_headers)
    head = f"/api/v2/notifications/channels/{channel['id']}"
    assert (await http.head(head, headers=auth_headers)).status_code == 200
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await ping_pong(ws)
        assert (await fault(http, "expire_channels"))["count"] >= 1
        await _closed(2.0, ws)
    assert (await http.head(head, headers=auth_headers)).status_code == 404
    with pytest.raises(InvalidStatus) as info:
        async with connect(channel["connectUri"]):
            pass
    assert info.value.response.status_code == 404


async def test_expire_one_channel_leaves_the_others_connected(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    doomed = await create_channel(http, auth_headers)
    kept = await create_channel(http, auth_headers)
    async with (
        connect(doomed["connectUri"], ping_interval=None) as gone,
        connect(kept["connectUri"], ping_interval=None) as alive,
    ):
        assert (await fault(http, "expire_channels", channel=doomed["id"]))["count"] == 1
        await _closed(2.0, gone)
        await ping_pong(alive)
    status = await http.head(f"/api/v2/notifications/channels/{kept['id']}", headers=auth_headers)
    assert status.status_code == 200


async def test_no_longer_subscribed_fault_empties_the_channel_and_says_so(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel, user, topic = await _presence_channel(http, auth_headers)
    listing = f"/api/v2/notifications/channels/{channel['id']}/subscriptions"
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await ping_pong(ws)
        assert (await fault(http, "no_longer_subscribed", channel=channel["id"]))["count"] == 1
        frame = await wait_topic(ws, f"v2.system.no_longer_subscribed.{channel['id']}")
        body = frame["eventBody"]
        assert body["systemTopicType"] == "no_longer_subscribed"
        assert body["reason"] == "another_channel_subscribed"
        assert body["channelId"] == channel["id"]
        assert (await http.get(listing, headers=auth_headers)).json()["entities"] == []
        # The socket stays; nothing flows until the client subscribes again.
        await ping_pong(ws)
        put = await http.put(listing, headers=auth_headers, json=[{"id": topic}])
        assert put.status_code == 200, put.text
        await _presence_flows(http, ws, user, topic, "BUSY")
    # An unknown channel id touches nothing.
    assert (await fault(http, "no_longer_subscribed", channel="no-such-channel"))["count"] == 0


async def _assert_token_revoked_frame_then_close(ws: ClientConnection) -> Json:
    frame = await wait_for(
        ws, lambda f: str(f.get("topicName", "")).startswith("v2.system.token_revoked.")
    )
    await _closed(2.0, ws)
    return frame


async def test_token_revoked_by_logout_sends_token_revoked_then_closes(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel = await create_channel(http, auth_headers)
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await ping_pong(ws)
        resp = await http.delete("/api/v2/tokens/me", headers=auth_headers)
        assert resp.status_code in (200, 202, 204)
        frame = await _assert_token_revoked_frame_then_close(ws)
    body = frame["eventBody"]
    assert body["systemTopicType"] == "token_revoked"
    assert body["reason"] == "user_tokens_revoked"
    assert (
        await http.get("/api/v2/users/me", headers=auth_headers)
    ).status_code == 401  # 3.6: revoked token → 401


async def test_revoke_tokens_fault_sends_token_revoked_then_closes(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    me = (await http.get("/api/v2/users/me", headers=auth_headers)).json()["id"]
    other_token = await pkce_token(http, user=(await user_ids(http))[-1])
    mine = await create_channel(http, auth_headers)
    theirs = await create_channel(http, bearer(other_token))
    async with (
        connect(mine["connectUri"], ping_interval=None) as ws,
        connect(theirs["connectUri"], ping_interval=None) as bystander,
    ):
        assert (await fault(http, "revoke_tokens", user=me))["count"] >= 1
        await _assert_token_revoked_frame_then_close(ws)
        await ping_pong(bystander)  # another user's tokens are untouched


@pytest.mark.sandbox_config(token_ttl_s=0.6)
async def test_token_expiry_closes_the_socket_and_kills_the_channel(
    http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, bearer(user_token))
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await _closed(3.0, ws)
    with pytest.raises(InvalidStatus) as info:
        async with connect(channel["connectUri"]):
            pass
    assert info.value.response.status_code == 404


async def test_expire_tokens_fault_closes_the_socket(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel = await create_channel(http, auth_headers)
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        await ping_pong(ws)
        assert (await fault(http, "expire_tokens"))["count"] >= 1
        await _closed(2.0, ws)
    assert (await http.get("/api/v2/users/me", headers=auth_headers)).status_code == 401


# ----------------------------------------------------------------------------- junk frames
async def test_malformed_frames_arrive_and_the_socket_stays_usable(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel, user, topic = await _presence_channel(http, auth_headers)
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        assert (await fault(http, "malformed", count=8))["count"] == 1
        texts = [await recv_text(ws) for _ in range(8)]
        not_json = 0
        not_envelope = 0
        for text in texts:
            try:
                value = json.loads(text)
            except ValueError:
                not_json += 1
                continue
            if not (
                isinstance(value, dict)
                and isinstance(value.get("topicName"), str)
                and isinstance(value.get("eventBody"), dict)
            ):
                not_envelope += 1
        assert not_json >= 1
        assert not_envelope >= 1
        await ping_pong(ws)
        await _presence_flows(http, ws, user, topic, "ON_QUEUE")


async def test_oversized_frame_arrives_whole_and_the_socket_stays_usable(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel = await create_channel(http, auth_headers)
    async with connect(channel["connectUri"], ping_interval=None, max_size=None) as ws:
        assert (await fault(http, "oversized", bytes=300_000))["count"] == 1
        text = await recv_text(ws)
        assert len(text.encode()) > 300_000
        frame = json.loads(text)
        assert isinstance(frame["topicName"], str)
        await ping_pong(ws)


async def test_unknown_topic_frame_arrives_and_the_socket_stays_usable(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    channel, _, topic = await _presence_channel(http, auth_headers)
    async with connect(channel["connectUri"], ping_interval=None) as ws:
        assert (await fault(http, "unknown_topic", count=2))["count"] == 1
        for _ in range(2):
            frame = await recv_json(ws)
            assert frame["topicName"] not in (topic, "channel.metadata")
            assert not frame["topicName"].startswith("v2.system.")
            assert isinstance(frame["eventBody"], dict)
        await ping_pong(ws)


async def test_faults_reach_only_connected_sockets(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    idle = await create_channel(http, auth_headers)
    busy = await create_channel(http, auth_headers)
    async with connect(busy["connectUri"], ping_interval=None) as ws:
        assert (await fault(http, "unknown_topic"))["count"] == 1
        await recv_json(ws)
    async with connect(idle["connectUri"], ping_interval=None) as late:
        await assert_silent(late, 0.2)  # nothing was queued for a channel without a socket
