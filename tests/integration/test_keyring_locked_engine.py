"""A sign-in the locked keyring cannot keep is said on the engine's state, and unsaid once saved.

The app and ``listen`` show the engine's state detail (tray tooltip, status bar, ``state``
records), so that is where the person learns that closing the app now would lose the sign-in.
Real loopback sandbox, a real KeyringBackend that raises keyring's own ``KeyringLocked``.
"""

from __future__ import annotations

import asyncio

from core.app.bootstrap import build_engine
from core.auth.credentials import KeyringCredentialStore
from core.auth.saved_tokens import ENTRY_ACCESS_TOKEN
from core.engine.records import EngineState, StateRecord
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.integration.test_keyring_locked import LockableKeyring


async def test_a_locked_keyring_is_said_on_the_state_until_the_sign_in_is_saved() -> None:
    keyring = LockableKeyring()
    org = SandboxConfig(port=0, users=10, queues=2, seed=5, simulate=False)
    sandbox = Sandbox(org)
    await sandbox.start()
    details: list[str] = []
    said, unsaid = asyncio.Event(), asyncio.Event()

    def on_record(record: object) -> None:
        if not isinstance(record, StateRecord) or record.state is not EngineState.LIVE:
            return
        details.append(record.detail)
        if "keyring is locked" in record.detail:
            said.set()
        elif said.is_set():
            unsaid.set()

    engine = await build_engine(
        demo=False,
        environment=sandbox.base_url,
        queues="all",
        users="members",
        client_id=org.client_id,
        client_secret=org.client_secret,
        open_store=lambda service: KeyringCredentialStore(service, backend=keyring),
    )
    try:
        engine.service.add_listener(on_record)
        await engine.service.start()
        await asyncio.wait_for(said.wait(), 20)
        assert any(d.startswith("Sign-in not saved yet: ") for d in details), details
        assert keyring.values == {}, "nothing can be written while locked"

        keyring.locked = False
        engine.service.tokens.session.retry_save()  # type: ignore[attr-defined]
        await asyncio.wait_for(unsaid.wait(), 20)
        assert "keyring" not in details[-1]
        assert any(key == ENTRY_ACCESS_TOKEN for _, key in keyring.values)
    finally:
        await engine.service.stop()
        await engine.aclose()
        await sandbox.stop()
