"""The app's EventBridge parts in one place: both sources on show, the guide, the queue's save.

Kept out of :mod:`gui.app` (near the size limit). It shows the source's status in the status bar
and the tray tooltip (through :class:`gui.window.sources.StatusRelay`), opens the "Set up
EventBridge…" guide with filters from what is watched, and saves the queue URL the guide checked
into this org's settings through the app's one settings writer.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject

from core.eventbridge.events import SourceStatus
from core.eventbridge.ports import StatusSource
from core.eventbridge.setup import event_filters
from core.rest.integrations import IntegrationSetup
from core.storage.settings.model import AppConfig
from gui.alerts import AlertsController
from gui.dialogs.eventbridge_guide import EventBridgeGuide
from gui.dialogs.settings_dialog import SettingsDialog
from gui.dialogs.watch_eventbridge import EventBridgeWatchBox
from gui.tray.controller import TrayController
from gui.window.main_window import MainWindow
from gui.window.sources import StatusRelay

logger = logging.getLogger(__name__)


def watched_filters(config: AppConfig) -> tuple[str, ...]:
    """Class-wide filters for what this org watches (org-wide adds every user's classes)."""
    watch = config.watch
    users = watch is None or watch.users != "none" or config.eventbridge_settings.org_wide
    queues = watch is None or watch.queues != "none"
    return tuple(event_filters(users=users, queues=queues))


class EventBridgeUi(QObject):
    """Shows the EventBridge source and runs its guide for one running org."""

    def __init__(
        self,
        *,
        source: StatusSource | None,
        window: MainWindow,
        tray: TrayController | None,
        alerts: AlertsController,
        genesys: IntegrationSetup | None,
        settings_dialog: Callable[[], SettingsDialog | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window = window
        self.tray = tray
        self.alerts = alerts
        self.genesys = genesys
        self._settings_dialog = settings_dialog
        self.guide: EventBridgeGuide | None = None
        self._shown: SourceStatus | None = None
        self.relay = StatusRelay(source, self) if source is not None else None
        if self.relay is not None:
            self.relay.changed.connect(self.show_status)
            self.show_status(self.relay.status)

    def refresh(self, *_: object) -> None:
        """Re-read the status once a second: the lag grows without the source saying so."""
        if self.relay is not None and self.relay.status != self._shown:
            self.show_status(self.relay.status)

    def show_status(self, status: SourceStatus | None) -> None:
        """Both sources in the status bar and the tray tooltip."""
        self._shown = status
        self.window.show_eventbridge(status)
        if self.tray is not None:
            self.tray.set_eventbridge(status)

    def open_guide(self) -> EventBridgeGuide:
        """Show "Set up EventBridge…" (or bring the open one forward)."""
        if self.guide is not None and self.guide.isVisible():
            self.guide.raise_()
            self.guide.activateWindow()
            return self.guide
        if self.guide is not None:
            self.guide.deleteLater()
        config = self.alerts.config
        guide = EventBridgeGuide(
            genesys=self.genesys,
            filters=watched_filters(config),
            save_queue=self.save_queue,
            queue_url=config.eventbridge_settings.queue_url,
        )
        self.guide = guide
        guide.show()
        guide.start()
        return guide

    def watch_box(self) -> EventBridgeWatchBox | None:
        """ "What to watch"'s EventBridge part, when this org has a queue."""
        bridge = self.alerts.config.eventbridge_settings
        if not bridge.configured:
            return None
        topics = self.genesys.eventbridge_only if self.genesys is not None else None
        return EventBridgeWatchBox(bridge.org_wide, topics)

    async def save_queue(self, url: str) -> None:
        """Store the queue URL in this org's settings (and in an open Settings dialog)."""
        config = self.alerts.config
        bridge = dataclasses.replace(config.eventbridge_settings, queue_url=url)
        self.alerts.config = config.with_eventbridge(bridge)
        await self.alerts.writer.submit(self.alerts.config)
        dialog = self._settings_dialog()
        if dialog is not None and dialog.isVisible():
            dialog.set_queue_url(url)

    async def stop(self) -> None:
        """Part of the staged shutdown: stop listening, end the guide's work, delete it."""
        if self.relay is not None:
            self.relay.stop()
        if self.guide is not None:
            self.guide.close()
            await self.guide.settle()
            shiboken6.delete(self.guide)  # on the GUI thread (see GuiApp.shutdown)
            self.guide = None
