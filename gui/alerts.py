"""Alerts in the app, the Qt side: notices, the tray badge, the snooze menu, the dialog.

The rules run in the Qt-free :class:`core.app.pipeline.Pipeline` (the same one ``listen`` runs);
this controller is driven by its alert changes (through the bridge), turns fired alerts into
:class:`gui.notifications.notice.Notice` values, keeps the tray's alert badge and snooze state
true, opens the Filters & alerts dialog and persists what the person saves through the app's one
settings writer (core.storage.settings.writer: in order, off the loop, the last change wins).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.alerts.delivery import notice_key, until_tomorrow_morning
from core.alerts.model import Alert, AlertChange, ChangeKind, Rule, subject_kind
from core.alerts.words import notice_body, notice_title
from core.app.pipeline import Pipeline
from core.engine.service import MonitorService
from core.state.store import Store
from core.storage.journal.journal import Journal
from core.storage.settings.model import AppConfig, parse_hhmm
from core.storage.settings.writer import SettingsWriter
from gui.dialogs.filter_dialog import FilterDialog
from gui.notifications.notice import SIGN_IN_KEY, SUMMARY_KEY, Notice
from gui.notifications.notifier import Notifier
from gui.tray.controller import UNTIL_TOMORROW, TrayController

logger = logging.getLogger(__name__)

BUSY_STATUSES = frozenset({"INTERACTING", "COMMUNICATING"})
BUSY_PRESENCES = frozenset({"MEETING", "BUSY"})


def notice_for(
    alert: Alert, store: Store | None = None, rule: Rule | None = None, now: datetime | None = None
) -> Notice:
    """The desktop notice of a fired alert, with its context from ``store`` when given.

    The title says the subject, how long and the count now ("Support: 8 waiting for 2 min,
    longest 03:10"; "Avery Ito: Not Responding for 45 s, on Support"); the body names the rule
    in words. Notices of one rule coalesce together, never with another rule's.
    """
    kind = alert.subject_kind
    title, body = alert.summary, f"Rule “{alert.rule_name}”"
    if store is not None:
        title = notice_title(alert, store, now or datetime.now(UTC), rule)
        body = notice_body(alert, rule, store)
    return Notice(
        key=notice_key(alert.rule_id, alert.subject_id),
        title=title,
        body=body,
        severity=alert.severity,
        subject_kind=kind,
        subject_id=alert.subject_id,
        sound=True if "sound" in alert.actions else None,
        group=alert.rule_id,
        topic=alert.rule_name,
    )


class AlertsController(QObject):
    """Rules → alerts → notices, plus snooze and the Filters & alerts dialog.

    Signals:
        alerts_changed(int): the number of active (firing or acknowledged) alerts.
        open_requested(str, str): a notification's "Open": subject kind and id.
        config_problem(str): the settings could not be saved; the message says why.
        feed_kinds_changed(list): the dialog saved these feed kinds; the window's feed filter
            follows them now, not at the next start.
    """

    alerts_changed = Signal(int)
    open_requested = Signal(str, str)
    config_problem = Signal(str)
    feed_kinds_changed = Signal(list)

    def __init__(
        self,
        pipeline: Pipeline,
        service: MonitorService,
        config: AppConfig,
        notifier: Notifier,
        *,
        tray: TrayController | None,
        config_path: Path | None,
        journal: Journal | None = None,
        self_user_id: Callable[[], str | None] = lambda: None,
        clock: Callable[[], float] = time.time,
        writer: SettingsWriter | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        # The one writer of the settings file (the app shares it): saves never race.
        self.writer = writer if writer is not None else SettingsWriter(config_path)
        self.pipeline = pipeline
        self.service = service
        self.config = config
        self.notifier = notifier
        self.tray = tray
        self.config_path = config_path
        self.journal = journal
        self.self_user_id = self_user_id
        self.clock = clock
        self.dialog: FilterDialog | None = None
        notifier.action_invoked.connect(self._on_notifier_action_invoked)
        notifier.snoozed_changed.connect(self._on_notifier_snoozed_changed)
        self._configure_notifier()
        if config.snoozed(clock()):
            assert config.snooze_until is not None
            notifier.snooze(config.snooze_until)
        if tray is not None:
            tray.snooze_requested.connect(self._on_tray_snooze_requested)
            tray.filters_requested.connect(self.open_filters)

    def _configure_notifier(self) -> None:
        settings = self.config.notifications
        self.notifier.mute_while_busy(settings.mute_when_busy)
        quiet = settings.quiet_hours
        if quiet is not None:
            self.notifier.set_quiet_hours(parse_hhmm(quiet.start), parse_hhmm(quiet.end))
        else:
            self.notifier.set_quiet_hours(None, None)
        for severity, enabled in settings.sound_by_severity.items():
            self.notifier.set_sound(severity, enabled)

    def apply_settings(self, config: AppConfig) -> AppConfig:
        """Adopt the Settings dialog's fields (notifications, retention, start-up, profile, theme).

        Rules, feed filters and the snooze stay as this controller has them (they may have
        changed while the dialog was open). Returns the merged settings; the caller saves them.
        """
        self.config = dataclasses.replace(
            self.config,
            notifications=config.notifications,
            journal_retention_days=config.journal_retention_days,
            start_minimized=config.start_minimized,
            profile=config.profile,
            theme=config.theme,
        )
        self._configure_notifier()
        return self.config

    def stop(self) -> None:
        """Part of the staged shutdown."""
        if self.dialog is not None:
            self.dialog.close()

    # ------------------------------------------------------------------ the pipeline's changes
    def show_changes(self, changes: list[AlertChange]) -> None:
        """Post the notices of fired alerts, withdraw resolved ones, keep the badge true."""
        for change in changes:
            if (
                change.kind is ChangeKind.FIRED
                and "notify" in change.alert.actions
                and self.config.notifications.enabled
            ):
                self.notifier.post(self._notice(change.alert))
            elif change.kind is ChangeKind.RESOLVED:
                self.notifier.withdraw(notice_key(change.alert.rule_id, change.alert.subject_id))
        self._update_self_busy()
        if changes:
            count = len(self.pipeline.active)
            if self.tray is not None:
                self.tray.set_alert_count(count)
            self.alerts_changed.emit(count)

    def _notice(self, alert: Alert) -> Notice:
        rule = next((r for r in self.pipeline.rules if r.id == alert.rule_id), None)
        return notice_for(alert, self.service.store, rule)

    def follow_users(self, user_ids: list[str]) -> None:
        """A batch of user changes: mute-while-busy follows the signed-in user's own."""
        user_id = self.self_user_id()
        if user_id is not None and user_id in user_ids:
            self._update_self_busy()

    def _update_self_busy(self) -> None:
        """Mute-while-busy follows the signed-in user's own routing status and presence."""
        user_id = self.self_user_id()
        state = self.service.store.users.get(user_id) if user_id else None
        busy = state is not None and (
            state.routing_status in BUSY_STATUSES or state.system_presence in BUSY_PRESENCES
        )
        self.notifier.set_self_busy(busy)

    # ------------------------------------------------------------------ snooze
    def snooze_for(self, seconds: float) -> None:
        """Snooze notifications (0 resumes them); remembered across restarts."""
        if seconds == 0:
            self.notifier.unsnooze()
            until = None
        else:
            now = self.clock()
            until = until_tomorrow_morning(now) if seconds == UNTIL_TOMORROW else now + seconds
            self.notifier.snooze(until)
        # A new object, never an edit in place: others (the Settings dialog) hold the old one.
        self.config = dataclasses.replace(self.config, snooze_until=until)
        self._save()

    def _on_tray_snooze_requested(self, seconds: float) -> None:
        self.snooze_for(seconds)

    def _on_notifier_snoozed_changed(self, snoozed: bool) -> None:
        if self.tray is not None:
            self.tray.set_snoozed(snoozed)

    def _on_notifier_action_invoked(self, key: str, action: str) -> None:
        if key == SIGN_IN_KEY:
            return  # not an alert: the app answers it (gui.app.GuiApp.request_sign_in)
        if action == "snooze":
            self.config = dataclasses.replace(self.config, snooze_until=self.notifier.snoozed_until)
            self._save()
            return
        if key.startswith(SUMMARY_KEY):  # one rule's summary: open that rule's board
            rule_id = key[len(SUMMARY_KEY) + 1 :]
            rule = next((r for r in self.pipeline.rules if r.id == rule_id), None)
            self.open_requested.emit(subject_kind(rule.condition) if rule else "connection", "")
            return
        alert = next(
            (a for a in self.pipeline.active if notice_key(a.rule_id, a.subject_id) == key), None
        )
        if alert is not None:
            self.pipeline.acknowledge(alert.id)  # the person has seen it
        kind = alert.subject_kind if alert is not None else "connection"
        self.open_requested.emit(kind, key.partition(":")[2])

    # ------------------------------------------------------------------ the dialog
    def open_filters(self) -> FilterDialog:
        """Show Filters & alerts, fed with the live queues, agents and presences."""
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            self.dialog.activateWindow()
            return self.dialog
        if self.dialog is not None:
            self.dialog.deleteLater()  # closed: Qt frees it (see GuiApp.shutdown)
        watch = self.service.watch
        store = self.service.store
        self.dialog = FilterDialog(
            self.pipeline.rules,
            self.config.feed_kinds,
            queues={qid: store.queue(qid).name or name for qid, name in watch.queues.items()},
            users={uid: store.user(uid).name or name for uid, name in watch.users.items()},
            presences=dict(store.presence_labels),
            journal=self.journal,
        )
        self.dialog.saved.connect(self._on_dialog_saved)
        self.dialog.show()
        return self.dialog

    def _on_dialog_saved(self, rules: list[Rule], feed_kinds: list[str]) -> None:
        self.apply(rules, feed_kinds)

    def apply(self, rules: list[Rule], feed_kinds: list[str]) -> None:
        """Use and remember new rules and feed filters (resolved alerts come back as changes)."""
        self.pipeline.set_rules(rules)
        self.config = dataclasses.replace(
            self.config, rules=list(rules), feed_kinds=list(feed_kinds)
        )
        self.feed_kinds_changed.emit(list(feed_kinds))
        self._save()
        self.pipeline.evaluate()

    def _save(self) -> None:
        """Hand a snapshot of the settings to the writer; a failure is shown, not raised."""
        if self.writer.path is None:
            return
        self.writer.submit(self.config).add_done_callback(self._on_saved)

    def _on_saved(self, done: asyncio.Future[None]) -> None:
        problem = None if done.cancelled() else done.exception()
        if problem is not None:  # the writer logged it already
            self.config_problem.emit(f"Your settings could not be saved: {problem}")

    async def flush(self) -> None:
        """Wait until every save asked for so far is written (shutdown, tests)."""
        await self.writer.drain()
