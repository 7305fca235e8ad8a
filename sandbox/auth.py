"""OAuth for the sandbox org: authorization code + PKCE, client credentials, refresh, tokens/me.

Written from genesys-api.md section 2: codes are single use and short lived, a wrong verifier is
``invalid_grant``, an unknown client is ``invalid_client``, tokens expire after a TTL and expired
or revoked tokens get 401 on every API call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import logging
import re
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web

from sandbox.catalog import CLIENT_PERMISSIONS
from sandbox.config import SandboxConfig
from sandbox.entities import User
from sandbox.errors import ApiError, rate_limited
from sandbox.org import Org
from sandbox.timefmt import iso

logger = logging.getLogger(__name__)

VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
CHALLENGE_RE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
Grant = Literal["CODE", "CLIENT-CREDENTIALS"]
IDLE_TIMEOUT_S = 8 * 3600


@dataclass(slots=True)
class OAuthClient:
    """A registered OAuth client of the org."""

    id: str
    name: str
    secret: str | None  # None: a public (PKCE) client


@dataclass(slots=True)
class Token:
    """An issued access token and what it may do."""

    value: str
    client_id: str
    grant: Grant
    user_id: str | None
    created: float
    expires: float
    permissions: frozenset[str]
    revoked: bool = False

    def live(self, now: float) -> bool:
        """Neither revoked nor expired."""
        return not self.revoked and now < self.expires

    @property
    def subject(self) -> str:
        """Who the channel quota counts against: the user, or the client for service tokens."""
        return self.user_id or f"client:{self.client_id}"

    @property
    def rate_key(self) -> str:
        """Rate limits count per user + OAuth client for user tokens, per token otherwise."""
        if self.grant == "CLIENT-CREDENTIALS":
            return f"token:{self.value}"
        return f"user:{self.user_id}:{self.client_id}"


@dataclass(slots=True)
class AuthCode:
    """A pending authorization code."""

    client_id: str
    user_id: str
    redirect_uri: str
    challenge: str | None
    expires: float
    used: bool = False


class OAuthError(Exception):
    """An RFC 6749 error answer of the token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> web.Response:
        """Render as the OAuth 2 JSON error body."""
        return web.json_response(
            {"error": self.error, "error_description": self.description},
            status=self.status,
            headers={"Cache-Control": "no-store"},
        )


