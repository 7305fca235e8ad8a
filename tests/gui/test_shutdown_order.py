"""The app's staged shutdown: the engine's last records reach live alerts, then they stop.

The demo org runs under the real GuiApp with a real journal file. A "connection not live" rule
fires while the link is down (the demo's start and re-syncs count too); at Quit the engine's
STOPPED record resolves it, and that change must reach a notifier that is still running (it
withdraws the notification). Nothing may reach the notifier after it stopped, and the journal
keeps the STOPPED state.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.alerts.model import Condition, Rule
from core.engine.records import EngineState, StateRecord
from core.feed.payloads import ConnectionData
from core.storage.journal.journal import Journal
from core.storage.settings.model import default_config

LINK_RULE = Rule(
    id="link",
    name="Link down",
    condition=Condition.CHANNEL_NOT_LIVE_FOR,
    threshold=0,
    for_s=0,
    cooldown_s=0,
)


async def test_quit_stops_the_engine_before_the_alerts_and_the_notifier(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    problems: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _l, context: problems.append(context))
    journal = await Journal.open(tmp_path / "j.sqlite3", retention_days=0)
    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=20.0
    )
    config = dataclasses.replace(default_config(), rules=[LINK_RULE])
    options = GuiOptions(settings=settings, config=config, journal=journal, watch_network=False)
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]

    # (method, key, the pipeline's engine state, was the notifier stopped)
    calls: list[tuple[str, str, str, bool]] = []
    notifier = app.notifier
    for name in ("post", "announce", "withdraw"):
        real = getattr(notifier, name)

        def spy(arg: Any, *, _real: Any = real, _name: str = name) -> Any:
            key = arg if isinstance(arg, str) else arg.key
            calls.append((_name, key, app.pipeline.state.value, notifier._stopped))
            return _real(arg)

        setattr(notifier, name, spy)

    def link_drops_as_quit_begins() -> None:
        """The link drops (as the engine says it) at the very start of the shutdown, so the
        rule is firing when the engine stops: nothing in between can resolve it."""
        app.pipeline.on_record(StateRecord(EngineState.RECONNECTING, "link lost"))
        firing_at_quit.extend(alert.rule_id for alert in app.pipeline.active)
        stop_wake()

    firing_at_quit: list[str] = []

    stop_wake = app.wake.stop
    app.wake.stop = link_drops_as_quit_begins  # type: ignore[method-assign]

    live = asyncio.Event()
    app.bridge.state_changed.connect(
        lambda state, _detail: live.set() if state is EngineState.LIVE else None
    )
    running = asyncio.ensure_future(app.run())
    try:
        await asyncio.wait_for(live.wait(), 20)
    finally:
        app.stop_requested.set()
        assert await asyncio.wait_for(running, 10) == 0
        await engine.aclose()

    assert firing_at_quit == ["link"]
    link = [c for c in calls if c[1] == "link:"]
    # The engine's STOPPED record resolved it, and the notifier still ran to withdraw it.
    assert link[-1] == ("withdraw", "link:", "stopped", False), calls
    assert [c for c in calls if c[3]] == []  # nothing reached the notifier after it stopped

    await journal.flush()
    states = [
        e.data.state
        for e in reversed(await journal.search(kinds=["connection"], limit=1000))
        if isinstance(e.data, ConnectionData)
    ]
    await journal.close()
    assert states[-1] == EngineState.STOPPED.value, states
    assert problems == []
