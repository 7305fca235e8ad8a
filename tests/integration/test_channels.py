"""The Notification Service REST API and its limits, checked against genesys-api.md.

Sections 3.1-3.7 (channels, listing, HEAD, subscriptions, available topics, error bodies, rate
limits), 4.7/4.8 (system topics, limits and lifetime), 5.0 (topic naming, combined topics) and
gotchas 8.3-8.6 and 8.19. Everything goes through real clients: httpx for REST and websockets
for the streaming socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.integration.helpers import REDIRECT_URI, authorize, bearer, client_token, pkce_token
from tests.integration.stream import strip_extras

CHANNELS = "/api/v2/notifications/channels"
AVAILABLE_TOPICS = "/api/v2/notifications/availabletopics"
CHANNEL_ID_RE = re.compile(r"^streaming-[0-9]-[a-z0-9]{26}$")
ISO_Z_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
CORRELATION_HEADER = "ININ-Correlation-Id"
DAY_S = 86_400.0

# Every user topic family of genesys-api.md 5.1-5.6 (suffixes after v2.users.<id>.).
USER_FAMILIES = (
    "presence",
    "routingStatus",
    "activity",
    "conversationsummary",
    "outofoffice",
    "station",
    "geolocation",
    "conversations",
    "conversations.calls",
    "conversations.callbacks",
    "conversations.chats",
    "conversations.cobrowseSessions",
    "conversations.emails",
    "conversations.messages",
    "conversations.screenshares",
    "conversations.socialexpressions",
    "conversations.videos",
)


# ---------------------------------------------------------------------------------- helpers
def subscriptions(channel_id: str) -> str:
    """The subscriptions URL of a channel."""
    return f"{CHANNELS}/{channel_id}/subscriptions"


def body_of(topics: list[str]) -> list[dict[str, str]]:
    """A subscription body: a JSON array of ``{"id": topic}`` (genesys-api.md 3.4)."""
    return [{"id": topic} for topic in topics]


def ids_of(resp: httpx.Response) -> set[str]:
    """The topic ids of a ``ChannelTopicEntityListing``."""
    assert resp.status_code == 200, resp.text
    return {entity["id"] for entity in resp.json()["entities"]}


def parse_iso(value: str) -> datetime:
    """An ISO-8601 UTC timestamp with a trailing ``Z``."""
    assert ISO_Z_RE.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_error_body(resp: httpx.Response, status: int, code: str | None) -> dict[str, Any]:
    """The response is a Genesys ``ErrorBody`` with this status (and code, when documented)."""
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert isinstance(body["code"], str) and body["code"]
    if code is not None:
        assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert body["contextId"] == resp.headers[CORRELATION_HEADER]
    return body


async def create_channel(http: httpx.AsyncClient, token: str) -> dict[str, Any]:
    """``POST /api/v2/notifications/channels`` without a body; returns the ``Channel``."""
    resp = await http.post(CHANNELS, headers=bearer(token))
    assert resp.status_code == 200, resp.text
    channel: dict[str, Any] = resp.json()
    return channel


async def head_status(http: httpx.AsyncClient, token: str, channel_id: str) -> int:
    """The status of ``HEAD /api/v2/notifications/channels/{id}``."""
    return (await http.head(f"{CHANNELS}/{channel_id}", headers=bearer(token))).status_code


async def subscribed(http: httpx.AsyncClient, token: str, channel_id: str) -> set[str]:
    """The topic ids currently on a channel (GET subscriptions)."""
    return ids_of(await http.get(subscriptions(channel_id), headers=bearer(token)))


async def wait_for_head(
    http: httpx.AsyncClient, token: str, channel_id: str, status: int, deadline_s: float
) -> None:
    """Poll HEAD until it answers ``status`` (fails after ``deadline_s``)."""
    async with asyncio.timeout(deadline_s):
        while True:
            if await head_status(http, token, channel_id) == status:
                return
            await asyncio.sleep(0.05)


async def sleep_until(epoch_s: float) -> None:
    """Sleep until a wall-clock moment (a scheduled step, not a wait for a result)."""
    await asyncio.sleep(max(0.0, epoch_s - time.time()))


async def next_frame(ws: ClientConnection, deadline_s: float = 2.0) -> dict[str, Any]:
    """The next JSON frame, skipping heartbeats."""
    async with asyncio.timeout(deadline_s):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame.get("eventBody", {}).get("message") != "WebSocket Heartbeat":
                return frame


async def wait_closed(ws: ClientConnection, deadline_s: float = 2.0) -> None:
    """Read until the server closes the socket (fails after ``deadline_s``)."""
    async with asyncio.timeout(deadline_s):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.recv()


async def assert_alive(ws: ClientConnection) -> None:
    """The socket still answers the documented JSON ping with a pong (genesys-api.md 4.4)."""
    await ws.send(json.dumps({"message": "ping"}))
    frame = await next_frame(ws)
    assert frame == {"topicName": "channel.metadata", "eventBody": {"message": "pong"}}


async def me_id(http: httpx.AsyncClient, token: str) -> str:
    """The user id behind a user token."""
    resp = await http.get("/api/v2/users/me", headers=bearer(token))
    assert resp.status_code == 200, resp.text
    user_id = resp.json()["id"]
    assert isinstance(user_id, str)
    return user_id


def agents(sandbox: Sandbox) -> list[str]:
    """Ids of users with the agent role (no analytics or conversation permissions)."""
    return [u.id for u in sandbox.org.users.values() if u.role == "agent"]


def queue_ids(sandbox: Sandbox) -> list[str]:
    """Ids of the org's queues."""
    return list(sandbox.org.queues)


