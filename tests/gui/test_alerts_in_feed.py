"""An alert that fires is a line of the feed and a row of the journal, next to its cause.

The whole app runs in-process on qasync over the embedded demo org; the simulation is paused and
calls are put on a queue through the sandbox's control API, so the crossing is ours.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from core.alerts.model import Condition, Rule
from core.feed.payloads import AlertData
from core.storage.journal.journal import Journal
from core.storage.settings.model import AppConfig
from gui.models.table_base import ENTRY_ROLE

DEADLINE_S = 20.0


async def _until(predicate: Any, what: str) -> None:
    try:
        async with asyncio.timeout(DEADLINE_S):
            while not predicate():  # noqa: ASYNC110 - the app moves on its own schedule
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {DEADLINE_S:g} s: {what}") from None


async def test_a_fired_alert_is_in_the_feed_and_the_journal(tmp_path: Path) -> None:
    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=1.0
    )
    journal = await Journal.open(tmp_path / "journal.sqlite3", flush_interval_s=0.05)
    rule = Rule(
        id="feed-waiting",
        name="Calls waiting",
        condition=Condition.QUEUE_WAITING_ABOVE,
        threshold=2,
        for_s=0,
    )
    options = GuiOptions(
        settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
        config=AppConfig(rules=[rule]),
        journal=journal,
    )
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    running = asyncio.ensure_future(app.run())
    assert engine.sandbox_url is not None
    try:
        async with httpx.AsyncClient(base_url=engine.sandbox_url, timeout=10) as control:
            await control.post("/sandbox/simulation/pause")
            await _until(lambda: engine.service.state.value == "live", "the engine went live")
            queue_id = sorted(engine.service.watch.queues)[0]
            waiting = (await control.get("/sandbox/truth")).json()["queues"][queue_id]["waiting"]
            for _ in range(3 - waiting + 1):
                await control.post(f"/sandbox/queues/{queue_id}/conversations")

            feed = app.window.feed

            def alert_rows() -> list[Any]:
                rows = (feed.index(r, 0).data(ENTRY_ROLE) for r in range(feed.rowCount()))
                return [e for e in rows if e is not None and e.kind == "alert"]

            await _until(alert_rows, "an alert line in the feed")
        line = alert_rows()[0]
        name = engine.service.store.queues[queue_id].name
        assert line.subject_id == queue_id and line.subject == name
        assert line.summary.startswith("Calls waiting fired: ") and name in line.summary
        assert line.severity == "warning"
        assert isinstance(line.data, AlertData)
        assert (line.data.rule_id, line.data.change) == ("feed-waiting", "fired")
        await journal.flush()
        stored = await journal.search(kinds=["alert"])
        assert [(e.subject_id, e.summary) for e in stored] == [(queue_id, line.summary)]
    finally:
        app.stop_requested.set()
        assert await asyncio.wait_for(running, DEADLINE_S) == 0
        await engine.aclose()
        await journal.close()
