"""Token expiry → "Sign-in needed" → one click → live again, end to end against the sandbox.

The org revokes the app's grants through the sandbox control API (refresh tokens first, then the
access tokens), so the engine's silent renewal really fails. The app must then say so once (a
notification with a "Sign in" button, the window's stale banner, the tray's menu entry), run the
sign-in when asked and come back live with a picture equal to ``/sandbox/truth``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from core.app.bootstrap import Engine, build_engine
from core.app.sign_in import follow_redirects, sign_in_session
from core.auth.credentials import MemoryCredentialStore
from core.cli.listen import state_snapshot
from core.engine.records import EngineState
from core.errors import SignInTimedOutError
from gui.app import SIGN_IN_WAIT_TEXT, GuiApp
from gui.notifications.notice import ACTION_SIGN_IN, SIGN_IN_KEY, Notice
from gui.options import GuiOptions
from gui.tray.controller import ACTION_SIGN_IN as TRAY_SIGN_IN
from gui.tray.controller import TrayController
from gui.window.sign_in_banner import SignInBanner
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox

WAIT_S = 20.0
Json = dict[str, Any]


class Watcher:
    """Asyncio events fed by the app's Qt signals: wait for a state or a notice, never poll."""

    def __init__(self, app: GuiApp) -> None:
        self.app = app
        self.notices: list[tuple[Notice, str]] = []
        self._changed = asyncio.Event()
        app.bridge.state_changed.connect(self._on_signal)
        app.notifier.displayed.connect(self._on_displayed)

    def _on_signal(self, *_: object) -> None:
        self._changed.set()

    def _on_displayed(self, notice: Notice, backend: str) -> None:
        self.notices.append((notice, backend))
        self._changed.set()

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        async def wait() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(wait(), WAIT_S)
        except TimeoutError:
            pytest.fail(f"not within {WAIT_S:g} s: {what} (state {self.app.service.state})")

    async def state(self, state: EngineState) -> None:
        await self.until(lambda: self.app.service.state is state, f"state {state.value}")


@pytest.fixture
async def org() -> AsyncIterator[tuple[Sandbox, httpx.AsyncClient]]:
    """A small, still sandbox org whose PKCE sign-ins get refresh tokens (so a refresh exists)."""
    sandbox = Sandbox(
        SandboxConfig(
            port=0,
            users=30,
            queues=4,
            seed=7,
            simulate=False,
            pkce_refresh_tokens=True,
            observation_min_interval_s=0.05,
        )
    )
    url = await sandbox.start()
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as http:
        try:
            yield sandbox, http
        finally:
            await sandbox.stop()


async def _fault(http: httpx.AsyncClient, kind: str) -> int:
    resp = await http.post(f"/sandbox/faults/{kind}")
    assert resp.status_code == 200, resp.text
    count: int = resp.json()["count"]
    return count


async def _expected(http: httpx.AsyncClient, app: GuiApp) -> Json:
    truth: Json = (await http.get("/sandbox/truth")).json()
    watch = app.service.watch
    return {
        "users": {uid: truth["users"][uid] for uid in watch.users},
        "queues": {qid: truth["queues"][qid] for qid in watch.queues},
    }


async def _signed_in_engine(
    sandbox: Sandbox, browser: Callable[[str], Any] = follow_redirects
) -> Engine:
    """The GUI's way in: the welcome dialog's sign-in, then the engine without auto sign-in."""
    session = await sign_in_session(
        sandbox.base_url,
        sandbox.config.pkce_client_id,
        "pkce",
        open_browser=browser,
        open_store=lambda _service: MemoryCredentialStore(insecure_reason="test: no keyring"),
    )
    return await build_engine(
        demo=False,
        environment=sandbox.base_url,
        queues="mine",
        users="mine",
        session=session,
        auto_sign_in=False,
    )


async def test_revoked_sign_in_is_announced_and_one_click_brings_the_board_back_live(
    qtbot: QtBot, settings: QSettings, org: tuple[Sandbox, httpx.AsyncClient]
) -> None:
    sandbox, http = org
    engine = await _signed_in_engine(sandbox)
    options = GuiOptions(settings=settings, sign_in_again=engine.sign_in_again, watch_network=False)
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    watcher = Watcher(app)
    running = asyncio.ensure_future(app.run())
    try:
        await watcher.state(EngineState.LIVE)
        auth = engine.service.session
        first = auth.token
        assert first is not None and first.refresh_token is not None  # a silent renewal exists
        assert not app.window.sign_in_banner.isVisible()
        app.notifier.invoke_action(SIGN_IN_KEY, ACTION_SIGN_IN)  # an old notification's button
        assert _no_sign_in_started(app)  # nothing to do while the session works

        # The org revokes the app's grants: the refresh fails, so only the person can help.
        assert await _fault(http, "revoke_refresh_tokens") >= 1
        assert await _fault(http, "revoke_tokens") >= 1
        await watcher.state(EngineState.SIGN_IN_NEEDED)
        await watcher.until(
            lambda: any(n.key == SIGN_IN_KEY for n, _ in watcher.notices), "the notification"
        )
        notice = next(n for n, _ in watcher.notices if n.key == SIGN_IN_KEY)
        assert notice.title == "Sign-in needed"
        assert notice.actions == ((ACTION_SIGN_IN, "Sign in"),)
        assert "renewed" in notice.body  # the engine's reason, in words
        banner = app.window.sign_in_banner
        assert banner.isVisible() and banner.button.isEnabled() and banner.dimmed()
        assert banner.stale_since is not None
        assert f"stale since {banner.stale_since.astimezone():%H:%M}" in banner.label.text()
        assert app.window.state_label.text() == "Sign-in needed"
        if app.tray is not None:  # the desktop bed has one; offscreen has none
            assert TRAY_SIGN_IN in [a.text() for a in app.tray.menu().actions()]
        _screenshot(app, "banner.png")

        # While nobody is signed in the org moves on; only a re-sync can tell the engine.
        truth = await _expected(http, app)
        for uid in sorted(truth["users"])[:2]:
            presence = "TRAINING" if truth["users"][uid]["presence"] != "TRAINING" else "AWAY"
            resp = await http.post(f"/sandbox/users/{uid}/presence", json={"presence": presence})
            assert resp.status_code == 200
        assert app.service.state is EngineState.SIGN_IN_NEEDED  # no silent recovery
        assert len([n for n, _ in watcher.notices if n.key == SIGN_IN_KEY]) == 1  # said once

        # One click on the notification's "Sign in" (what the backend reports for the button).
        app.notifier.invoke_action(SIGN_IN_KEY, ACTION_SIGN_IN)
        assert app.sign_in_task is not None
        await watcher.state(EngineState.LIVE)
        await asyncio.wait_for(app.sign_in_task, WAIT_S)
        assert auth.token is not None and auth.token.access_token != first.access_token
        assert _cleared(banner)
        assert app.window.state_label.text() == "Live"
        service = app.service
        picture = state_snapshot(service.store, service.watch.users, service.watch.queues)
        assert picture == await _expected(http, app)
    finally:
        app.stop_requested.set()
        assert await asyncio.wait_for(running, 10) == 0
        await engine.aclose()


