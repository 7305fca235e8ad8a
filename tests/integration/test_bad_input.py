"""Bad input gets a clear answer, never a traceback: the gaps the other suites leave open.

Already covered elsewhere (not repeated here): a corrupt or unknown-version config file
(tests/unit/test_config.py), a corrupt journal (tests/integration/test_journal_file.py), bad region
and URL spellings (tests/unit/test_regions.py), keyring errors translated by the store
(tests/unit/test_auth_unit.py), an OAuth error on the redirect and a forged ``state``
(tests/integration/test_loopback.py, test_auth_sandbox.py).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked

from core.auth.credentials import KeyringCredentialStore
from core.auth.session import Authenticator
from core.errors import CredentialStoreError
from core.rest.regions import parse_environment

REPO = Path(__file__).resolve().parents[2]


class LockedKeyring(KeyringBackend):
    """A keyring that refuses every call, as a locked or broken Secret Service does."""

    viable = False
    priority = -1

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("Failed to unlock the collection!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked(f"Failed to unlock the collection to store {password}!")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("Failed to unlock the collection!")


async def test_an_unreadable_keyring_at_start_is_a_clear_credential_store_error() -> None:
    env = parse_environment("mypurecloud.de")
    store = KeyringCredentialStore("genesys-tray/test", backend=LockedKeyring())  # type: ignore[no-untyped-call]
    auth = Authenticator(env, "client-id", store, client_secret="the-client-secret")
    try:
        assert await auth.restore() is None  # nothing remembered yet: the app starts anyway
        message = auth.storage_problem or ""
        assert "keyring is locked" in message
        assert "could not be read" in message
        assert auth.token is None
        with pytest.raises(CredentialStoreError) as writing:
            await store.set("access_token", "a-token-value")
        assert "a-token-value" not in str(writing.value)  # a backend's echo never leaks
    finally:
        await auth.aclose()


@pytest.mark.parametrize(
    ("environment", "says"),
    [
        ("http://example.com", "Plain http is only allowed for this machine"),
        ("nowhere.example", "is not a Genesys Cloud region"),
        ("https://api.mypurecloud.de/api/v2", "without a path"),
        ("http://mypurecloud.de", "only reached over https"),
    ],
)
async def test_listen_with_a_malformed_environment_says_why_and_exits_2(
    environment: str, says: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESYS_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        "listen",
        "--environment",
        environment,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    text = err.decode()
    assert proc.returncode == 2, text
    assert says in text
    assert text.startswith("listen: ")
    assert "Traceback" not in text + out.decode()
