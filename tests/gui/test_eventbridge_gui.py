"""The app's side of EventBridge, offscreen: the guide against the sandbox, both sources shown.

The guide creates the integration through the API as a supervisor and shows the JSON to hand
an admin as an agent (the sandbox answers 403); the status bar and the tray tooltip show both
sources, and a source that is down or behind as a warning. Screenshots go to /tmp/e4-*.png.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import QSettings, SignalInstance
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.eventbridge.events import SourceStatus
from core.eventbridge.setup import event_filters
from core.rest.client import ApiClient
from core.rest.integrations import IntegrationSetup
from core.rest.regions import parse_environment
from core.storage.settings.file import load_config
from core.storage.settings.model import AppConfig, EventBridgeSettings
from gui.dialogs.eventbridge_guide import EventBridgeGuide
from gui.dialogs.settings_dialog import SettingsDialog
from gui.tray.controller import TrayController
from sandbox.config import SandboxConfig
from sandbox.eventbridge.integrations import EVENTBRIDGE_TYPE, Integration
from sandbox.server import Sandbox
from tests.integration.helpers import pkce_token

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/genesys-tray-events"
SHOTS = Path("/tmp")
MakeSetup = Callable[[str | None], Awaitable[IntegrationSetup]]


class FakeSource:
    """A StatusSource of the test's own (the consumer is not needed to show its status)."""

    def __init__(self, status: SourceStatus) -> None:
        self._status = status
        self._listeners: list[Callable[[SourceStatus], None]] = []

    @property
    def status(self) -> SourceStatus:
        return self._status

    def add_status_listener(self, cb: Callable[[SourceStatus], None]) -> Callable[[], None]:
        self._listeners.append(cb)
        return lambda: self._listeners.remove(cb)

    def set(self, status: SourceStatus) -> None:
        self._status = status
        for cb in list(self._listeners):
            cb(status)


@pytest.fixture
async def org() -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(
        SandboxConfig(port=0, users=10, queues=2, seed=7, simulate=False, eventbridge=True)
    )
    await sandbox.start()
    try:
        yield sandbox
    finally:
        await sandbox.stop()


@pytest.fixture
async def make_setup(org: Sandbox) -> AsyncIterator[MakeSetup]:
    """An IntegrationSetup over a real ApiClient, signed in as the given user (None: default)."""
    clients: list[ApiClient] = []

    async def build(user: str | None) -> IntegrationSetup:
        async with httpx.AsyncClient(base_url=org.base_url) as http:
            token = await pkce_token(http, user=user)

        async def provide() -> str:
            return token

        api = ApiClient(parse_environment(org.base_url), provide)
        clients.append(api)
        return IntegrationSetup(api)

    yield build
    for api in clients:
        await api.aclose()


async def changed(signal: SignalInstance) -> None:
    """Until the signal fires once."""
    fired = asyncio.Event()

    def on_fired(*_: object) -> None:
        fired.set()

    signal.connect(on_fired)
    try:
        await fired.wait()
    finally:
        signal.disconnect(on_fired)


def guide(qtbot: QtBot, setup: IntegrationSetup | None, saved: list[str]) -> EventBridgeGuide:
    async def save(url: str) -> None:
        saved.append(url)

    dialog = EventBridgeGuide(genesys=setup, filters=tuple(event_filters()), save_queue=save)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def eventbridge_integrations(org: Sandbox) -> list[Integration]:
    assert org.eventbridge is not None
    store = org.eventbridge.store
    return [i for i in store.live() if i.type_id == EVENTBRIDGE_TYPE]