def _loopback(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


class AuthServer:
    """Issues and checks tokens; tells the streaming side when a token dies."""

    def __init__(self, config: SandboxConfig, org: Org) -> None:
        self.config = config
        self.org = org
        self.clients = {
            config.pkce_client_id: OAuthClient(config.pkce_client_id, "Sandbox Desktop", None),
            config.client_id: OAuthClient(
                config.client_id, "Sandbox Service", config.client_secret
            ),
        }
        self.tokens: dict[str, Token] = {}
        self.codes: dict[str, AuthCode] = {}
        self.refresh_tokens: dict[str, tuple[str, str]] = {}  # refresh -> (client_id, user_id)
        self.on_revoked: Callable[[Token], None] = lambda token: None
        self._windows: dict[str, deque[float]] = {}
        self.issued = 0

    # ------------------------------------------------------------------ tokens
    def _issue(self, client_id: str, grant: Grant, user: User | None) -> Token:
        now = self.org.clock()
        token = Token(
            value=secrets.token_urlsafe(32),
            client_id=client_id,
            grant=grant,
            user_id=user.id if user else None,
            created=now,
            expires=now + self.config.token_ttl_s,
            permissions=user.permissions if user else CLIENT_PERMISSIONS,
        )
        self.tokens[token.value] = token
        self.issued += 1
        return token

    def _token_body(self, token: Token, refresh: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": token.value,
            "token_type": "bearer",
            "expires_in": max(0, round(token.expires - token.created)),
        }
        if refresh:
            body["refresh_token"] = refresh
        return body

    def _new_refresh(self, client_id: str, user_id: str) -> str:
        value = secrets.token_urlsafe(32)
        self.refresh_tokens[value] = (client_id, user_id)
        return value

    def authenticate(self, request: web.Request) -> Token:
        """The live token of a bearer request, or a 401 ``ApiError``; counts the call."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        token = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        now = self.org.clock()
        if token is None or not token.live(now):
            raise ApiError(401, "bad.credentials", "Invalid login credentials.")
        limit = (
            self.config.client_rate_per_min
            if token.grant == "CLIENT-CREDENTIALS"
            else (self.config.user_rate_per_min)
        )
        window = self._windows.setdefault(token.rate_key, deque())
        while window and window[0] <= now - 60.0:
            window.popleft()
        if len(window) >= limit:
            raise rate_limited(max(1, round(window[0] + 60.0 - now)))
        window.append(now)
        return token

    def revoke(self, token: Token) -> None:
        """Revoke one token and tell the streaming side."""
        if token.revoked:
            return
        token.revoked = True
        self.on_revoked(token)

    def revoke_all(self, user_id: str | None = None) -> int:
        """Revoke every live token (of one user); returns how many."""
        now = self.org.clock()
        victims = [
            t
            for t in self.tokens.values()
            if t.live(now) and (user_id is None or t.user_id == user_id)
        ]
        for token in victims:
            self.revoke(token)
        return len(victims)

    def revoke_refresh_tokens(self, user_id: str | None = None) -> int:
        """Revoke every refresh token (of one user), as an admin revoking the app's grants."""
        victims = [
            value
            for value, (_client, owner) in self.refresh_tokens.items()
            if user_id is None or owner == user_id
        ]
        for value in victims:
            del self.refresh_tokens[value]
        return len(victims)

    def expire_all(self, user_id: str | None = None) -> int:
        """Make every live token (of one user) expire now; the streaming sweep sees it."""
        now = self.org.clock()
        count = 0
        for token in self.tokens.values():
            if token.live(now) and (user_id is None or token.user_id == user_id):
                token.expires = now
                count += 1
        return count

    # ------------------------------------------------------------------ /oauth/authorize
    def _redirect_allowed(self, uri: str) -> bool:
        if self.config.redirect_uris:
            return uri in self.config.redirect_uris
        return _loopback(uri)

    def _login_user(self, ref: str | None) -> User | None:
        ref = ref or self.config.login_user
        if ref:
            return self.org.find_user(ref)
        return next((u for u in self.org.users.values() if u.role == "supervisor"), None)

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        """``GET /oauth/authorize``: sign in as a sandbox user and redirect with a code."""
        q = request.query
        client = self.clients.get(q.get("client_id", ""))
        if client is None:
            return _page("Unknown client", "This client id is not known in this org.", status=400)
        redirect_uri = q.get("redirect_uri", "")
        if not self._redirect_allowed(redirect_uri):
            return _page(
                "Redirect URI not allowed",
                "The redirect URI does not match one registered on this OAuth client.",
                status=400,
            )
        state = q.get("state")

        def fail(error: str, description: str) -> web.StreamResponse:
            params = {"error": error, "error_description": description}
            if state is not None:
                params["state"] = state
            raise web.HTTPFound(_with_query(redirect_uri, params))

        if q.get("response_type") != "code":
            return fail("unsupported_response_type", "Only response_type=code is supported.")
        if ("org" in q) != ("provider" in q):
            return fail("invalid_request", "org and provider must be given together.")
        challenge = q.get("code_challenge")
        if client.secret is None and not challenge:
            return fail("invalid_request", "This client requires PKCE (code_challenge).")
        if challenge is not None:
            if q.get("code_challenge_method") != "S256":
                return fail("invalid_request", "code_challenge_method must be S256.")
            if not CHALLENGE_RE.match(challenge):
                return fail("invalid_request", "code_challenge is not a base64url SHA-256 digest.")
        if q.get("sandbox_deny"):
            return fail("access_denied", "The user denied the request.")
        if q.get("prompt") == "login" and not q.get("sandbox_user"):
            return self._chooser(request)
        user = self._login_user(q.get("sandbox_user"))
        if user is None:
            return _page("Unknown user", "No such user in the sandbox org.", status=400)
        code = secrets.token_urlsafe(24)
        self.codes[code] = AuthCode(
            client_id=client.id,
            user_id=user.id,
            redirect_uri=redirect_uri,
            challenge=challenge,
            expires=self.org.clock() + self.config.code_ttl_s,
        )
        params = {"code": code}
        if state is not None:
            params["state"] = state
        raise web.HTTPFound(_with_query(redirect_uri, params))

    def _chooser(self, request: web.Request) -> web.Response:
        base = {k: v for k, v in request.query.items() if k != "prompt"}
        people = sorted(self.org.users.values(), key=lambda u: (u.role != "supervisor", u.name))
        links = [(u, html.escape(urlencode({**base, "sandbox_user": u.id}))) for u in people[:40]]
        items = "".join(
            f'<li><a href="/oauth/authorize?{query}">{html.escape(u.name)}</a>'
            f" <small>{u.role}</small></li>"
            for u, query in links
        )
        deny = html.escape(urlencode({**base, "sandbox_deny": "1"}))
        return _page(
            "Sign in to the sandbox org",
            f"<p>Choose who you are:</p><ul>{items}</ul>"
            f'<p><a href="/oauth/authorize?{deny}">Deny access</a></p>',
            raw=True,
        )

    # ------------------------------------------------------------------ /oauth/token
    def _client_auth(self, request: web.Request, form: dict[str, str]) -> tuple[OAuthClient, bool]:
        """The calling client and whether it proved its secret with HTTP Basic."""
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise OAuthError("invalid_client", "Malformed Basic credentials.", 401) from None
            client_id, _, secret = decoded.partition(":")
            client = self.clients.get(client_id)
            if (
                client is None
                or client.secret is None
                or not secrets.compare_digest(client.secret, secret)
            ):
                raise OAuthError("invalid_client", "Client authentication failed.", 401)
            return client, True
        client = self.clients.get(form.get("client_id", ""))
        if client is None:
            raise OAuthError("invalid_client", "Client authentication failed.", 401)
        return client, False

    async def token(self, request: web.Request) -> web.Response:
        """``POST /oauth/token`` (form encoded)."""
        try:
            if request.content_type != "application/x-www-form-urlencoded":
                raise OAuthError("invalid_request", "The body must be form encoded.")
            form = dict(parse_qsl((await request.read()).decode("utf-8", "replace")))
            client, proved = self._client_auth(request, form)
            grant = form.get("grant_type")
            if grant == "authorization_code":
                return web.json_response(self._code_grant(client, proved, form), headers=_NO_STORE)
            if grant == "client_credentials":
                if not proved:
                    raise OAuthError("unauthorized_client", "Client credentials need a secret.")
                token = self._issue(client.id, "CLIENT-CREDENTIALS", None)
                return web.json_response(self._token_body(token), headers=_NO_STORE)
            if grant == "refresh_token":
                return web.json_response(self._refresh(client, proved, form), headers=_NO_STORE)
            raise OAuthError("unsupported_grant_type", f"Grant type {grant!r} is not supported.")
        except OAuthError as exc:
            return exc.response()

    def _code_grant(
        self, client: OAuthClient, proved: bool, form: dict[str, str]
    ) -> dict[str, Any]:
        if client.secret is not None and not proved:
            raise OAuthError("invalid_client", "This client must authenticate.", 401)
        code = self.codes.get(form.get("code", ""))
        now = self.org.clock()
        if code is None or code.used or code.expires <= now or code.client_id != client.id:
            raise OAuthError("invalid_grant", "authorization code is invalid or expired")
        code.used = True
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorize request")
        if code.challenge is not None:
            verifier = form.get("code_verifier", "")
            if not VERIFIER_RE.match(verifier) or _s256(verifier) != code.challenge:
                raise OAuthError("invalid_grant", "code_verifier does not match the challenge")
        user = self.org.users[code.user_id]
        token = self._issue(client.id, "CODE", user)
        refresh = None
        if client.secret is not None or self.config.pkce_refresh_tokens:
            refresh = self._new_refresh(client.id, user.id)
        return self._token_body(token, refresh)

    def _refresh(self, client: OAuthClient, proved: bool, form: dict[str, str]) -> dict[str, Any]:
        if client.secret is not None and not proved:
            raise OAuthError("invalid_client", "This client must authenticate.", 401)
        entry = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
        if entry is None or entry[0] != client.id:
            raise OAuthError("invalid_grant", "refresh token is invalid or revoked")
        user = self.org.users[entry[1]]
        token = self._issue(client.id, "CODE", user)
        return self._token_body(token, self._new_refresh(client.id, user.id))

    # ------------------------------------------------------------------ /api/v2/tokens/me
    def token_info(self, token: Token) -> dict[str, Any]:
        """``TokenInfo`` (note the capitalised ``OAuthClient`` key)."""
        client = self.clients[token.client_id]
        org = {"id": self.org.id, "name": self.org.name}
        return {
            "organization": org,
            "homeOrganization": org,
            "authorizedScope": sorted(token.permissions),
            "clonedUser": None,
            "dateTokenIdles": iso(self.org.clock() + IDLE_TIMEOUT_S),
            "OAuthClient": {
                "id": client.id,
                "name": client.name,
                "authorizedGrantType": token.grant,
                "scope": sorted(token.permissions),
            },
        }

    async def logout(self, request: web.Request) -> web.StreamResponse:
        """``GET /logout``: end the browser session; redirect back when asked to."""
        target = request.query.get("redirect_uri")
        if target and self._redirect_allowed(target):
            raise web.HTTPFound(target)
        return _page("Signed out", "You are signed out of the sandbox org.")


_NO_STORE = {"Cache-Control": "no-store"}


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _page(title: str, body: str, *, status: int = 200, raw: bool = False) -> web.Response:
    content = body if raw else f"<p>{html.escape(body)}</p>"
    return web.Response(
        status=status,
        content_type="text/html",
        text=(
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"</head><body><h1>{html.escape(title)}</h1>{content}</body></html>"
        ),
    )
