"""core.rest.client against the sandbox org over real loopback sockets.

Paging, chunking, casing, presence definitions, observations, channels and subscriptions are
checked against the sandbox's ground truth; 429 and 5xx are real answers injected through the
control API, and the injected ``sleep`` records each back-off instead of waiting it out. Every
test also proves that nothing it logged carries a token or an Authorization header.
"""

from __future__ import annotations

import logging
import random
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.errors import (
    ApiError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnauthorizedError,
)
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.rest.retry import RetryPolicy
from core.rest.schema import parse_available_topic, parse_subscriptions
from core.state.resync import complete_records
from sandbox.server import Sandbox
from tests.integration.helpers import bearer, pkce_token

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
BIG_ORG = {"users": 260, "queues": 1}  # one queue holds every user: > 100 members
TOPIC_EXPAND = "description,requiresPermissions,permissionDetails,visibility"


class Sleeps:
    """The injected sleep: records waits, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(autouse=True)
def seen_tokens(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """Capture every log record at DEBUG; afterwards none may hold a token or the auth header.

    Every token handed to a client is recorded here, so the check covers them all.
    """
    tokens: list[str] = []
    caplog.set_level(logging.DEBUG)
    yield tokens
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert records, "nothing was captured: the check would be idle"
    text = "\n".join(formatter.format(r) for r in records)
    assert "Authorization" not in text
    assert "Bearer" not in text
    for token in tokens:
        assert token not in text, "a token leaked into the logs"
    ours = [r.getMessage() for r in records if r.name.startswith("core.")]
    assert not [m for m in ours if "?" in m], "core logged a query string"


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def agent_token(sandbox: Sandbox, http: httpx.AsyncClient) -> str:
    """A PKCE token of an agent (no analytics or conversation permissions)."""
    agent = next(u for u in sandbox.org.users.values() if u.role == "agent")
    return await pkce_token(http, user=agent.id)


@pytest.fixture
async def make_client(
    sandbox: Sandbox, sleeps: Sleeps, seen_tokens: list[str]
) -> AsyncIterator[Callable[..., ApiClient]]:
    """Clients of the sandbox for any token; closed afterwards."""
    made: list[ApiClient] = []

    def build(token: str, policy: RetryPolicy | None = None) -> ApiClient:
        seen_tokens.append(token)

        async def provide() -> str:
            return token

        client = ApiClient(
            parse_environment(sandbox.base_url),
            provide,
            policy=policy or RetryPolicy(),
            sleep=sleeps,
            rng=random.Random(7),
        )
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


@pytest.fixture
def api(make_client: Callable[..., ApiClient], user_token: str) -> ApiClient:
    """A client of the supervisor Sam (every permission)."""
    return make_client(user_token)


async def subscribed(http: httpx.AsyncClient, token: str, channel_id: str) -> tuple[str, ...]:
    """A channel's topics as the sandbox holds them (read without the client under test)."""
    resp = await http.get(
        f"/api/v2/notifications/channels/{channel_id}/subscriptions", headers=bearer(token)
    )
    resp.raise_for_status()
    return parse_subscriptions(resp.json()).permitted


async def rest_calls(http: httpx.AsyncClient) -> int:
    """The sandbox's own count of /api/v2 calls."""
    count = (await http.get("/sandbox/stats")).json()["rest_calls"]
    assert isinstance(count, int)
    return count


# --------------------------------------------------------------------------- session
async def test_me_and_token_info(api: ApiClient, sandbox: Sandbox) -> None:
    me = await api.me()
    truth = sandbox.org.truth()["users"][me.id]
    assert me.name == "Sam Supervisor"
    assert {"analytics:queueObservation:view", "routing:queue:view"} <= me.permissions
    assert me.presence is not None
    assert me.presence.system_presence == truth["presence"]
    assert me.presence.definition_id == truth["presenceDefinitionId"]
    assert me.routing is not None and me.routing.status == truth["routingStatus"]
    info = await api.token_info(preserve_idle_ttl=True)
    assert info.organization_name == sandbox.org.name
    assert info.oauth_client_id == "sandbox-desktop"
    assert info.idles_at is not None and info.idles_at > datetime.now(UTC)


