"""The engine's exception tree.

Third-party errors (httpx, websockets, keyring) are translated into these at the boundary, so the
GUI and the CLI can answer each kind in words a person understands. Messages never carry tokens,
codes, secrets or URLs with query strings.
"""

from __future__ import annotations


class GenesysTrayError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidEnvironmentError(GenesysTrayError, ValueError):
    """A region name or base URL that names no Genesys Cloud environment we can use."""


class AuthError(GenesysTrayError):
    """Signing in failed or the session can no longer be used."""


class SignInRequiredError(AuthError):
    """The token expired or was revoked and cannot be renewed without the person."""


class SignInCancelledError(AuthError):
    """The person closed or denied the browser sign-in."""


class SignInTimedOutError(AuthError):
    """No redirect reached the loopback listener in time."""


class OAuthError(AuthError):
    """The OAuth server answered with an RFC 6749 error."""

    def __init__(self, error: str, description: str = "") -> None:
        self.error = error
        self.description = description
        super().__init__(f"{error}: {description}" if description else error)


class ApiError(GenesysTrayError):
    """A Platform API call answered with an error status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str = "",
        correlation_id: str = "",
        method: str = "",
        path: str = "",
    ) -> None:
        self.status = status
        self.code = code
        self.correlation_id = correlation_id
        self.method = method
        self.path = path
        where = f"{method} {path} " if method else ""
        super().__init__(f"{where}→ {status} {code}: {message}".strip())


class UnauthorizedError(ApiError):
    """401: the token is expired or revoked."""


class ForbiddenError(ApiError):
    """403: a permission is missing."""


class NotFoundError(ApiError):
    """404: the entity (often a channel) does not exist (any more)."""


class RateLimitedError(ApiError):
    """429 that outlived our retries; ``retry_after_s`` says when to try again."""

    def __init__(self, status: int, message: str, *, retry_after_s: float, **kw: str) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(status, message, **kw)


class ServerError(ApiError):
    """5xx that outlived our retries."""


class TransportError(GenesysTrayError):
    """The server could not be reached (DNS, refused, reset, TLS, timeout)."""


class CredentialStoreError(GenesysTrayError):
    """The OS keyring could not be read or written."""


class KeyringLockedError(CredentialStoreError):
    """The OS keyring is locked and was not unlocked (the unlock prompt was dismissed or absent)."""


class KeyringNotAnsweringError(CredentialStoreError):
    """The OS keyring does not answer (a hung D-Bus call, an unanswered password prompt)."""