async def test_a_supervisor_creates_the_integration_from_the_guide(
    qtbot: QtBot, org: Sandbox, make_setup: MakeSetup
) -> None:
    setup = await make_setup(None)
    saved: list[str] = []
    dialog = guide(qtbot, setup, saved)
    before = len(eventbridge_integrations(org))
    access = await dialog.load_access()
    assert access is not None and access.can_add and access.org_id == org.org.id
    assert not dialog.create_button.isEnabled()  # no AWS account yet
    qtbot.keyClicks(dialog.account, "123456789012")  # type: ignore[no-untyped-call]
    assert dialog.create_button.isEnabled()
    assert f"aws.partner/genesys.com/cloud/{org.org.id}/genesys-tray" in (
        dialog.cli_box.text.toPlainText()
    )
    created = await dialog.create_integration()
    assert created is not None and created.intended_state == "ENABLED"
    after = eventbridge_integrations(org)
    assert len(after) == before + 1
    new = next(i for i in after if i.id == created.id)
    assert new.properties["eventFilter"] == list(event_filters())
    assert new.properties["awsAccountId"] == "123456789012"
    assert dialog.steps.currentIndex() == 1  # on to the AWS side
    assert not dialog.admin_box.isVisible()
    dialog.steps.setCurrentIndex(0)
    dialog.grab().save(str(SHOTS / "e4-guide-supervisor.png"))
    dialog.steps.setCurrentIndex(1)
    dialog.grab().save(str(SHOTS / "e4-guide-aws.png"))


async def test_an_agent_gets_the_json_for_an_admin(
    qtbot: QtBot, org: Sandbox, make_setup: MakeSetup
) -> None:
    agent = next(u.id for u in org.org.users.values() if u.role == "agent")
    setup = await make_setup(agent)
    dialog = guide(qtbot, setup, [])
    before = len(eventbridge_integrations(org))
    access = await dialog.load_access()
    assert access is not None and not access.can_add
    qtbot.keyClicks(dialog.account, "123456789012")  # type: ignore[no-untyped-call]
    assert dialog.admin_box.isVisible() and not dialog.create_button.isVisible()
    assert '"amazon-eventbridge-source"' in dialog.admin_box.text.toPlainText()
    dialog.admin_box.copy_button.click()
    assert QGuiApplication.clipboard().text() == dialog.admin_box.text.toPlainText()
    assert len(eventbridge_integrations(org)) == before
    dialog.grab().save(str(SHOTS / "e4-guide-agent.png"))


async def test_a_refused_attempt_turns_into_the_json(
    qtbot: QtBot, org: Sandbox, make_setup: MakeSetup
) -> None:
    """Where the permissions could not be read, the guide tries and takes 403 as a no."""
    agent = next(u.id for u in org.org.users.values() if u.role == "agent")
    setup = await make_setup(agent)
    dialog = guide(qtbot, setup, [])
    await dialog.load_access()
    dialog._access = type(dialog._access)(org.org.id, can_add=True)  # type: ignore[misc]
    qtbot.keyClicks(dialog.account, "123456789012")  # type: ignore[no-untyped-call]
    assert await dialog.create_integration() is None
    assert dialog.admin_box.isVisible() and not dialog.create_button.isVisible()


async def test_the_guide_checks_and_saves_the_queue_url(qtbot: QtBot) -> None:
    saved: list[str] = []
    dialog = guide(qtbot, None, saved)
    assert dialog.admin_box.isVisible()  # not signed in to an org: the JSON only
    dialog.queue_url.setText("http://sqs.us-east-1.amazonaws.com/123456789012/q")
    assert not dialog.save_button.isEnabled() and "https" in dialog.queue_status.text()
    assert not await dialog.save() and saved == []
    dialog.queue_url.setText(QUEUE)
    assert dialog.save_button.isEnabled()
    assert await dialog.save() and saved == [QUEUE]


async def test_settings_refuse_a_bad_queue_url_and_save_a_good_one(qtbot: QtBot) -> None:
    saved: list[AppConfig] = []

    async def save(config: AppConfig) -> None:
        saved.append(config)

    dialog = SettingsDialog(AppConfig(), save=save)
    qtbot.addWidget(dialog)
    dialog.queue_url.setText("http://10.0.0.5:9324/123456789012/q")
    assert dialog.queue_problem.isVisibleTo(dialog)
    assert not await dialog.apply() and saved == []
    dialog.queue_url.setText("http://127.0.0.1:9324/123456789012/q")  # loopback: a test server
    dialog.aws_profile.setText("tray")
    assert await dialog.apply()
    bridge = saved[0].eventbridge_settings
    assert bridge.queue_url == "http://127.0.0.1:9324/123456789012/q"
    assert bridge.aws_profile == "tray" and bridge.aws_region == ""
    with qtbot.waitSignal(dialog.eventbridge_guide_requested, timeout=1000):
        dialog.guide_button.click()


