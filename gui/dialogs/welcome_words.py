"""The welcome dialog's words: where an org lives, why a sign-in failed, what to ask an admin for.

Kept apart from the dialog's widgets so the dialog stays short; the dialog imports these.
"""

from __future__ import annotations

import html
from typing import Protocol

from core.app.permissions import admin_checklist
from core.auth.loopback import CALLBACK_PATH, DEFAULT_REDIRECT_PORTS, LOOPBACK_HOST
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


# ---------------------------------------------------------------------- what to ask your admin for
ADMIN_TITLE = "What to ask your admin for"


def redirect_uris() -> list[str]:
    """The redirect URIs to register on the OAuth client: the first port, then its fallbacks."""
    return [f"http://{LOOPBACK_HOST}:{port}{CALLBACK_PATH}" for port in DEFAULT_REDIRECT_PORTS]


def admin_request() -> list[tuple[str, str, list[str]]]:
    """What to ask an admin for, as (heading, lead-in, items): the OAuth client, the roles.

    The one source of the welcome dialog's "What to ask your admin for" and of the README's
    section of that name (a test keeps the two alike).
    """
    first, *fallbacks = redirect_uris()
    client = [
        "Grant type: Code Authorization, with PKCE enabled (the app keeps no client secret).",
        f"Authorized redirect URI: {first}",
        *(f"Fallback redirect URI: {uri}" for uri in fallbacks),
        "Token duration: as long as your org allows (up to 48 hours); when it ends, the app "
        "asks you to sign in again.",
    ]
    roles = [*admin_checklist()]
    service = [
        "Grant type: Client Credentials, with a role that holds the permissions above. The "
        "client id and secret go in the welcome dialog; the secret stays in the system keyring.",
        "A service account is nobody: it has no “My status”, and the journal cannot say which "
        "person made a change.",
    ]
    return [
        (
            "An OAuth client",
            "In Admin → Integrations → OAuth, add a client for Genesys Tray and give its client "
            "id to the people who sign in. Register every redirect URI exactly as written: the "
            "app listens on the first free port.",
            client,
        ),
        (
            "Roles and permissions",
            "Each person's roles need the permissions of the parts they use. Without one, that "
            "part stays empty or refuses, and the app lists what will not work at sign-in.",
            roles,
        ),
        (
            "Or a service account (a shared screen without a person signed in)",
            "Instead of the client above:",
            service,
        ),
    ]


def admin_request_text() -> str:
    """:func:`admin_request` as plain text (what "Copy" puts on the clipboard)."""
    blocks = []
    for heading, lead, items in admin_request():
        blocks.append("\n".join([heading, lead, *(f"- {item}" for item in items)]))
    return f"{ADMIN_TITLE}\n\n" + "\n\n".join(blocks) + "\n"


def admin_request_html() -> str:
    """:func:`admin_request` as rich text for the dialog."""
    parts = []
    for heading, lead, items in admin_request():
        listed = "".join(f"<li>{html.escape(item)}</li>" for item in items)
        parts.append(f"<h4>{html.escape(heading)}</h4><p>{html.escape(lead)}</p><ul>{listed}</ul>")
    return "".join(parts)
