"""The org's Genesys Cloud triggers on one board: what each does, whether it runs, and its errors.

Every trigger with its name, events, on/off, workflow (by name), conditions in words, timing,
runs in the last hour and last error (those two live, from :class:`core.triggers.live`). It
switches a trigger on or off (GET, then PUT with its version: a conflict reloads and says so),
creates, edits and deletes (after asking) through :class:`~gui.dialogs.trigger_editor
.TriggerEditor`, and opens "Would it fire?". The calls are core's (:class:`core.triggers.client
.TriggersApi`), run as tasks on the app's one loop; a missing permission is named.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import ApiError, GenesysTrayError, TransportError
from core.feed.entry import FeedEntry
from core.triggers.client import (
    TriggerConflictError,
    TriggerRefusedError,
    TriggersApi,
    plain_message,
)
from core.triggers.live import InvocationLog
from core.triggers.model import Trigger, Workflow
from core.triggers.words import criteria_words, timing_words, topic_words
from gui.dialogs.trigger_check import TriggerCheck
from gui.dialogs.trigger_editor import TriggerEditor

logger = logging.getLogger(__name__)

COLUMNS: Final = (
    "Name",
    "Events",
    "On",
    "Workflow",
    "Runs when",
    "Timing",
    "Runs (last hour)",
    "Last error",
)
CONFLICT_WORDS: Final = (
    "Someone changed “{name}” since it was read; the board now shows it as it is. "
    "Check it and try again."
)
JournalSearch = Callable[[tuple[str, ...]], Awaitable[list[FeedEntry]]]


def failure_words(exc: Exception) -> str:
    """A failure in words for the board's line (the permission is named on a refusal)."""
    if isinstance(exc, TriggerRefusedError):
        return exc.words
    if isinstance(exc, TransportError):
        return "Genesys Cloud could not be reached. Try again in a moment."
    if isinstance(exc, ApiError):
        return plain_message(exc)
    return str(exc) or type(exc).__name__