async def test_a_failed_sign_in_says_why_and_offers_the_button_again(
    qtbot: QtBot, settings: QSettings, org: tuple[Sandbox, httpx.AsyncClient]
) -> None:
    sandbox, http = org
    engine = await _signed_in_engine(sandbox)
    attempts: list[int] = []

    async def timed_out() -> object:
        attempts.append(1)
        raise SignInTimedOutError("The browser did not come back within 300 s. Sign in again.")

    options = GuiOptions(settings=settings, sign_in_again=timed_out, watch_network=False)
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    watcher = Watcher(app)
    running = asyncio.ensure_future(app.run())
    try:
        await watcher.state(EngineState.LIVE)
        assert await _fault(http, "revoke_refresh_tokens") >= 1
        assert await _fault(http, "revoke_tokens") >= 1
        await watcher.state(EngineState.SIGN_IN_NEEDED)
        banner = app.window.sign_in_banner
        banner.button.click()
        assert app.sign_in_task is not None
        await asyncio.wait_for(app.sign_in_task, WAIT_S)
        assert attempts == [1]
        assert "did not come back" in banner.label.text() and banner.button.isEnabled()
        assert app.service.state is EngineState.SIGN_IN_NEEDED
        _screenshot(app, "banner-failed.png")
    finally:
        app.stop_requested.set()
        assert await asyncio.wait_for(running, 10) == 0
        await engine.aclose()


def test_the_banner_keeps_the_time_the_picture_froze(qtbot: QtBot) -> None:
    boards = QWidget()
    qtbot.addWidget(boards)
    banner = SignInBanner(dims=boards)
    qtbot.addWidget(banner)
    banner.show()
    frozen = datetime(2026, 11, 27, 9, 41, tzinfo=UTC)
    banner.set_state("live", "", frozen)
    assert not banner.isVisible() and not banner.dimmed()
    normal = boards.palette().color(QPalette.ColorRole.Text)
    assert normal != boards.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
    banner.set_state("sign_in_needed", "expired", frozen)
    banner.set_state("sign_in_needed", "still expired", frozen.replace(minute=55))
    assert banner.stale_since == frozen  # the first moment, not the latest report
    assert banner.dimmed()
    assert boards.palette().color(QPalette.ColorRole.Text) == boards.palette().color(
        QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text
    )
    assert f"stale since {frozen.astimezone():%H:%M}" in banner.label.text()
    banner.set_busy(SIGN_IN_WAIT_TEXT)
    assert not banner.button.isEnabled() and "browser" in banner.label.text()
    with qtbot.waitSignal(banner.sign_in_requested, timeout=1000, raising=False) as blocker:
        banner.button.click()  # disabled while a sign-in runs: no second one
    assert not blocker.signal_triggered
    banner.set_state("resyncing", "", frozen)
    assert _cleared(banner)
    assert boards.palette().color(QPalette.ColorRole.Text) == normal


def test_the_tray_offers_sign_in_only_while_it_is_needed(qtbot: QtBot) -> None:
    tray = TrayController()
    try:

        def texts() -> list[str]:
            return [a.text() for a in tray.menu().actions()]

        assert TRAY_SIGN_IN not in texts()
        tray.set_health("sign_in_needed", "expired")
        assert tray.status_line().startswith("Sign-in needed")
        entry = next(a for a in tray.menu().actions() if a.text() == TRAY_SIGN_IN)
        with qtbot.waitSignal(tray.sign_in_requested, timeout=1000):
            entry.trigger()
        tray.set_health("live")
        assert TRAY_SIGN_IN not in texts()
    finally:
        tray.deleteLater()


def _no_sign_in_started(app: GuiApp) -> bool:
    return app.sign_in_task is None


def _cleared(banner: SignInBanner) -> bool:
    """Hidden, with no stale time and the boards no longer greyed."""
    return not banner.isVisible() and banner.stale_since is None and not banner.dimmed()


def _screenshot(app: GuiApp, name: str) -> None:
    folder = Path(os.environ.get("ARTIFACTS", "artifacts")) / "sign_in"
    folder.mkdir(parents=True, exist_ok=True)
    assert app.window.grab().save(str(folder / name))
