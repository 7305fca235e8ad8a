"""A queue URL saved while the app runs takes effect at once: no restart (issue 15 leftover).

The app runs offscreen against a sandbox org with EventBridge on (moto's SQS server on
loopback) and starts with no queue set, as the launcher starts it for an org without one. The
"Set up EventBridge…" guide saves the sandbox's queue URL: the consumer starts on it, the status
bar says EventBridge is live, and the org's events come in from the queue. Settings then clears
the queue (the consumer stops, the status bar shows the WebSocket alone) and saves it again (the
same link reads it again).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.app.eventbridge_wiring import EventBridgeLink
from core.auth.credentials import MemoryCredentialStore
from core.eventbridge.consumer import SqsConsumer
from core.storage.journal.journal import Journal
from core.storage.settings.file import load_config
from core.storage.settings.model import AppConfig, EventBridgeSettings, WatchSettings
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox

pytestmark = pytest.mark.timeout(120)


def consumer_of(link: EventBridgeLink) -> SqsConsumer | None:
    """The link's consumer now (a new one after each move)."""
    return link.consumer


WAIT_S = 30.0


@pytest.fixture
async def org(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sandbox]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)  # the loopback queue: the app's dummy keys
    monkeypatch.delenv("AWS_ENDPOINT_URL_SQS", raising=False)
    sandbox = Sandbox(
        SandboxConfig(
            port=0,
            users=12,
            queues=2,
            seed=5,
            simulate=False,
            eventbridge=True,
            eventbridge_delay_min_s=0.05,
            eventbridge_delay_max_s=0.3,
        )
    )
    await sandbox.start()
    try:
        yield sandbox
    finally:
        await sandbox.stop()


async def test_a_queue_saved_in_the_guide_is_read_at_once_and_a_cleared_one_stops(
    qtbot: QtBot, settings: QSettings, tmp_path: Path, org: Sandbox
) -> None:
    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    assert org.eventbridge is not None
    queue_url = org.eventbridge.queue_url
    engine = await build_engine(
        demo=False,
        environment=org.base_url,
        queues="all",
        users="members",
        client_id=org.config.client_id,
        client_secret=org.config.client_secret,
        open_store=lambda _name: MemoryCredentialStore(insecure_reason="test: no keyring"),
    )
    journal = await Journal.open(tmp_path / "journal.sqlite3")
    engine.closers.insert(0, journal.close)
    config_file = tmp_path / "config.json"
    config = AppConfig().with_watch(WatchSettings(queues="all", users="all"))
    app = GuiApp(
        QApplication.instance(),  # type: ignore[arg-type]
        engine.service,
        GuiOptions(  # no queue yet: the launcher gives no EventBridge source
            settings=settings,
            journal=journal,
            config=config,
            config_path=config_file,
            watch_network=False,
        ),
    )
    window = app.window

    def status_bar() -> str:
        return f"{window.state_label.text()} {window.eventbridge_label.text()}".strip()

    async def until(what: str, check: Callable[[], object], wait_s: float = WAIT_S) -> None:
        changed = asyncio.Event()
        app.bridge.health_changed.connect(changed.set)  # once a second, and on every change
        app.bridge.state_changed.connect(changed.set)
        try:
            async with asyncio.timeout(wait_s):
                while not check():
                    changed.clear()
                    await changed.wait()
        except TimeoutError:
            raise AssertionError(f"no {what} within {wait_s} s: {status_bar()!r}") from None
        finally:
            app.bridge.health_changed.disconnect(changed.set)
            app.bridge.state_changed.disconnect(changed.set)

    def link_now() -> EventBridgeLink | None:  # re-read: the app changes it
        return app.eventbridge.link

    def both_live() -> bool:  # "lag 0.4 s" once a message came; "live" while none has
        text = status_bar()
        return text.startswith(tuple(f"WebSocket live · EventBridge {w}" for w in ("lag", "live")))

    running = asyncio.ensure_future(app.run())
    try:
        await until("the WebSocket live", lambda: status_bar() == "Live")
        assert link_now() is None
        # The guide saves the queue: read now, not at the next start.
        guide = app.eventbridge.open_guide()
        await guide.settle()
        guide.queue_url.setText(queue_url)
        assert await guide.save(), guide.queue_status.text()
        assert "now" in guide.queue_status.text()
        await app.alerts.flush()
        assert load_config(config_file).config.eventbridge_settings.queue_url == queue_url
        link = link_now()
        assert link is not None and link.merge is not None
        await until("EventBridge live beside the WebSocket", both_live)
        merge = link.merge
        received = merge.counters["received"]
        user = next(u for u in org.org.users.values() if org.org.presence_key(u) != "AWAY")
        org.org.set_presence(user, org.org.system_presence_id("AWAY"))
        await until("the org's event from the queue", lambda: merge.counters["received"] > received)
        assert link.consumer is not None and link.consumer.running

        # Settings clears the queue: the consumer stops, the WebSocket alone is shown.
        consumer = link.consumer
        cleared = dataclasses.replace(app.alerts.config.eventbridge_settings, queue_url="")
        await app.save_settings(app.alerts.config.with_eventbridge(cleared))
        assert not consumer.running and consumer_of(link) is None
        assert status_bar() == "Live"
        ticked = asyncio.Event()
        app.bridge.health_changed.connect(ticked.set)
        await asyncio.wait_for(ticked.wait(), WAIT_S)
        app.bridge.health_changed.disconnect(ticked.set)
        assert status_bar() == "Live", "a stopped source must not come back on the next tick"
        assert app.eventbridge.relay is None

        # Saved again in Settings: the same link reads it again, at once.
        again = app.alerts.config.with_eventbridge(EventBridgeSettings(queue_url=queue_url))
        await app.save_settings(again)
        assert link_now() is link
        await until("EventBridge live again", both_live)
        assert consumer_of(link) not in (None, consumer)
        # The old consumer's long poll, cancelled here, may still be open on the server and take
        # the first message for its visibility timeout (as with real SQS: delayed, not lost). It
        # takes one receive at most: the next changes reach the new consumer.
        received = merge.counters["received"]
        for key in ("AVAILABLE", "BUSY", "AWAY", "MEAL", "AVAILABLE"):
            org.org.set_presence(user, org.org.system_presence_id(key))
            with contextlib.suppress(AssertionError):
                await until("the next event", lambda: merge.counters["received"] > received, 3.0)
                break
        assert merge.counters["received"] > received, "no event came from the queue read again"
    finally:
        app.stop_requested.set()
        await asyncio.wait_for(running, 30)
        await engine.aclose()
    last = consumer_of(link)
    assert last is not None and not last.running
