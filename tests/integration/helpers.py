"""Small real-client helpers for talking to the sandbox in integration tests.

They use httpx and websockets directly (never ``core/``), so a sandbox test checks the sandbox
against shared/genesys-api.md and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import httpx

REDIRECT_URI = "http://127.0.0.1:53682/callback"


def pkce_pair() -> tuple[str, str]:
    """A (verifier, S256 challenge) pair as RFC 7636 and genesys-api.md 2.2 describe."""
    verifier = secrets.token_urlsafe(48)[:64]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


async def authorize(
    http: httpx.AsyncClient,
    *,
    client_id: str = "sandbox-desktop",
    challenge: str | None = None,
    state: str = "st-1",
    redirect_uri: str = REDIRECT_URI,
    user: str | None = None,
) -> dict[str, list[str]]:
    """Call ``/oauth/authorize`` and return the query of the redirect it answers with."""
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if challenge is not None:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    if user is not None:
        params["sandbox_user"] = user
    resp = await http.get("/oauth/authorize", params=params, follow_redirects=False)
    assert resp.status_code == 302, resp.text
    location = resp.headers["location"]
    assert location.startswith(redirect_uri)
    return parse_qs(urlsplit(location).query)


async def pkce_token(http: httpx.AsyncClient, user: str | None = None) -> str:
    """Sign in through authorization code + PKCE and return the access token."""
    verifier, challenge = pkce_pair()
    query = await authorize(http, challenge=challenge, user=user)
    resp = await http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "code_verifier": verifier,
            "client_id": "sandbox-desktop",
            "redirect_uri": REDIRECT_URI,
        },
    )
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    assert isinstance(token, str)
    return token


async def client_token(
    http: httpx.AsyncClient, client_id: str = "sandbox-client", secret: str = "sandbox-secret"
) -> str:
    """A client-credentials token (HTTP Basic, form body)."""
    resp = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    assert isinstance(token, str)
    return token


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of an API call."""
    return {"Authorization": f"Bearer {token}"}


class Captured(logging.Handler):
    """Formats every record the way the app's log handlers do, into ``lines``."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def redacted_log(*loud: str) -> Iterator[Captured]:
    """Every record, through the app's redaction filter, with the ``loud`` loggers at DEBUG."""
    from core.app.redact import RedactingFilter

    handler = Captured()
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    loggers = [root, *(logging.getLogger(name) for name in loud)]
    levels = [lg.level for lg in loggers]
    root.addHandler(handler)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        root.removeHandler(handler)
