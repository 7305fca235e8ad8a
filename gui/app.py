"""The Qt application: one qasync loop, the tray, the window, and a staged shutdown.

Rules of the house (design.md): one asyncio loop for the whole process (qasync's QEventLoop run
through ``asyncio.Runner``); shutdown is driven from the async side by one event that tray Quit,
SIGINT/SIGTERM, the window (when there is no tray) and ``aboutToQuit`` only *set*; Qt's
quit-on-last-window-closed and quit lock are off so nothing ends the loop behind our back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QSettings, Qt
from PySide6.QtWidgets import QApplication

from core.config import AppConfig, default_config
from core.feed import FeedBuilder
from core.journal import Journal
from core.service import EngineState, MonitorService
from gui.alerts import AlertsController
from gui.bridge import EngineBridge, LinkHealth
from gui.main_window import MainWindow
from gui.notifier import Notice, Notifier, default_backends
from gui.tray import TrayController

logger = logging.getLogger(__name__)

APP_NAME = "Genesys Tray"
ORG_NAME = "genesys-tray"


def create_qapp(argv: list[str] | None = None) -> QApplication:
    """The QApplication, configured so only our async side decides when to quit."""
    existing = QApplication.instance()
    qapp = existing if isinstance(existing, QApplication) else QApplication(argv or [sys.argv[0]])
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setOrganizationName(ORG_NAME)
    qapp.setQuitOnLastWindowClosed(False)
    qapp.setQuitLockEnabled(False)
    qapp.setAttribute(Qt.ApplicationAttribute.AA_DontShowIconsInMenus, False)
    return qapp


def run_qasync(qapp: QApplication, main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run ``main()`` on a qasync loop through ``asyncio.Runner`` and return its exit code."""
    import qasync

    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(qapp)) as runner:
        return runner.run(main())


@dataclass(slots=True)
class GuiOptions:
    """What the command line asked of the GUI."""

    minimized: bool = False
    title_suffix: str = ""
    journal: Journal | None = None
    on_reconnect: Callable[[], None] | None = None
    extra_closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    settings: QSettings | None = None
    config: AppConfig | None = None
    config_path: Path | None = None
    config_problem: str | None = None
    self_user_id: str | None = None