async def test_a_revoked_token_gets_unauthorized_without_retry(
    api: ApiClient, http: httpx.AsyncClient, auth_headers: dict[str, str], sleeps: Sleeps
) -> None:
    assert (await http.delete("/api/v2/tokens/me", headers=auth_headers)).is_success  # sign-out
    before = await rest_calls(http)
    calls = api.stats.calls
    with pytest.raises(UnauthorizedError) as caught:
        await api.me()
    assert caught.value.code == "bad.credentials"
    assert await rest_calls(http) - before == 1
    assert api.stats.calls - calls == 1
    assert sleeps.waits == []


async def test_error_bodies_are_translated(
    api: ApiClient, make_client: Callable[..., ApiClient], service_token: str, agent_token: str
) -> None:
    with pytest.raises(NotFoundError) as missing:
        await api.request(
            "GET",
            "/api/v2/notifications/channels/streaming-1-doesnotexist0000000000000000/subscriptions",
        )
    assert missing.value.code == "not.found"
    assert UUID.match(missing.value.correlation_id)
    assert "doesnotexist" not in str(missing.value)  # channel ids are shortened in messages
    with pytest.raises(ForbiddenError) as forbidden:
        await make_client(agent_token).queue_observations(["any"])
    assert forbidden.value.code == "missing.permissions"
    assert UUID.match(forbidden.value.correlation_id)
    with pytest.raises(ApiError) as bad:
        await make_client(service_token).me()  # users/me needs a user context
    assert (bad.value.status, bad.value.code) == (400, "bad.request")


