"""The first-run dialog: both paths, validation, the waiting state with Cancel, errors in words."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.auth.credentials import MemoryCredentialStore
from core.errors import OAuthError, SignInCancelledError, SignInTimedOutError, TransportError
from core.rest.regions import REGIONS
from core.storage.settings.file import load_config
from core.storage.settings.model import Profile
from gui.dialogs.welcome_dialog import (
    CUSTOM,
    PAGE_CONNECT,
    PAGE_DONE,
    PAGE_WAIT,
    SignInRequest,
    SignInResult,
    WelcomeChoice,
    WelcomeDialog,
)


@pytest.fixture(autouse=True)
def _qapp_as_the_app_sets_it_up() -> Iterator[None]:
    """As in the app, closing the last window must not stop the loop (create_qapp).

    Afterwards the test's dialogs are collected here, on the GUI thread: left to the cycle
    collector they may be freed on an asyncio.to_thread worker of a later test, where Qt warns
    that it cannot stop their timers.
    """
    from gui.options import create_qapp

    create_qapp()
    yield
    gc.collect()


class FakeSignIn:
    """Records requests; answers with ``result``, raises ``error`` or waits until released."""

    def __init__(self, *, error: BaseException | None = None, warning: str = "") -> None:
        self.requests: list[SignInRequest] = []
        self.error = error
        self.warning = warning
        self.release = asyncio.Event()
        self.wait = False
        self.cancelled = False

    async def __call__(self, request: SignInRequest) -> SignInResult:
        self.requests.append(request)
        if self.wait:
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        if self.error is not None:
            raise self.error
        return SignInResult(store_warning=self.warning, session="a session")


def _dialog(qtbot: QtBot, sign_in: FakeSignIn, **kw: object) -> WelcomeDialog:
    dialog = WelcomeDialog(sign_in, **kw)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _connect(dialog: WelcomeDialog, region: str, client_id: str) -> None:
    dialog.connect_button.click()
    assert dialog.pages.currentIndex() == PAGE_CONNECT
    dialog.region.setCurrentIndex(dialog.region.findData(region))
    dialog.client_id.setText(client_id)


def test_the_demo_path_needs_nothing(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot, FakeSignIn())
    with qtbot.waitSignal(dialog.chosen, timeout=1000) as blocker:
        dialog.demo_button.click()
    assert blocker.args == [WelcomeChoice(demo=True)]
    assert dialog.result() == WelcomeDialog.DialogCode.Accepted


def test_every_region_and_a_custom_url_can_be_picked(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot, FakeSignIn())
    keys = [dialog.region.itemData(i) for i in range(dialog.region.count())]
    assert keys == [r.key for r in REGIONS] + [CUSTOM]
    assert len(REGIONS) == 18
    assert not dialog.custom_url.isEnabled()
    dialog.region.setCurrentIndex(dialog.region.findData(CUSTOM))
    assert dialog.custom_url.isEnabled()


@pytest.mark.parametrize(
    ("region", "url", "client_id", "secret", "expected"),
    [
        ("eu_central_1", "", "", None, "Enter the OAuth client id"),
        (CUSTOM, "", "cid", None, "Enter the base URL"),
        (CUSTOM, "ftp://example.com", "cid", None, "must be an http(s) URL"),
        (CUSTOM, "http://example.com", "cid", None, "Plain http is only allowed"),
        ("eu_central_1", "", "cid", "", "Enter the client secret"),
    ],
)
async def test_what_is_missing_or_wrong_is_said_before_signing_in(  # noqa: PLR0917
    qtbot: QtBot, region: str, url: str, client_id: str, secret: str | None, expected: str
) -> None:
    sign_in = FakeSignIn()
    dialog = _dialog(qtbot, sign_in)
    _connect(dialog, region, client_id)
    dialog.custom_url.setText(url)
    if secret is not None:
        dialog.cc_radio.setChecked(True)
        dialog.secret.setText(secret)
    assert await dialog.sign_in_now() is None
    assert expected in dialog.error_label.text()
    assert sign_in.requests == [] and dialog.pages.currentIndex() == PAGE_CONNECT


async def test_browser_sign_in_shows_a_waiting_state_and_can_be_cancelled(qtbot: QtBot) -> None:
    sign_in = FakeSignIn()
    sign_in.wait = True
    dialog = _dialog(qtbot, sign_in)
    _connect(dialog, "eu_central_1", "my-client")
    running = asyncio.ensure_future(dialog.sign_in_now())
    await asyncio.wait_for(_until(lambda: bool(sign_in.requests)), 2)
    assert dialog.pages.currentIndex() == PAGE_WAIT
    assert "Waiting for you to sign in in your browser" in dialog.wait_label.text()
    assert "mypurecloud.de" in dialog.wait_label.text()
    assert dialog.cancel_button.isVisible()
    dialog.cancel_button.click()
    assert await asyncio.wait_for(running, 2) is None
    assert sign_in.cancelled
    assert dialog.pages.currentIndex() == PAGE_CONNECT
    assert "cancelled" in dialog.error_label.text()
    assert dialog.isVisible()  # the person can try again


async def test_a_browser_sign_in_ends_with_the_profile(qtbot: QtBot) -> None:
    sign_in = FakeSignIn()
    dialog = _dialog(qtbot, sign_in)
    _connect(dialog, "ap_southeast_2", "  my-client  ")
    chosen: list[object] = []
    dialog.chosen.connect(chosen.append)
    dialog.sign_in_button.click()  # the dialog runs the sign-in on the loop
    await asyncio.wait_for(_until(lambda: bool(chosen)), 2)
    assert chosen == [dialog.choice]
    assert sign_in.requests == [SignInRequest("ap_southeast_2", "my-client", "pkce")]
    choice = dialog.choice
    assert choice is not None and not choice.demo
    assert choice.profile == Profile("ap_southeast_2", "my-client", "pkce")
    assert choice.result is not None and choice.result.session == "a session"


async def test_client_credentials_hand_the_secret_to_the_sign_in_only(qtbot: QtBot) -> None:
    sign_in = FakeSignIn()
    dialog = _dialog(qtbot, sign_in)
    _connect(dialog, "eu_west_2", "svc")
    dialog.cc_radio.setChecked(True)
    dialog.secret.setText("s3cret")
    choice = await dialog.sign_in_now()
    assert choice is not None and choice.profile == Profile(
        "eu_west_2", "svc", "client_credentials"
    )
    assert sign_in.requests[0].client_secret == "s3cret"
    assert "s3cret" not in repr(sign_in.requests[0]) and "s3cret" not in repr(choice)
    assert dialog.secret.text() == ""


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OAuthError("invalid_client"), "This client id is not known in EU (Frankfurt)"),
        (SignInCancelledError("declined"), "declined in the browser"),
        (OAuthError("access_denied"), "declined"),
        (SignInTimedOutError("late"), "timed out"),
        (OAuthError("unauthorized_client"), "not set up for a browser sign-in"),
        (TransportError("refused"), "could not be reached"),
    ],
)
async def test_sign_in_errors_are_said_in_words(
    qtbot: QtBot, error: BaseException, expected: str
) -> None:
    dialog = _dialog(qtbot, FakeSignIn(error=error))
    _connect(dialog, "eu_central_1", "unknown-client")
    assert await dialog.sign_in_now() is None
    assert expected in dialog.error_label.text()
    assert dialog.pages.currentIndex() == PAGE_CONNECT


async def test_no_secure_keyring_is_announced_before_going_on(qtbot: QtBot) -> None:
    reason = "no secure keyring backend (keyring.backends.fail.Keyring)"
    dialog = _dialog(qtbot, FakeSignIn(warning=reason))
    _connect(dialog, "eu_central_1", "cid")
    choice = await dialog.sign_in_now()
    assert choice is not None and dialog.pages.currentIndex() == PAGE_DONE
    assert "tokens will not be remembered" in dialog.done_label.text()
    assert reason in dialog.done_label.text()
    assert dialog.choice is None  # not yet: the person reads it first
    with qtbot.waitSignal(dialog.chosen, timeout=1000):
        dialog.continue_button.click()
    assert dialog.choice == choice


def test_a_previous_profile_and_problem_are_shown_again(qtbot: QtBot) -> None:
    dialog = _dialog(
        qtbot,
        FakeSignIn(),
        profile=Profile("http://127.0.0.1:8765", "svc", "client_credentials"),
        problem="Your sign-in was not remembered. Sign in again.",
    )
    assert dialog.pages.currentIndex() == PAGE_CONNECT
    assert dialog.region.currentData() == CUSTOM
    assert dialog.custom_url.text() == "http://127.0.0.1:8765"
    assert dialog.client_id.text() == "svc" and dialog.cc_radio.isChecked()
    assert "not remembered" in dialog.error_label.text()


async def test_pkce_against_the_sandbox_through_the_app_sign_in(qtbot: QtBot) -> None:
    """End to end: dialog → sign_in_session → the sandbox's real OAuth (browser stand-in)."""
    from core.app.bootstrap import build_engine
    from core.app.sign_in import SignedIn, follow_redirects, sign_in_session
    from sandbox.config import SandboxConfig
    from sandbox.server import Sandbox

    sandbox = Sandbox(SandboxConfig(port=0))
    url = await sandbox.start()
    sessions: list[SignedIn] = []

    async def sign_in(request: SignInRequest) -> SignInResult:
        session = await sign_in_session(
            request.environment,
            request.client_id,
            request.grant,
            request.client_secret,
            open_browser=follow_redirects,
            open_store=lambda _service: MemoryCredentialStore(insecure_reason="test: no keyring"),
        )
        sessions.append(session)
        return SignInResult(session.credentials_warning, session)

    try:
        dialog = WelcomeDialog(sign_in)
        qtbot.addWidget(dialog)
        dialog.connect_button.click()
        dialog.region.setCurrentIndex(dialog.region.findData(CUSTOM))
        dialog.custom_url.setText(url)
        dialog.client_id.setText("no-such-client")
        assert await dialog.sign_in_now() is None
        assert f"This client id is not known in {url}" in dialog.error_label.text()
        dialog.client_id.setText(sandbox.config.pkce_client_id)
        choice = await dialog.sign_in_now()
        assert choice is not None and choice.profile is not None
        assert choice.profile.environment == url
        assert "test: no keyring" in dialog.done_label.text()
        assert sessions and sessions[0].auth.signed_in
        engine = await build_engine(
            demo=False, environment=url, queues="mine", users="mine", session=sessions[0]
        )
        await engine.aclose()
    finally:
        for session in sessions:
            await session.auth.aclose()
        await sandbox.stop()


