"""core.auth.credentials on the bed's real Secret Service (gnome-keyring), not a fake."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import Iterator

import keyring
import keyring.core
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import SecretService
from keyring.errors import PasswordDeleteError

from core.auth.credentials import KeyringCredentialStore, open_credential_store
from core.auth.saved_tokens import ENTRY_KEYS, delete_token_set, load_token_set, save_token_set
from core.auth.tokens import TokenSet

pytestmark = pytest.mark.desktop

READ_BACK = "import keyring, sys; print(keyring.get_password(sys.argv[1], sys.argv[2]))"


@pytest.fixture
def detected_backend(secret_service: str) -> Iterator[KeyringBackend]:
    """keyring's backend as detected at start-up (re-detected; restored afterwards)."""
    previous = keyring.get_keyring()
    keyring.core.init_backend()
    try:
        yield keyring.get_keyring()
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def service() -> Iterator[str]:
    """A keyring service of our naming scheme that no other run uses; emptied afterwards."""
    name = f"genesys-tray/test-{uuid.uuid4().hex}/sandbox-desktop"
    yield name
    for key in ENTRY_KEYS:
        with contextlib.suppress(PasswordDeleteError):
            keyring.delete_password(name, key)


async def test_token_set_round_trips_through_secret_service(
    detected_backend: KeyringBackend, service: str
) -> None:
    store = open_credential_store(service)
    assert isinstance(store, KeyringCredentialStore)
    assert store.secure is True
    assert isinstance(store.backend, SecretService.Keyring)
    assert "SecretService" in store.description

    token = TokenSet(
        "acc-" + uuid.uuid4().hex,
        1_900_000_000.5,
        "ref-" + uuid.uuid4().hex,
        "pkce",
        1_899_913_600.5,
    )
    await save_token_set(store, token)
    assert await load_token_set(store) == token
    other = await asyncio.create_subprocess_exec(  # stored in the daemon, not in this process
        sys.executable, "-c", READ_BACK, service, "refresh_token", stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(other.communicate(), 30)
    assert other.returncode == 0
    assert stdout.decode().strip() == token.refresh_token

    await delete_token_set(store)
    assert await load_token_set(store) is None
    assert all(keyring.get_password(service, key) is None for key in ENTRY_KEYS)
    await delete_token_set(store)  # deleting again is fine
