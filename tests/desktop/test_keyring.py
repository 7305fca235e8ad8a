"""keyring picks the bed's real Secret Service (gnome-keyring) and stores a token in it."""

from __future__ import annotations

import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator

import keyring
import keyring.core
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import SecretService

pytestmark = pytest.mark.desktop

READ_BACK = "import keyring, sys; print(keyring.get_password(sys.argv[1], sys.argv[2]))"


@pytest.fixture
def detected_backend(secret_service: str) -> Iterator[KeyringBackend]:
    """The backend keyring detects from the environment, as the app gets it at start-up.

    Re-detected (another test may have set a fake backend) and restored afterwards.
    """
    previous = keyring.get_keyring()
    keyring.core.init_backend()
    try:
        yield keyring.get_keyring()
    finally:
        keyring.set_keyring(previous)


def test_token_round_trips_through_secret_service(detected_backend: KeyringBackend) -> None:
    """set/get/delete work for real, and another process sees the stored token."""
    assert isinstance(detected_backend, SecretService.Keyring), detected_backend
    service = f"genesys-tray-test-{uuid.uuid4().hex}"
    user = "agent@example.com"
    token = secrets.token_urlsafe(32)

    assert keyring.get_password(service, user) is None
    keyring.set_password(service, user, token)
    try:
        assert keyring.get_password(service, user) == token
        other = subprocess.run(
            [sys.executable, "-c", READ_BACK, service, user],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert other.stdout.strip() == token  # stored in the daemon, not cached in-process
    finally:
        keyring.delete_password(service, user)
    assert keyring.get_password(service, user) is None
