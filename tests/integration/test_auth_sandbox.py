"""core.auth.session against the sandbox org over real loopback sockets.

The "browser" here is an httpx client that GETs the authorize URL and follows the sandbox's 302 to
our loopback listener, exactly what a browser does once the person has signed in (the sandbox's
authorize page signs in the supervisor at once). tests/desktop/test_pkce_chromium.py does the same
with a real headless Chromium.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.auth.tokens import TokenSet
from core.errors import (
    AuthError,
    OAuthError,
    SignInCancelledError,
    SignInRequiredError,
    SignInTimedOutError,
)
from core.rest.regions import Environment, parse_environment
from sandbox.server import Sandbox
from tests.integration.helpers import bearer

PKCE_CLIENT = "sandbox-desktop"
SERVICE_CLIENT = "sandbox-client"
SERVICE_SECRET = "sandbox-secret"
SHORT_TTL = pytest.mark.sandbox_config(token_ttl_s=3.0)
Browser = Callable[[str], Awaitable[None]]


class FakeClock:
    """Our side's clock: starts at the real time (the sandbox's clock), moves only when told."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Recorded:
    """One request that went through the transport seam."""

    method: str
    path: str
    headers: httpx.Headers
    form: dict[str, str]


@dataclass
class RecordingTransport(httpx.AsyncBaseTransport):
    """The real transport, with every request written down (form bodies decoded)."""

    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    requests: list[Recorded] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.content.decode()
        form = (
            dict(parse_qsl(body))
            if "form-urlencoded" in request.headers.get("content-type", "")
            else {}
        )
        self.requests.append(Recorded(request.method, request.url.path, request.headers, form))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/oauth/token"]


@dataclass
class HttpxBrowser:
    """Follows the authorize URL like a browser; ``rewrite`` may tamper with the redirect."""

    rewrite: Callable[[str], str] | None = None
    extra: dict[str, str] = field(default_factory=dict)
    quiet: bool = False  # keep the browser's own httpx/httpcore records out of the log
    urls: list[str] = field(default_factory=list)
    pages: list[httpx.Response] = field(default_factory=list)

    async def __call__(self, url: str) -> None:
        if self.extra:
            url = f"{url}&{urlencode(self.extra)}"
        self.urls.append(url)
        with contextlib.ExitStack() as stack:
            if self.quiet:
                for name in ("httpx", "httpcore"):
                    stack.enter_context(_logger_level(name, logging.WARNING))
            await self._follow(url)

    async def _follow(self, url: str) -> None:
        async with httpx.AsyncClient(timeout=10.0) as client:
            resp = await client.get(url, follow_redirects=False)
            self.pages.append(resp)
            if resp.status_code != 302:
                return
            location = resp.headers["location"]
            if self.rewrite is not None:
                location = self.rewrite(location)
            self.pages.append(await client.get(location))

    @property
    def redirect_port(self) -> int:
        query = parse_qs(urlsplit(self.urls[-1]).query)
        port = urlsplit(query["redirect_uri"][0]).port
        assert port is not None
        return port