class GuiApp(QObject):
    """Owns the bridge, the window and the tray of one running engine."""

    def __init__(self, qapp: QApplication, service: MonitorService, options: GuiOptions) -> None:
        super().__init__()
        self.qapp = qapp
        self.service = service
        self.options = options
        self.stop_requested = asyncio.Event()
        self.bridge = EngineBridge(
            FeedBuilder(service.store),
            health=self._link_health,
            journal=options.journal.append if options.journal is not None else None,
        )
        service.add_listener(self.bridge.on_record)
        self.has_tray = TrayController.available()
        self.window = MainWindow(
            service.store,
            self.bridge,
            tray_present=self.has_tray,
            settings=options.settings,
            journal=options.journal,
        )
        if options.title_suffix:
            self.window.setWindowTitle(f"{self.window.windowTitle()} — {options.title_suffix}")
        self.tray = TrayController(self) if self.has_tray else None
        self.notifier = Notifier(default_backends(self.tray), self)
        config = options.config or default_config()
        self.alerts = AlertsController(
            service,
            config,
            self.notifier,
            tray=self.tray,
            config_path=options.config_path,
            journal=options.journal,
            self_user_id=lambda: options.self_user_id,
            parent=self,
        )
        self.window.feed_proxy.set_kinds(config.feed_kinds)
        self._wire()

    # ------------------------------------------------------------------ wiring
    def _wire(self) -> None:
        self.window.quit_requested.connect(self._on_window_quit_requested)
        self.window.pause_toggled.connect(self._on_window_pause_toggled)
        self.window.reconnect_requested.connect(self._on_tray_reconnect_requested)
        self.bridge.state_changed.connect(self._on_bridge_state_changed)
        for batch in (self.bridge.users_changed, self.bridge.queues_changed):
            batch.connect(self.alerts.evaluate)
        self.bridge.state_changed.connect(self.alerts.evaluate)
        self.alerts.open_requested.connect(self._on_alerts_open_requested)
        self.alerts.alerts_changed.connect(self._on_bridge_summary)
        self.alerts.config_problem.connect(self._on_alerts_config_problem)
        self.notifier.in_app.shown.connect(self._on_notifier_in_app_shown)
        self.notifier.backend_changed.connect(self._on_notifier_backend_changed)
        self.window.filters_requested.connect(self.alerts.open_filters)
        self.qapp.aboutToQuit.connect(self.stop_requested.set)
        if self.tray is not None:
            self.tray.toggle_window_requested.connect(self._on_tray_toggle_window_requested)
            self.tray.open_window_requested.connect(self.show_window)
            self.tray.quit_requested.connect(self._on_window_quit_requested)
            self.tray.pause_toggled.connect(self._on_tray_pause_toggled)
            self.tray.reconnect_requested.connect(self._on_tray_reconnect_requested)
            self.tray.settings_requested.connect(self._on_tray_not_yet_requested)
            self.bridge.queues_changed.connect(self._on_bridge_summary)
            self.bridge.health_changed.connect(self._on_bridge_summary)

    def _link_health(self) -> LinkHealth:
        stats = self.service.link_stats()
        return LinkHealth(stats.channels, stats.topics, stats.last_frame_age_s)

    def show_window(self) -> None:
        """Bring the monitor window forward (also when a second launch asks for it)."""
        logger.info("showing the monitor window")
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def _on_tray_toggle_window_requested(self) -> None:
        if self.window.isVisible() and not self.window.isMinimized():
            self.window.hide()
        else:
            self.show_window()

    def _on_tray_not_yet_requested(self) -> None:
        self.show_window()
        self.window.statusBar().showMessage("Settings arrive in the next release.", 8000)

    def _on_alerts_open_requested(self, kind: str, subject_id: str) -> None:
        self.show_window()
        self.window.reveal(kind, subject_id)

    def _on_alerts_config_problem(self, message: str) -> None:
        self.window.show_problem("Settings", message)

    def _on_notifier_in_app_shown(self, notice: Notice) -> None:
        self.window.statusBar().showMessage(f"Alert: {notice.title}", 15_000)

    def _on_notifier_backend_changed(self, name: str, reason: str) -> None:
        if reason:
            logger.warning("notifications: %s", reason)
            self.window.statusBar().showMessage(reason, 15_000)

    def _on_window_quit_requested(self) -> None:
        self.stop_requested.set()

    def _on_window_pause_toggled(self, paused: bool) -> None:
        if self.tray is not None:
            self.tray.set_paused(paused)

    def _on_tray_pause_toggled(self, paused: bool) -> None:
        self.window.set_paused(paused)

    def _on_tray_reconnect_requested(self) -> None:
        self.service.check_now()

    def _on_bridge_state_changed(self, state: str, detail: str) -> None:
        if self.tray is not None:
            self.tray.set_health(state, detail)

    def _on_bridge_summary(self, *_: object) -> None:
        if self.tray is None:
            return
        lines = self.window.summary_lines()
        active = len(self.alerts.engine.active)
        if active:
            lines.append(f"{active} active alert{'s' if active != 1 else ''}")
        self.tray.set_summary(lines, self.window.data_as_of())

    # ------------------------------------------------------------------ life
    async def run(self) -> int:
        """Start the engine, show the UI, wait for the stop event, then shut down in stages."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop_requested.set)
        if self.tray is not None:
            self.tray.set_health(EngineState.STARTING.value, "starting")
            self.tray.show()
        if not (self.options.minimized and self.tray is not None):
            self.show_window()
        journal = self.options.journal
        if journal is not None and journal.problem:
            self.window.show_problem("Journal", journal.problem)
        if self.options.config_problem:
            self.window.show_problem("Settings", self.options.config_problem)
        self.notifier.start()  # after the tray is shown: the balloon fallback needs it
        self.alerts.start()
        try:
            await self.service.start()
            await self.stop_requested.wait()
        finally:
            await self.shutdown()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
        return 0

    async def shutdown(self) -> None:
        """Staged: stop the UI's timers, close the engine, then the windows and the tray."""
        logger.info("shutting down")
        self.bridge.stop()
        self.alerts.stop()
        self.notifier.stop()
        self.window.stop_timers()
        await self.service.stop()
        with contextlib.suppress(Exception):
            await self.alerts.flush()
        for close in self.options.extra_closers:
            with contextlib.suppress(Exception):
                await close()
        self.window.save_settings()
        self.window.hide()
        if self.tray is not None:
            self.tray.hide()
