"""Tokens as values: the token set, its renewal maths and the token endpoint's answer.

A leaf: the engine, the timeline and the GUI read :class:`TokenSet` without pulling in the
session's HTTP or keyring machinery.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from core.errors import OAuthError

logger = logging.getLogger(__name__)

Grant = Literal["pkce", "client_credentials"]

RENEW_MARGIN_MAX_S = 300.0  # renew at most 5 min before expiry ...
RENEW_MARGIN_FRACTION = 0.1  # ... or with 10 % of the lifetime left, whichever is less
DEFAULT_TOKEN_LIFETIME_S = 3600.0  # only if a server ever omits expires_in
MIN_TOKEN_LIFETIME_S = 60.0  # shorter would renew in a tight loop
MAX_TOKEN_LIFETIME_S = 7 * 24 * 3600.0  # beyond any org's setting: a broken answer
INVALID_TOKEN_LIFETIME_S = 300.0  # NaN, infinite or negative: trust it briefly, renew soon


@dataclass(frozen=True, slots=True, repr=False)
class TokenSet:
    """One access token with what is needed to renew it.

    Attributes:
        access_token: the bearer token (hidden from repr/str).
        expires_at: when it expires, epoch seconds.
        refresh_token: the refresh token, if the server ever gave one (hidden from repr/str).
        grant: how it was obtained, which decides how it is renewed.
        issued_at: when it was obtained (epoch seconds); sizes the renewal margin.
    """

    access_token: str
    expires_at: float
    refresh_token: str | None = None
    grant: Grant = "pkce"
    issued_at: float | None = None

    def __repr__(self) -> str:
        refresh = "<hidden>" if self.refresh_token else None
        return (
            f"TokenSet(grant={self.grant!r}, expires_at={self.expires_at!r}, "
            f"issued_at={self.issued_at!r}, access_token=<hidden>, refresh_token={refresh})"
        )

    __str__ = __repr__

    @property
    def lifetime_s(self) -> float | None:
        """Seconds between issue and expiry, when the issue time is known."""
        return None if self.issued_at is None else max(0.0, self.expires_at - self.issued_at)

    @property
    def renewal_margin_s(self) -> float:
        """How long before expiry to renew: min(5 min, 10 % of the lifetime).

        The fraction keeps short lifetimes (tests, orgs set to 5 min) from renewing on every
        call; the cap keeps 24 h tokens from renewing hours early.
        """
        lifetime = self.lifetime_s
        if lifetime is None:
            return RENEW_MARGIN_MAX_S
        return min(RENEW_MARGIN_MAX_S, RENEW_MARGIN_FRACTION * lifetime)

    def expired(self, now: float) -> bool:
        """Whether the token is past its expiry; a broken (NaN, infinite) expiry counts as past."""
        return not math.isfinite(self.expires_at) or now >= self.expires_at

    def needs_renewal(self, now: float) -> bool:
        """Whether less than :attr:`renewal_margin_s` is left (or it has expired)."""
        return self.expired(now) or self.expires_at - now < self.renewal_margin_s

    @property
    def renewable_silently(self) -> bool:
        """Whether a refresh token exists or the grant can simply be repeated."""
        return self.refresh_token is not None or self.grant == "client_credentials"


def usable_lifetime(expires_in: object, min_s: float = MIN_TOKEN_LIFETIME_S) -> float:
    """``expires_in`` clamped to a sane range, so no answer can make renewal spin or overflow.

    NaN made every renewal check false (a busy loop), a huge integer overflowed ``float``; both
    come only from a broken or hostile server, and the clamp is logged. ``min_s`` is lowered
    for the sandbox on loopback only, whose tests use lifetimes of a second.
    """
    if expires_in is None:
        logger.warning("token answer without expires_in; assuming %.0f s", DEFAULT_TOKEN_LIFETIME_S)
        return DEFAULT_TOKEN_LIFETIME_S
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        logger.warning(
            "token answer with an unusable expires_in; assuming %.0f s", INVALID_TOKEN_LIFETIME_S
        )
        return INVALID_TOKEN_LIFETIME_S
    # Compared before float(): a huge integer overflows it.
    huge = isinstance(expires_in, int) and expires_in > MAX_TOKEN_LIFETIME_S
    seconds = MAX_TOKEN_LIFETIME_S + 1 if huge else float(expires_in)
    if not math.isfinite(seconds) or seconds < 0:
        logger.warning(
            "token answer with expires_in %s; assuming %.0f s", seconds, INVALID_TOKEN_LIFETIME_S
        )
        return INVALID_TOKEN_LIFETIME_S
    clamped = min(MAX_TOKEN_LIFETIME_S, max(min_s, seconds))
    if clamped != seconds:
        logger.warning("token answer with expires_in %g s; using %.0f s", seconds, clamped)
    return clamped


def token_from_body(
    body: Mapping[str, Any],
    *,
    grant: Grant,
    now: float,
    previous_refresh: str | None = None,
    min_lifetime_s: float = MIN_TOKEN_LIFETIME_S,
) -> TokenSet:
    """The token set of a token endpoint answer obtained at ``now`` (epoch seconds).

    Args:
        body: the JSON answer of ``/oauth/token``.
        grant: how it was obtained, which decides how it is renewed.
        now: when the request was sent: expiry counts from there, never from a late answer.
        previous_refresh: the refresh token used, kept when the answer brings no new one.
        min_lifetime_s: the shortest lifetime believed (see :func:`usable_lifetime`).

    Raises:
        OAuthError: ``invalid_response`` when the answer carries no access token.
    """
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        raise OAuthError("invalid_response", "The token answer carried no access_token.")
    lifetime = usable_lifetime(body.get("expires_in"), min_lifetime_s)
    refresh = body.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        refresh = previous_refresh  # RFC 6749 6: no new refresh token means keep the old one
    return TokenSet(
        access_token=access,
        expires_at=now + lifetime,
        refresh_token=refresh,
        grant=grant,
        issued_at=now,
    )
