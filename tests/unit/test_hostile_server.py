"""A hostile or broken server must not freeze or crash the app (issue 14).

The server is played by ``httpx.MockTransport`` at the transport seam the REST client and the
session take in production too. Each case answers what a broken or hostile server could send
(NaN and huge token lifetimes, deeply nested JSON, an endless body, a foreign socket URL) and
checks that the call ends promptly with an error of our own tree.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest

from core.auth.credentials import MemoryCredentialStore
from core.auth.saved_tokens import save_token_set
from core.auth.session import Authenticator
from core.auth.token_http import MAX_TOKEN_ANSWER_BYTES
from core.auth.tokens import (
    DEFAULT_TOKEN_LIFETIME_S,
    INVALID_TOKEN_LIFETIME_S,
    MAX_TOKEN_LIFETIME_S,
    MIN_TOKEN_LIFETIME_S,
    TokenSet,
    token_from_body,
)
from core.engine.token_keeper import TokenKeeper
from core.errors import ApiError, OAuthError, SignInRequiredError
from core.rest.client import MAX_RESPONSE_BYTES, ApiClient
from core.rest.connect_uri import check_connect_uri
from core.rest.regions import parse_environment
from core.rest.retry import RetryPolicy
from core.rest.schema import TokenInfo
from core.streaming.dedup import OverlapDedup
from core.streaming.events import parse_event
from core.streaming.protocol import TopicEvent, decode_frame

ENV = parse_environment("mypurecloud.de")
LOOPBACK = parse_environment("http://127.0.0.1:8765")
NOW = 1_700_000_000.0
DEEP = b"[" * 100_000 + b"]" * 100_000  # far beyond the recursion limit of any JSON parser
PROMPT_S = 5.0  # "promptly": generous for a loaded CI machine, far below a hang


def run_in_thread(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``main`` on its own loop in a daemon thread; fail if it has not ended in PROMPT_S.

    A loop that spins without yielding cannot be cancelled from inside, so the watch has to
    come from another thread.
    """
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(PROMPT_S)
    assert not thread.is_alive(), "the event loop froze"
    if failure:
        raise failure[0]


# ------------------------------------------------------------------------------ token lifetime
@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        (math.nan, INVALID_TOKEN_LIFETIME_S),
        (math.inf, INVALID_TOKEN_LIFETIME_S),
        (-math.inf, INVALID_TOKEN_LIFETIME_S),
        (-5, INVALID_TOKEN_LIFETIME_S),
        (1e308, MAX_TOKEN_LIFETIME_S),
        (10**400, MAX_TOKEN_LIFETIME_S),
        (1, MIN_TOKEN_LIFETIME_S),
        (86_399, 86_399.0),
    ],
    ids=["nan", "inf", "-inf", "negative", "1e308", "int-1e400", "1s", "a-day"],
)
def test_token_lifetime_is_clamped_to_a_sane_range(
    expires_in: float, lifetime: float, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="core.auth.tokens")
    token = token_from_body({"access_token": "a", "expires_in": expires_in}, grant="pkce", now=NOW)
    assert token.expires_at == NOW + lifetime
    assert token.lifetime_s == lifetime
    round(token.expires_at - NOW)  # the maths downstream (timeline, messages) must not overflow
    if lifetime != 86_399.0:
        assert "expires_in" in caplog.text  # the clamp is said in the log


def test_a_remembered_token_with_a_broken_expiry_counts_as_expired() -> None:
    broken = TokenSet("a", math.nan, "r", "pkce", NOW)
    assert broken.expired(NOW) and broken.needs_renewal(NOW)


def _token_server(body: bytes) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/oauth/token"
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    return httpx.MockTransport(handler)


class _NoApi:
    async def token_info(self, *, preserve_idle_ttl: bool = False) -> TokenInfo:
        raise AssertionError("not asked")


@pytest.mark.parametrize("expires_in", [b"NaN", b"1e308", b"1e400", b"-Infinity"])
def test_token_keeper_sleeps_instead_of_spinning_on_a_broken_lifetime(expires_in: bytes) -> None:
    """NaN made every keeper turn renew nothing and loop again without yielding: a frozen app."""
    answer = b'{"access_token": "tok", "expires_in": ' + expires_in + b"}"
    asked: list[float] = []

    async def main() -> None:
        session = Authenticator(
            ENV,
            "client-id",
            MemoryCredentialStore(),
            client_secret="secret",
            transport=_token_server(answer),
            clock=lambda: NOW,
        )
        await session.sign_in_client_credentials()
        token = session.token
        assert token is not None and math.isfinite(token.expires_at)
        keeper = TokenKeeper(
            _NoApi(),
            session,
            stopping=asyncio.Event(),
            on_state=lambda _detail: None,
            on_new_token=lambda: None,
            clock=lambda: NOW,
        )
        task = asyncio.create_task(keeper.run())
        for _ in range(20):  # a spinning keeper never gives these turns back
            await asyncio.sleep(0)
        asked.append(time.monotonic())
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await session.aclose()

    run_in_thread(main)
    assert asked


