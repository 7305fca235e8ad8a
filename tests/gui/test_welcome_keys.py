"""The welcome dialog's keyboard, its error that goes once answered, SIGTERM while it is open,
and the starter rules a real org's first sign-in offers (issue 16: defects 13 and 14).
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.alerts.model import Condition, Severity
from core.alerts.presets import STARTER_IDS
from core.auth.credentials import MemoryCredentialStore
from core.storage.settings.file import load_config
from gui.dialogs.welcome_dialog import (
    CUSTOM,
    PAGE_CHOOSE,
    PAGE_CONNECT,
    SignInRequest,
    SignInResult,
    WelcomeDialog,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _qapp_as_the_app_sets_it_up() -> Iterator[None]:
    from gui.options import create_qapp

    create_qapp()
    yield
    gc.collect()


class RecordingSignIn:
    """Records requests and signs nothing in (the dialog's own logic is under test)."""

    def __init__(self) -> None:
        self.requests: list[SignInRequest] = []

    async def __call__(self, request: SignInRequest) -> SignInResult:
        self.requests.append(request)
        return SignInResult(session="a session")


def _shown(qtbot: QtBot, sign_in: RecordingSignIn) -> WelcomeDialog:
    dialog = WelcomeDialog(sign_in)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    return dialog


def _press_enter(dialog: WelcomeDialog) -> None:
    """Enter where the keyboard focus is (the dialog itself when nothing has it)."""
    target = QApplication.focusWidget() or dialog
    QTest.keyClick(target, Qt.Key.Key_Return)


async def test_enter_never_starts_the_demo(qtbot: QtBot) -> None:
    dialog = _shown(qtbot, RecordingSignIn())
    dialog.demo_button.setFocus()  # even with the focus on it, as after a Tab
    _press_enter(dialog)
    QApplication.processEvents()
    assert dialog.choice is None and dialog.isVisible()
    assert not dialog.demo_button.autoDefault() and not dialog.demo_button.isDefault()
    assert dialog.pages.currentIndex() in (PAGE_CHOOSE, PAGE_CONNECT)  # Connect is harmless


async def test_enter_in_the_client_id_field_means_sign_in(qtbot: QtBot) -> None:
    sign_in = RecordingSignIn()
    dialog = _shown(qtbot, sign_in)
    dialog.connect_button.click()
    dialog.region.setCurrentIndex(dialog.region.findData("eu_central_1"))
    dialog.client_id.setFocus()
    QTest.keyClicks(dialog.client_id, "my-client")
    QTest.keyClick(dialog.client_id, Qt.Key.Key_Return)
    async with asyncio.timeout(5):
        while dialog.choice is None:  # noqa: ASYNC110 - the sign-in runs on the loop
            await asyncio.sleep(0.01)
    assert [r.client_id for r in sign_in.requests] == ["my-client"]  # once, not twice
    assert not dialog.choice.demo


async def test_the_client_id_error_goes_once_the_field_is_filled(qtbot: QtBot) -> None:
    dialog = _shown(qtbot, RecordingSignIn())
    dialog.connect_button.click()
    assert await dialog.sign_in_now() is None
    assert "Enter the OAuth client id" in dialog.error_label.text()
    QTest.keyClicks(dialog.client_id, "c")
    assert dialog.error_label.text() == ""


async def test_a_server_error_stays_while_typing_elsewhere(qtbot: QtBot) -> None:
    """Only the error about an empty field goes when it is filled; others stay until retried."""
    dialog = _shown(qtbot, RecordingSignIn())
    dialog.connect_button.click()
    dialog.region.setCurrentIndex(dialog.region.findData(CUSTOM))
    dialog.custom_url.setText("ftp://example.com")
    dialog.client_id.setText("cid")
    assert await dialog.sign_in_now() is None
    said = dialog.error_label.text()
    assert "http" in said
    QTest.keyClicks(dialog.client_id, "x")
    assert dialog.error_label.text() == said


def test_sigterm_while_the_welcome_is_open_exits_0(tmp_path: Path) -> None:
    """The app's own start (main.py, offscreen): SIGTERM closes the dialog, exit code 0."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "GENESYS_TRAY_LOG_DIR": str(tmp_path / "log"),
        "GENESYS_TRAY_INSTANCE": f"welcome-sigterm-{uuid.uuid4().hex}",
    }
    env.pop("GENESYS_CLIENT_ID", None)

    async def run() -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "main.py",
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stderr is not None
        seen = ""
        try:
            async with asyncio.timeout(30):
                while "the welcome dialog is open" not in seen:
                    line = await proc.stderr.readline()
                    if not line:
                        break
                    seen += line.decode()
            proc.send_signal(signal.SIGTERM)
            rest = await asyncio.wait_for(proc.stderr.read(), 20)
            code = await asyncio.wait_for(proc.wait(), 20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return code, seen + rest.decode()

    code, said = asyncio.run(run())
    assert "the welcome dialog is open" in said
    assert code == 0, said
    assert "Traceback" not in said


async def _signed_in_org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, ticked: bool) -> Path:
    """A first run that signs in to a real org (the sandbox, client credentials) via the dialog."""
    from gui.launcher import start_engine
    from main import parse_args
    from sandbox.config import SandboxConfig
    from sandbox.server import Sandbox

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("GENESYS_CLIENT_ID", raising=False)
    sandbox = Sandbox(SandboxConfig(port=0, users=5, queues=2))
    url = await sandbox.start()
    engine = None
    try:
        starting = asyncio.ensure_future(
            start_engine(
                parse_args([]),
                open_store=lambda _service: MemoryCredentialStore(insecure_reason="test"),
            )
        )
        dialog = await asyncio.wait_for(_welcome_shown(), 10)
        assert dialog.starter_rules.isChecked()  # offered, on by default
        dialog.connect_button.click()
        dialog.region.setCurrentIndex(dialog.region.findData(CUSTOM))
        dialog.custom_url.setText(url)
        dialog.client_id.setText(sandbox.config.client_id)
        dialog.cc_radio.setChecked(True)
        dialog.secret.setText(sandbox.config.client_secret)
        dialog.starter_rules.setChecked(ticked)
        dialog.sign_in_button.click()
        async with asyncio.timeout(20):
            while not dialog.continue_button.isVisible() and not starting.done():  # noqa: ASYNC110 - the dialog moves on the loop
                await asyncio.sleep(0.02)
        if dialog.continue_button.isVisible():  # the memory store: "not remembered" first
            dialog.continue_button.click()
        engine, demo, code = await asyncio.wait_for(starting, 30)
        assert engine is not None and not demo and code == 0
    finally:
        if engine is not None:
            await engine.aclose()
        await sandbox.stop()
    return tmp_path / "genesys-tray" / "config.json"


async def test_a_real_orgs_first_sign_in_with_the_box_ticked_gets_the_starter_rules(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = await _signed_in_org(tmp_path, monkeypatch, ticked=True)
    rules = load_config(path).config.rules
    assert tuple(rule.id for rule in rules) == STARTER_IDS
    assert all(rule.enabled for rule in rules)
    [not_responding] = [r for r in rules if r.condition is Condition.AGENT_NOT_RESPONDING]
    assert not_responding.severity is Severity.WARNING and not_responding.for_s == 30
    assert "sound" not in not_responding.actions


async def test_unticked_a_real_org_starts_without_rules(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = await _signed_in_org(tmp_path, monkeypatch, ticked=False)
    assert load_config(path).config.rules == []


async def _welcome_shown() -> WelcomeDialog:
    while True:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, WelcomeDialog) and widget.isVisible():
                return widget
        await asyncio.sleep(0.02)
