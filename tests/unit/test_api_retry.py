"""Retry, backoff, error translation and paging of core.rest.client, driven through the transport
seam.

httpx.MockTransport is the injected transport the client takes in production too, and the
injected ``sleep`` records every wait instead of waiting, so each retry edge case runs instantly
and its timing is asserted exactly.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import (
    ApiError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    SignInRequiredError,
    TransportError,
    UnauthorizedError,
)
from core.rest.client import ApiClient
from core.rest.redact import redact_path
from core.rest.regions import parse_environment
from core.rest.retry import RetryPolicy, parse_retry_after

TOKEN = "tok-unit-5ecret"  # a fake token the logs must never show
ENV = parse_environment("mypurecloud.de")
Handler = Callable[[httpx.Request], httpx.Response]
Step = httpx.Response | Exception


class Sleeps:
    """The injected sleep: records waits, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Script:
    """A MockTransport handler that answers from a list, one step per request."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        return step


def ok(body: Any = None, status: int = 200) -> httpx.Response:
    """A JSON answer."""
    return httpx.Response(status, json=body if body is not None else {})


def error(
    status: int,
    code: str = "x",
    message: str = "m",
    *,
    retry_after: str | None = None,
    correlation: str | None = "corr-1",
) -> httpx.Response:
    """A Genesys ErrorBody answer (genesys-api.md 3.6)."""
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    if correlation is not None:
        headers["ININ-Correlation-Id"] = correlation
    body = {"message": message, "code": code, "status": status, "contextId": "ctx-1"}
    return httpx.Response(status, json=body, headers=headers)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make(sleeps: Sleeps) -> AsyncIterator[Callable[..., ApiClient]]:
    """Build clients over a script; closes them all afterwards."""
    made: list[ApiClient] = []

    def build(handler: Handler, policy: RetryPolicy | None = None, **kw: Any) -> ApiClient:
        async def token() -> str:
            return TOKEN

        client = ApiClient(
            ENV,
            kw.pop("token", token),
            transport=httpx.MockTransport(handler),
            policy=policy or RetryPolicy(),
            sleep=sleeps,
            rng=random.Random(4),
            **kw,
        )
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


# --------------------------------------------------------------------------- 429
async def test_429_waits_exactly_retry_after_then_succeeds(
    make: Callable[..., ApiClient], sleeps: Sleeps
) -> None:
    script = Script(error(429, "too.many.requests.retry.after", retry_after="2"), ok({"a": 1}))
    client = make(script)
    response = await client.request("GET", "/api/v2/tokens/me")
    assert response.json() == {"a": 1}
    assert sleeps.waits == [2.0]  # honoured exactly: no backoff or jitter on top
    assert (client.stats.calls, client.stats.retries, client.stats.rate_limited) == (2, 1, 1)


@given(retry_after=st.floats(0, 3600), seed=st.integers(0, 2**32))
def test_rate_limit_wait_is_retry_after_plus_bounded_jitter(retry_after: float, seed: int) -> None:
    policy = RetryPolicy()
    wait = policy.rate_limit_wait_s(retry_after, random.Random(seed))
    assert retry_after <= wait <= retry_after + policy.rate_limit_jitter_s


async def test_429_storm_raises_rate_limited_with_retry_after(
    make: Callable[..., ApiClient], sleeps: Sleeps
) -> None:
    client = make(Script(error(429, "too.many.requests.retry.after", retry_after="3")))
    with pytest.raises(RateLimitedError) as caught:
        await client.request("GET", "/api/v2/users")
    assert caught.value.retry_after_s == 3.0
    assert caught.value.status == 429
    assert caught.value.code == "too.many.requests.retry.after"
    # 429s are no failed attempts: the client waits them out until the wait budget is spent.
    budget_waits = int(client.policy.max_total_wait_s // 3.0)
    assert budget_waits > client.policy.max_attempts
    assert client.stats.calls == budget_waits + 1
    assert sleeps.waits == [3.0] * budget_waits


async def test_429s_do_not_use_up_the_attempts_for_server_errors(
    make: Callable[..., ApiClient], sleeps: Sleeps
) -> None:
    policy = RetryPolicy(max_attempts=3)
    throttled = [error(429, retry_after="1") for _ in range(5)]
    client = make(Script(*throttled, error(503), ok({"a": 1})), policy)
    response = await client.request("GET", "/api/v2/users")
    assert response.json() == {"a": 1}
    assert sleeps.waits[:5] == [1.0] * 5
    assert client.stats.calls == 7


async def test_rate_limited_answers_are_capped(
    make: Callable[..., ApiClient], sleeps: Sleeps
) -> None:
    client = make(Script(error(429, retry_after="0")), RetryPolicy(max_rate_limited=4))
    with pytest.raises(RateLimitedError):
        await client.request("GET", "/api/v2/users")
    assert sleeps.waits == [0.0] * 4
    assert client.stats.calls == 5


async def test_retry_after_beyond_the_wait_budget_raises_at_once(
    make: Callable[..., ApiClient], sleeps: Sleeps
) -> None:
    client = make(Script(error(429, retry_after="42")), RetryPolicy(max_total_wait_s=30))
    with pytest.raises(RateLimitedError) as caught:
        await client.request("GET", "/api/v2/users")
    assert caught.value.retry_after_s == 42.0
    assert sleeps.waits == []
    assert client.stats.calls == 1


async def test_total_wait_never_exceeds_the_budget(
    make: Callable[..., ApiClient], sleeps: Sleeps
) -> None:
    policy = RetryPolicy(max_attempts=10, max_total_wait_s=5.0)
    client = make(Script(error(429, retry_after="2")), policy)
    with pytest.raises(RateLimitedError):
        await client.request("GET", "/api/v2/users")
    assert len(sleeps.waits) == 2  # a third wait of ≥ 2 s would pass 5 s
    assert sum(sleeps.waits) <= 5.0


async def test_429_without_retry_after_backs_off(
    make: Callable[..., ApiClient], sleeps: Sleeps
) -> None:
    client = make(Script(error(429), ok()))
    await client.request("GET", "/api/v2/users")
    policy = client.policy
    assert policy.base_backoff_s / 2 <= sleeps.waits[0] <= policy.base_backoff_s


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert parse_retry_after("42") == 42.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    for bad in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(bad, now) is None


# --------------------------------------------------------------------------- 5xx and network
@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_error_then_success(
    make: Callable[..., ApiClient], sleeps: Sleeps, status: int
) -> None:
    client = make(Script(error(status), ok({"fine": True})))
    response = await client.request("GET", "/api/v2/users")
    assert response.json() == {"fine": True}
    assert len(sleeps.waits) == 1
    assert client.stats.server_errors == 1


@given(retry=st.integers(1, 60), seed=st.integers(0, 2**32))
def test_backoff_doubles_with_equal_jitter_and_is_capped(retry: int, seed: int) -> None:
    policy = RetryPolicy(base_backoff_s=0.5, max_backoff_s=8.0)
    nominal = min(8.0, 0.5 * 2 ** (retry - 1))
    wait = policy.backoff_s(retry, random.Random(seed))
    assert nominal / 2 <= wait <= nominal <= 8.0


async def test_server_error_storm_raises_server_error(
    make: Callable[..., ApiClient], sleeps: Sleeps
) -> None:
    client = make(Script(error(503, "service.unavailable", "Service Unavailable")))
    with pytest.raises(ServerError) as caught:
        await client.request("GET", "/api/v2/users")
    assert caught.value.status == 503
    assert caught.value.code == "service.unavailable"
    assert len(sleeps.waits) == client.policy.max_attempts - 1
    for retry, wait in enumerate(sleeps.waits, start=1):
        nominal = min(client.policy.max_backoff_s, client.policy.base_backoff_s * 2 ** (retry - 1))
        assert nominal / 2 <= wait <= nominal


async def test_a_503_may_ask_for_a_longer_wait(
    make: Callable[..., ApiClient], sleeps: Sleeps
) -> None:
    client = make(Script(error(503, retry_after="5"), ok()))
    await client.request("GET", "/api/v2/users")
    assert sleeps.waits == [5.0]


async def test_connect_error_is_retried_then_raised_as_transport_error(
    make: Callable[..., ApiClient], sleeps: Sleeps
) -> None:
    client = make(Script(httpx.ConnectError("[Errno 111] Connection refused")))
    with pytest.raises(TransportError) as caught:
        await client.request("GET", "/api/v2/users", params={"id": ["a", "b"]})
    assert "ConnectError" in str(caught.value)
    assert "?" not in str(caught.value)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert client.stats.calls == client.policy.max_attempts
    assert client.stats.transport_errors == client.policy.max_attempts
    assert len(sleeps.waits) == client.policy.max_attempts - 1


async def test_read_timeout_then_success(make: Callable[..., ApiClient], sleeps: Sleeps) -> None:
    client = make(Script(httpx.ReadTimeout("timed out"), ok({"n": 1})))
    assert (await client.request("GET", "/api/v2/users")).json() == {"n": 1}
    assert len(sleeps.waits) == 1


async def test_transport_error_text_never_carries_a_query(
    make: Callable[..., ApiClient],
) -> None:
    leak = httpx.ReadError("boom at https://api.mypurecloud.de/api/v2/users?code=abc&x=1 done")
    client = make(Script(leak), RetryPolicy(max_attempts=1))
    with pytest.raises(TransportError) as caught:
        await client.request("GET", "/api/v2/users")
    assert "code=abc" not in str(caught.value)
    assert "https://api.mypurecloud.de/api/v2/users" in str(caught.value)


async def test_a_post_that_may_have_arrived_is_not_resent(
    make: Callable[..., ApiClient], sleeps: Sleeps
) -> None:
    """Creating a channel twice burns the 20-per-user quota (genesys-api.md 8.3)."""
    client = make(Script(httpx.ReadTimeout("timed out"), ok()))
    with pytest.raises(TransportError):
        await client.create_channel()
    assert client.stats.calls == 1
    client = make(Script(error(500), ok()))
    with pytest.raises(ServerError):
        await client.create_channel()
    assert client.stats.calls == 1
    assert sleeps.waits == []


async def test_a_post_that_never_arrived_is_resent(
    make: Callable[..., ApiClient], sleeps: Sleeps
) -> None:
    channel = {
        "id": "streaming-1-abc",
        "connectUri": "wss://streaming.mypurecloud.de/y",
        "expires": "2026-11-28T09:00Z",
    }
    for first in (httpx.ConnectError("refused"), error(503), error(429, retry_after="1")):
        client = make(Script(first, ok(channel)))
        assert (await client.create_channel()).id == "streaming-1-abc"
        assert client.stats.calls == 2


async def test_unsupported_protocol_is_not_retried(
    make: Callable[..., ApiClient], sleeps: Sleeps
) -> None:
    client = make(Script(httpx.UnsupportedProtocol("nope")))
    with pytest.raises(TransportError):
        await client.request("GET", "/api/v2/users")
    assert client.stats.calls == 1


# --------------------------------------------------------------------------- 4xx
@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ApiError),
        (401, UnauthorizedError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (409, ApiError),
        (501, ServerError),
    ],
)
async def test_client_errors_are_never_retried(
    make: Callable[..., ApiClient], sleeps: Sleeps, status: int, kind: type[ApiError]
) -> None:
    client = make(Script(error(status), ok()))
    with pytest.raises(kind) as caught:
        await client.request("GET", "/api/v2/users/me")
    assert type(caught.value) is kind
    assert caught.value.status == status
    assert client.stats.calls == 1
    assert sleeps.waits == []


async def test_error_body_is_translated(make: Callable[..., ApiClient]) -> None:
    client = make(Script(error(403, "missing.permissions", "Missing permission(s) for topic")))
    with pytest.raises(ForbiddenError) as caught:
        await client.request("GET", "/api/v2/routing/queues", params={"name": "a*"})
    err = caught.value
    assert err.code == "missing.permissions"
    assert err.correlation_id == "corr-1"
    assert (err.method, err.path) == ("GET", "/api/v2/routing/queues")
    assert "Missing permission(s) for topic" in str(err)
    assert "?" not in str(err)


async def test_correlation_id_falls_back_to_context_id(make: Callable[..., ApiClient]) -> None:
    client = make(Script(error(404, "not.found", correlation=None)))
    with pytest.raises(NotFoundError) as caught:
        await client.request("GET", "/api/v2/users/x")
    assert caught.value.correlation_id == "ctx-1"


async def test_an_html_error_page_still_becomes_a_typed_error(
    make: Callable[..., ApiClient],
) -> None:
    page = httpx.Response(502, text="<html>Bad gateway</html>")
    client = make(Script(page), RetryPolicy(max_attempts=1))
    with pytest.raises(ServerError) as caught:
        await client.request("GET", "/api/v2/users")
    assert caught.value.status == 502
    assert "Bad Gateway" in str(caught.value)


async def test_a_success_that_is_not_json_is_an_api_error(make: Callable[..., ApiClient]) -> None:
    client = make(Script(httpx.Response(200, text="<html/>")))
    with pytest.raises(ApiError) as caught:
        await client.token_info()
    assert caught.value.code == "invalid.response"


# --------------------------------------------------------------------------- the request itself
async def test_token_is_awaited_per_attempt(make: Callable[..., ApiClient]) -> None:
    """A token refreshed during a back-off is used by the retry."""
    tokens = iter(["first", "second"])

    async def token() -> str:
        return next(tokens)

    script = Script(error(429, retry_after="0"), ok())
    await make(script, token=token).request("GET", "/api/v2/users")
    assert [r.headers["Authorization"] for r in script.requests] == [
        "Bearer first",
        "Bearer second",
    ]


async def test_requests_carry_bearer_user_agent_and_sdk_style_lists(
    make: Callable[..., ApiClient],
) -> None:
    script = Script(ok([]))
    client = make(script, user_agent="tray-test/1")
    await client.presences(["a", "b", "a"])
    request = script.requests[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["User-Agent"] == "tray-test/1"
    assert request.url.host == "api.mypurecloud.de"
    assert request.url.params["id"] == "a,b"


def test_paths_are_logged_without_query_and_channel_ids_shortened() -> None:
    assert redact_path("/api/v2/users?id=a,b") == "/api/v2/users"
    shown = redact_path("/api/v2/notifications/channels/streaming-2-q7w3e9r1t5y8/subscriptions")
    assert shown == "/api/v2/notifications/channels/stream…/subscriptions"


async def test_logs_carry_neither_token_nor_query(
    make: Callable[..., ApiClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make(
        Script(
            error(429, retry_after="1"),
            error(503),
            httpx.ConnectError("refused"),
            error(401),
        )
    )
    with pytest.raises(UnauthorizedError):
        await client.request("GET", "/api/v2/users", params={"id": "secret-id-list"})
    assert caplog.records, "the client logs its calls"
    text = caplog.text
    assert TOKEN not in text
    assert "Authorization" not in text
    assert "secret-id-list" not in text
    assert all("?" not in r.getMessage() for r in caplog.records if r.name == "core.rest.client")


# --------------------------------------------------------------------------- paging
def listing(
    ids: list[str], *, page_count: int | None = None, next_uri: str | None = None
) -> httpx.Response:
    """A page of entities."""
    body: dict[str, Any] = {"entities": [{"id": i, "name": i.upper()} for i in ids]}
    if page_count is not None:
        body["pageCount"] = page_count
    if next_uri is not None:
        body["nextUri"] = next_uri
    return ok(body)


async def collect(client: ApiClient, path: str, params: dict[str, Any] | None = None) -> list[str]:
    """The ids a paged listing yields."""
    return [item["id"] async for item in client.paged(path, params)]


async def test_paging_by_page_count(make: Callable[..., ApiClient]) -> None:
    script = Script(
        listing(["a", "b"], page_count=3, next_uri="/ignored"),
        listing(["c", "d"], page_count=3),
        listing(["e"], page_count=3),
    )
    client = make(script)
    assert await collect(client, "/api/v2/users", {"pageSize": 2}) == list("abcde")
    assert [r.url.params["pageNumber"] for r in script.requests] == ["1", "2", "3"]
    assert all(r.url.params["pageSize"] == "2" for r in script.requests)


async def test_paging_by_next_uri_relative_and_absolute(make: Callable[..., ApiClient]) -> None:
    script = Script(
        listing(["a"], next_uri="/api/v2/routing/queues/q/members?pageSize=1&pageNumber=2"),
        listing(
            ["b"], next_uri="https://evil.example/api/v2/routing/queues/q/members?pageNumber=3"
        ),
        listing(["c"], next_uri=None),
    )
    client = make(script)
    assert await collect(client, "/api/v2/routing/queues/q/members") == ["a", "b", "c"]
    assert [r.url.params.get("pageNumber") for r in script.requests] == ["1", "2", "3"]
    # An absolute nextUri never takes the token to another host.
    assert {r.url.host for r in script.requests} == {"api.mypurecloud.de"}


async def test_a_repeated_next_uri_stops_paging(
    make: Callable[..., ApiClient], caplog: pytest.LogCaptureFixture
) -> None:
    loop_uri = "/api/v2/routing/queues/q/members?pageNumber=2"
    script = Script(
        listing(["a"], next_uri=loop_uri),
        listing(["b"], next_uri=loop_uri),
        listing(["c"], next_uri=loop_uri),
    )
    client = make(script)
    assert await collect(client, "/api/v2/routing/queues/q/members") == ["a", "b"]
    assert len(script.requests) == 2
    assert "repeated a nextUri" in caplog.text


async def test_a_server_that_ignores_page_number_is_stopped(
    make: Callable[..., ApiClient], caplog: pytest.LogCaptureFixture
) -> None:
    script = Script(listing(["a", "b"], page_count=1000))
    client = make(script)
    assert await collect(client, "/api/v2/users") == ["a", "b"]
    assert len(script.requests) == 2
    assert "repeated page" in caplog.text


async def test_an_empty_page_ends_the_listing(make: Callable[..., ApiClient]) -> None:
    script = Script(listing(["a"], page_count=5), listing([], page_count=5))
    assert await collect(make(script), "/api/v2/users") == ["a"]
    assert len(script.requests) == 2


# --------------------------------------------------------------------------- typed endpoints
async def test_users_by_id_are_chunked_by_100(make: Callable[..., ApiClient]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        ids = request.url.params["id"].split(",")
        assert len(ids) <= 100
        return listing(ids, page_count=1)

    client = make(handler)
    users = await client.users([f"u{i}" for i in range(250)])
    assert len(users) == 250
    assert client.stats.calls == 3


async def test_presence_definitions_fall_back_to_the_deprecated_api(
    make: Callable[..., ApiClient],
) -> None:
    old = {
        "entities": [
            {"id": "p1", "systemPresence": "On Queue", "languageLabels": {"en_US": "On Queue"}},
            {
                "id": "p2",
                "systemPresence": "Meal",
                "primary": False,
                "languageLabels": {"en_US": "Lunch", "de": "Mittagessen"},
            },
            {"id": "p3", "systemPresence": "Break", "deactivated": True},
        ],
        "pageCount": 1,
    }
    script = Script(error(403, "missing.permissions"), ok(old))
    defs = await make(script).presence_definitions(locale="de_DE")
    assert [r.url.path for r in script.requests] == [
        "/api/v2/presence/definitions",
        "/api/v2/presencedefinitions",
    ]
    assert [(d.id, d.system_presence, d.label, d.kind) for d in defs] == [
        ("p1", "ON_QUEUE", "On Queue", ""),
        ("p2", "MEAL", "Mittagessen", "User"),
    ]


async def test_presence_definitions_do_not_hide_other_failures(
    make: Callable[..., ApiClient],
) -> None:
    client = make(Script(error(400, "bad.request")))
    with pytest.raises(ApiError):
        await client.presence_definitions()
    assert client.stats.calls == 1


async def test_channel_exists_reads_head_status(make: Callable[..., ApiClient]) -> None:
    client = make(Script(httpx.Response(200), httpx.Response(404)))
    assert await client.channel_exists("streaming-1-aaa") is True
    assert await client.channel_exists("streaming-1-bbb") is False
    client = make(Script(error(401)))
    with pytest.raises(UnauthorizedError):
        await client.channel_exists("streaming-1-ccc")


async def test_put_subscriptions_sends_one_array_and_reads_rejections(
    make: Callable[..., ApiClient],
) -> None:
    answer = {
        "entities": [
            {"id": "v2.users.u1.presence", "state": "Permitted"},
            {
                "id": "v2.analytics.queues.q1.observations",
                "state": "Rejected",
                "rejectionReason": "missing permissions",
                "missingPermissions": ["analytics:queueObservation:view"],
            },
        ]
    }
    script = Script(ok(answer))
    topics = ["v2.users.u1.presence", "v2.analytics.queues.q1.observations", "v2.users.u1.presence"]
    result = await make(script).put_subscriptions("streaming-1-abc", topics)
    request = script.requests[0]
    assert request.method == "PUT"
    assert request.url.params["ignoreErrors"] == "true"
    assert json.loads(request.content) == [
        {"id": "v2.users.u1.presence"},
        {"id": "v2.analytics.queues.q1.observations"},
    ]
    assert result.permitted == ("v2.users.u1.presence",)
    assert result.rejected[0].missing_permissions == ("analytics:queueObservation:view",)


async def test_ids_cannot_escape_their_path_segment(make: Callable[..., ApiClient]) -> None:
    script = Script(ok({"entities": []}))
    await make(script).queue_members("../../users/me?x=1")
    assert script.requests[0].url.raw_path.startswith(
        b"/api/v2/routing/queues/..%2F..%2Fusers%2Fme%3Fx%3D1/members"
    )


async def test_a_redirect_is_neither_followed_nor_taken_for_success(
    make: Callable[..., ApiClient],
) -> None:
    moved = httpx.Response(302, headers={"Location": "https://elsewhere.example/api/v2/x"})
    script = Script(moved)
    client = make(script)
    with pytest.raises(ApiError) as caught:
        await client.channel_exists("streaming-1-abc")
    assert caught.value.status == 302
    assert len(script.requests) == 1


async def test_a_failing_token_provider_sends_nothing(make: Callable[..., ApiClient]) -> None:
    async def token() -> str:
        raise SignInRequiredError("expired")

    script = Script(ok())
    client = make(script, token=token)
    with pytest.raises(SignInRequiredError):
        await client.me()
    assert script.requests == []
    assert client.stats.calls == 0


async def test_a_401_asks_the_session_to_renew_once_and_resends(
    make: Callable[..., ApiClient],
) -> None:
    refused: list[str] = []

    async def renew(token: str) -> str:
        refused.append(token)
        return "fresh-token"

    current = [TOKEN]

    async def token() -> str:
        return current[0]

    async def renew_and_switch(old: str) -> str:
        current[0] = await renew(old)
        return current[0]

    script = Script(error(401), ok({"id": "me"}))
    client = make(script, token=token, on_unauthorized=renew_and_switch)
    response = await client.request("GET", "/api/v2/users/me")
    assert response.status_code == 200
    assert refused == [TOKEN]
    assert [r.headers["Authorization"] for r in script.requests] == [
        f"Bearer {TOKEN}",
        "Bearer fresh-token",
    ]


async def test_a_second_401_after_renewal_is_raised(make: Callable[..., ApiClient]) -> None:
    calls: list[str] = []

    async def renew(token: str) -> str:
        calls.append(token)
        return "fresh-token"

    client = make(Script(error(401)), on_unauthorized=renew)
    with pytest.raises(UnauthorizedError):
        await client.request("GET", "/api/v2/users/me")
    assert calls == [TOKEN]