def test_the_tray_tooltip_shows_both_sources_and_a_problem_line() -> None:
    tray = TrayController()
    tray.set_health("live")
    assert "EventBridge" not in tray.tooltip()  # no queue set up: nothing about it
    tray.set_eventbridge(SourceStatus("live", 0.8, 0))
    assert tray.tooltip().splitlines()[0] == "WebSocket live · EventBridge lag 0.8 s, backlog 0"
    tray.set_eventbridge(SourceStatus("down"))
    lines = tray.tooltip().splitlines()
    assert lines[:2] == [
        "WebSocket live · EventBridge down",
        "EventBridge: queue unreachable, retrying",
    ]
    tray.set_eventbridge(None)
    assert "EventBridge" not in tray.tooltip()
    tray.deleteLater()


async def test_the_status_bar_shows_both_sources(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=20.0
    )
    source = FakeSource(SourceStatus("starting"))
    config_file = tmp_path / "config.json"
    options = GuiOptions(
        settings=settings,
        config=AppConfig(),
        config_path=config_file,
        watch_network=False,
        eventbridge=source,
    )
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    live = asyncio.Event()
    app.bridge.state_changed.connect(lambda state, _d: live.set() if state == "live" else None)
    running = asyncio.ensure_future(app.run())
    try:
        await asyncio.wait_for(live.wait(), 30)
        window = app.window
        label = window.eventbridge_label
        assert label.text() == "· EventBridge starting"
        source.set(SourceStatus("live", 0.8, 0))
        async with asyncio.timeout(30):  # the demo may re-sync once after going live
            while window.state_label.text() != "WebSocket live":
                await asyncio.wait_for(changed(app.bridge.state_changed), 30)
        shown = f"{window.state_label.text()} {label.text()}"
        assert shown == "WebSocket live · EventBridge lag 0.8 s, backlog 0"
        assert label.styleSheet() == ""  # no warning colour while it keeps up
        window.resize(1100, 680)
        window.statusBar().clearMessage()  # a notice about notifications: not ours to show
        window.grab().save(str(SHOTS / "e4-status-live.png"))
        # A lag that grows without the source saying so is re-read with the health tick.
        source._status = SourceStatus("live", 2.5, 0)
        await asyncio.wait_for(changed(app.bridge.health_changed), 5)
        assert label.text() == "· EventBridge lag 2.5 s, backlog 0"
        source.set(SourceStatus("down", detail=""))
        assert label.warning and label.text() == "· ⚠ EventBridge down: queue unreachable, retrying"
        assert label.toolTip() == "EventBridge: queue unreachable, retrying"
        window.statusBar().clearMessage()
        window.statusBar().grab().save(str(SHOTS / "e4-status-down.png"))
        # The guide saves the queue URL into this org's settings, through the one writer.
        guide_dialog = app.eventbridge.open_guide()
        await guide_dialog.settle()
        guide_dialog.queue_url.setText(QUEUE)
        assert await guide_dialog.save()
        await app.alerts.flush()
        assert load_config(config_file).config.eventbridge_settings.queue_url == QUEUE
        # With a queue, "What to watch" offers the org-wide classes; applied, they are saved.
        watch = app.open_watch()
        assert watch.eventbridge is not None and not watch.eventbridge.org_wide()
        watch.eventbridge.org_wide_box.setChecked(True)
        assert await watch.apply()
        await app.alerts.flush()
        saved = load_config(config_file).config.eventbridge_settings
        assert saved.org_wide and saved.queue_url == QUEUE
    finally:
        app.stop_requested.set()
        await running
    assert source._listeners == []  # the relay stopped listening at shutdown


async def test_settings_say_at_once_that_a_stored_queue_url_cannot_be_used(qtbot: QtBot) -> None:
    """A URL edited by hand in the file is flagged when the dialog opens, not only on typing."""

    async def save(_config: AppConfig) -> None:
        return None

    stored = AppConfig().with_eventbridge(EventBridgeSettings("http://10.0.0.5/123456789012/q"))
    dialog = SettingsDialog(stored, save=save)
    qtbot.addWidget(dialog)
    assert dialog.queue_problem.isVisibleTo(dialog)
    assert "https" in dialog.queue_problem.text()