async def test_main_shows_the_welcome_on_first_run_and_the_demo_choice_starts_it(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gui.launcher import start_engine
    from main import parse_args

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("GENESYS_CLIENT_ID", raising=False)
    args = parse_args([])
    starting = asyncio.ensure_future(start_engine(args))
    dialog = await asyncio.wait_for(_welcome_shown(), 5)
    dialog.demo_button.click()
    engine, demo, code = await asyncio.wait_for(starting, 20)
    try:
        assert engine is not None and demo and code == 0
        assert engine.sandbox_url is not None
    finally:
        if engine is not None:
            await engine.aclose()
    remembered = load_config(tmp_path / "genesys-tray" / "config.json").config
    assert remembered.profile is None and remembered.demo_chosen


async def test_the_remembered_demo_choice_goes_straight_to_the_demo(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next launch skips the welcome; asking for it (the way back) shows it, kept filled in."""
    from core.storage.settings.file import save_config
    from core.storage.settings.model import AppConfig
    from gui.launcher import start_engine
    from main import parse_args

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("GENESYS_CLIENT_ID", raising=False)
    path = tmp_path / "genesys-tray" / "config.json"
    earlier = Profile("eu_central_1", "my-client", "pkce")
    save_config(path, AppConfig(profile=earlier, demo_chosen=True))
    args = parse_args([])
    engine, demo, code = await asyncio.wait_for(start_engine(args), 20)
    try:
        assert engine is not None and demo and code == 0 and engine.sandbox_url is not None
        assert not any(isinstance(w, WelcomeDialog) for w in QApplication.topLevelWidgets())
    finally:
        if engine is not None:
            await engine.aclose()
    choosing = asyncio.ensure_future(start_engine(args, choose=True))
    dialog = await asyncio.wait_for(_welcome_shown(), 5)
    assert dialog.client_id.text() == "my-client"  # the org chosen before is filled in
    dialog.quit_button.click()
    assert await asyncio.wait_for(choosing, 5) == (None, False, 0)
    assert load_config(path).config == AppConfig(profile=earlier, demo_chosen=True)


async def test_closing_the_welcome_quits_quietly(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gui.launcher import start_engine
    from main import parse_args

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("GENESYS_CLIENT_ID", raising=False)
    starting = asyncio.ensure_future(start_engine(parse_args([])))
    dialog = await asyncio.wait_for(_welcome_shown(), 5)
    dialog.quit_button.click()
    assert await asyncio.wait_for(starting, 5) == (None, False, 0)


async def test_a_remembered_profile_goes_straight_to_sign_in(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No welcome when the config names an org; a sign-in it cannot reuse shows it again."""
    from core.storage.settings.file import save_config
    from core.storage.settings.model import AppConfig
    from gui.launcher import start_engine
    from main import parse_args

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("GENESYS_CLIENT_ID", raising=False)
    save_config(
        tmp_path / "genesys-tray" / "config.json",
        AppConfig(profile=Profile("http://127.0.0.1:9", "svc", "client_credentials")),
    )
    starting = asyncio.ensure_future(
        start_engine(
            parse_args([]),
            open_store=lambda _service: MemoryCredentialStore(insecure_reason="test"),
        )
    )
    dialog = await asyncio.wait_for(_welcome_shown(), 5)
    assert "client secret" in dialog.error_label.text()  # not in the (memory) keyring
    assert dialog.cc_radio.isChecked() and dialog.client_id.text() == "svc"
    dialog.reject()
    assert await asyncio.wait_for(starting, 5) == (None, False, 0)


async def _welcome_shown() -> WelcomeDialog:
    while True:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, WelcomeDialog) and widget.isVisible():
                return widget
        await asyncio.sleep(0.02)


async def _until(condition: object) -> None:
    assert callable(condition)
    while not condition():  # noqa: ASYNC110 - the state changes on the engine's own schedule
        await asyncio.sleep(0.01)
