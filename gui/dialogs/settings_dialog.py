"""Settings: start-up, notifications, journal retention, theme, EventBridge, sign-out, diagnostics.

The dialog edits a copy of :class:`core.storage.settings.model.AppConfig` and hands the result
to an injected
async ``save`` (the app writes it with core.storage.settings and applies it); it never touches the
network
or the keyring itself: "Sign out" awaits an injected callable (the app wires it to
``Authenticator.sign_out``) and "Export diagnostics…" awaits another (the app zips the redacted
logs, the connection timeline and the settings). Start-at-login goes through
:class:`gui.platform.autostart.Autostart`, which says clearly when the platform has none. The theme
is
previewed live while the dialog is open (gui.window.theme) and put back on Cancel.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSettings, QTime, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from core.alerts.model import Severity
from core.auth.sign_out import NOT_REVOKED, SignOutResult
from core.eventbridge.setup import queue_url_problem
from core.storage.settings.model import (
    AppConfig,
    EventBridgeSettings,
    NotificationSettings,
    QuietHours,
    parse_hhmm,
)
from gui.dialogs.thresholds_page import ThresholdsPage
from gui.platform.autostart import Autostart, AutostartError
from gui.window.theme import THEME_LABELS, apply_theme

logger = logging.getLogger(__name__)

SaveSettings = Callable[[AppConfig], Awaitable[None]]
SignOut = Callable[[], Awaitable[object]]
ExportDiagnostics = Callable[[Path], Awaitable[Path]]
ChoosePath = Callable[[Path], Path | None]
ApplyTheme = Callable[[str], None]
MAX_RETENTION_DAYS = 36_500
TIME_FORMAT = "HH:mm"


def default_export_name(now: datetime | None = None) -> str:
    """``genesys-tray-diagnostics-YYYYmmdd-HHMMSS.zip``."""
    moment = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"genesys-tray-diagnostics-{moment}.zip"


def sign_out_words(outcome: object) -> tuple[str, bool]:
    """(what to say, whether it all worked) for what the injected sign-out returned.

    Only what the sign-out reports is claimed: a :class:`SignOutResult` says it itself; a bare
    False means the revocation failed; anything else claims no revocation at all.
    """
    if isinstance(outcome, SignOutResult):
        return outcome.words(), outcome.complete
    if outcome is False:
        return f"Signed out, but not completely. {NOT_REVOKED}", False
    return "Signed out.", True


def _qtime(text: str, fallback: QTime) -> QTime:
    parsed = parse_hhmm(text)
    return QTime(parsed.hour, parsed.minute) if parsed is not None else fallback


class SettingsDialog(QDialog):
    """The app's settings.

    Signals:
        saved(object): the new :class:`AppConfig`, after the injected save succeeded.
        signed_out(): the injected sign-out finished.
        exported(str): the diagnostics bundle was written to this path.
        connect_requested(): "Connect to Genesys Cloud…": leave the demo org for the welcome
            dialog (offered with ``offer_connect``).
        eventbridge_guide_requested(): "Set up EventBridge…" was clicked.
    """

    saved = Signal(object)
    signed_out = Signal()
    exported = Signal(str)
    connect_requested = Signal()
    eventbridge_guide_requested = Signal()

    def __init__(
        self,
        config: AppConfig,
        *,
        save: SaveSettings,
        sign_out: SignOut | None = None,
        export: ExportDiagnostics | None = None,
        autostart: Autostart | None = None,
        choose_export_path: ChoosePath | None = None,
        account: str = "",
        offer_connect: bool = False,
        preview_theme: ApplyTheme = apply_theme,
        parent: QWidget | None = None,
        thresholds: ThresholdsPage | None = None,
    ) -> None:
        """Build the dialog from ``config`` (which it does not modify).

        Args:
            config: the settings to start from.
            save: writes and applies the edited settings; raises with a message on failure.
            sign_out: revokes the session and clears the keyring; None hides the button. What
                it returns (a SignOutResult) decides the words shown: never more than it did.
            export: writes the diagnostics zip to a path; None hides the button.
            autostart: the start-at-login switch (default: this platform's).
            choose_export_path: asks where to save the zip (default: a file dialog).
            account: who is signed in where, shown above "Sign out".
            offer_connect: show "Connect to Genesys Cloud…" (the demo org's way out).
            preview_theme: applies a theme to the running app (live preview, put back on Cancel).
            parent: the parent widget.
            thresholds: the queue limits page (gui.dialogs.thresholds_page), saved with the rest.
        """
        super().__init__(parent)
        self.setWindowTitle("Genesys Tray settings")
        self._config = config
        self._save = save
        self._sign_out = sign_out
        self._export = export
        self.autostart = autostart or Autostart()
        self._choose_export_path = choose_export_path or self._ask_export_path
        self._preview_theme = preview_theme
        self._previewed = config.theme
        self._tasks: set[asyncio.Task[None]] = set()
        n = config.notifications

        layout = QVBoxLayout(self)
        # ---------------------------------------------------------------- start-up
        startup = QGroupBox("Start-up")
        startup_form = QVBoxLayout(startup)
        self.autostart_box = QCheckBox("Start Genesys Tray when I log in")
        self.autostart_box.setChecked(self.autostart.enabled())
        startup_form.addWidget(self.autostart_box)
        self.autostart_note = QLabel(self.autostart.unavailable_reason)
        self.autostart_note.setWordWrap(True)
        if not self.autostart.supported:
            self.autostart_box.setEnabled(False)
            startup_form.addWidget(self.autostart_note)
        self.minimized_box = QCheckBox("Start minimised to the tray")
        self.minimized_box.setChecked(config.start_minimized)
        startup_form.addWidget(self.minimized_box)
        layout.addWidget(startup)

        # ---------------------------------------------------------------- notifications
        notes = QGroupBox("Notifications")
        form = QFormLayout(notes)
        self.notify_box = QCheckBox("Show desktop notifications for alerts")
        self.notify_box.setChecked(n.enabled)
        form.addRow(self.notify_box)
        sounds = QHBoxLayout()
        self.sound_boxes: dict[str, QCheckBox] = {}
        for severity in Severity:
            box = QCheckBox(severity.value.title())
            box.setChecked(n.sound_for(severity.value))
            self.sound_boxes[severity.value] = box
            sounds.addWidget(box)
        sounds.addStretch(1)
        form.addRow("Play a sound for:", sounds)
        quiet = QHBoxLayout()
        self.quiet_box = QCheckBox("Quiet hours from")
        self.quiet_box.setChecked(n.quiet_hours is not None)
        hours = n.quiet_hours or QuietHours()
        self.quiet_start = QTimeEdit(_qtime(hours.start, QTime(22, 0)))
        self.quiet_end = QTimeEdit(_qtime(hours.end, QTime(7, 0)))
        for edit in (self.quiet_start, self.quiet_end):
            edit.setDisplayFormat(TIME_FORMAT)
        quiet.addWidget(self.quiet_box)
        quiet.addWidget(self.quiet_start)
        quiet.addWidget(QLabel("to"))
        quiet.addWidget(self.quiet_end)
        quiet.addStretch(1)
        form.addRow(quiet)
        self.busy_box = QCheckBox("Mute while I am on a call or in a meeting")
        self.busy_box.setChecked(n.mute_when_busy)
        form.addRow(self.busy_box)
        self.notify_box.toggled.connect(self._on_notify_box_toggled)
        self.quiet_box.toggled.connect(self._on_quiet_box_toggled)
        layout.addWidget(notes)

        # ---------------------------------------------------------------- journal
        history = QGroupBox("Event history")
        history_form = QFormLayout(history)
        self.retention = QSpinBox()
        self.retention.setRange(1, MAX_RETENTION_DAYS)
        self.retention.setSuffix(" days")
        self.retention.setValue(config.journal_retention_days)
        history_form.addRow("Keep events for", self.retention)
        layout.addWidget(history)

        # ---------------------------------------------------------------- appearance
        appearance = QGroupBox("Appearance")
        appearance_form = QFormLayout(appearance)
        self.theme = QComboBox()
        self.theme.setObjectName("themeCombo")
        for key, label in THEME_LABELS:
            self.theme.addItem(label, key)
        self.theme.setCurrentIndex(max(0, self.theme.findData(config.theme)))
        self.theme.setToolTip("System follows your desktop's light or dark setting")
        self.theme.currentIndexChanged.connect(self._on_theme_index_changed)
        appearance_form.addRow("Theme", self.theme)
        layout.addWidget(appearance)

        # ---------------------------------------------------------------- EventBridge
        layout.addWidget(self._eventbridge_box(config.eventbridge_settings))
        self.thresholds = thresholds or ThresholdsPage(QSettings())
        layout.addWidget(self.thresholds)

        # ---------------------------------------------------------------- account + support
        account_box = QGroupBox("Account and support")
        account_layout = QVBoxLayout(account_box)
        self.account_label = QLabel(account)
        self.account_label.setWordWrap(True)
        if account:
            account_layout.addWidget(self.account_label)
        buttons_row = QHBoxLayout()
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.setToolTip(
            "Revoke this sign-in at Genesys Cloud and forget it on this computer"
        )
        self.sign_out_button.setVisible(sign_out is not None)
        self.sign_out_button.clicked.connect(self._on_sign_out_button_clicked)
        self.export_button = QPushButton("Export diagnostics…")
        self.export_button.setToolTip(
            "Save a zip of the logs (secrets removed), the connection timeline and these "
            "settings to attach to a support ticket"
        )
        self.export_button.setVisible(export is not None)
        self.export_button.clicked.connect(self._on_export_button_clicked)
        self.connect_button = QPushButton("Connect to Genesys Cloud…")
        self.connect_button.setToolTip("Leave the demo org and sign in to your own org")
        self.connect_button.setVisible(offer_connect)
        self.connect_button.clicked.connect(self.connect_requested)
        buttons_row.addWidget(self.connect_button)
        buttons_row.addWidget(self.sign_out_button)
        buttons_row.addWidget(self.export_button)
        buttons_row.addStretch(1)
        account_layout.addLayout(buttons_row)
        layout.addWidget(account_box)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._on_notify_box_toggled(self.notify_box.isChecked())

    def _eventbridge_box(self, bridge: EventBridgeSettings) -> QGroupBox:
        box = QGroupBox("EventBridge (events kept while this computer is offline)")
        form = QFormLayout(box)
        self.queue_url = QLineEdit(bridge.queue_url)
        self.queue_url.setObjectName("queueUrl")
        self.queue_url.setPlaceholderText("https://sqs.<region>.amazonaws.com/<account>/<queue>")
        self.queue_url.setToolTip("Empty: only the live connection, as before")
        self.queue_url.textChanged.connect(self._on_queue_url_text_changed)
        form.addRow("Queue URL", self.queue_url)
        self.queue_problem = QLabel("")
        self.queue_problem.setWordWrap(True)
        self.queue_problem.setStyleSheet("color: #c5221f;")
        self.queue_problem.hide()
        form.addRow(self.queue_problem)
        self.aws_profile = QLineEdit(bridge.aws_profile)
        self.aws_profile.setPlaceholderText("optional: a named AWS profile")
        form.addRow("AWS profile", self.aws_profile)
        self.aws_region = QLineEdit(bridge.aws_region)
        self.aws_region.setPlaceholderText("optional: taken from the queue URL")
        form.addRow("AWS region", self.aws_region)
        self.guide_button = QPushButton("Set up EventBridge…")
        self.guide_button.setToolTip("Create the Genesys Cloud integration and the AWS queue")
        self.guide_button.clicked.connect(self.eventbridge_guide_requested)
        form.addRow(self.guide_button)
        self._on_queue_url_text_changed(bridge.queue_url)  # a URL edited by hand in the file
        return box

    def set_queue_url(self, url: str) -> None:
        """Show a queue URL the guide saved meanwhile."""
        self.queue_url.setText(url)

    def queue_problem_text(self) -> str | None:
        """Why the queue URL cannot be saved; None when it can (empty: no EventBridge)."""
        url = self.queue_url.text().strip()
        return queue_url_problem(url) if url else None

    def _on_queue_url_text_changed(self, _text: str) -> None:
        problem = self.queue_problem_text()
        self.queue_problem.setText(problem or "")
        self.queue_problem.setVisible(problem is not None)

    # ------------------------------------------------------------------ values
    def edited_config(self) -> AppConfig:
        """The settings as the dialog shows them (a new object; the original is untouched)."""
        base = self._config.notifications
        quiet = None
        if self.quiet_box.isChecked():
            quiet = QuietHours(
                self.quiet_start.time().toString(TIME_FORMAT),
                self.quiet_end.time().toString(TIME_FORMAT),
            )
        notifications = NotificationSettings(
            enabled=self.notify_box.isChecked(),
            sound_by_severity={
                **base.sound_by_severity,
                **{s: box.isChecked() for s, box in self.sound_boxes.items()},
            },
            coalesce_window_s=base.coalesce_window_s,
            mute_when_busy=self.busy_box.isChecked(),
            quiet_hours=quiet,
        )
        bridge = dataclasses.replace(
            self._config.eventbridge_settings,
            queue_url=self.queue_url.text().strip(),
            aws_profile=self.aws_profile.text().strip(),
            aws_region=self.aws_region.text().strip(),
        )
        return dataclasses.replace(
            self._config.with_eventbridge(bridge),
            notifications=notifications,
            journal_retention_days=self.retention.value(),
            start_minimized=self.minimized_box.isChecked(),
            theme=str(self.theme.currentData()),
        )

    # ------------------------------------------------------------------ actions
    async def apply(self) -> bool:
        """Switch start-at-login, save the settings; close on success. Returns success."""
        self.buttons.setEnabled(False)
        try:
            problem = self.queue_problem_text()
            if problem is not None:
                self._show(f"The EventBridge queue URL cannot be used: {problem}", error=True)
                return False
            problem = self.thresholds.problem()  # checked before anything is saved
            if problem is not None:
                self._show(problem, error=True)
                return False
            wanted = self.autostart_box.isChecked()
            if self.autostart.supported and wanted != self.autostart.enabled():
                try:
                    await asyncio.to_thread(self.autostart.set_enabled, wanted)
                except AutostartError as exc:
                    self._show(str(exc), error=True)
                    return False
            config = self.edited_config()
            try:
                await self._save(config)
            except Exception as exc:
                logger.warning("settings not saved: %s", exc)
                self._show(f"Your settings could not be saved: {exc}", error=True)
                return False
            self._config = config
            self.thresholds.save()
            self.saved.emit(config)
            self.accept()
            return True
        finally:
            self.buttons.setEnabled(True)

    async def sign_out(self) -> bool:
        """Run the injected sign-out; True when it finished."""
        if self._sign_out is None:
            return False
        self.sign_out_button.setEnabled(False)
        self._show("Signing out…")
        try:
            outcome = await self._sign_out()
        except Exception as exc:
            logger.warning("sign-out failed: %s", exc)
            self._show(f"Signing out did not finish: {exc}", error=True)
            self.sign_out_button.setEnabled(True)
            return False
        text, complete = sign_out_words(outcome)
        self._show(text, error=not complete)
        self.signed_out.emit()
        return True

    async def export_to(self, path: Path) -> Path | None:
        """Write the diagnostics zip to ``path``; the written path, or None on failure."""
        if self._export is None:
            return None
        self.export_button.setEnabled(False)
        self._show("Saving diagnostics…")
        try:
            written = await self._export(path)
        except Exception as exc:
            logger.warning("diagnostics not exported: %s", exc)
            self._show(f"The diagnostics could not be saved: {exc}", error=True)
            return None
        finally:
            self.export_button.setEnabled(True)
        self._show(f"Diagnostics saved to {written}. They hold no password or token.")
        self.exported.emit(str(written))
        return written

    # ------------------------------------------------------------------ slots
    def _on_notify_box_toggled(self, enabled: bool) -> None:
        for widget in (*self.sound_boxes.values(), self.quiet_box, self.busy_box):
            widget.setEnabled(enabled)
        self._on_quiet_box_toggled(enabled and self.quiet_box.isChecked())

    def _on_quiet_box_toggled(self, enabled: bool) -> None:
        on = enabled and self.notify_box.isChecked()
        self.quiet_start.setEnabled(on)
        self.quiet_end.setEnabled(on)

    def _on_theme_index_changed(self, _index: int) -> None:
        self._preview(str(self.theme.currentData()))

    def _preview(self, theme: str) -> None:
        if theme != self._previewed:
            self._previewed = theme
            self._preview_theme(theme)

    def _on_buttons_accepted(self) -> None:
        self._run(self.apply())

    def _on_sign_out_button_clicked(self) -> None:
        self._run(self.sign_out())

    def _on_export_button_clicked(self) -> None:
        path = self._choose_export_path(Path.home() / default_export_name())
        if path is not None:
            self._run(self.export_to(path))

    # ------------------------------------------------------------------ helpers
    def _ask_export_path(self, suggested: Path) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Export diagnostics", str(suggested), "Zip archives (*.zip)"
        )
        if not name:
            return None
        path = Path(name)
        return path if path.suffix.lower() == ".zip" else path.with_name(path.name + ".zip")

    def _run(self, coro: Awaitable[object]) -> None:
        async def runner() -> None:
            await coro

        task = asyncio.ensure_future(runner())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the actions the buttons started (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _show(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: palette(highlight);" if not error else "color: #c5221f;")

    def done(self, result: int) -> None:
        """Closing the dialog cancels whatever it still runs (and a previewed theme on Cancel)."""
        if result != QDialog.DialogCode.Accepted:
            self._preview(self._config.theme)
        for task in list(self._tasks):
            if task is not asyncio.current_task() and not task.done():
                with contextlib.suppress(RuntimeError):
                    task.cancel()
        super().done(result)
