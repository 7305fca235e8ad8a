""" "Set up EventBridge…": the three steps that give the app a durable second source of events.

1. Genesys Cloud: the ``amazon-eventbridge-source`` integration, with class-wide filters from
   what is watched. Created through the API when the user may add integrations (the app reads
   the permission; a 403 on the attempt says the same), otherwise shown as JSON to hand an admin.
2. AWS: the event bus for the partner source, a rule, the SQS queue (14 days, dead-letter
   queue), its policy and a least-privilege policy for the desktop, as AWS CLI commands or a
   CloudFormation template to copy.
3. The queue URL, checked, saved in this org's settings.

The dialog does no network I/O: it awaits the core coroutines it is given
(:class:`core.rest.integrations.IntegrationSetup`) on the app's loop, and every snippet comes
from the pure :mod:`core.eventbridge.setup`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.errors import ForbiddenError, GenesysTrayError
from core.eventbridge.setup import (
    SetupPlan,
    admin_json,
    cli_snippet,
    cloudformation_text,
    queue_url_problem,
    region_of,
    setup_problem,
)
from core.rest.integrations import EventBridgeIntegration, SetupAccess

logger = logging.getLogger(__name__)

SaveQueue = Callable[[str], Awaitable[None]]
UNKNOWN_ORG = "<your-org-id>"
ERROR_STYLE = "color: #c5221f;"
FILTER_WORDS = {
    "v2.users.{id}.presence": "every user's presence",
    "v2.users.{id}.routingStatus": "every user's routing status",
    "v2.routing.queues.{id}.conversations": "every queue's conversations",
}
INTRO = (
    "EventBridge keeps Genesys Cloud events in a queue in your AWS account for up to 14 days. "
    "Genesys Tray reads that queue next to the live connection, so what happens while this "
    "computer sleeps or is offline still reaches the feed, the journal and the alerts."
)
NO_PERMISSION = (
    "You may not add integrations in Genesys Cloud (permission integrations:integration:add). "
    "Hand this to a Genesys Cloud admin:"
)


class GenesysSide(Protocol):
    """What the guide asks of Genesys Cloud (core.rest.integrations.IntegrationSetup)."""

    async def access(self) -> SetupAccess:
        """The org id and whether the user may add integrations."""
        ...

    async def create(self, plan: SetupPlan) -> EventBridgeIntegration:
        """Create, configure and enable the integration."""
        ...


def filter_words(filters: tuple[str, ...]) -> str:
    """The filters in words: "every user's presence, every queue's conversations"."""
    return ", ".join(FILTER_WORDS.get(f, f) for f in filters) or "nothing yet"


class CopyBox(QWidget):
    """Read-only text in a fixed-width font with a "Copy" button."""

    def __init__(self, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.copy_button = QPushButton(label)
        self.copy_button.clicked.connect(self.copy)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.copy_button)
        box.addWidget(self.text, 1)
        box.addLayout(row)

    def set_text(self, text: str) -> None:
        """Replace the text (keeps the scroll position when nothing changed)."""
        if text != self.text.toPlainText():
            self.text.setPlainText(text)

    def copy(self) -> None:
        """Put the whole text on the clipboard."""
        QGuiApplication.clipboard().setText(self.text.toPlainText())


class EventBridgeGuide(QDialog):
    """The "Set up EventBridge" guide."""

    def __init__(
        self,
        *,
        genesys: GenesysSide | None,
        filters: tuple[str, ...],
        save_queue: SaveQueue,
        queue_url: str = "",
        parent: QWidget | None = None,
    ) -> None:
        """Build the guide.

        Args:
            genesys: the Genesys side's coroutines; None (not signed in to an org): only the
                JSON for an admin is offered.
            filters: the class-wide topic patterns of what is watched.
            save_queue: stores a checked queue URL in this org's settings and starts reading it
                at once (raises on failure).
            queue_url: the queue URL set now, if any.
            parent: the parent widget.
        """
        super().__init__(parent)
        self.setWindowTitle("Set up EventBridge")
        self.setObjectName("EventBridgeGuide")
        self.resize(760, 600)
        self._genesys = genesys
        self._save_queue = save_queue
        self._filters = filters
        self._access: SetupAccess | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.created: EventBridgeIntegration | None = None

        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout.addWidget(intro)

        details = QGroupBox("Your AWS account")
        form = QFormLayout(details)
        self.account = QLineEdit()
        self.account.setPlaceholderText("12 digits, e.g. 123456789012")
        self.region = QLineEdit(region_of(queue_url) or "us-east-1")
        self.region.setPlaceholderText("e.g. us-east-1")
        self.suffix = QLineEdit("genesys-tray")
        self.suffix.setToolTip("Names the event source in AWS: letters, digits, '.', '-', '_'")
        self.queue_name = QLineEdit("genesys-tray-events")
        form.addRow("AWS account id", self.account)
        form.addRow("AWS region", self.region)
        form.addRow("Event source name", self.suffix)
        form.addRow("Queue name", self.queue_name)
        self.details_problem = QLabel("")
        self.details_problem.setWordWrap(True)
        self.details_problem.setStyleSheet(ERROR_STYLE)
        form.addRow(self.details_problem)
        layout.addWidget(details)

        self.steps = QTabWidget()
        self.steps.addTab(self._genesys_step(), "1. Genesys Cloud")
        self.steps.addTab(self._aws_step(), "2. AWS")
        self.steps.addTab(self._queue_step(queue_url), "3. Queue URL")
        layout.addWidget(self.steps, 1)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        for edit in (self.account, self.region, self.suffix, self.queue_name):
            edit.textChanged.connect(self._on_details_changed)
        self._refresh()

    # ------------------------------------------------------------------ the steps
    def _genesys_step(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        self.filters_label = QLabel(
            f"Genesys Cloud will send {filter_words(self._filters)}: whole classes, so "
            "no per-person limit applies."
        )
        self.filters_label.setWordWrap(True)
        box.addWidget(self.filters_label)
        row = QHBoxLayout()
        self.create_button = QPushButton("Create the integration in Genesys Cloud")
        self.create_button.clicked.connect(self._on_create_button_clicked)
        row.addWidget(self.create_button)
        row.addStretch(1)
        box.addLayout(row)
        self.genesys_status = QLabel("Checking what you may do in Genesys Cloud…")
        self.genesys_status.setWordWrap(True)
        box.addWidget(self.genesys_status)
        self.admin_note = QLabel(NO_PERMISSION)
        self.admin_note.setWordWrap(True)
        self.admin_box = CopyBox("Copy for the admin")
        box.addWidget(self.admin_note)
        box.addWidget(self.admin_box, 10)
        box.addStretch(1)  # keeps the lines together while the admin's JSON is not shown
        self.create_button.setEnabled(False)
        self._show_admin(self._genesys is None)
        if self._genesys is None:
            self.create_button.hide()
            self.genesys_status.setText("Sign in to your Genesys Cloud org to create it here.")
        return page

    def _aws_step(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        note = QLabel(
            "Run these in your AWS account after step 1 (the event source appears there as "
            "pending until its event bus exists). The last policy is all this computer needs."
        )
        note.setWordWrap(True)
        box.addWidget(note)
        self.aws_tabs = QTabWidget()
        self.cli_box = CopyBox("Copy commands")
        self.cfn_box = CopyBox("Copy template")
        self.aws_tabs.addTab(self.cli_box, "AWS CLI")
        self.aws_tabs.addTab(self.cfn_box, "CloudFormation")
        box.addWidget(self.aws_tabs, 1)
        return page

    def _queue_step(self, queue_url: str) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        note = QLabel("Paste the queue's URL (the AWS console shows it on the queue's page).")
        note.setWordWrap(True)
        box.addWidget(note)
        self.queue_url = QLineEdit(queue_url)
        self.queue_url.setPlaceholderText("https://sqs.us-east-1.amazonaws.com/123456789012/…")
        self.queue_url.textChanged.connect(self._on_queue_url_text_changed)
        box.addWidget(self.queue_url)
        self.queue_status = QLabel("")
        self.queue_status.setWordWrap(True)
        box.addWidget(self.queue_status)
        row = QHBoxLayout()
        self.save_button = QPushButton("Use this queue")
        self.save_button.clicked.connect(self._on_save_button_clicked)
        row.addWidget(self.save_button)
        row.addStretch(1)
        box.addLayout(row)
        box.addStretch(1)
        self._on_queue_url_text_changed(queue_url)
        return page

    # ------------------------------------------------------------------ values
    def plan(self) -> SetupPlan:
        """The plan as the fields show it (the org id once known)."""
        org = self._access.org_id if self._access is not None else UNKNOWN_ORG
        return SetupPlan(
            org_id=org,
            account_id=self.account.text().strip(),
            region=self.region.text().strip(),
            suffix=self.suffix.text().strip(),
            queue_name=self.queue_name.text().strip(),
            filters=self._filters,
        )

    def problem(self) -> str | None:
        """Why the fields cannot be used yet, in words; None when they can."""
        plan = self.plan()
        if not self._filters:
            return "Nothing is watched yet: choose what to watch first."
        return setup_problem(plan.account_id, plan.region, plan.suffix, plan.queue_name)

    def _refresh(self) -> None:
        plan = self.plan()
        problem = self.problem()
        self.details_problem.setText(problem or "")
        self.admin_box.set_text(admin_json(plan))
        fill = f"# {problem}\n" if problem else ""
        self.cli_box.set_text(fill + cli_snippet(plan))
        self.cfn_box.set_text(fill + cloudformation_text(plan))
        ready = problem is None and self._access is not None and self._access.can_add
        self.create_button.setEnabled(ready and self.created is None)

    def _show_admin(self, shown: bool) -> None:
        self.admin_note.setVisible(shown)
        self.admin_box.setVisible(shown)

    # ------------------------------------------------------------------ work
    def start(self) -> None:
        """Ask Genesys Cloud who we are (the org id, the permission), off the GUI's back."""
        if self._genesys is not None:
            self._run(self.load_access())

    async def load_access(self) -> SetupAccess | None:
        """Read the org id and the permission; the steps follow what they allow."""
        assert self._genesys is not None
        try:
            access = await self._genesys.access()
        except GenesysTrayError as exc:
            logger.warning("EventBridge guide: could not read the org: %s", exc)
            self.genesys_status.setText(f"Genesys Cloud could not be asked: {exc}")
            self._show_admin(True)
            return None
        self._access = access
        if access.can_add:
            self.genesys_status.setText("You may add integrations: fill in your AWS account.")
        else:
            self._no_permission()
        self._refresh()
        return access

    def _no_permission(self) -> None:
        self.create_button.hide()
        self.genesys_status.setText("")
        self._show_admin(True)

    async def create_integration(self) -> EventBridgeIntegration | None:
        """Create the integration; a 403 turns the step into the JSON for an admin."""
        if self._genesys is None or self.problem() is not None:
            return None
        self.create_button.setEnabled(False)
        self.genesys_status.setStyleSheet("")
        self.genesys_status.setText("Creating the integration…")
        try:
            created = await self._genesys.create(self.plan())
        except ForbiddenError:
            if self._access is not None:
                self._access = SetupAccess(self._access.org_id, can_add=False)
            self._no_permission()
            return None
        except GenesysTrayError as exc:
            logger.warning("EventBridge integration not created: %s", exc)
            self.genesys_status.setStyleSheet(ERROR_STYLE)
            self.genesys_status.setText(f"Genesys Cloud did not create it: {exc}")
            self._refresh()
            return None
        self.created = created
        self.genesys_status.setText(
            f"Created and enabled “{created.name}”. Next: the AWS side (step 2)."
        )
        self.steps.setCurrentIndex(1)
        self._refresh()
        return created

    async def save(self) -> bool:
        """Check the queue URL and store it in this org's settings."""
        url = self.queue_url.text().strip()
        problem = queue_url_problem(url)
        if problem is not None:
            self._queue_said(problem, error=True)
            return False
        self.save_button.setEnabled(False)
        try:
            await self._save_queue(url)
        except Exception as exc:
            logger.warning("queue URL not saved: %s", exc)
            self._queue_said(f"It could not be saved: {exc}", error=True)
            return False
        finally:
            self.save_button.setEnabled(True)
        self._queue_said("Saved. Genesys Tray reads this queue now; the status bar shows how.")
        return True

    # ------------------------------------------------------------------ slots
    def _on_details_changed(self, _text: str) -> None:
        self._refresh()

    def _on_queue_url_text_changed(self, text: str) -> None:
        problem = queue_url_problem(text) if text.strip() else None
        self._queue_said(problem or "", error=problem is not None)
        self.save_button.setEnabled(bool(text.strip()) and problem is None)

    def _on_create_button_clicked(self) -> None:
        self._run(self.create_integration())

    def _on_save_button_clicked(self) -> None:
        self._run(self.save())

    # ------------------------------------------------------------------ helpers
    def _queue_said(self, text: str, *, error: bool = False) -> None:
        self.queue_status.setText(text)
        self.queue_status.setStyleSheet(ERROR_STYLE if error else "")

    def _run(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for the work the guide started (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def done(self, result: int) -> None:
        """Closing the guide cancels what it still runs."""
        for task in list(self._tasks):
            if task is not asyncio.current_task() and not task.done():
                with contextlib.suppress(RuntimeError):
                    task.cancel()
        super().done(result)
