"""The Settings dialog says what the sign-out really did (issue 14), with a real sandbox org."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.app.sign_in import follow_redirects
from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.rest.regions import parse_environment
from core.storage.settings.model import AppConfig
from gui.dialogs.settings_dialog import SettingsDialog
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox


async def _no_save(_config: AppConfig) -> None:
    await asyncio.sleep(0)


@pytest.fixture
async def org() -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(SandboxConfig(port=0, users=10, queues=2, seed=7, simulate=False))
    await sandbox.start()
    try:
        yield sandbox
    finally:
        await sandbox.stop()


@pytest.fixture
async def auth(org: Sandbox) -> AsyncIterator[Authenticator]:
    env = parse_environment(org.base_url)
    async with Authenticator(
        env, org.config.pkce_client_id, MemoryCredentialStore(), open_browser=follow_redirects
    ) as session:
        await session.sign_in_pkce()
        yield session


async def test_a_failed_revoke_is_said_plainly(
    qtbot: QtBot, org: Sandbox, auth: Authenticator, tmp_path: Path
) -> None:
    dialog = SettingsDialog(AppConfig(), save=_no_save, sign_out=auth.sign_out)
    qtbot.addWidget(dialog)
    await org.stop()  # Genesys Cloud cannot be reached: nothing can be revoked there
    with qtbot.waitSignal(dialog.signed_out, timeout=5000):
        assert await dialog.sign_out()
    text = dialog.status.text()
    assert "could not be revoked" in text, text
    assert "revoked and forgotten" not in text
    assert "forgotten on this computer" in text
    assert not auth.signed_in


async def test_a_complete_sign_out_says_revoked(
    qtbot: QtBot, auth: Authenticator, tmp_path: Path
) -> None:
    dialog = SettingsDialog(AppConfig(), save=_no_save, sign_out=auth.sign_out)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.signed_out, timeout=5000):
        assert await dialog.sign_out()
    text = dialog.status.text()
    assert "revoked" in text and "could not" not in text, text