class TriggersBoard(QDialog):
    """Every trigger of the org, live.

    Signals:
        triggers_loaded(list): the triggers as last read (the app watches their workflows).
        message(str): the line under the table changed (tests wait on it).
    """

    triggers_loaded = Signal(list)
    message = Signal(str)

    def __init__(
        self,
        api: TriggersApi,
        log: InvocationLog,
        *,
        journal_search: JournalSearch | None = None,
        confirm: Callable[[str], bool] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("TriggersBoard")
        self.setWindowTitle("Triggers in Genesys Cloud")
        self.resize(1180, 460)
        self.api = api
        self.log = log
        self.journal_search = journal_search
        self.confirm = confirm or self._ask
        self.triggers: list[Trigger] = []
        self.workflows: dict[str, Workflow] = {}
        self.topics: list[str] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        self.editor: TriggerEditor | None = None
        self.check: TriggerCheck | None = None

        self.banner = QLabel("")
        self.banner.setObjectName("triggersBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #fff4ce; color: #3b2f00; padding: 6px;")
        self.banner.hide()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("triggersTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda _index: self._on_edit_clicked())

        self.new_button = QPushButton("&New…")
        self.edit_button = QPushButton("&Edit…")
        self.toggle_button = QPushButton("Turn o&ff")
        self.toggle_button.setObjectName("toggleButton")
        self.delete_button = QPushButton("&Delete…")
        self.check_button = QPushButton("Would it &fire?…")
        self.reload_button = QPushButton("&Reload")
        self.new_button.clicked.connect(self._on_new_clicked)
        self.edit_button.clicked.connect(self._on_edit_clicked)
        self.toggle_button.clicked.connect(self._on_toggle_clicked)
        self.delete_button.clicked.connect(self._on_delete_clicked)
        self.check_button.clicked.connect(self._on_check_clicked)
        self.reload_button.clicked.connect(lambda: self.run(self.reload()))
        buttons = QHBoxLayout()
        for button in (
            self.new_button,
            self.edit_button,
            self.toggle_button,
            self.delete_button,
            self.check_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.reload_button)
        self.status = QLabel("Reading the org's triggers…")
        self.status.setObjectName("triggersStatus")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.timer = QTimer(self)
        self.timer.setInterval(30_000)  # the last hour moves on even without runs
        self.timer.timeout.connect(self.show_runs)
        self.timer.start()
        self._update_buttons()

    # ------------------------------------------------------------------ tasks
    def run(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run one of the board's calls on the app's loop (kept until it ends)."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def cancel_tasks(self) -> None:
        """Cancel calls in flight (the app shuts down)."""
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.timer.stop()

    def say(self, text: str) -> None:
        """Show one line under the table."""
        self.status.setText(text)
        self.message.emit(text)

    def _refused(self, exc: Exception) -> bool:
        if isinstance(exc, TriggerRefusedError):
            self.banner.setText(
                f"You cannot do this without the permission {exc.permission}. Ask your Genesys "
                "Cloud admin to add it to your role (Process Automation > Trigger)."
            )
            self.banner.show()
            return True
        return False

    async def _attempt(self, what: str, call: Awaitable[Any]) -> Any:
        """Await ``call``; a failure is said (and a refusal named) and gives None."""
        try:
            return await call
        except TriggerConflictError:
            raise
        except (GenesysTrayError, ValueError) as exc:
            logger.info("triggers: %s failed: %s", what, type(exc).__name__)
            self._refused(exc)
            self.say(f"Could not {what}: {failure_words(exc)}")
            return None

    # ------------------------------------------------------------------ reading
    async def reload(self) -> bool:
        """Read the triggers, the workflows and the topics again; True when it worked."""
        try:
            triggers = await self.api.triggers()
        except (GenesysTrayError, ValueError) as exc:
            self._refused(exc)
            self.say(f"Could not read the triggers: {failure_words(exc)}")
            return False
        self.banner.hide()
        with contextlib.suppress(GenesysTrayError):
            self.workflows = {w.id: w for w in await self.api.workflows()}
        with contextlib.suppress(GenesysTrayError):
            self.topics = await self.api.topics()
        self.show_triggers(triggers)
        self.say(f"{len(triggers)} trigger{'s' if len(triggers) != 1 else ''} in this org.")
        return True

    def workflow_name(self, workflow_id: str) -> str:
        """A workflow by name (a missing one says so)."""
        flow = self.workflows.get(workflow_id)
        if flow is None:
            return "(a workflow that no longer exists)"
        return flow.name if flow.active else f"{flow.name} (not published)"

    def show_triggers(self, triggers: list[Trigger]) -> None:
        """Fill the table (the selection stays on the same trigger)."""
        chosen = self.selected()
        self.triggers = sorted(triggers, key=lambda t: t.name.casefold())
        self.table.setRowCount(len(self.triggers))
        for row, trigger in enumerate(self.triggers):
            cells = (
                trigger.name,
                topic_words(trigger.topic_name),
                "On" if trigger.enabled else "Off",
                self.workflow_name(trigger.target_id),
                criteria_words(trigger.criteria),
                timing_words(trigger) or "at once",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, trigger.id)
                if column == 1:
                    item.setToolTip(trigger.topic_name)
                self.table.setItem(row, column, item)
            if chosen is not None and trigger.id == chosen.id:
                self.table.selectRow(row)
        self.show_runs()
        self.table.resizeRowsToContents()
        self._update_buttons()
        self.triggers_loaded.emit(list(self.triggers))

    def show_runs(self) -> None:
        """The live columns: runs in the last hour and the last error."""
        for row, trigger in enumerate(self.triggers):
            runs = QTableWidgetItem(str(self.log.last_hour(trigger.id)))
            runs.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            error = self.log.last_error(trigger.id)
            last = QTableWidgetItem(error or "—")
            if error:
                last.setForeground(Qt.GlobalColor.darkRed)
                last.setToolTip(error)
            self.table.setItem(row, 6, runs)
            self.table.setItem(row, 7, last)

    def selected(self) -> Trigger | None:
        """The trigger of the selected row."""
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.triggers):
            return None
        return self.triggers[rows[0].row()]

    def select(self, trigger_id: str) -> bool:
        """Select a trigger's row by id."""
        for row, trigger in enumerate(self.triggers):
            if trigger.id == trigger_id:
                self.table.selectRow(row)
                return True
        return False

    def _update_buttons(self) -> None:
        chosen = self.selected()
        for button in (self.edit_button, self.toggle_button, self.delete_button):
            button.setEnabled(chosen is not None)
        self.check_button.setEnabled(chosen is not None)
        self.toggle_button.setText("Turn o&ff" if chosen is None or chosen.enabled else "Turn o&n")

    # ------------------------------------------------------------------ changing
    async def set_enabled(self, trigger: Trigger, enabled: bool) -> Trigger | None:
        """Switch a trigger on or off (GET, then PUT with its version)."""
        try:
            done: Trigger | None = await self._attempt(
                "change the trigger", self.api.set_enabled(trigger.id, enabled)
            )
        except TriggerConflictError:
            await self._conflict(trigger)
            return None
        if done is not None:
            await self.reload()
            self.say(f"“{done.name}” is {'on' if done.enabled else 'off'}.")
        return done

    async def save(self, trigger: Trigger) -> Trigger | None:
        """Create a new trigger or PUT an edited one (with the version it was opened at)."""
        call = self.api.update(trigger) if trigger.id else self.api.create(trigger)
        try:
            done: Trigger | None = await self._attempt("save the trigger", call)
        except TriggerConflictError:
            await self._conflict(trigger)
            return None
        if done is not None:
            await self.reload()
            self.select(done.id)
            self.say(f"“{done.name}” is saved.")
        return done

    async def delete(self, trigger: Trigger) -> bool:
        """Delete a trigger (the caller asked first)."""
        if await self._attempt("delete the trigger", self._delete(trigger.id)) is None:
            return False
        await self.reload()
        self.say(f"“{trigger.name}” is deleted.")
        return True

    async def _delete(self, trigger_id: str) -> bool:
        await self.api.delete(trigger_id)
        return True

    async def _conflict(self, trigger: Trigger) -> None:
        await self.reload()
        self.say(CONFLICT_WORDS.format(name=trigger.name))

    # ------------------------------------------------------------------ buttons
    def _on_toggle_clicked(self) -> None:
        chosen = self.selected()
        if chosen is not None:
            self.run(self.set_enabled(chosen, not chosen.enabled))

    def open_editor(self, trigger: Trigger | None) -> TriggerEditor:
        """The editor for ``trigger`` (None: a new one); saving it saves the trigger."""
        if self.editor is not None:
            self.editor.close()
            self.editor.deleteLater()
        editor = TriggerEditor(self.topics, list(self.workflows.values()), trigger, parent=self)
        editor.accepted.connect(lambda: self.run(self.save(editor.trigger())))
        self.editor = editor
        editor.show()
        return editor

    def _on_new_clicked(self) -> None:
        self.open_editor(None)

    def _on_edit_clicked(self) -> None:
        chosen = self.selected()
        if chosen is not None:
            self.open_editor(chosen)

    def _on_delete_clicked(self) -> None:
        chosen = self.selected()
        if chosen is not None and self.confirm(
            f"Delete the trigger “{chosen.name}”? Its workflow stays; the trigger cannot be "
            "brought back."
        ):
            self.run(self.delete(chosen))

    def _ask(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Delete trigger", question)
        return answer == QMessageBox.StandardButton.Yes

    def open_check(self, trigger: Trigger) -> TriggerCheck:
        """ "Would it fire?" for ``trigger``: the journal's events, and the org's own test."""
        if self.check is not None:
            self.check.close()
            self.check.deleteLater()
        check = TriggerCheck(
            trigger,
            test=lambda body: self.api.test(trigger.id, body),
            journal_search=self.journal_search,
            run=self.run,
            parent=self,
        )
        self.check = check
        check.show()
        check.start()
        return check

    def _on_check_clicked(self) -> None:
        chosen = self.selected()
        if chosen is not None:
            self.open_check(chosen)