@contextlib.contextmanager
def _logger_level(name: str, level: int) -> Iterator[None]:
    logger = logging.getLogger(name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _with_state(location: str, state: str | None) -> str:
    parts = urlsplit(location)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "state"]
    if state is not None:
        query.append(("state", state))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _port_is_free(port: int, *, reuse_address: bool = True) -> bool:
    """Listen on the port again: proof that nothing listens there any more.

    With ``reuse_address`` (what asyncio's listener does too) a connection of the finished
    sign-in lingering in TIME_WAIT does not count; without it, nothing at all may hold the port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if reuse_address:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
        return True


@pytest.fixture
def env(sandbox: Sandbox) -> Environment:
    return parse_environment(sandbox.base_url)


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> MemoryCredentialStore:
    return MemoryCredentialStore()


@pytest.fixture
async def pkce_auth(
    env: Environment, store: MemoryCredentialStore, transport: RecordingTransport, clock: FakeClock
) -> AsyncIterator[Authenticator]:
    async with Authenticator(
        env, PKCE_CLIENT, store, transport=transport, clock=clock, open_browser=HttpxBrowser()
    ) as auth:
        yield auth


@pytest.fixture
async def service_auth(
    env: Environment, store: MemoryCredentialStore, transport: RecordingTransport, clock: FakeClock
) -> AsyncIterator[Authenticator]:
    async with Authenticator(
        env, SERVICE_CLIENT, store, client_secret=SERVICE_SECRET, transport=transport, clock=clock
    ) as auth:
        yield auth


async def _status_of(http: httpx.AsyncClient, token: str) -> int:
    return (await http.get("/api/v2/tokens/me", headers=bearer(token))).status_code


# ------------------------------------------------------------------------------- PKCE
async def test_pkce_sign_in_end_to_end(
    pkce_auth: Authenticator,
    http: httpx.AsyncClient,
    transport: RecordingTransport,
    store: MemoryCredentialStore,
) -> None:
    browser = HttpxBrowser()
    changes: list[TokenSet | None] = []
    pkce_auth.add_listener(changes.append)

    token = await pkce_auth.sign_in_pkce(open_browser=browser)

    assert token.grant == "pkce" and token.refresh_token is None
    assert changes == [token]
    assert await pkce_auth.access_token() == token.access_token
    me = await http.get("/api/v2/users/me", headers=bearer(token.access_token))
    assert me.status_code == 200 and me.json()["name"] == "Sam Supervisor"
    page = browser.pages[-1]
    assert page.status_code == 200 and "You can close this window" in page.text
    # The code exchange: exactly the five fields of genesys-api.md 2.2, no Authorization header.
    exchange = transport.token_requests()[-1]
    assert set(exchange.form) == {
        "grant_type",
        "code",
        "code_verifier",
        "client_id",
        "redirect_uri",
    }
    assert exchange.form["grant_type"] == "authorization_code"
    assert exchange.form["client_id"] == PKCE_CLIENT
    assert exchange.form["redirect_uri"] == f"http://127.0.0.1:{browser.redirect_port}/callback"
    assert "authorization" not in exchange.headers
    assert exchange.headers["content-type"] == "application/x-www-form-urlencoded"
    assert store.keys() == {"access_token", "expires_at", "issued_at", "grant"}
    assert _port_is_free(browser.redirect_port)  # the listener is gone


@pytest.mark.parametrize("state", ["forged-state", None], ids=["forged", "missing"])
async def test_forged_or_missing_state_is_ignored_and_the_real_answer_signs_in(
    pkce_auth: Authenticator, store: MemoryCredentialStore, state: str | None
) -> None:
    """A stray callback (another page, a local user) gets a 400 page; the sign-in goes on."""
    forged = HttpxBrowser(rewrite=lambda location: _with_state(location, state))
    real = HttpxBrowser()

    async def both(url: str) -> None:
        await forged(url)
        await real(url)

    token = await pkce_auth.sign_in_pkce(open_browser=both)
    assert forged.pages[-1].status_code == 400
    assert "does not belong to the current sign-in" in forged.pages[-1].text
    assert real.pages[-1].status_code == 200
    assert pkce_auth.signed_in and await pkce_auth.access_token() == token.access_token
    assert {"access_token", "grant"} <= store.keys()
    assert _port_is_free(real.redirect_port)


async def test_denied_consent_cancels_the_sign_in(pkce_auth: Authenticator) -> None:
    browser = HttpxBrowser(extra={"sandbox_deny": "1"})
    with pytest.raises(SignInCancelledError):
        await pkce_auth.sign_in_pkce(open_browser=browser)
    assert "cancelled" in browser.pages[-1].text
    assert _port_is_free(browser.redirect_port)


async def test_no_redirect_times_out_and_releases_the_port(pkce_auth: Authenticator) -> None:
    urls: list[str] = []

    async def idle_browser(url: str) -> None:
        urls.append(url)  # the person never finishes signing in

    started = time.monotonic()
    with pytest.raises(SignInTimedOutError):
        await pkce_auth.sign_in_pkce(open_browser=idle_browser, timeout_s=0.3)
    assert time.monotonic() - started < 5
    redirect_uri = parse_qs(urlsplit(urls[0]).query)["redirect_uri"][0]
    port = urlsplit(redirect_uri).port
    assert port is not None and _port_is_free(port, reuse_address=False)


async def test_unknown_client_id_fails_before_the_browser_opens(
    env: Environment, transport: RecordingTransport
) -> None:
    browser = HttpxBrowser()
    async with Authenticator(
        env, "no-such-client", MemoryCredentialStore(), transport=transport, open_browser=browser
    ) as auth:
        with pytest.raises(OAuthError) as caught:
            await auth.sign_in_pkce()
    assert caught.value.error == "invalid_client"
    assert browser.urls == []


async def test_unknown_client_id_without_the_check_leaves_the_browser_on_an_error_page(
    env: Environment,
) -> None:
    """Why the check exists: the authorize page answers 400 and never redirects."""
    browser = HttpxBrowser()
    async with Authenticator(env, "no-such-client", MemoryCredentialStore()) as auth:
        with pytest.raises(SignInTimedOutError):
            await auth.sign_in_pkce(open_browser=browser, timeout_s=0.5, check_client=False)
    assert browser.pages[-1].status_code == 400


async def test_second_sign_in_while_one_runs_is_refused(pkce_auth: Authenticator) -> None:
    gate = asyncio.Event()

    async def slow_browser(url: str) -> None:
        await gate.wait()

    first = asyncio.create_task(pkce_auth.sign_in_pkce(open_browser=slow_browser, timeout_s=5))
    await asyncio.sleep(0.05)
    with pytest.raises(AuthError, match="already in progress"):
        await pkce_auth.sign_in_pkce()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first


# ------------------------------------------------------------------------------- client credentials
async def test_client_credentials_round_trip(
    service_auth: Authenticator, http: httpx.AsyncClient, transport: RecordingTransport
) -> None:
    token = await service_auth.sign_in_client_credentials()
    assert token.grant == "client_credentials" and token.refresh_token is None
    info = await http.get("/api/v2/tokens/me", headers=bearer(token.access_token))
    assert info.status_code == 200
    assert info.json()["OAuthClient"]["authorizedGrantType"] == "CLIENT-CREDENTIALS"
    (request,) = transport.token_requests()
    assert request.form == {"grant_type": "client_credentials"}
    expected = base64.b64encode(f"{SERVICE_CLIENT}:{SERVICE_SECRET}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"


async def test_client_credentials_with_a_wrong_secret(env: Environment) -> None:
    async with Authenticator(env, SERVICE_CLIENT, MemoryCredentialStore()) as auth:
        with pytest.raises(OAuthError) as caught:
            await auth.sign_in_client_credentials("wrong")
    assert caught.value.error == "invalid_client"
    assert not auth.signed_in


# ------------------------------------------------------------------------------- renewal
@SHORT_TTL
async def test_client_credentials_renew_silently_before_expiry(
    service_auth: Authenticator, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    changes: list[TokenSet | None] = []
    service_auth.add_listener(changes.append)
    first = await service_auth.sign_in_client_credentials()
    clock.advance(2.0)  # 1 s left of 3: more than 10 %
    assert await service_auth.access_token() == first.access_token
    clock.advance(0.8)  # 0.2 s left: renew
    renewed = await service_auth.access_token()
    assert renewed != first.access_token
    assert [c.access_token if c else None for c in changes] == [first.access_token, renewed]
    assert await _status_of(http, renewed) == 200


@SHORT_TTL
async def test_pkce_without_refresh_token_asks_for_a_new_sign_in(
    pkce_auth: Authenticator, clock: FakeClock
) -> None:
    token = await pkce_auth.sign_in_pkce()
    clock.advance(2.0)
    assert await pkce_auth.access_token() == token.access_token
    clock.advance(0.8)
    with pytest.raises(SignInRequiredError, match="cannot be renewed without you"):
        await pkce_auth.access_token()
    clock.advance(10)
    with pytest.raises(SignInRequiredError, match="has expired"):
        await pkce_auth.access_token()


@SHORT_TTL
@pytest.mark.sandbox_config(token_ttl_s=3.0, pkce_refresh_tokens=True)
async def test_pkce_with_refresh_token_refreshes_and_rotates(
    pkce_auth: Authenticator,
    http: httpx.AsyncClient,
    clock: FakeClock,
    store: MemoryCredentialStore,
    transport: RecordingTransport,
) -> None:
    first = await pkce_auth.sign_in_pkce()
    assert first.refresh_token is not None
    assert await store.get("refresh_token") == first.refresh_token
    clock.advance(2.8)
    tokens = await asyncio.gather(*(pkce_auth.access_token() for _ in range(5)))
    assert len(set(tokens)) == 1 and tokens[0] != first.access_token  # one renewal for all
    refreshes = [r for r in transport.token_requests() if r.form["grant_type"] == "refresh_token"]
    assert len(refreshes) == 1
    assert refreshes[0].form == {
        "grant_type": "refresh_token",
        "refresh_token": first.refresh_token,
        "client_id": PKCE_CLIENT,  # a public client names itself; no Basic header
    }
    assert "authorization" not in refreshes[0].headers
    second = pkce_auth.token
    assert second is not None and second.refresh_token not in (None, first.refresh_token)
    assert await store.get("refresh_token") == second.refresh_token  # rotated in the store
    assert await store.get("access_token") == second.access_token
    assert await _status_of(http, second.access_token) == 200
    old = await http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first.refresh_token,
            "client_id": PKCE_CLIENT,
        },
    )
    assert old.json()["error"] == "invalid_grant"  # the old refresh token is used up


@pytest.mark.sandbox_config(pkce_refresh_tokens=True)
async def test_revoked_refresh_token_means_sign_in_required(
    pkce_auth: Authenticator, sandbox: Sandbox, clock: FakeClock
) -> None:
    await pkce_auth.sign_in_pkce()
    sandbox.auth.refresh_tokens.clear()  # the org revoked every refresh token
    clock.advance(86_400)
    with pytest.raises(SignInRequiredError, match="can no longer be renewed"):
        await pkce_auth.access_token()
    token = pkce_auth.token
    assert token is not None and token.refresh_token is None  # never tried again


async def test_rejected_token_is_forgotten_when_it_cannot_be_renewed(
    pkce_auth: Authenticator, sandbox: Sandbox, store: MemoryCredentialStore
) -> None:
    token = await pkce_auth.sign_in_pkce()
    sandbox.auth.revoke_all()
    with pytest.raises(SignInRequiredError):
        await pkce_auth.renew_rejected(token.access_token)
    assert not pkce_auth.signed_in and store.keys() == frozenset()


async def test_rejected_client_credentials_token_is_renewed_once(
    service_auth: Authenticator, sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    token = await service_auth.sign_in_client_credentials()
    sandbox.auth.revoke_all()
    renewed = await asyncio.gather(
        *(service_auth.renew_rejected(token.access_token) for _ in range(3))
    )
    assert len(set(renewed)) == 1 and renewed[0] != token.access_token
    assert await _status_of(http, renewed[0]) == 200


# ------------------------------------------------------------------------------- remembering
async def test_restore_brings_back_the_remembered_session(
    env: Environment,
    store: MemoryCredentialStore,
    pkce_auth: Authenticator,
    http: httpx.AsyncClient,
) -> None:
    token = await pkce_auth.sign_in_pkce()
    await pkce_auth.remember_user("user-1")
    async with Authenticator(env, PKCE_CLIENT, store) as later:
        changes: list[TokenSet | None] = []
        later.add_listener(changes.append)
        assert await later.restore() == token
        assert later.user_id == "user-1"
        assert changes == [token]
        assert await _status_of(http, await later.access_token()) == 200
    async with Authenticator(env, PKCE_CLIENT, MemoryCredentialStore()) as empty:
        assert await empty.restore() is None
        with pytest.raises(SignInRequiredError):
            await empty.access_token()


async def test_sign_out_revokes_and_forgets(
    pkce_auth: Authenticator, http: httpx.AsyncClient, store: MemoryCredentialStore
) -> None:
    token = await pkce_auth.sign_in_pkce()
    await pkce_auth.remember_user("user-1")
    changes: list[TokenSet | None] = []
    pkce_auth.add_listener(changes.append)
    assert await _status_of(http, token.access_token) == 200

    assert (await pkce_auth.sign_out()).revoked

    assert await _status_of(http, token.access_token) == 401
    assert store.keys() == frozenset()
    assert changes == [None]
    assert pkce_auth.user_id is None
    with pytest.raises(SignInRequiredError):
        await pkce_auth.access_token()


async def test_sign_out_with_an_already_revoked_token_still_forgets(
    pkce_auth: Authenticator, sandbox: Sandbox, store: MemoryCredentialStore
) -> None:
    await pkce_auth.sign_in_pkce()
    sandbox.auth.revoke_all()
    assert (await pkce_auth.sign_out()).revoked  # 401 is ignored
    assert store.keys() == frozenset()


async def test_sign_out_when_the_server_is_gone_still_forgets(
    pkce_auth: Authenticator, sandbox: Sandbox, store: MemoryCredentialStore
) -> None:
    await pkce_auth.sign_in_pkce()
    await sandbox.stop()
    assert not (await pkce_auth.sign_out()).revoked
    assert store.keys() == frozenset() and not pkce_auth.signed_in


# ------------------------------------------------------------------------------- logging
@pytest.mark.sandbox_config(token_ttl_s=3.0, pkce_refresh_tokens=True)
async def test_logs_never_contain_secrets(
    env: Environment,
    clock: FakeClock,
    transport: RecordingTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # The browser's own records are the browser's (a real one keeps its own history), so it is
    # quiet; while it runs, core makes no HTTP requests of its own.
    browser = HttpxBrowser(quiet=True)
    secrets_seen: set[str] = {SERVICE_SECRET}
    async with Authenticator(
        env, PKCE_CLIENT, MemoryCredentialStore(), transport=transport, clock=clock
    ) as auth:
        first = await auth.sign_in_pkce(open_browser=browser)
        clock.advance(2.8)
        await auth.access_token()  # refresh + rotation
        last = auth.token
        await auth.sign_out()
    async with Authenticator(
        env,
        SERVICE_CLIENT,
        MemoryCredentialStore(),
        client_secret=SERVICE_SECRET,
        transport=transport,
        clock=clock,
    ) as service:
        cc = await service.sign_in_client_credentials()
        clock.advance(2.8)
        await service.access_token()
        cc_last = service.token
    with pytest.raises(OAuthError):
        async with Authenticator(env, SERVICE_CLIENT, MemoryCredentialStore()) as bad:
            await bad.sign_in_client_credentials("wrong-" + SERVICE_SECRET)

    for token in (first, last, cc, cc_last):
        assert token is not None
        secrets_seen.add(token.access_token)
        if token.refresh_token:
            secrets_seen.add(token.refresh_token)
    query = parse_qs(urlsplit(browser.urls[0]).query)
    secrets_seen.add(query["state"][0])
    secrets_seen.add(query["code_challenge"][0])
    for request in transport.requests:
        for key in ("code", "code_verifier", "refresh_token"):
            if key in request.form:
                secrets_seen.add(request.form[key])
        auth_header = request.headers.get("authorization")
        if auth_header:
            secrets_seen.add(auth_header.split(" ", 1)[1])
    assert len(secrets_seen) >= 10

    # Our records: core's own and those of the HTTP stack under it.
    ours = [r for r in caplog.records if r.name.startswith(("core", "httpx", "httpcore"))]
    assert any(r.name == "core.auth.session" for r in ours)
    assert any("opened the browser" in r.getMessage() for r in ours)
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in ours)
    leaked = [s for s in secrets_seen if s in text]
    assert leaked == [], [line for line in text.splitlines() if any(s in line for s in leaked)]
    assert "?" not in "".join(r.getMessage() for r in ours if r.name.startswith("core"))