# ------------------------------------------------------------------------------ REST answers
async def _token() -> str:
    return "tok"


async def _no_sleep(_seconds: float) -> None:
    return None


def _client(handler: Callable[[httpx.Request], httpx.Response], env: Any = ENV) -> ApiClient:
    return ApiClient(
        env,
        _token,
        transport=httpx.MockTransport(handler),
        policy=RetryPolicy(),
        sleep=_no_sleep,
    )


def _answer(body: bytes, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})

    return handler


CALLS: dict[str, Callable[[ApiClient], Coroutine[Any, Any, object]]] = {
    "me": lambda api: api.me(),
    "users": lambda api: api.users(),
    "queue_observations": lambda api: api.queue_observations(["q1"]),
}


@pytest.mark.parametrize("call", sorted(CALLS))
async def test_deeply_nested_json_is_an_invalid_answer(call: str) -> None:
    async with _client(_answer(DEEP)) as api:
        with pytest.raises(ApiError) as caught:
            await asyncio.wait_for(CALLS[call](api), PROMPT_S)
    assert caught.value.code == "invalid.response"


async def test_deeply_nested_error_body_is_still_an_api_error() -> None:
    async with _client(_answer(DEEP, status=400)) as api:
        with pytest.raises(ApiError) as caught:
            await asyncio.wait_for(api.me(), PROMPT_S)
    assert caught.value.status == 400


async def test_an_endless_body_is_cut_off_at_the_cap() -> None:
    """The server streams on and on; we stop reading at the cap, not at out-of-memory."""
    chunk = b" " * (1024 * 1024)
    sent = [0]

    async def endless() -> AsyncIterator[bytes]:
        while sent[0] < MAX_RESPONSE_BYTES // len(chunk) + 16:  # bounded, so a failure ends
            sent[0] += 1
            await asyncio.sleep(0)
            yield chunk

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless(), headers={"Content-Type": "application/json"})

    async with _client(handler) as api:
        with pytest.raises(ApiError) as caught:
            await asyncio.wait_for(api.me(), PROMPT_S)
    assert caught.value.code == "invalid.response"
    assert "too large" in str(caught.value)
    assert sent[0] <= MAX_RESPONSE_BYTES // len(chunk) + 2


async def test_an_announced_oversized_body_is_refused_unread() -> None:
    read = [False]

    async def body() -> AsyncIterator[bytes]:
        read[0] = True
        yield b"{}"

    def handler(_request: httpx.Request) -> httpx.Response:
        headers = {"Content-Length": str(MAX_RESPONSE_BYTES + 1)}
        return httpx.Response(200, content=body(), headers=headers)

    async with _client(handler) as api:
        with pytest.raises(ApiError, match="too large"):
            await asyncio.wait_for(api.me(), PROMPT_S)
    assert not read[0]


async def test_a_body_under_the_cap_still_reads() -> None:
    me = {"id": "u1", "name": "Ann", "presence": {}, "routingStatus": {}}
    async with _client(_answer(httpx.Response(200, json=me).content)) as api:
        assert (await api.me()).id == "u1"


# ------------------------------------------------------------------------------ socket URL
def _channel(uri: str) -> Callable[[httpx.Request], httpx.Response]:
    body = {"id": "chan-1", "connectUri": uri, "expires": "2030-01-01T00:00:00Z"}
    return lambda _request: httpx.Response(200, json=body)


@pytest.mark.parametrize(
    "uri",
    [
        "ws://evil.example/channels/chan-1",
        "wss://evil.example/channels/chan-1",
        "ws://streaming.mypurecloud.de/channels/chan-1",  # plain text outside loopback
        "wss://streaming.mypurecloud.de.evil.example/channels/chan-1",
        "wss://streaming.mypurecloud.com/channels/chan-1",  # another region
        "https://streaming.mypurecloud.de/channels/chan-1",
        "wss://user@streaming.mypurecloud.de/channels/chan-1",
        "not a url",
    ],
)
async def test_a_foreign_socket_url_is_refused(uri: str) -> None:
    async with _client(_channel(uri)) as api:
        with pytest.raises(ApiError) as caught:
            await asyncio.wait_for(api.create_channel(), PROMPT_S)
    assert caught.value.code == "invalid.connect_uri"
    assert "evil" not in str(caught.value)  # the credential URL is not repeated


