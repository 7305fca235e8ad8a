"""The PKCE pieces of a browser sign-in (RFC 7636, genesys-api.md 2.2): pure and I/O-free.

Apart from the session so the maths can be checked against the RFC's own vectors, and so the
secrets it makes (verifier, state) have one obvious origin.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
from urllib.parse import urlencode

from core.rest.regions import Environment

PKCE_ALPHABET = string.ascii_letters + string.digits + "-._~"  # RFC 7636 "unreserved"
VERIFIER_MIN_LEN = 43
VERIFIER_MAX_LEN = 128
VERIFIER_LEN = 64
STATE_BYTES = 24


def make_code_verifier(length: int = VERIFIER_LEN) -> str:
    """A fresh PKCE code verifier: ``length`` characters of the RFC 7636 alphabet."""
    if not VERIFIER_MIN_LEN <= length <= VERIFIER_MAX_LEN:
        raise ValueError(f"a code verifier has {VERIFIER_MIN_LEN}-{VERIFIER_MAX_LEN} characters")
    return "".join(secrets.choice(PKCE_ALPHABET) for _ in range(length))


def code_challenge(verifier: str) -> str:
    """The S256 challenge: base64url(SHA-256(ascii(verifier))) without ``=`` padding."""
    if not VERIFIER_MIN_LEN <= len(verifier) <= VERIFIER_MAX_LEN or any(
        c not in PKCE_ALPHABET for c in verifier
    ):
        raise ValueError("not a valid PKCE code verifier (RFC 7636 section 4.1)")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_state() -> str:
    """An unguessable ``state`` that ties the redirect to this sign-in."""
    return secrets.token_urlsafe(STATE_BYTES)


def build_authorize_url(
    env: Environment,
    client_id: str,
    *,
    redirect_uri: str,
    challenge: str,
    state: str,
    org: str | None = None,
    provider: str | None = None,
) -> str:
    """The browser URL of step 2 of genesys-api.md 2.2 (``org``/``provider``: both or neither)."""
    if (org is None) != (provider is None):
        raise ValueError("org and provider must be given together")
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
    }
    if org is not None and provider is not None:
        params.update(org=org, provider=provider)
    return f"{env.login_base}/oauth/authorize?{urlencode(params)}"
