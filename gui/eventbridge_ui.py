"""The app's EventBridge parts in one place: both sources on show, the guide, the queue's save.

Kept out of :mod:`gui.app` (near the size limit). It shows the source's status in the status bar
and the tray tooltip (through :class:`gui.window.sources.StatusRelay`), opens the "Set up
EventBridge…" guide with filters from what is watched, and saves the queue URL the guide checked
into this org's settings through the app's one settings writer.

A queue saved (in the guide or Settings) takes effect at once (:meth:`EventBridgeUi.use_queue`):
the running link moves to it, a first queue starts a link of its own, and a cleared one stops
the consumer. The log says what the status bar shows whenever a source changes state, and which
feed lines came back from EventBridge: what support (and the desktop test, a separate process)
reads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex

from core.app.eventbridge_wiring import EventBridgeLink
from core.auth.credentials import CredentialStore
from core.eventbridge.events import SourceStatus
from core.eventbridge.ports import StatusSource
from core.eventbridge.setup import event_filters
from core.rest.integrations import IntegrationSetup
from core.storage.settings.model import AppConfig, EventBridgeSettings
from gui.alerts import AlertsController
from gui.dialogs.eventbridge_guide import EventBridgeGuide
from gui.dialogs.settings_dialog import SettingsDialog
from gui.dialogs.watch_eventbridge import EventBridgeWatchBox
from gui.tray.controller import TrayController
from gui.window.main_window import MainWindow
from gui.window.sources import StatusRelay

logger = logging.getLogger(__name__)

RECOVERED_WORDS = "recovered from EventBridge"  # a feed line of the backlog (core.feed.builder)
LOGGED_LINES = 20  # recovered feed lines logged word for word per batch; the rest counted


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
        attach: Callable[[EventBridgeLink], object] | None = None,
        credentials: CredentialStore | None = None,
        parent: QObject | None = None,
    ) -> None:
        """``attach`` joins a link started here to the engine and the pipeline (its merge);
        ``credentials`` is the org's store for it. Without ``attach`` no link starts here."""
        super().__init__(parent)
        self.window = window
        self.tray = tray
        self.alerts = alerts
        self.genesys = genesys
        self._settings_dialog = settings_dialog
        self._attach = attach
        self._credentials = credentials
        self.guide: EventBridgeGuide | None = None
        self._shown: SourceStatus | None = None
        self._logged: tuple[str, str] | None = None  # the status bar's words last logged
        # The link a saved queue moves (the launcher's, or one started here); another source
        # (a bare consumer) is only shown, and no link starts beside it.
        self.link = source if isinstance(source, EventBridgeLink) else None
        self._movable = source is None or self.link is not None
        self._own_link = False  # started here: stopped here too
        self._moving = asyncio.Lock()  # one move at a time (the guide and Settings may both save)
        self._stopped = False
        self.relay: StatusRelay | None = None
        window.feed.rowsInserted.connect(self._on_feed_rows_inserted)
        if source is not None:
            self._follow(source)
        else:
            self._log_status()

    def _follow(self, source: StatusSource) -> None:
        self.relay = StatusRelay(source, self)
        self.relay.changed.connect(self.show_status)
        self.show_status(self.relay.status)

    def _unfollow(self) -> None:
        if self.relay is not None:
            self.relay.stop()
            self.relay.changed.disconnect(self.show_status)
            self.relay.deleteLater()
            self.relay = None
        self.show_status(None)

    def refresh(self, *_: object) -> None:
        """Re-read the status once a second: the lag grows without the source saying so."""
        if self.relay is not None and self.relay.status != self._shown:
            self.show_status(self.relay.status)
        else:
            self._log_status()  # the WebSocket's state may have changed

    def show_status(self, status: SourceStatus | None) -> None:
        """Both sources in the status bar and the tray tooltip."""
        self._shown = status
        self.window.show_eventbridge(status)
        if self.tray is not None:
            self.tray.set_eventbridge(status)
        self._log_status()

    def _log_status(self) -> None:
        """Log the status bar's words when a source's state changes (not every lag tick)."""
        status = self._shown
        key = (self.window.state_label.text(), status.state if status is not None else "")
        if key != self._logged:
            self._logged = key
            words = f"{key[0]} {self.window.eventbridge_label.text()}".strip()
            logger.info("status bar: %s", words)

    def _on_feed_rows_inserted(
        self, _parent: QModelIndex | QPersistentModelIndex, first: int, last: int
    ) -> None:
        """Log the feed lines that came back from EventBridge (a gap's history, its summary)."""
        feed = self.window.feed
        lines = [
            entry.summary
            for row in range(first, last + 1)
            if RECOVERED_WORDS in (entry := feed.entry(row)).summary
        ]
        for line in lines[:LOGGED_LINES]:
            logger.info("feed: %s", line)
        if len(lines) > LOGGED_LINES:
            logger.info("feed: %d more lines recovered from EventBridge", len(lines) - LOGGED_LINES)

    async def use_queue(self, bridge: EventBridgeSettings) -> None:
        """Read the queue ``bridge`` names from now on: start, move or stop the consumer.

        The demo org's own queue stays while no queue is saved (any Settings save passes here).
        """
        async with self._moving:
            if self._movable and not self._stopped:
                await self._use_queue(bridge)

    async def _use_queue(self, bridge: EventBridgeSettings) -> None:
        link = self.link
        wanted = (bridge.queue_url, bridge.aws_profile, bridge.aws_region)
        if link is not None:
            if link.queue == wanted or (link.queue is None and not bridge.queue_url):
                return
            await link.retarget(
                bridge.queue_url, profile=bridge.aws_profile, region=bridge.aws_region
            )
            if not bridge.queue_url:
                self._unfollow()  # no queue: the WebSocket alone, as before one was set
            elif self.relay is None:
                self._follow(link)
            return
        if not bridge.queue_url or self._attach is None:
            return
        link = EventBridgeLink(
            bridge.queue_url,
            profile=bridge.aws_profile,
            region=bridge.aws_region,
            credentials=self._credentials,
        )
        self._attach(link)
        self.link, self._own_link = link, True
        link.start()
        self._follow(link)

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
        await self.use_queue(bridge)

    async def stop(self) -> None:
        """Part of the staged shutdown: stop listening, end the guide's work, delete it; a link
        started here stops here (before the engine, as the launcher's does)."""
        async with self._moving:  # a move under way ends first; none starts after this
            self._stopped = True
        if self.relay is not None:
            self.relay.stop()
        if self.link is not None and self._own_link:
            await self.link.stop()
        if self.guide is not None:
            self.guide.close()
            await self.guide.settle()
            shiboken6.delete(self.guide)  # on the GUI thread (see GuiApp.shutdown)
            self.guide = None
