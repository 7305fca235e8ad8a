"""The app on the demo org (as ``make run`` starts it) shows both sources and recovers a gap.

The engine and its EventBridge link are built the launcher's way (``build_engine(demo=...,
demo_eventbridge=True)``, :func:`gui.launcher.eventbridge_link`); the app shows "WebSocket live ·
EventBridge ..." once the demo's queue is up. Then the socket goes down for several seconds while
the org moves (its channels expire and the next channel requests fail), and the feed shows the
events that came back from EventBridge and the gap line. A screenshot goes to /tmp/e3-feed.png.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

SHOT = Path("/tmp/e3-feed.png")


@pytest.mark.timeout(150)
async def test_the_demo_shows_both_sources_and_a_gap_recovered_from_eventbridge(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    from core.app.bootstrap import build_engine
    from core.storage.journal.journal import Journal
    from gui.app import GuiApp
    from gui.launcher import eventbridge_link
    from gui.options import GuiOptions

    engine = await build_engine(
        demo=True,
        environment=None,
        queues="mine",
        users="mine",
        demo_speed=20.0,
        demo_eventbridge=True,
    )
    journal = await Journal.open(tmp_path / "journal.sqlite3")
    engine.closers.insert(0, journal.close)
    from core.storage.settings.model import default_config

    link = eventbridge_link(engine, default_config())
    assert link is not None, "the demo org has an EventBridge queue"
    app = GuiApp(
        QApplication.instance(),  # type: ignore[arg-type]
        engine.service,
        GuiOptions(
            settings=settings, journal=journal, eventbridge=link, eventbridge_stop=link.stop
        ),
    )
    link.attach(engine.service, app.pipeline, journal.flush)
    link.start_once_live(engine.service)  # as the launcher does for the demo org
    window = app.window
    running = asyncio.ensure_future(app.run())

    def status_bar() -> str:
        return f"{window.state_label.text()} {window.eventbridge_label.text()}"

    def feed_texts() -> list[str]:
        model = window.feed
        return [model.entry(row).summary for row in range(model.rowCount())]

    async def until(what: str, check: object, timeout_s: float = 60.0) -> None:
        changed = asyncio.Event()
        app.bridge.health_changed.connect(changed.set)  # once a second, and on every change
        app.bridge.feed_appended.connect(changed.set)
        try:
            async with asyncio.timeout(timeout_s):
                while not check():  # type: ignore[operator]
                    changed.clear()
                    await changed.wait()
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout_s} s: {status_bar()!r}") from None
        finally:
            app.bridge.health_changed.disconnect(changed.set)
            app.bridge.feed_appended.disconnect(changed.set)

    try:
        await until(
            "both sources live",
            lambda: "WebSocket live" in status_bar() and "EventBridge lag" in status_bar(),
        )
        assert engine.sandbox_url is not None
        async with httpx.AsyncClient(base_url=engine.sandbox_url, timeout=10) as control:
            # The socket goes away and the next channel requests fail: a gap of several seconds.
            await control.post("/sandbox/faults/server_error?count=3")
            expired = (await control.post("/sandbox/faults/expire_channels")).json()
            assert expired["count"] >= 1
        await until(
            "recovered lines and the gap line",
            lambda: (
                any("recovered from EventBridge" in t for t in feed_texts())
                and any("events recovered from EventBridge" in t for t in feed_texts())
            ),
            timeout_s=90.0,
        )
        window.show()
        window.tabs.setCurrentIndex(2)  # the Feed, as a supervisor would look for the gap
        window.feed_search.setText("recovered")
        assert window.feed_proxy.rowCount() >= 2
        window.resize(1100, 600)
        await asyncio.sleep(0)
        window.grab().save(str(SHOT))
        gap = next(t for t in feed_texts() if "events recovered from EventBridge" in t)
        assert gap.startswith("Disconnected ")
        assert "EventBridge" in status_bar()
    finally:
        app.stop_requested.set()
        await asyncio.wait_for(running, 30)
        await engine.aclose()
    assert link.consumer is not None and not link.consumer.running