def user_topics(sandbox: Sandbox, count: int) -> list[str]:
    """``count`` distinct concrete single topics over the org's users."""
    topics = [
        f"v2.users.{user_id}.{family}" for user_id in sandbox.org.users for family in USER_FAMILIES
    ]
    assert len(topics) >= count
    return topics[:count]


async def fault(http: httpx.AsyncClient, kind: str, **params: str) -> int:
    """Inject a fault through the control API; returns how many things it touched."""
    resp = await http.post(f"/sandbox/faults/{kind}", params=params)
    assert resp.status_code == 200, resp.text
    count = resp.json()["count"]
    assert isinstance(count, int)
    return count


# ---------------------------------------------------------------------- 3.1 create channel
async def test_create_channel_without_body_returns_exactly_connect_uri_id_expires(
    http: httpx.AsyncClient, user_token: str
) -> None:
    resp = await http.post(CHANNELS, headers=bearer(user_token))
    assert resp.status_code == 200
    channel = resp.json()
    assert set(channel) == {"connectUri", "id", "expires"}
    assert CHANNEL_ID_RE.match(channel["id"]), channel["id"]
    parse_iso(channel["expires"])


async def test_create_channel_accepts_the_sdks_literal_null_json_body(
    http: httpx.AsyncClient, user_token: str
) -> None:
    resp = await http.post(
        CHANNELS,
        content=b"null",
        headers={**bearer(user_token), "Content-Type": "application/json"},
    )
    assert resp.status_code == 200, resp.text
    channel = resp.json()
    assert set(channel) == {"connectUri", "id", "expires"}
    assert CHANNEL_ID_RE.match(channel["id"])
    assert await head_status(http, user_token, channel["id"]) == 200


async def test_new_channels_have_distinct_ids_and_expire_in_24_hours(
    http: httpx.AsyncClient, user_token: str
) -> None:
    before = datetime.now(UTC)
    channels = [await create_channel(http, user_token) for _ in range(5)]
    after = datetime.now(UTC)
    assert len({c["id"] for c in channels}) == 5
    for channel in channels:
        expires = parse_iso(channel["expires"])
        assert DAY_S - 2 <= (expires - before).total_seconds() <= DAY_S + 2
        assert (expires - after).total_seconds() <= DAY_S + 1