async def test_the_regions_own_socket_url_is_accepted() -> None:
    uri = "wss://streaming.mypurecloud.de/channels/chan-1"
    async with _client(_channel(uri)) as api:
        assert (await api.create_channel()).connect_uri == uri


@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        ("ws://127.0.0.1:8765/channels/c", True),
        ("ws://localhost:8765/channels/c", True),
        ("wss://127.0.0.1:8765/channels/c", True),
        ("ws://10.0.0.5:8765/channels/c", False),
        ("ws://evil.example/channels/c", False),
        ("wss://evil.example/channels/c", False),
    ],
)
async def test_a_loopback_environment_accepts_loopback_sockets_only(uri: str, ok: bool) -> None:
    async with _client(_channel(uri), env=LOOPBACK) as api:
        if ok:
            assert (await api.create_channel()).connect_uri == uri
        else:
            with pytest.raises(ApiError, match="notification"):
                await api.create_channel()


async def test_listed_channels_drop_a_foreign_socket_url() -> None:
    entities = [
        {"id": "a", "connectUri": "wss://streaming.mypurecloud.de/channels/a"},
        {"id": "b", "connectUri": "ws://evil.example/channels/b"},
    ]
    handler = _answer(httpx.Response(200, json={"entities": entities}).content)
    async with _client(handler) as api:
        listed = await api.list_channels()
    assert [(c.id, c.connect_uri) for c in listed] == [
        ("a", "wss://streaming.mypurecloud.de/channels/a"),
        ("b", None),
    ]


def test_custom_https_environment_keeps_its_own_domain_family() -> None:
    env = parse_environment("https://gateway.example.com")
    assert check_connect_uri("wss://streaming.example.com/c", env)
    for bad in ("wss://example.com.evil.org/c", "ws://streaming.example.com/c"):
        with pytest.raises(ApiError):
            check_connect_uri(bad, env)


@pytest.mark.parametrize(("env", "lifetime"), [(ENV, MIN_TOKEN_LIFETIME_S), (LOOPBACK, 1.0)])
async def test_only_the_loopback_sandbox_may_hand_out_second_long_tokens(
    env: Any, lifetime: float
) -> None:
    session = Authenticator(
        env,
        "client-id",
        MemoryCredentialStore(),
        client_secret="secret",
        transport=_token_server(b'{"access_token": "tok", "expires_in": 1}'),
        clock=lambda: NOW,
    )
    async with session:
        token = await session.sign_in_client_credentials()
    assert token.lifetime_s == lifetime


async def test_a_deeply_nested_token_answer_is_an_oauth_error() -> None:
    """A RecursionError here escaped the token keeper's handlers and ended renewals for good."""
    session = Authenticator(
        ENV,
        "client-id",
        MemoryCredentialStore(),
        client_secret="secret",
        transport=_token_server(DEEP),
        clock=lambda: NOW,
    )
    async with session:
        with pytest.raises(OAuthError) as caught:
            await asyncio.wait_for(session.sign_in_client_credentials(), PROMPT_S)
    assert caught.value.error == "invalid_response"


@pytest.mark.parametrize("expires_at", [math.nan, math.inf])
async def test_a_remembered_broken_expiry_asks_for_sign_in_instead_of_crashing(
    expires_at: float,
) -> None:
    store = MemoryCredentialStore()
    await save_token_set(store, TokenSet("tok", expires_at, None, "pkce", NOW))
    session = Authenticator(ENV, "client-id", store, clock=lambda: NOW)
    async with session:
        assert await session.restore() is not None
        with pytest.raises(SignInRequiredError, match="has expired"):
            await session.access_token()


async def test_a_body_that_cannot_be_unpacked_is_an_invalid_answer() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not gzip at all", headers={"Content-Encoding": "gzip"})

    async with _client(handler) as api:
        with pytest.raises(ApiError) as caught:
            await asyncio.wait_for(api.me(), PROMPT_S)
    assert caught.value.code == "invalid.response"


# ------------------------------------------------------------------------------ token endpoint
async def test_an_oversized_token_answer_is_refused_without_reading_it_all() -> None:
    """A 40 MB answer from the token endpoint: refused at the cap, the rest never read.

    Before, the whole body was read into memory and parsed (``resp.json()``).
    """
    chunk = b" " * (1024 * 1024)
    sent = [0]

    async def endless() -> AsyncIterator[bytes]:
        while sent[0] < 40:
            sent[0] += 1
            await asyncio.sleep(0)
            yield chunk

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless(), headers={"Content-Type": "application/json"})

    session = Authenticator(
        ENV,
        "client-id",
        MemoryCredentialStore(),
        client_secret="secret",
        transport=httpx.MockTransport(handler),
        clock=lambda: NOW,
    )
    async with session:
        with pytest.raises(OAuthError) as caught:
            await asyncio.wait_for(session.sign_in_client_credentials(), PROMPT_S)
    assert caught.value.error == "invalid_response"
    assert "too large" in str(caught.value)
    assert sent[0] <= MAX_TOKEN_ANSWER_BYTES // len(chunk) + 2


