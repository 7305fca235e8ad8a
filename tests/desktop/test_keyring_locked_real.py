"""The bed's real gnome-keyring, locked and unlocked again: we say "locked", never hang, then save.

The login collection is locked through the Secret Service API, as a screen lock or a timeout
does. The bed's gnome-keyring has no display, so its unlock prompt cannot show and keyring
raises KeyringLocked at once. It is unlocked again with gnome-keyring's master-password call
(the bed's password), as the person logging in to their desktop keyring would.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
import uuid
from collections.abc import Iterator

import pytest
import secretstorage
from jeepney.io.blocking import DBusConnection
from keyring.backend import KeyringBackend
from keyring.backends import SecretService
from keyring.errors import PasswordDeleteError
from secretstorage.collection import Collection
from secretstorage.util import DBusAddressWrapper, format_secret, open_session

from core.auth.credentials import KeyringCredentialStore
from core.auth.saved_tokens import ENTRY_ACCESS_TOKEN, ENTRY_KEYS, TokenSaver
from core.auth.tokens import TokenSet
from core.errors import KeyringLockedError

# keyring's SecretService backend raises KeyringLocked without closing its D-Bus connection;
# the socket is closed when collected, which pytest reports as an unraisable ResourceWarning.
pytestmark = [
    pytest.mark.desktop,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning"),
]

# tests/testbed/run.sh unlocks the bed's keyring with this password.
PASSWORD = os.environ.get("TESTBED_KEYRING_PASSWORD", "testbed-password")
GNOME_INTERNAL = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
NO_HANG_S = 10.0


def _secret_service() -> KeyringBackend:
    return SecretService.Keyring()  # type: ignore[no-untyped-call]


def _unlock(bus: DBusConnection, collection: Collection) -> None:
    """Unlock like the person logging in (gnome-keyring's own call, no prompt)."""
    secret = format_secret(open_session(bus), PASSWORD.encode(), "text/plain")
    keyring_daemon = DBusAddressWrapper("/org/freedesktop/secrets", GNOME_INTERNAL, bus)
    keyring_daemon.call("UnlockWithMasterPassword", "o(oayays)", collection.collection_path, secret)


@pytest.fixture
def locked_collection(secret_service: str) -> Iterator[tuple[DBusConnection, Collection]]:
    """The default collection, locked for the test and always unlocked again afterwards."""
    bus = secretstorage.dbus_init()
    collection = secretstorage.get_default_collection(bus)
    assert not collection.is_locked(), "the bed's keyring must start unlocked"
    collection.lock()
    assert collection.is_locked()
    try:
        yield bus, collection
    finally:
        if collection.is_locked():
            _unlock(bus, collection)
        assert not collection.is_locked(), "could not unlock the bed's keyring again"
        bus.close()


@pytest.fixture
def service() -> Iterator[str]:
    name = f"genesys-tray/test-{uuid.uuid4().hex}/locked"
    yield name
    backend = _secret_service()
    for key in ENTRY_KEYS:
        with contextlib.suppress(PasswordDeleteError):
            backend.delete_password(name, key)


async def test_a_locked_real_keyring_is_reported_and_the_save_lands_after_unlock(
    locked_collection: tuple[DBusConnection, Collection], service: str
) -> None:
    bus, collection = locked_collection
    backend = _secret_service()
    store = KeyringCredentialStore(service, backend=backend)
    token = TokenSet("acc-" + uuid.uuid4().hex, time.time() + 3600, None, "pkce", time.time())

    async with asyncio.timeout(NO_HANG_S):  # locked must mean an answer, not a hang
        with pytest.raises(KeyringLockedError, match="keyring is locked"):
            await store.get(ENTRY_ACCESS_TOKEN)
        saver = TokenSaver(store, retry_s=(0.05, 0.2))
        assert await saver.save(token) is False  # the caller goes on without it
    problem = saver.problem or ""
    assert "keyring is locked" in problem and token.access_token not in problem
    assert collection.is_locked()

    _unlock(bus, collection)  # the person logs in to their keyring; nothing else happens

    landed = asyncio.Event()
    saver.add_listener(lambda p: landed.set() if p is None else None)
    try:
        async with asyncio.timeout(NO_HANG_S):
            await landed.wait()
        assert saver.problem is None and not saver.pending
        assert await store.get(ENTRY_ACCESS_TOKEN) == token.access_token
    finally:
        await saver.aclose()
        gc.collect()  # keyring's unclosed connections go now, inside this test's filter
