"""The welcome dialog's words: where an org lives, and why a sign-in failed, for a person.

Kept apart from the dialog's widgets so the dialog stays short; the dialog imports these.
"""

from __future__ import annotations

from typing import Protocol

from core.errors import (
    AuthError,
    CredentialStoreError,
    InvalidEnvironmentError,
    OAuthError,
    SignInCancelledError,
    SignInTimedOutError,
    TransportError,
)
from core.rest.regions import Environment, parse_environment


class SignInAsked(Protocol):
    """What a failed sign-in asked for (the dialog's SignInRequest): where, and how."""

    @property
    def environment(self) -> str:
        """The region key or base URL."""
        ...

    @property
    def grant(self) -> str:
        """The way to sign in: "pkce" or "client_credentials"."""
        ...


def environment_label(text: str) -> str:
    """A region's place and domain ("EU (Frankfurt), mypurecloud.de") or the URL as typed."""
    try:
        env = parse_environment(text)
    except InvalidEnvironmentError:
        return text
    return _label(env)


def _label(env: Environment) -> str:
    if env.region is None:
        return env.api_base
    return f"{env.region.location} ({env.region.domain})"


def describe_sign_in_error(exc: BaseException, request: SignInAsked) -> str:
    """Words for the person about why signing in failed, and what to do."""
    where = environment_label(request.environment)
    if isinstance(exc, SignInCancelledError):
        return (
            "The sign-in was declined in the browser (consent was not given). Sign in again and "
            "allow Genesys Tray to read presence, routing and queue data."
        )
    if isinstance(exc, SignInTimedOutError):
        return (
            "The sign-in timed out: the browser did not come back. Finish the sign-in in the "
            "browser window the next time, or try again."
        )
    if isinstance(exc, OAuthError):
        if exc.error == "invalid_client":
            if request.grant == "client_credentials":
                return (
                    f"This client id is not known in {where}, or its secret is wrong. Check the "
                    "region, the client id and the secret."
                )
            return (
                f"This client id is not known in {where}. Check that you chose the region your "
                "org lives in and copied the whole client id."
            )
        if exc.error == "access_denied":
            return "The sign-in was declined (consent was not given). Sign in again and allow it."
        if exc.error in ("unauthorized_client", "unsupported_grant_type"):
            kind = "a browser sign-in (Code Authorization with PKCE)"
            if request.grant == "client_credentials":
                kind = "client credentials"
            return (
                f"This OAuth client is not set up for {kind}. Ask your Genesys Cloud admin, or "
                "choose the other sign-in method."
            )
        if exc.error == "invalid_scope":
            return "This OAuth client lacks the scopes Genesys Tray needs; ask your admin."
        return f"Genesys Cloud refused the sign-in ({exc.error}). {exc.description}".strip()
    if isinstance(exc, InvalidEnvironmentError):
        return str(exc)
    if isinstance(exc, TransportError):
        return f"Genesys Cloud could not be reached at {where}. Check your network. ({exc})"
    if isinstance(exc, CredentialStoreError):
        return f"Signed in, but the keyring could not keep the sign-in: {exc}"
    if isinstance(exc, AuthError):
        return str(exc)
    return f"The sign-in failed unexpectedly ({type(exc).__name__}). See the log for details."