async def test_connect_uri_is_the_channel_socket_on_the_base_url_host(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    base = urlsplit(sandbox.base_url)
    uri = urlsplit(channel["connectUri"])
    assert uri.scheme == "ws"
    assert (uri.hostname, uri.port) == (base.hostname, base.port)
    assert uri.path == f"/channels/{channel['id']}"
    assert not uri.query  # no token in the URL (genesys-api.md 4.1)
    async with connect(channel["connectUri"]) as ws:
        await assert_alive(ws)


async def test_channel_endpoints_answer_401_without_a_valid_bearer_token(
    http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    assert (await http.post(CHANNELS)).status_code == 401
    bogus = bearer("not-a-token")
    assert (await http.get(CHANNELS, headers=bogus)).status_code == 401
    assert (await http.head(f"{CHANNELS}/{channel['id']}", headers=bogus)).status_code == 401
    resp = await http.put(subscriptions(channel["id"]), json=[], headers=bogus)
    assert_error_body(resp, 401, None)


# ----------------------------------------------------------------------- 3.2 list channels
async def test_list_channels_defaults_to_the_channels_of_this_token(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    mine = {(await create_channel(http, user_token))["id"] for _ in range(2)}
    other_token_same_user = await pkce_token(http)
    await create_channel(http, other_token_same_user)
    await create_channel(http, await pkce_token(http, user=agents(sandbox)[0]))
    await create_channel(http, await client_token(http))

    for params in ({}, {"includechannels": "token"}):
        resp = await http.get(CHANNELS, params=params, headers=bearer(user_token))
        assert resp.status_code == 200, resp.text
        listing = resp.json()
        assert set(listing) == {"entities"}  # ChannelEntityListing has no paging keys
        assert {e["id"] for e in listing["entities"]} == mine
        for entity in listing["entities"]:
            assert set(entity) == {"connectUri", "id", "expires"}
            assert entity["connectUri"].endswith(f"/channels/{entity['id']}")


async def test_list_channels_oauthclient_adds_other_tokens_channels_with_hidden_ids(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    mine = await create_channel(http, user_token)
    other_token = await pkce_token(http)
    theirs = [await create_channel(http, other_token) for _ in range(2)]
    foreign = await create_channel(http, await pkce_token(http, user=agents(sandbox)[0]))
    service = await create_channel(http, await client_token(http))

    resp = await http.get(
        CHANNELS, params={"includechannels": "oauthclient"}, headers=bearer(user_token)
    )
    assert resp.status_code == 200, resp.text
    entities = resp.json()["entities"]
    assert len(entities) == 3
    visible = [e for e in entities if "id" in e]
    hidden = [e for e in entities if "id" not in e]
    assert [e["id"] for e in visible] == [mine["id"]]
    assert len(hidden) == 2
    assert sorted(e["expires"] for e in hidden) == sorted(c["expires"] for c in theirs)
    for entity in hidden:
        assert set(entity) == {"expires"}
    text = resp.text
    for other in (*theirs, foreign, service):
        assert other["id"] not in text


async def test_list_channels_rejects_an_unknown_includechannels_value_with_400(
    http: httpx.AsyncClient, user_token: str
) -> None:
    # "authorizedsession" does not exist in the SDK (genesys-api.md 3.2).
    for value in ("authorizedsession", "all", ""):
        resp = await http.get(
            CHANNELS, params={"includechannels": value}, headers=bearer(user_token)
        )
        assert_error_body(resp, 400, None)


# ------------------------------------------------------------------ 3.3 channel existence
async def test_head_channel_is_200_while_it_lives_and_404_after_it_expires(
    http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    other = await create_channel(http, user_token)
    resp = await http.head(f"{CHANNELS}/{channel['id']}", headers=bearer(user_token))
    assert resp.status_code == 200
    assert resp.content == b""
    assert await fault(http, "expire_channels", channel=channel["id"]) == 1
    assert await head_status(http, user_token, channel["id"]) == 404
    assert await head_status(http, user_token, other["id"]) == 200


@pytest.mark.sandbox_config(channel_ttl_s=0.5)
async def test_head_channel_turns_404_once_the_channel_lifetime_passes(
    http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    expires = parse_iso(channel["expires"]).timestamp()
    assert await head_status(http, user_token, channel["id"]) == 200
    await wait_for_head(http, user_token, channel["id"], 404, deadline_s=3.0)
    assert time.time() >= expires


async def test_head_of_another_users_or_an_unknown_channel_is_404(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    agent_token = await pkce_token(http, user=agents(sandbox)[0])
    theirs = await create_channel(http, agent_token)
    assert await head_status(http, agent_token, theirs["id"]) == 200
    assert await head_status(http, user_token, theirs["id"]) == 404
    assert await head_status(http, await client_token(http), theirs["id"]) == 404
    unknown = "streaming-1-" + "a" * 26
    assert await head_status(http, user_token, unknown) == 404


async def test_a_channel_cannot_be_deleted_only_its_subscriptions(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    # genesys-api.md 3 and 8.19: there is no DELETE for a channel.
    channel = await create_channel(http, user_token)
    resp = await http.delete(f"{CHANNELS}/{channel['id']}", headers=bearer(user_token))
    assert resp.status_code in (404, 405)
    assert await head_status(http, user_token, channel["id"]) == 200
    topic = f"v2.users.{agents(sandbox)[0]}.presence"
    resp = await http.put(
        subscriptions(channel["id"]), json=body_of([topic]), headers=bearer(user_token)
    )
    assert ids_of(resp) == {topic}
    resp = await http.delete(subscriptions(channel["id"]), headers=bearer(user_token))
    assert 200 <= resp.status_code < 300
    assert await subscribed(http, user_token, channel["id"]) == set()
    assert await head_status(http, user_token, channel["id"]) == 200


# ------------------------------------------------------- 3.1 / 4.8 / 8.3 the 20-channel limit
async def test_21st_channel_evicts_an_idle_channel_before_any_connected_one(
    http: httpx.AsyncClient, user_token: str
) -> None:
    connected = [await create_channel(http, user_token) for _ in range(18)]
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(connect(c["connectUri"])) for c in connected]
        # Two idle channels, both used more recently than every connected one.
        idle_older = await create_channel(http, user_token)
        idle_newer = await create_channel(http, user_token)
        newest = await create_channel(http, user_token)  # the 21st

        assert await head_status(http, user_token, idle_older["id"]) == 404
        for channel in (idle_newer, newest, *connected):
            assert await head_status(http, user_token, channel["id"]) == 200
        resp = await http.get(CHANNELS, headers=bearer(user_token))
        assert len(resp.json()["entities"]) == 20
        await assert_alive(sockets[0])


async def test_21st_channel_evicts_the_least_recently_used_when_all_are_connected(
    http: httpx.AsyncClient, user_token: str
) -> None:
    channels = [await create_channel(http, user_token) for _ in range(20)]
    async with contextlib.AsyncExitStack() as stack:
        # Connect newest first: the oldest channel becomes the most recently used one.
        sockets: dict[str, ClientConnection] = {}
        for channel in reversed(channels):
            sockets[channel["id"]] = await stack.enter_async_context(connect(channel["connectUri"]))
        least_recent = channels[-1]

        newest = await create_channel(http, user_token)

        assert await head_status(http, user_token, least_recent["id"]) == 404
        await wait_closed(sockets[least_recent["id"]])
        for channel in (newest, *channels[:-1]):
            assert await head_status(http, user_token, channel["id"]) == 200
        await assert_alive(sockets[channels[0]["id"]])


async def test_every_token_of_the_same_user_and_client_shares_the_20_channels(
    http: httpx.AsyncClient, user_token: str
) -> None:
    first = [await create_channel(http, user_token) for _ in range(20)]
    second_token = await pkce_token(http)
    await create_channel(http, second_token)
    alive = [c for c in first if await head_status(http, user_token, c["id"]) == 200]
    assert len(alive) == 19
    assert first[0] not in alive  # all idle: the least recently used one went
    resp = await http.get(
        CHANNELS, params={"includechannels": "oauthclient"}, headers=bearer(user_token)
    )
    assert len(resp.json()["entities"]) == 20


async def confidential_user_token(http: httpx.AsyncClient) -> str:
    """The default user's token through the other OAuth client (auth code + secret, 2.3)."""
    query = await authorize(http, client_id="sandbox-client")
    resp = await http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": REDIRECT_URI,
        },
        auth=("sandbox-client", "sandbox-secret"),
    )
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    assert isinstance(token, str)
    return token


async def test_the_same_users_channels_under_another_oauth_client_are_counted_apart(
    http: httpx.AsyncClient, user_token: str
) -> None:
    other_client = await confidential_user_token(http)
    assert await me_id(http, other_client) == await me_id(http, user_token)
    theirs = [await create_channel(http, other_client) for _ in range(3)]
    mine = [await create_channel(http, user_token) for _ in range(20)]
    for channel in theirs:
        assert await head_status(http, other_client, channel["id"]) == 200
        assert await head_status(http, user_token, channel["id"]) == 404
    for channel in mine:
        assert await head_status(http, user_token, channel["id"]) == 200
    resp = await http.get(
        CHANNELS, params={"includechannels": "oauthclient"}, headers=bearer(user_token)
    )
    assert len(resp.json()["entities"]) == 20
    resp = await http.get(
        CHANNELS, params={"includechannels": "oauthclient"}, headers=bearer(other_client)
    )
    assert {e.get("id") for e in resp.json()["entities"]} == {c["id"] for c in theirs}


async def test_channels_of_other_users_and_the_service_client_do_not_count_toward_the_limit(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    agent_token = await pkce_token(http, user=agents(sandbox)[0])
    service = await client_token(http)
    mine = [await create_channel(http, user_token) for _ in range(19)]
    agent_channels = [await create_channel(http, agent_token) for _ in range(5)]
    service_channels = [await create_channel(http, service) for _ in range(5)]
    mine.append(await create_channel(http, user_token))  # my 20th
    for channel in mine:
        assert await head_status(http, user_token, channel["id"]) == 200
    for channel in agent_channels:
        assert await head_status(http, agent_token, channel["id"]) == 200
    for channel in service_channels:
        assert await head_status(http, service, channel["id"]) == 200


# ------------------------------------------------------------------------ 3.4 subscriptions
async def test_put_replaces_post_appends_get_lists_and_delete_removes_all(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    url, auth = subscriptions(channel["id"]), bearer(user_token)
    agent, queue = agents(sandbox)[0], queue_ids(sandbox)[0]
    first = [f"v2.users.{agent}.presence", f"v2.users.{agent}.routingStatus"]
    second = [f"v2.routing.queues.{queue}.conversations", f"v2.analytics.queues.{queue}.activity"]
    third = [f"v2.routing.queues.{queue}.users"]

    assert await subscribed(http, user_token, channel["id"]) == set()
    assert ids_of(await http.put(url, json=body_of(first), headers=auth)) == set(first)
    assert ids_of(await http.put(url, json=body_of(second), headers=auth)) == set(second)
    assert await subscribed(http, user_token, channel["id"]) == set(second)
    assert ids_of(await http.post(url, json=body_of(third), headers=auth)) == {*second, *third}
    assert await subscribed(http, user_token, channel["id"]) == {*second, *third}
    resp = await http.post(url, json=body_of(third[:1]), headers=auth)  # already there
    assert len(resp.json()["entities"]) == 3

    resp = await http.delete(url, headers=auth)
    assert 200 <= resp.status_code < 300
    assert await subscribed(http, user_token, channel["id"]) == set()
    assert ids_of(await http.put(url, json=[], headers=auth)) == set()


async def test_removing_one_topic_is_get_then_put_of_the_rest(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    url, auth = subscriptions(channel["id"]), bearer(user_token)
    topics = [f"v2.users.{user_id}.presence" for user_id in agents(sandbox)[:3]]
    await http.put(url, json=body_of(topics), headers=auth)

    current = (await http.get(url, headers=auth)).json()["entities"]
    rest = [{"id": e["id"]} for e in current if e["id"] != topics[1]]
    resp = await http.put(url, json=rest, headers=auth)
    assert ids_of(resp) == {topics[0], topics[2]}
    assert await subscribed(http, user_token, channel["id"]) == {topics[0], topics[2]}


async def test_subscription_listing_entities_are_permitted_channel_topics(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    agent = agents(sandbox)[0]
    topics = [
        f"v2.users.{agent}?presence&routingStatus&conversationsummary",
        f"v2.routing.queues.{queue_ids(sandbox)[0]}.conversations.calls",
    ]
    for resp in (
        await http.put(
            subscriptions(channel["id"]),
            params={"ignoreErrors": "true"},
            json=body_of(topics),
            headers=bearer(user_token),
        ),
        await http.get(subscriptions(channel["id"]), headers=bearer(user_token)),
    ):
        assert resp.status_code == 200, resp.text
        listing = resp.json()
        assert "entities" in listing
        assert {e["id"] for e in listing["entities"]} == set(topics)
        for entity in listing["entities"]:
            assert entity["state"] == "Permitted"
            assert isinstance(entity["selfUri"], str) and entity["selfUri"]
            assert "rejectionReason" not in entity
            assert not entity.get("missingPermissions")


async def test_agent_forbidden_topic_fails_the_whole_request_with_403_and_changes_nothing(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    agent = agents(sandbox)[0]
    token = await pkce_token(http, user=agent)
    channel = await create_channel(http, token)
    url, auth = subscriptions(channel["id"]), bearer(token)
    before = [f"v2.users.{agent}.presence"]
    assert ids_of(await http.put(url, json=body_of(before), headers=auth)) == set(before)

    forbidden = f"v2.analytics.queues.{queue_ids(sandbox)[0]}.observations"
    request = body_of([f"v2.users.{agent}.routingStatus", forbidden])
    for method in ("PUT", "POST"):
        resp = await http.request(method, url, json=request, headers=auth)
        assert_error_body(resp, 403, "missing.permissions")
        assert await subscribed(http, token, channel["id"]) == set(before)
    resp = await http.put(url, params={"ignoreErrors": "false"}, json=request, headers=auth)
    assert_error_body(resp, 403, "missing.permissions")
    assert await subscribed(http, token, channel["id"]) == set(before)


async def test_agent_forbidden_topic_with_ignore_errors_comes_back_rejected(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    agent = agents(sandbox)[0]
    token = await pkce_token(http, user=agent)
    channel = await create_channel(http, token)
    queue = queue_ids(sandbox)[0]
    allowed = [f"v2.users.{agent}.presence", f"v2.routing.queues.{queue}.users"]
    forbidden = f"v2.analytics.queues.{queue}.observations"
    resp = await http.put(
        subscriptions(channel["id"]),
        params={"ignoreErrors": "true"},
        json=body_of([allowed[0], forbidden, allowed[1]]),
        headers=bearer(token),
    )
    assert resp.status_code == 200, resp.text
    entities = {e["id"]: e for e in resp.json()["entities"]}
    assert set(entities) == {*allowed, forbidden}
    for topic in allowed:
        assert entities[topic]["state"] == "Permitted"
    rejected = entities[forbidden]
    assert rejected["state"] == "Rejected"
    assert isinstance(rejected["rejectionReason"], str) and rejected["rejectionReason"]
    assert "analytics:queueObservation:view" in rejected["missingPermissions"]
    # The rejected topic is not subscribed; the others are.
    assert await subscribed(http, token, channel["id"]) == set(allowed)


async def test_agent_may_subscribe_its_own_conversationsummary_but_not_another_users(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    agent, colleague = agents(sandbox)[:2]
    token = await pkce_token(http, user=agent)
    channel = await create_channel(http, token)
    own = f"v2.users.{agent}.conversationsummary"
    theirs = f"v2.users.{colleague}.conversationsummary"

    resp = await http.put(subscriptions(channel["id"]), json=body_of([own]), headers=bearer(token))
    assert ids_of(resp) == {own}
    resp = await http.post(
        subscriptions(channel["id"]),
        params={"ignoreErrors": "true"},
        json=body_of([theirs]),
        headers=bearer(token),
    )
    assert resp.status_code == 200, resp.text
    states = {e["id"]: e for e in resp.json()["entities"]}
    assert states[own]["state"] == "Permitted"
    assert states[theirs]["state"] == "Rejected"
    assert states[theirs]["missingPermissions"]

    # What is missing is what availabletopics says the topic requires.
    topics = await http.get(
        AVAILABLE_TOPICS, params={"expand": "requiresPermissions"}, headers=bearer(token)
    )
    required = next(
        e["requiresPermissions"]
        for e in topics.json()["entities"]
        if e["id"] == "v2.users.{id}.conversationsummary"
    )
    assert set(states[theirs]["missingPermissions"]) <= set(required)
    assert await subscribed(http, token, channel["id"]) == {own}


# ----------------------------------------------------------- 4.8 / 8.6 the 1000-topic cap
@pytest.mark.sandbox_config(users=60)
async def test_accepts_exactly_1000_topics_and_rejects_1001_with_400(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    url, auth = subscriptions(channel["id"]), bearer(user_token)
    topics = user_topics(sandbox, 1001)
    resp = await http.put(url, json=body_of(topics[:1000]), headers=auth)
    assert len(ids_of(resp)) == 1000

    resp = await http.put(url, json=body_of(topics[1:]), headers=auth)  # a different 1000: ok
    assert len(ids_of(resp)) == 1000
    resp = await http.put(url, json=body_of(topics), headers=auth)
    assert_error_body(resp, 400, None)
    assert await subscribed(http, user_token, channel["id"]) == set(topics[1:])


@pytest.mark.sandbox_config(users=60)
async def test_post_appending_past_1000_topics_is_400_and_changes_nothing(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    url, auth = subscriptions(channel["id"]), bearer(user_token)
    topics = user_topics(sandbox, 1002)
    assert len(ids_of(await http.put(url, json=body_of(topics[:999]), headers=auth))) == 999

    resp = await http.post(url, json=body_of(topics[999:1001]), headers=auth)
    assert_error_body(resp, 400, None)
    assert await subscribed(http, user_token, channel["id"]) == set(topics[:999])
    resp = await http.post(url, json=body_of([topics[999]]), headers=auth)
    assert len(ids_of(resp)) == 1000
    resp = await http.post(url, json=body_of([topics[1001]]), headers=auth)
    assert_error_body(resp, 400, None)
    assert await subscribed(http, user_token, channel["id"]) == set(topics[:1000])


@pytest.mark.sandbox_config(users=60)
async def test_a_combined_topic_counts_as_one_toward_the_1000_cap(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    singles = user_topics(sandbox, 999)
    last_user = list(sandbox.org.users)[-1]
    combined = f"v2.users.{last_user}?presence&routingStatus&conversationsummary"
    assert not any(t.startswith(f"v2.users.{last_user}") for t in singles)
    resp = await http.put(
        subscriptions(channel["id"]),
        json=body_of([*singles, combined]),
        headers=bearer(user_token),
    )
    listed = ids_of(resp)
    assert len(listed) == 1000
    assert combined in listed


# -------------------------------------------------------------- 5.0 combined topic rules
async def test_combined_topic_of_200_characters_is_accepted_and_201_is_400(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    url, auth = subscriptions(channel["id"]), bearer(user_token)
    agent = agents(sandbox)[0]
    at_limit = f"v2.users.{agent}?" + "&".join(
        (
            "conversationsummary",
            "conversations.callbacks",
            "conversations.cobrowseSessions",
            "conversations.emails",
            "conversations.screenshares",
            "conversations.socialexpressions",
        )
    )
    too_long = f"v2.users.{agent}?" + "&".join(
        (
            "conversations.callbacks",
            "conversations.cobrowseSessions",
            "conversations.emails",
            "conversations.screenshares",
            "conversations.socialexpressions",
            "conversations.videos",
        )
    )
    assert (len(at_limit), len(too_long)) == (200, 201)

    assert ids_of(await http.put(url, json=body_of([at_limit]), headers=auth)) == {at_limit}
    resp = await http.put(url, json=body_of([too_long]), headers=auth)
    assert_error_body(resp, 400, None)
    resp = await http.put(
        url, params={"ignoreErrors": "true"}, json=body_of([too_long]), headers=auth
    )
    assert_error_body(resp, 400, None)
    assert await subscribed(http, user_token, channel["id"]) == {at_limit}


async def test_combined_topic_delivers_events_under_the_expanded_topic_names(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    agent = agents(sandbox)[0]
    combined = f"v2.users.{agent}?presence&routingStatus"
    resp = await http.put(
        subscriptions(channel["id"]), json=body_of([combined]), headers=bearer(user_token)
    )
    assert ids_of(resp) == {combined}
    async with connect(channel["connectUri"]) as ws:
        await assert_alive(ws)  # the socket is registered before the change happens
        resp = await http.post(f"/sandbox/users/{agent}/presence", json={"presence": "BREAK"})
        assert resp.status_code == 200, resp.text
        names: set[str] = set()
        async with asyncio.timeout(2.0):
            while f"v2.users.{agent}.presence" not in names:
                names.add((await next_frame(ws))["topicName"])
        resp = await http.post(
            f"/sandbox/users/{agent}/routingstatus", json={"status": "NOT_RESPONDING"}
        )
        assert resp.status_code == 200, resp.text
        async with asyncio.timeout(2.0):
            while f"v2.users.{agent}.routingStatus" not in names:
                names.add((await next_frame(ws))["topicName"])
        assert combined not in names
        assert names <= {f"v2.users.{agent}.presence", f"v2.users.{agent}.routingStatus"}


async def test_rejects_malformed_topics_and_bodies_with_400_and_changes_nothing(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    url, auth = subscriptions(channel["id"]), bearer(user_token)
    agent, queue = agents(sandbox)[0], queue_ids(sandbox)[0]
    keep = f"v2.users.{agent}.presence"
    await http.put(url, json=body_of([keep]), headers=auth)

    bad_topics = [
        f"v2.users.{agent}.nosuchthing",  # no such family
        f"v2.nosuchresource.{queue}.conversations",
        "v2.users.{id}.presence",  # placeholder not replaced (5.0)
        f"v2.users.{agent}?presence&nosuchthing",
        "channel.metadata",  # system topics are never subscribed (4.7)
        "v2.system.socket_closing",
        f"v2.system.token_revoked.{channel['id']}",
        "",
    ]
    bad_bodies: list[Any] = [
        *(body_of([keep, topic]) for topic in bad_topics),
        {"id": keep},  # not an array
        [keep],  # array of strings, not of {"id": ...}
        [{"topic": keep}],
        None,
    ]
    for method in ("PUT", "POST"):
        for body in bad_bodies:
            resp = await http.request(method, url, content=json.dumps(body).encode(), headers=auth)
            assert resp.status_code == 400, (method, body, resp.text)
            assert_error_body(resp, 400, None)
    resp = await http.put(url, content=b"[{", headers=auth)
    assert_error_body(resp, 400, None)
    assert await subscribed(http, user_token, channel["id"]) == {keep}


async def test_unknown_or_foreign_channel_subscriptions_are_404_not_found(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    agent_token = await pkce_token(http, user=agents(sandbox)[0])
    foreign = (await create_channel(http, agent_token))["id"]
    topic = body_of([f"v2.users.{agents(sandbox)[0]}.presence"])
    for channel_id in ("streaming-1-" + "z" * 26, "nonsense", foreign):
        url = subscriptions(channel_id)
        for method, body in (("GET", None), ("PUT", topic), ("POST", topic), ("DELETE", None)):
            resp = await http.request(method, url, json=body, headers=bearer(user_token))
            assert_error_body(resp, 404, "not.found")
    assert await subscribed(http, agent_token, foreign) == set()


@pytest.mark.sandbox_config(channel_ttl_s=0.8)
async def test_resubscribing_extends_the_channel_lifetime(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    first_expiry = parse_iso(channel["expires"]).timestamp()
    await sleep_until(first_expiry - 0.4)
    resp = await http.put(
        subscriptions(channel["id"]),
        json=body_of([f"v2.users.{agents(sandbox)[0]}.presence"]),
        headers=bearer(user_token),
    )
    assert resp.status_code == 200, resp.text
    listing = (await http.get(CHANNELS, headers=bearer(user_token))).json()["entities"]
    new_expiry = parse_iso(listing[0]["expires"]).timestamp()
    assert new_expiry >= first_expiry + 0.3

    # Alive through (and past) the original expiry ...
    while time.time() < first_expiry + 0.2:
        assert await head_status(http, user_token, channel["id"]) == 200
        await asyncio.sleep(0.05)
    # ... and gone after the extended one.
    await wait_for_head(http, user_token, channel["id"], 404, deadline_s=2.0)
    assert time.time() >= new_expiry


class SteppedClock:
    """A wall clock that a test can move forward at once (the sandbox's ``clock``)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@contextlib.asynccontextmanager
async def stepped_sandbox(**settings: Any) -> AsyncIterator[tuple[Sandbox, SteppedClock]]:
    """A sandbox on a clock the test jumps forward, so expiry is checked, not swept."""
    clock = SteppedClock()
    config = SandboxConfig(users=30, queues=4, seed=7, simulate=False, **settings)
    async with Sandbox(config, clock=clock) as running:
        yield running, clock


async def test_an_expired_channel_is_404_at_once_and_cannot_be_revived() -> None:
    async with (
        stepped_sandbox(channel_ttl_s=3600.0) as (sandbox, clock),
        httpx.AsyncClient(base_url=sandbox.base_url) as http,
    ):
        token = await pkce_token(http)
        channel = await create_channel(http, token)
        topic = body_of([f"v2.users.{agents(sandbox)[0]}.presence"])
        clock.offset += 3601.0  # past `expires`; the background sweep has not run yet
        assert await head_status(http, token, channel["id"]) == 404
        resp = await http.put(subscriptions(channel["id"]), json=topic, headers=bearer(token))
        assert_error_body(resp, 404, "not.found")
        listing = (await http.get(CHANNELS, headers=bearer(token))).json()["entities"]
        assert listing == []
        with pytest.raises(InvalidStatus):
            async with connect(channel["connectUri"]):
                pass


async def test_a_channel_is_gone_as_soon_as_its_token_expires() -> None:
    async with (
        stepped_sandbox(token_ttl_s=600.0) as (sandbox, clock),
        httpx.AsyncClient(base_url=sandbox.base_url) as http,
    ):
        token = await pkce_token(http)
        channel = await create_channel(http, token)
        clock.offset += 601.0  # the token expired; the channel did not
        next_token = await pkce_token(http)
        assert await head_status(http, next_token, channel["id"]) == 404
        resp = await http.get(
            CHANNELS, params={"includechannels": "oauthclient"}, headers=bearer(next_token)
        )
        assert resp.json()["entities"] == []


# ----------------------------------------------------------------- 3.5 available topics
REQUIRED_TEMPLATES = {
    "v2.users.{id}.presence",
    "v2.users.{id}.routingStatus",
    "v2.users.{id}.activity",
    "v2.users.{id}.conversationsummary",
    "v2.routing.queues.{id}.conversations",
    "v2.routing.queues.{id}.conversations.calls",
    "v2.routing.queues.{id}.users",
    "v2.analytics.queues.{id}.observations",
    "v2.analytics.queues.{id}.activity",
}
EXPANDED_FIELDS = ("requiresPermissions", "permissionDetails", "topicParameters")
PERMISSION_DETAIL_TYPES = {
    "requiresCurrentUser",
    "requiresPermissions",
    "requiresDivisionPermissions",
    "requiresAnyDivisionPermissions",
    "requiresUserBeConversationParticipant",
}


async def test_available_topics_list_templates_with_id_placeholders(
    http: httpx.AsyncClient, user_token: str
) -> None:
    resp = await http.get(AVAILABLE_TOPICS, headers=bearer(user_token))
    assert resp.status_code == 200, resp.text
    entities = resp.json()["entities"]
    ids = [e["id"] for e in entities]
    assert set(ids) >= REQUIRED_TEMPLATES
    assert len(ids) == len(set(ids))
    for entity in entities:
        assert "{id}" in entity["id"]  # no wildcards, no concrete ids (5.0)
        for field in EXPANDED_FIELDS:
            assert field not in entity


async def test_available_topics_expand_comma_joined_or_repeated_adds_permission_fields(
    http: httpx.AsyncClient, user_token: str
) -> None:
    auth = bearer(user_token)
    joined = await http.get(
        AVAILABLE_TOPICS, params={"expand": ",".join(EXPANDED_FIELDS)}, headers=auth
    )
    repeated = await http.get(
        AVAILABLE_TOPICS, params=[("expand", f) for f in EXPANDED_FIELDS], headers=auth
    )
    assert joined.status_code == repeated.status_code == 200
    assert strip_extras(joined.json()) == strip_extras(repeated.json())
    entities = {e["id"]: e for e in joined.json()["entities"]}
    assert set(entities) >= REQUIRED_TEMPLATES
    for entity in entities.values():
        assert isinstance(entity["requiresPermissions"], list)
        assert all(isinstance(p, str) for p in entity["requiresPermissions"])
        assert isinstance(entity["topicParameters"], list)
        assert entity["topicParameters"]  # every template has an {id} to fill
        for detail in entity["permissionDetails"]:
            assert detail["type"] in PERMISSION_DETAIL_TYPES
            assert isinstance(detail.get("permissions", []), list)
    # Observations need a permission an agent lacks (the 403 above depends on it).
    assert entities["v2.analytics.queues.{id}.observations"]["requiresPermissions"]


async def test_available_topics_enum_fields_use_the_documented_values(
    http: httpx.AsyncClient, user_token: str
) -> None:
    resp = await http.get(
        AVAILABLE_TOPICS,
        params={"expand": "visibility,transports,enforced,description"},
        headers=bearer(user_token),
    )
    assert resp.status_code == 200, resp.text
    for entity in resp.json()["entities"]:
        assert entity["visibility"] in ("Public", "Preview")
        assert set(entity["transports"]) <= {"All", "Websocket", "EventBridge"}
        assert isinstance(entity["enforced"], bool)
        assert isinstance(entity["description"], str)


async def test_available_topics_include_preview_false_leaves_out_preview_topics(
    http: httpx.AsyncClient, user_token: str
) -> None:
    auth = bearer(user_token)
    everything = await http.get(AVAILABLE_TOPICS, params={"expand": "visibility"}, headers=auth)
    public = await http.get(
        AVAILABLE_TOPICS,
        params={"expand": "visibility", "includePreview": "false"},
        headers=auth,
    )
    assert everything.status_code == public.status_code == 200
    all_entities = {e["id"]: e["visibility"] for e in everything.json()["entities"]}
    public_entities = {e["id"]: e["visibility"] for e in public.json()["entities"]}
    assert set(public_entities.values()) <= {"Public"}
    assert public_entities == {k: v for k, v in all_entities.items() if v != "Preview"}


# --------------------------------------------------------- 4.7 / 8.10 tokens and channels
async def test_a_revoked_tokens_channels_are_gone_for_the_users_next_token(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    async with connect(channel["connectUri"]) as ws:
        await assert_alive(ws)
        resp = await http.delete("/api/v2/tokens/me", headers=bearer(user_token))
        assert 200 <= resp.status_code < 300
        frame = await next_frame(ws)
        assert frame["topicName"].startswith("v2.system.token_revoked.")
        assert frame["eventBody"]["systemTopicType"] == "token_revoked"
        assert frame["eventBody"]["reason"] == "user_tokens_revoked"
        await wait_closed(ws)

    next_token = await pkce_token(http)
    assert await head_status(http, next_token, channel["id"]) == 404
    resp = await http.get(
        CHANNELS, params={"includechannels": "oauthclient"}, headers=bearer(next_token)
    )
    assert resp.json()["entities"] == []
    resp = await http.get(subscriptions(channel["id"]), headers=bearer(next_token))
    assert_error_body(resp, 404, "not.found")


async def test_an_expired_tokens_channels_are_gone_for_the_users_next_token(
    http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    user_id = await me_id(http, user_token)
    assert await fault(http, "expire_tokens", user=user_id) >= 1
    next_token = await pkce_token(http)
    assert await head_status(http, next_token, channel["id"]) == 404


# ---------------------------------------------------------------- 4.8 / 8.4 one socket
async def test_a_second_socket_on_a_channel_kicks_the_first(
    http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    async with connect(channel["connectUri"]) as first:
        await assert_alive(first)
        async with connect(channel["connectUri"]) as second:
            await wait_closed(first)
            await assert_alive(second)
    assert await head_status(http, user_token, channel["id"]) == 200


# ------------------------------------------------------------------- 3.6 / 3.7 rate limits
def assert_rate_limited(resp: httpx.Response) -> None:
    """A 429 in the normalised shape, with ``Retry-After`` seconds (genesys-api.md 3.6)."""
    assert_error_body(resp, 429, "too.many.requests.retry.after")
    assert resp.headers["Retry-After"].isdigit()


@pytest.mark.sandbox_config(user_rate_per_min=6)
async def test_user_tokens_of_one_user_and_client_share_the_rate_limit(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    first, second = await pkce_token(http), await pkce_token(http)
    other_user = await pkce_token(http, user=agents(sandbox)[0])
    for token in (first, second, first, second, first, second):
        resp = await http.get(CHANNELS, headers=bearer(token))
        assert resp.status_code == 200, resp.text
    assert_rate_limited(await http.get(CHANNELS, headers=bearer(first)))
    assert_rate_limited(await http.post(CHANNELS, headers=bearer(second)))
    assert (await http.get(CHANNELS, headers=bearer(other_user))).status_code == 200


@pytest.mark.sandbox_config(client_rate_per_min=3)
async def test_client_credentials_tokens_are_rate_limited_per_token(
    http: httpx.AsyncClient,
) -> None:
    first, second = await client_token(http), await client_token(http)
    for _ in range(3):
        assert (await http.get(CHANNELS, headers=bearer(first))).status_code == 200
    assert_rate_limited(await http.get(CHANNELS, headers=bearer(first)))
    assert (await http.get(CHANNELS, headers=bearer(second))).status_code == 200


async def test_a_rate_limited_subscription_put_changes_nothing(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await create_channel(http, user_token)
    topic = f"v2.users.{agents(sandbox)[0]}.presence"
    await fault(http, "rate_limit", count="1", retry_after="7")
    resp = await http.put(
        subscriptions(channel["id"]), json=body_of([topic]), headers=bearer(user_token)
    )
    assert_rate_limited(resp)
    assert resp.headers["Retry-After"] == "7"
    assert await subscribed(http, user_token, channel["id"]) == set()