# --------------------------------------------------------------------------- paging and chunks
@pytest.mark.sandbox_config(**BIG_ORG)
async def test_all_users_page_by_page_count(
    api: ApiClient, sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    before = await rest_calls(http)
    users = await api.users()
    assert await rest_calls(http) - before == 3  # 260 users, 100 a page
    assert sorted(u.id for u in users) == sorted(sandbox.org.users)
    truth = sandbox.org.truth()["users"]
    # expand is best effort (genesys-api.md 8.17; the sandbox drops blocks now and then): the
    # re-sync fills what is missing from the dedicated endpoints.
    users = await complete_records(api, users)
    for user in users:
        assert user.presence is not None and user.routing is not None
        assert user.presence.system_presence == truth[user.id]["presence"]
        assert user.presence.definition_id == truth[user.id]["presenceDefinitionId"]
        assert user.routing.status == truth[user.id]["routingStatus"]


@pytest.mark.sandbox_config(**BIG_ORG)
async def test_queue_members_follow_next_uri(
    api: ApiClient, sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    (queue,) = sandbox.org.queues.values()
    assert len(queue.members) > 200
    before = await rest_calls(http)
    members = await api.queue_members(queue.id)
    assert await rest_calls(http) - before == 3
    assert len(members) == len({m.id for m in members}) == len(queue.members)
    for member in members:
        assert member.joined == queue.members[member.id].joined
        assert member.user.name == sandbox.org.users[member.id].name
        assert member.user.presence is not None and member.user.routing is not None


@pytest.mark.sandbox_config(**BIG_ORG)
async def test_users_by_150_ids_take_two_calls(
    api: ApiClient, sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    ids = list(sandbox.org.users)[:150]
    before = await rest_calls(http)
    users = await api.users(ids)
    assert await rest_calls(http) - before == 2
    assert api.stats.calls == 2
    assert sorted(u.id for u in users) == sorted(ids)


@pytest.mark.sandbox_config(**BIG_ORG)
async def test_presence_of_120_users_takes_three_calls(
    api: ApiClient, sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    ids = list(sandbox.org.users)[:120]
    before = await rest_calls(http)
    presences = await api.presences(ids)
    assert await rest_calls(http) - before == 3
    assert api.stats.by_path == {"GET /api/v2/users/presences/purecloud/bulk": 3}
    truth = sandbox.org.truth()["users"]
    assert set(presences) == set(ids)
    for user_id, presence in presences.items():
        assert presence.system_presence == truth[user_id]["presence"]
        assert presence.definition_id == truth[user_id]["presenceDefinitionId"]
        assert presence.modified is not None


# --------------------------------------------------------------------------- presence definitions
async def test_presence_definitions_include_custom_lunch(api: ApiClient, sandbox: Sandbox) -> None:
    definitions = await api.presence_definitions()
    by_label = {d.label: d for d in definitions}
    lunch = by_label["Lunch"]
    system_meal = next(d for d in definitions if d.system_presence == "MEAL" and d.kind == "System")
    assert lunch.system_presence == "MEAL"
    assert lunch.kind == "User"
    assert lunch.id != system_meal.id
    assert by_label["On Queue"].system_presence == "ON_QUEUE"
    assert "Smoke Break" not in by_label  # deactivated
    active = {d.id for d in sandbox.org.presences.values() if not d.deactivated}
    assert {d.id for d in definitions} == active
    german = {d.id: d.label for d in await api.presence_definitions(locale="de")}
    assert german[lunch.id] == "Mittagessen"
    assert german[system_meal.id] == "Meal"  # no German label: en_US


# --------------------------------------------------------------------------- queues
async def test_queues_by_name_and_id_and_mine(api: ApiClient, sandbox: Sandbox) -> None:
    queues = await api.queues()
    assert {q.id for q in queues} == set(sandbox.org.queues)
    first = sorted(queues, key=lambda q: q.name)[0]
    assert first.member_count == len(sandbox.org.queues[first.id].members)
    assert [q.id for q in await api.queues(name=first.name)] == [first.id]
    prefix = first.name.split()[0] + "*"
    assert first.id in {q.id for q in await api.queues(name=prefix)}
    some = list(sandbox.org.queues)[:2]
    assert sorted(q.id for q in await api.queues(ids=some)) == sorted(some)
    me = await api.me()
    mine = await api.my_queues()
    assert {q.id for q in mine} == {q.id for q in sandbox.org.queues_of(me.id)}
    assert all(q.joined is False for q in mine)  # supervisors are members, not joined


async def test_queue_observations_agree_with_truth(
    api: ApiClient, sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    assert sandbox.paused
    queue_ids = list(sandbox.org.queues)
    for queue_id, calls in zip(queue_ids, (3, 1), strict=False):
        for _ in range(calls):
            resp = await http.post(f"/sandbox/queues/{queue_id}/conversations")
            assert resp.status_code == 200, resp.text

    async def check() -> None:
        observed = await api.queue_observations(queue_ids)
        truth = (await http.get("/sandbox/truth")).json()["queues"]
        assert set(observed) == set(queue_ids)
        for queue_id in queue_ids:
            obs, want = observed[queue_id], truth[queue_id]
            assert (obs.waiting, obs.interacting) == (want["waiting"], want["interacting"])
            queue = sandbox.org.queues[queue_id]
            assert obs.members == len(queue.members)
            assert obs.active == sum(1 for m in queue.members.values() if m.joined)

    await check()
    assert (await api.queue_observations(queue_ids[:1]))[queue_ids[0]].waiting == 3
    step = await http.post("/sandbox/simulation/step", params={"seconds": "20"})
    assert step.status_code == 200
    await check()


# --------------------------------------------------------------------------- retries for real
async def test_sandbox_rate_limit_is_survived(
    api: ApiClient, http: httpx.AsyncClient, sleeps: Sleeps, sandbox: Sandbox
) -> None:
    armed = await http.post("/sandbox/faults/rate_limit", params={"count": 2, "retry_after": 1})
    assert armed.status_code == 200
    queues = await api.queues()
    assert len(queues) == len(sandbox.org.queues)
    assert len(sleeps.waits) == 2
    assert sleeps.waits == [1.0, 1.0]  # Retry-After honoured exactly
    assert (api.stats.rate_limited, api.stats.retries, api.stats.calls) == (2, 2, 3)


async def test_a_rate_limit_storm_raises_with_retry_after(
    api: ApiClient, http: httpx.AsyncClient, sleeps: Sleeps
) -> None:
    await http.post("/sandbox/faults/rate_limit", params={"count": 50, "retry_after": 3})
    before = await rest_calls(http)
    with pytest.raises(RateLimitedError) as caught:
        await api.me()
    assert caught.value.retry_after_s == 3.0
    assert caught.value.code == "too.many.requests.retry.after"
    assert UUID.match(caught.value.correlation_id)
    # Waited out until the wait budget (60 s) is spent: 20 waits of exactly 3 s.
    waits = int(api.policy.max_total_wait_s // 3)
    assert await rest_calls(http) - before == waits + 1
    assert sleeps.waits == [3.0] * waits


async def test_a_503_then_success(api: ApiClient, http: httpx.AsyncClient, sleeps: Sleeps) -> None:
    await http.post("/sandbox/faults/server_error", params={"count": 1, "status": 503})
    me = await api.me()
    assert me.name == "Sam Supervisor"
    assert len(sleeps.waits) == 1
    assert api.policy.base_backoff_s / 2 <= sleeps.waits[0] <= api.policy.base_backoff_s


async def test_a_500_on_create_channel_is_not_resent(
    api: ApiClient, http: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """The server may have made the channel: resending could evict another one (8.3)."""
    await http.post("/sandbox/faults/server_error", params={"count": 1, "status": 500})
    with pytest.raises(ServerError) as caught:
        await api.create_channel()
    assert caught.value.status == 500
    assert api.stats.calls == 1
    channel = await api.create_channel()  # the fault is spent
    assert await api.channel_exists(channel.id)


async def test_a_closed_port_gives_transport_error_after_bounded_retries(
    sleeps: Sleeps,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is closed now: every connect is refused.

    async def token() -> str:
        return "unused"

    env = parse_environment(f"http://127.0.0.1:{port}")
    async with ApiClient(env, token, sleep=sleeps, rng=random.Random(1)) as client:
        with pytest.raises(TransportError) as caught:
            await client.users(["a", "b"])
    assert "ConnectError" in str(caught.value)
    assert client.stats.calls == client.policy.max_attempts
    assert len(sleeps.waits) == client.policy.max_attempts - 1
    assert sum(sleeps.waits) <= client.policy.max_total_wait_s


# --------------------------------------------------------------------------- channels
async def test_channel_life_cycle(
    api: ApiClient, sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    channel = await api.create_channel()
    assert channel.connect_uri == f"{sandbox.base_url.replace('http', 'ws')}/channels/{channel.id}"
    remaining = channel.expires - datetime.now(UTC)
    assert timedelta(hours=23, minutes=59) < remaining <= timedelta(hours=24)
    assert await api.channel_exists(channel.id)
    assert not await api.channel_exists("streaming-1-" + "0" * 26)
    assert channel.id in {c.id for c in await api.list_channels()}

    me = await api.me()
    queue_id = next(iter(sandbox.org.queues))
    topics = [
        f"v2.users.{me.id}?presence&routingStatus",
        f"v2.analytics.queues.{queue_id}.observations",
    ]
    result = await api.put_subscriptions(channel.id, topics)
    assert result.permitted == tuple(topics)
    assert result.rejected == ()
    assert await subscribed(http, user_token, channel.id) == tuple(topics)
    await api.delete_subscriptions(channel.id)
    assert await subscribed(http, user_token, channel.id) == ()


async def test_forbidden_topics_come_back_rejected(
    make_client: Callable[..., ApiClient],
    agent_token: str,
    sandbox: Sandbox,
    http: httpx.AsyncClient,
) -> None:
    agent = make_client(agent_token)
    me = await agent.me()
    channel = await agent.create_channel()
    queue_id = next(iter(sandbox.org.queues))
    own = f"v2.users.{me.id}.presence"
    forbidden = f"v2.analytics.queues.{queue_id}.observations"
    result = await agent.put_subscriptions(channel.id, [own, forbidden])
    assert result.permitted == (own,)
    (rejected,) = result.rejected
    assert rejected.id == forbidden
    assert rejected.missing_permissions == ("analytics:queueObservation:view",)
    with pytest.raises(ForbiddenError):
        await agent.put_subscriptions(channel.id, [forbidden], ignore_errors=False)
    assert await subscribed(http, agent_token, channel.id) == (own,)


async def test_available_topics_list_their_permissions(
    http: httpx.AsyncClient, user_token: str, seen_tokens: list[str]
) -> None:
    seen_tokens.append(user_token)
    resp = await http.get(
        "/api/v2/notifications/availabletopics",
        params={"expand": TOPIC_EXPAND, "includePreview": "true"},
        headers=bearer(user_token),
    )
    resp.raise_for_status()
    parsed = (parse_available_topic(e) for e in resp.json()["entities"])
    topics = {t.id: t for t in parsed if t is not None}
    assert "v2.users.{id}.presence" in topics
    observations = topics["v2.analytics.queues.{id}.observations"]
    assert observations.requires_permissions == ("analytics:queueObservation:view",)
    assert topics["v2.users.{id}.conversations"].allows_current_user
