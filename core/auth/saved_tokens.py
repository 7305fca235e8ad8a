"""The remembered session: a token set as keyring entries (genesys-api.md 2.10).

One entry per field, under the service of :func:`core.auth.credentials.credential_service_name`,
so a partial write can be detected and nothing is ever serialised into one plain string.
"""

from __future__ import annotations

import logging

from core.auth.credentials import CredentialStore
from core.auth.tokens import Grant, TokenSet
from core.errors import CredentialStoreError

logger = logging.getLogger(__name__)

ENTRY_ACCESS_TOKEN = "access_token"  # noqa: S105 - an entry name, not a secret
ENTRY_EXPIRES_AT = "expires_at"
ENTRY_ISSUED_AT = "issued_at"
ENTRY_GRANT = "grant"
ENTRY_REFRESH_TOKEN = "refresh_token"  # noqa: S105 - an entry name, not a secret
ENTRY_USER_ID = "user_id"
ENTRY_KEYS = (
    ENTRY_ACCESS_TOKEN,
    ENTRY_EXPIRES_AT,
    ENTRY_ISSUED_AT,
    ENTRY_GRANT,
    ENTRY_REFRESH_TOKEN,
    ENTRY_USER_ID,
)


async def save_token_set(store: CredentialStore, token: TokenSet) -> None:
    """Remember ``token`` in ``store`` (one entry per field, genesys-api.md 2.10).

    The rotated refresh token is written first: after a rotation the old one is already dead,
    so it is the entry that must not be lost. A refresh token is only stored if one exists.

    Raises:
        CredentialStoreError: the store could not be written.
    """
    if token.refresh_token is not None:
        await store.set(ENTRY_REFRESH_TOKEN, token.refresh_token)
    else:
        await store.delete(ENTRY_REFRESH_TOKEN)
    await store.set(ENTRY_GRANT, token.grant)
    await store.set(ENTRY_EXPIRES_AT, repr(token.expires_at))
    if token.issued_at is not None:
        await store.set(ENTRY_ISSUED_AT, repr(token.issued_at))
    else:
        await store.delete(ENTRY_ISSUED_AT)
    await store.set(ENTRY_ACCESS_TOKEN, token.access_token)


async def load_token_set(store: CredentialStore) -> TokenSet | None:
    """The token set remembered in ``store``; None when there is none or it is incomplete.

    Raises:
        CredentialStoreError: the store could not be read.
    """
    access = await store.get(ENTRY_ACCESS_TOKEN)
    if not access:
        logger.debug("no remembered session")
        return None
    grant_text = await store.get(ENTRY_GRANT)
    try:
        expires_at = float(await store.get(ENTRY_EXPIRES_AT) or "")
        issued_text = await store.get(ENTRY_ISSUED_AT)
        issued_at = float(issued_text) if issued_text else None
    except ValueError:
        logger.warning("the remembered session is incomplete; ignoring it")
        return None
    grant: Grant = "client_credentials" if grant_text == "client_credentials" else "pkce"
    return TokenSet(
        access_token=access,
        expires_at=expires_at,
        refresh_token=await store.get(ENTRY_REFRESH_TOKEN) or None,
        grant=grant,
        issued_at=issued_at,
    )


async def delete_token_set(store: CredentialStore) -> None:
    """Forget every entry of the session (token fields and user id), trying them all.

    Raises:
        CredentialStoreError: the first entry that could not be deleted.
    """
    first: CredentialStoreError | None = None
    for key in ENTRY_KEYS:
        try:
            await store.delete(key)
        except CredentialStoreError as exc:
            first = first or exc
    if first is not None:
        raise first


async def delete_entries(
    store: CredentialStore, keys: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Delete every entry in ``keys``, trying them all (sign-out).

    Returns:
        (deleted, not deleted, the distinct reasons in words); it never raises for a store error,
        so the caller can say exactly which entries stayed behind.
    """
    done: list[str] = []
    kept: list[str] = []
    reasons: list[str] = []
    for key in dict.fromkeys(keys):  # in order, once each
        try:
            await store.delete(key)
        except CredentialStoreError as exc:
            kept.append(key)
            if str(exc) not in reasons:
                reasons.append(str(exc))
        else:
            done.append(key)
    return tuple(done), tuple(kept), tuple(reasons)