async def test_an_announced_oversized_token_answer_is_refused_unread() -> None:
    read = [False]

    async def body() -> AsyncIterator[bytes]:
        read[0] = True
        yield b"{}"

    def handler(_request: httpx.Request) -> httpx.Response:
        headers = {"Content-Length": str(40 * 1024 * 1024)}
        return httpx.Response(200, content=body(), headers=headers)

    session = Authenticator(
        ENV,
        "client-id",
        MemoryCredentialStore(),
        client_secret="secret",
        transport=httpx.MockTransport(handler),
        clock=lambda: NOW,
    )
    async with session:
        with pytest.raises(OAuthError, match="too large"):
            await asyncio.wait_for(session.sign_in_client_credentials(), PROMPT_S)
    assert not read[0]


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [
        (b"NaN", INVALID_TOKEN_LIFETIME_S),
        (b"Infinity", INVALID_TOKEN_LIFETIME_S),
        (b"1e400", INVALID_TOKEN_LIFETIME_S),  # json reads it as infinity
        (b"1" + b"0" * 400, MAX_TOKEN_LIFETIME_S),  # 10**400 as digits
        (b"-3600", INVALID_TOKEN_LIFETIME_S),
        (b'"3600"', INVALID_TOKEN_LIFETIME_S),
        (b'"NaN"', INVALID_TOKEN_LIFETIME_S),
        (b"null", DEFAULT_TOKEN_LIFETIME_S),  # as if left out: RFC 6749 makes it optional
        (b"true", INVALID_TOKEN_LIFETIME_S),
        (b"[3600]", INVALID_TOKEN_LIFETIME_S),
    ],
    ids=[
        "nan",
        "inf",
        "1e400",
        "10e400",
        "negative",
        "string",
        "string-nan",
        "null",
        "bool",
        "list",
    ],
)
async def test_a_token_answer_with_a_broken_expires_in_signs_in_with_a_sane_lifetime(
    expires_in: bytes, lifetime: float
) -> None:
    """Through the real token client: the answer's number as the wire carries it."""
    answer = b'{"access_token": "tok", "expires_in": ' + expires_in + b"}"
    session = Authenticator(
        ENV,
        "client-id",
        MemoryCredentialStore(),
        client_secret="secret",
        transport=_token_server(answer),
        clock=lambda: NOW,
    )
    async with session:
        token = await asyncio.wait_for(session.sign_in_client_credentials(), PROMPT_S)
    assert token.lifetime_s == lifetime
    assert token.expires_at == NOW + lifetime


async def test_a_token_answer_with_5000_digits_is_an_invalid_answer() -> None:
    """10**5000 written out: past Python's digit limit for int(); refused, not a crash."""
    answer = b'{"access_token": "tok", "expires_in": 1' + b"0" * 5000 + b"}"
    session = Authenticator(
        ENV,
        "client-id",
        MemoryCredentialStore(),
        client_secret="secret",
        transport=_token_server(answer),
        clock=lambda: NOW,
    )
    async with session:
        with pytest.raises(OAuthError) as caught:
            await asyncio.wait_for(session.sign_in_client_credentials(), PROMPT_S)
    assert caught.value.error == "invalid_response"


# ------------------------------------------------------------------------------ socket frames
def test_a_deep_frame_in_a_switch_over_window_does_not_end_the_socket() -> None:
    """1,000 levels pass the frame decoder (orjson follows 1,024), but the overlap check's
    ``json.dumps`` raised RecursionError on them: the socket's reader died with it, so a hostile
    server could cut every rollover's socket. Now such a frame is simply not a repeat."""
    deep = '{"a":' * 1_000 + "1" + "}" * 1_000
    frame = decode_frame('{"topicName": "v2.users.u1.presence", "eventBody": ' + deep + "}")
    assert isinstance(frame, TopicEvent) and not frame.correlation_id
    dedup = OverlapDedup(monotonic=lambda: 0.0)
    dedup.open_window(10.0)
    assert dedup.is_duplicate(frame) is False
    assert dedup.is_duplicate(frame) is False  # cannot be told apart: never dropped
    assert parse_event(frame) is None  # and not understood either: counted as unparsed
