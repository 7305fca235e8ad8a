"""The app's window on one chaos engine (offscreen): after every fault it must show the truth.

A real :class:`gui.app.GuiApp` (bridge, models, main window, alerts controller, in-app
notifications) is attached to the engine exactly as ``main.py`` attaches it; nothing is shown
on a screen. :meth:`GuiView.differences` compares what the boards display, cell by cell, with the
truth: a row for every watched user and queue, the org's own presence label, the routing status,
the queue counters, and "Live" in the status bar.

The run stays on a plain asyncio loop: on qasync's loop, an in-process sandbox, two engines and a
fault every second starved the sockets (a shard went stale with its heartbeats unread). Qt's
events are processed at every check instead, after the bridge's batch is flushed as its 100 ms
tick would; the app on its real qasync loop is covered by tests/gui and tests/desktop.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from core.domain.format import status_text
from core.engine.service import MonitorService
from gui.app import GuiApp
from gui.models.agents import AgentsModel
from gui.models.queues import QueuesModel
from gui.options import GuiOptions
from gui.window.main_window import STATE_TEXT

Json = dict[str, Any]


class GuiView:
    """A GuiApp over one engine, and the check of its boards against the truth."""

    def __init__(self, service: MonitorService, settings_file: str) -> None:
        qapp = QApplication.instance()
        assert isinstance(qapp, QApplication), "the chaos GUI needs the suite's QApplication"
        settings = QSettings(settings_file, QSettings.Format.IniFormat)
        self.app = GuiApp(qapp, service, GuiOptions(settings=settings, watch_network=False))
        self.checks = 0

    def differences(self, expected: Json, labels: dict[str, str]) -> list[str]:
        """What the boards show that the truth does not say (empty when they agree).

        ``labels``: the org's presence labels by definition id. The bridge's pending batch is
        flushed first, as its next 100 ms tick would.
        """
        self.checks += 1
        window = self.app.window
        self.app.bridge._on_timer_flush()
        QApplication.processEvents()
        wrong: list[str] = []
        agents = window.agents
        for uid, user in expected["users"].items():
            row = agents.row_of(uid)
            if row < 0:
                wrong.append(f"user {uid}: no row")
                continue
            shown = (
                agents.index(row, AgentsModel.PRESENCE).data(),
                agents.index(row, AgentsModel.ROUTING).data(),
            )
            want = (
                labels.get(user["presenceDefinitionId"], ""),
                status_text(user["routingStatus"]),
            )
            if shown != want:
                wrong.append(f"user {uid}: shows {shown}, truth {want}")
        queues = window.queues
        for qid, queue in expected.get("queues", {}).items():
            row = queues.row_of(qid)
            if row < 0:
                wrong.append(f"queue {qid}: no row")
                continue
            for column, key in (
                (QueuesModel.WAITING, "waiting"),
                (QueuesModel.INTERACTING, "interacting"),
            ):
                shown_count = queues.index(row, column).data()
                if shown_count != queue[key] and not (shown_count == "—" and queue[key] == 0):
                    wrong.append(f"queue {qid} {key}: shows {shown_count}, truth {queue[key]}")
        if window.state_label.text() != STATE_TEXT["live"]:
            wrong.append(f"status bar says {window.state_label.text()!r}")
        return wrong

    async def close(self) -> None:
        """The app's own staged shutdown (it stops the engine's service too)."""
        await self.app.shutdown()
        self.app.window.close()
        self.app.deleteLater()
