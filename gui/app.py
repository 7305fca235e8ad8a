"""The Qt application: one qasync loop, the tray, the window, and a staged shutdown.

Rules of the house (design.md): one asyncio loop for the whole process (qasync's QEventLoop run
through ``asyncio.Runner``); shutdown is driven from the async side by one event that tray Quit,
SIGINT/SIGTERM, the window (when there is no tray) and ``aboutToQuit`` only *set*; Qt's
quit-on-last-window-closed and quit lock are off so nothing ends the loop behind our back.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

from core.alerts.model import Severity
from core.app.diagnostics import write_diagnostics
from core.app.pipeline import Pipeline
from core.auth.keyring_worker import default_worker
from core.engine.records import BudgetRecord, EngineState, SelectionProgress
from core.engine.service import MonitorService
from core.engine.timeline import ConnectionTimeline
from core.errors import GenesysTrayError
from core.rest.client import ApiClient
from core.rest.integrations import IntegrationSetup
from core.storage.journal.picture import PictureKeeper
from core.storage.settings.codec import config_to_json
from core.storage.settings.file import ConfigError
from core.storage.settings.model import AppConfig, WatchSettings, default_config
from core.storage.settings.writer import SettingsWriter
from gui.actions_ui import ActionsUi
from gui.alerts import AlertsController
from gui.bridge import EngineBridge, LinkHealth
from gui.dialogs.settings_dialog import SettingsDialog
from gui.dialogs.thresholds_page import ThresholdsPage
from gui.dialogs.watch_dialog import WatchDialog
from gui.dialogs.watch_text import selection_of
from gui.eventbridge_ui import EventBridgeUi
from gui.me_ui import MeUi
from gui.notifications.fallbacks import default_backends
from gui.notifications.notice import ACTION_SIGN_IN, SIGN_IN_KEY, Notice, sign_in_body
from gui.notifications.notifier import Notifier
from gui.options import APP_NAME, GuiOptions
from gui.platform.wake import NetworkWatcher, WakeDetector
from gui.thresholds import glance
from gui.tray.controller import TrayController
from gui.triggers_ui import TriggersUi
from gui.window.main_window import MainWindow
from gui.window.theme import apply_theme

logger = logging.getLogger(__name__)

SIGN_IN_WAIT_TEXT = "Finish the sign-in in your browser."


def sign_in_notice(detail: str) -> Notice:
    """The "Sign-in needed" notification, with its one-click "Sign in" button."""
    return Notice(
        key=SIGN_IN_KEY,
        title="Sign-in needed",
        body=sign_in_body(detail),
        severity=Severity.WARNING,
        subject_kind="connection",
        subject_id="",
        actions=((ACTION_SIGN_IN, "Sign in"),),
    )


class GuiApp(QObject):
    """Owns the bridge, the window and the tray of one running engine."""

    def __init__(self, qapp: QApplication, service: MonitorService, options: GuiOptions) -> None:
        super().__init__()
        self.qapp = qapp
        self.service = service
        self.options = options
        self.stop_requested = asyncio.Event()
        config = options.config or default_config()
        self.pipeline = Pipeline(
            service.store,
            rules=config.rules,
            journal=options.journal.append if options.journal is not None else None,
            picture=(
                PictureKeeper(service.store, options.journal, org=options.active_profile)
                if options.journal is not None
                else None
            ),
        )
        service.add_listener(self.pipeline.on_record)
        self.bridge = EngineBridge(self.pipeline, health=self._link_health)
        self.has_tray = TrayController.available()
        self.window = MainWindow(
            service.store,
            self.bridge,
            tray_present=self.has_tray,
            settings=options.settings,
            journal=options.journal,
        )
        self.window.drill.use_service(service)  # the org's web app, for "Open in Genesys Cloud"
        if options.title_suffix:
            self.window.setWindowTitle(f"{self.window.windowTitle()} — {options.title_suffix}")
        self.tray = TrayController(self) if self.has_tray else None
        self.notifier = Notifier(default_backends(self.tray), self)
        self.alerts = AlertsController(
            self.pipeline,
            service,
            config,
            self.notifier,
            tray=self.tray,
            config_path=options.config_path,
            journal=options.journal,
            self_user_id=lambda: options.self_user_id,
            writer=SettingsWriter(options.config_path),  # every save of the settings goes here
            parent=self,
        )
        self.window.feed_proxy.set_kinds(config.feed_kinds)
        if config.theme != "system":
            apply_theme(config.theme, qapp)
        if config.watch is not None:  # what the person chose last time ("What to watch…")
            service.selection = selection_of(config.watch)
        self.watch_dialog: WatchDialog | None = None
        self.timeline = options.timeline or ConnectionTimeline()
        service.add_listener(self.timeline.on_record)
        self.wake = WakeDetector(parent=self)
        self.network = NetworkWatcher(self)
        self.settings_dialog: SettingsDialog | None = None
        api, flush = service.api, options.journal.flush if options.journal is not None else None
        self.eventbridge = EventBridgeUi(
            source=options.eventbridge,
            window=self.window,
            tray=self.tray,
            alerts=self.alerts,
            genesys=IntegrationSetup(api) if isinstance(api, ApiClient) else None,
            settings_dialog=lambda: self.settings_dialog,
            attach=lambda link: link.attach(service, self.pipeline, flush),
            credentials=options.eventbridge_credentials,
            parent=self,
        )
        self.sign_in_task: asyncio.Task[None] | None = None
        # Set when the person left this org (sign out, "Connect to Genesys Cloud…"): after the
        # shutdown the composition root shows the welcome dialog instead of quitting.
        self.back_to_welcome = False
        self.next_profile: str | None = None  # the org chosen in the tray: started after this
        self._sign_in_announced = False
        self._signing_out = False
        self.me = MeUi.attach(self, parent=self)  # my own status: tray mark, menu, "Me" tab
        self.actions = ActionsUi.attach(self, parent=self)  # supervisor actions on the board
        self.triggers = TriggersUi.attach(self, parent=self)  # the org's Genesys Cloud triggers
        self._wire()

    # ------------------------------------------------------------------ wiring
    def _wire(self) -> None:
        self.window.quit_requested.connect(self._on_window_quit_requested)
        self.window.pause_toggled.connect(self._on_window_pause_toggled)
        self.window.reconnect_requested.connect(self._on_tray_reconnect_requested)
        self.window.sign_in_banner.sign_in_requested.connect(self.request_sign_in)
        self.notifier.action_invoked.connect(self._on_notifier_action_invoked)
        self.bridge.state_changed.connect(self._on_bridge_state_changed)
        self.bridge.health_changed.connect(self.eventbridge.refresh)  # the lag, once a second
        self.bridge.alerts_changed.connect(self.alerts.show_changes)
        self.bridge.users_changed.connect(self.alerts.follow_users)
        self.alerts.open_requested.connect(self._on_alerts_open_requested)
        self.alerts.alerts_changed.connect(self._on_bridge_summary)
        self.alerts.alerts_changed.connect(self._on_alerts_changed)
        self.alerts.config_problem.connect(self._on_alerts_config_problem)
        self.alerts.feed_kinds_changed.connect(self._on_alerts_feed_kinds_changed)
        self.notifier.in_app.shown.connect(self._on_notifier_in_app_shown)
        self.notifier.backend_changed.connect(self._on_notifier_backend_changed)
        self.window.filters_requested.connect(self.alerts.open_filters)
        self.window.settings_requested.connect(self.open_settings)
        self.window.watch_requested.connect(self.open_watch)
        self.wake.resumed.connect(self._on_wake_resumed)
        self.network.reachability_changed.connect(self._on_network_reachability_changed)
        self.qapp.aboutToQuit.connect(self.stop_requested.set)
        if self.tray is not None:
            self.tray.toggle_window_requested.connect(self._on_tray_toggle_window_requested)
            self.tray.open_window_requested.connect(self.show_window)
            self.tray.quit_requested.connect(self._on_window_quit_requested)
            self.tray.pause_toggled.connect(self._on_tray_pause_toggled)
            self.tray.reconnect_requested.connect(self._on_tray_reconnect_requested)
            self.tray.settings_requested.connect(self.open_settings)
            self.tray.watch_requested.connect(self.open_watch)
            self.tray.sign_in_requested.connect(self.request_sign_in)
            self.tray.profile_requested.connect(self.switch_profile)
            self.tray.set_profiles(self.options.profiles, self.options.active_profile)
            self.window.header_strip.refreshed.connect(self._on_bridge_summary)
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

    # ------------------------------------------------------------------ settings
    def open_settings(self) -> SettingsDialog:
        """Show the Settings dialog (or bring the open one forward)."""
        if self.settings_dialog is not None and self.settings_dialog.isVisible():
            self.settings_dialog.raise_()
            self.settings_dialog.activateWindow()
            return self.settings_dialog
        if self.settings_dialog is not None:
            self.settings_dialog.deleteLater()  # closed: Qt frees it (see shutdown)
        dialog = SettingsDialog(
            self.alerts.config,
            save=self.save_settings,
            sign_out=self._sign_out if self.options.sign_out is not None else None,
            export=self.export_diagnostics,
            autostart=self.options.autostart,
            account=self.options.account,
            offer_connect=self.options.demo,
            thresholds=ThresholdsPage(
                self.window.settings,
                [(q.id, q.name) for q in self.service.store.queues.values()],
            ),
        )
        dialog.signed_out.connect(self._on_settings_signed_out)
        dialog.connect_requested.connect(self._on_settings_connect_requested)
        dialog.eventbridge_guide_requested.connect(self.eventbridge.open_guide)
        self.settings_dialog = dialog
        dialog.show()
        return dialog

    async def save_settings(self, config: AppConfig) -> None:
        """Apply what the Settings dialog saved and write it (raises ConfigError on failure)."""
        merged = self.alerts.apply_settings(config)
        merged = self.alerts.config = dataclasses.replace(merged, eventbridge=config.eventbridge)
        apply_theme(merged.theme, self.qapp)
        journal = self.options.journal
        if journal is not None:
            journal.set_retention(merged.journal_retention_days)
        await self.alerts.writer.submit(merged)  # in order with the other saves: last wins
        await self.eventbridge.use_queue(merged.eventbridge_settings)  # at once, no restart

    # ------------------------------------------------------------------ what to watch
    def open_watch(self) -> WatchDialog:
        """Show "What to watch" (or bring the open one forward), fed live by the engine."""
        if self.watch_dialog is not None and self.watch_dialog.isVisible():
            self.watch_dialog.raise_()
            self.watch_dialog.activateWindow()
            return self.watch_dialog
        if self.watch_dialog is not None:
            self.watch_dialog.cancel_tasks()
            self.watch_dialog.deleteLater()
        config = self.alerts.config
        dialog = WatchDialog(
            config.watch,
            config.feed_kinds,
            budget=self.service.budget,
            live=self.service.budget_report(),
            directory=self.service.directory,
            preview=self.service.preview_selection,
            apply=self.apply_watch,
            eventbridge=self.eventbridge.watch_box(),
        )
        self.bridge.budget_changed.connect(dialog.show_budget)
        self.watch_dialog = dialog
        dialog.show()
        dialog.start()
        return dialog

    async def apply_watch(
        self, watch: WatchSettings, kinds: list[str], progress: Callable[[SelectionProgress], None]
    ) -> BudgetRecord:
        """Re-subscribe to what the dialog chose, then use and remember it (and the kinds).

        The choice is remembered for this org only (its ids mean nothing in another profile).
        """
        self.window.feed_proxy.set_kinds(kinds)
        budget = await self.service.set_selection(selection_of(watch), progress)
        config = self.alerts.config
        box = self.watch_dialog.eventbridge if self.watch_dialog is not None else None
        if box is not None:  # org-wide classes through EventBridge, for this org
            bridge = dataclasses.replace(config.eventbridge_settings, org_wide=box.org_wide())
            config = config.with_eventbridge(bridge)
        self.alerts.config = dataclasses.replace(config.with_watch(watch), feed_kinds=list(kinds))
        try:
            await self.alerts.writer.submit(self.alerts.config)
        except ConfigError as exc:
            self.window.show_problem("Settings", f"What to watch was not saved: {exc}")
        return budget

    async def export_diagnostics(self, target: Path) -> Path:
        """Zip the redacted logs, the connection timeline and the settings into ``target``."""
        self.timeline.note("diagnostics exported")
        about = {
            "app": APP_NAME,
            "state": self.service.state.value,
            "state_detail": self.service.state_detail,
            "counters": dict(self.service.counters),
            "budget": {
                "topics": self.service.plan.topic_count,
                "channels": len(self.service.plan.shards),
            },
        }
        return await asyncio.to_thread(
            write_diagnostics,
            target,
            log_files=list(self.options.log_files),
            timeline=self.timeline.to_json(),
            settings=config_to_json(self.alerts.config),
            about=about,
        )

    async def _sign_out(self) -> object:
        """The injected sign-out; the session it ends is not announced as "sign-in needed"."""
        assert self.options.sign_out is not None
        self._signing_out = True
        try:
            return await self.options.sign_out()
        except BaseException:
            self._signing_out = False
            raise

    def _on_settings_signed_out(self) -> None:
        self.timeline.note("signed out by the person")
        self.window.statusBar().showMessage("Signed out.", 8000)
        self.leave_for_welcome()

    def _on_settings_connect_requested(self) -> None:
        self.timeline.note("leaving the demo org to connect")
        self.leave_for_welcome()

    def switch_profile(self, key: str) -> None:
        """Stop this org's engine; the composition root then starts the org ``key`` names."""
        if key == self.options.active_profile:
            return
        self.timeline.note("switching to another profile")
        self.next_profile = key
        self.stop_requested.set()

    def leave_for_welcome(self) -> None:
        """Stop this org's app; the composition root then shows the welcome dialog again."""
        self.back_to_welcome = True
        self.stop_requested.set()

    # ------------------------------------------------------------------ sleep / network
    def _on_wake_resumed(self, missed_s: float) -> None:
        self.timeline.note("resumed from sleep: health check", missed_s=round(missed_s, 1))
        self.service.check_now()

    def _on_network_reachability_changed(self, reachability: str) -> None:
        self.timeline.note("network changed: health check", reachability=reachability)
        self.service.check_now()

    def _on_alerts_open_requested(self, kind: str, subject_id: str) -> None:
        self.show_window()
        self.window.reveal(kind, subject_id)

    def _on_alerts_config_problem(self, message: str) -> None:
        self.window.show_problem("Settings", message)

    def _on_alerts_feed_kinds_changed(self, kinds: list[str]) -> None:
        self.window.feed_proxy.set_kinds(kinds)

    def _on_notifier_in_app_shown(self, notice: Notice) -> None:
        if notice.key == SIGN_IN_KEY:
            return  # not an alert, and the window's banner already says it
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

    def _on_bridge_state_changed(self, state: EngineState, detail: str) -> None:
        if self.tray is not None:
            self.tray.set_health(state, detail)
        needed = state is EngineState.SIGN_IN_NEEDED and not self._signing_out
        if needed and not self._sign_in_announced:
            self._sign_in_announced = True
            self.timeline.note("sign-in needed: the boards are stale")
            self.notifier.announce(sign_in_notice(detail))
        elif not needed and self._sign_in_announced:
            self._sign_in_announced = False
            self.notifier.withdraw(SIGN_IN_KEY)

    # ------------------------------------------------------------------ sign in again
    def request_sign_in(self) -> None:
        """Sign the session in again (one sign-in at a time); the banner shows how it goes."""
        if self.sign_in_task is not None and not self.sign_in_task.done():
            return
        if self.service.state is not EngineState.SIGN_IN_NEEDED:
            return  # an old notification's button: the session is fine again
        sign_in = self.options.sign_in_again
        if sign_in is None:
            self.window.sign_in_banner.set_failed(
                "this session cannot sign in again from here. Quit and start Genesys Tray again."
            )
            return
        self.sign_in_task = asyncio.ensure_future(self._sign_in_again(sign_in))

    async def _sign_in_again(self, sign_in: Callable[[], Awaitable[object]]) -> None:
        self.window.sign_in_banner.set_busy(SIGN_IN_WAIT_TEXT)
        self.timeline.note("signing in again")
        try:
            await sign_in()
        except GenesysTrayError as exc:
            logger.warning("signing in again failed: %s", exc)
            self.window.sign_in_banner.set_failed(str(exc))
            return
        except Exception as exc:
            logger.exception("signing in again failed")
            self.window.sign_in_banner.set_failed(f"an unexpected error ({type(exc).__name__}).")
            return
        logger.info("signed in again")

    def _on_notifier_action_invoked(self, key: str, action: str) -> None:
        if key == SIGN_IN_KEY:  # "Sign in", or a click on the notification itself
            self.show_window()
            self.request_sign_in()

    def _on_alerts_changed(self, _count: int) -> None:
        """A queue with a firing alert is marked on the Queues board (a bell, the rule named)."""
        self.window.queues_board.levels.set_alerts(self.pipeline.active)

    def _on_bridge_summary(self, *_: object) -> None:
        if self.tray is None:
            return
        # The header strip's glance (read at most 4 times a second), else a fresh one.
        shown = self.window.header_strip.summary()
        summary = shown if shown is not None else glance(self.service.store, self.window.settings)
        self.tray.set_queue_state(summary.level.word, summary.total_waiting)
        # The alert count is the tray's own last line (set_alert_count): not said twice.
        self.tray.set_summary(summary.problem_lines(), self.window.data_as_of())

    # ------------------------------------------------------------------ life
    async def run(self) -> int:
        """Start the engine, show the UI, wait for the stop event, then shut down in stages."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop_requested.set)
        if self.tray is not None:
            self.tray.set_health(EngineState.STARTING, "starting")
            self.tray.show()
        minimized = self.options.minimized or self.alerts.config.start_minimized
        if not (minimized and self.tray is not None):
            self.show_window()
        self.window.layouts.restore()  # the mini view, when it was open at the last quit
        journal = self.options.journal
        if journal is not None and journal.problem:
            self.window.show_problem("Journal", journal.problem)
        if self.options.config_problem:
            self.window.show_problem("Settings", self.options.config_problem)
        self.notifier.start()  # after the tray is shown: the balloon fallback needs it
        self.pipeline.start()
        self.wake.start()
        if self.options.watch_network:
            self.network.start()
        self.window.start_last_picture(self.options.active_profile)  # shown until live
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
        """Staged, so that no part runs into one that already stopped.

        1. Input stops: the wake and network watchers, the UI's timers, the dialogs' work.
        2. EventBridge's consumer, then its merge (its gap line), then the engine stop. Its last
           records (STOPPED included) still go through the pipeline: journaled, evaluated, and
           their alert changes reach alerts and a running notifier.
        3. Then the pipeline's timers, the alerts and the notifier stop; saves are flushed.
        4. Last, the dialogs, the window and the tray go.
        """
        logger.info("shutting down")
        self.wake.stop()
        self.network.stop()
        self.bridge.stop()  # its timers only: state and alert changes still go out at once
        self.window.stop_timers()
        if self.settings_dialog is not None:
            self.settings_dialog.close()
        if self.watch_dialog is not None:
            self.watch_dialog.cancel_tasks()
            self.watch_dialog.close()
        if self.alerts.dialog is not None:
            await self.alerts.dialog.cancel_tasks()  # a test against the journal, mid-way
        if self.sign_in_task is not None and not self.sign_in_task.done():
            self.sign_in_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sign_in_task
        await self.eventbridge.stop()
        await self.me.stop()
        await self.actions.stop()
        await self.triggers.stop()
        if self.options.eventbridge_stop is not None:  # before the engine and the pipeline
            with contextlib.suppress(Exception):
                await self.options.eventbridge_stop()
        await self.service.stop()
        self.pipeline.stop()  # after the engine's last records (journaled, evaluated)
        self.alerts.stop()
        self.notifier.stop()
        with contextlib.suppress(Exception):
            await self.alerts.flush()
        # The dialogs are windows without a Qt parent, each in a reference cycle (with this app,
        # and with itself): delete them here, on the GUI thread. Left to Python's cycle collector,
        # one can be freed on a worker thread (asyncio.to_thread); shiboken then hands the C++
        # delete of its widget tree to the main thread, which crashes (a segfault, at random).
        if self.settings_dialog is not None:
            await self.settings_dialog.settle()
        for dialog in (self.settings_dialog, self.watch_dialog, self.alerts.dialog):
            if dialog is not None:
                shiboken6.delete(dialog)
        self.settings_dialog = self.watch_dialog = self.alerts.dialog = None
        for close in self.options.extra_closers:
            with contextlib.suppress(Exception):
                await close()
        await asyncio.to_thread(default_worker().close)  # its idle thread ends with the app
        self.window.save_settings()
        self.window.hide()
        if self.tray is not None:
            self.tray.hide()
