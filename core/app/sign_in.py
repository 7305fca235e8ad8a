"""Sign in to an org before any engine exists: the welcome dialog's sign-in, and its seams.

A client secret goes only into the credential store (the OS keyring when a secure one exists),
never into the settings file; a weaker store is announced through ``credentials_warning``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx

from core.auth.credentials import CredentialStore, credential_service_name, open_credential_store
from core.auth.session import Authenticator, BrowserOpener
from core.rest.regions import Environment, parse_environment

CLIENT_SECRET_ENTRY = "client_secret"  # noqa: S105 - a keyring entry name, not a secret
CLIENT_CREDENTIALS = "client_credentials"  # the grant of a service account

CredentialStoreFactory = Callable[[str], CredentialStore]


@dataclass
class SignedIn:
    """A session signed in before the engine is built (the welcome dialog's sign-in)."""

    env: Environment
    client_id: str
    secret: str | None = field(repr=False)
    credentials: CredentialStore
    auth: Authenticator
    credentials_warning: str = ""


def credentials_warning(credentials: CredentialStore) -> str:
    """Why tokens will not be remembered securely, or "" when they will."""
    if credentials.secure:
        return ""
    return getattr(credentials, "insecure_reason", "") or credentials.description


async def follow_redirects(url: str) -> None:
    """The demo's stand-in for a person in a browser: the sandbox auto-consents and redirects."""
    async with httpx.AsyncClient(follow_redirects=True, timeout=15) as client:
        await client.get(url)


async def sign_in_session(
    environment: str,
    client_id: str,
    grant: str,
    secret: str | None = None,
    *,
    open_browser: BrowserOpener | None = None,
    open_store: CredentialStoreFactory | None = None,
    trusted_hosts: Iterable[str] = (),
) -> SignedIn:
    """Sign in to an org (PKCE through the browser, or client credentials).

    A client secret goes only into the credential store (the OS keyring when there is a secure
    one; memory otherwise, and ``credentials_warning`` says so), never into the settings file.
    ``open_browser`` and ``open_store`` are seams for tests and the demo. ``trusted_hosts``:
    custom hosts the person confirmed may receive the client secret.

    Raises:
        InvalidEnvironmentError, OAuthError, SignInCancelledError, SignInTimedOutError,
        TransportError, CredentialStoreError: for the welcome dialog to explain.
    """
    env = parse_environment(environment, trusted_hosts=trusted_hosts)
    credentials = await asyncio.to_thread(
        open_store or open_credential_store, credential_service_name(env, client_id)
    )
    service_account = grant == CLIENT_CREDENTIALS
    auth = Authenticator(
        env,
        client_id,
        credentials,
        client_secret=secret if service_account else None,
        open_browser=open_browser,
    )
    try:
        if service_account:
            await auth.sign_in_client_credentials()
            assert secret is not None
            await credentials.set(CLIENT_SECRET_ENTRY, secret)
        else:
            await auth.sign_in_pkce()
    except BaseException:
        await auth.aclose()
        raise
    return SignedIn(env, client_id, secret, credentials, auth, credentials_warning(credentials))
