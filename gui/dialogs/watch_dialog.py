"""What to watch: queues, agents and event kinds, with the topic budget and rejected topics.

The Notification Service has no wildcards and hard limits (1000 topics a channel, 20 channels),
so what a person picks here decides what the engine can subscribe. The dialog shows that cost
*before* applying (a preview the engine works out with ``core.streaming.planner.plan_topics``)
and the live figures after (gui.dialogs.watch_budget), lists every topic the org refused with the
permissions to ask an admin for (gui.dialogs.watch_text), and applies a change through the
engine without dropping the picture of what stays watched.

Like the other dialogs it never touches the network: the org's queues and agents, the preview
and the apply are injected async callables (the app wires them to ``MonitorService``), and the
live budget arrives through :meth:`WatchDialog.show_budget` from the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.engine.records import BudgetRecord, SelectionPreview, SelectionProgress
from core.engine.selection import Directory, Selection
from core.errors import GenesysTrayError
from core.feed.entry import KINDS
from core.storage.settings.model import WatchSettings, queue_pattern_problem
from core.streaming.planner import Budget
from gui.dialogs.watch_budget import BudgetPanel
from gui.dialogs.watch_eventbridge import EventBridgeWatchBox
from gui.dialogs.watch_picks import PickList
from gui.dialogs.watch_text import (
    KIND_LABELS,
    STEP_TEXT,
    matches_pattern,
    selection_of,
)

logger = logging.getLogger(__name__)

LoadDirectory = Callable[[], Awaitable[Directory]]
PreviewSelection = Callable[[Selection], Awaitable[SelectionPreview]]
ApplyWatch = Callable[
    [WatchSettings, list[str], Callable[[SelectionProgress], None]], Awaitable[BudgetRecord]
]
QueueMode = Literal["mine", "all", "pattern", "pick", "none"]
UserMode = Literal["members", "all", "pick", "none"]
QUEUE_KEYWORDS: dict[str, QueueMode] = {"mine": "mine", "all": "all", "none": "none"}
USER_KEYWORDS: dict[str, UserMode] = {"members": "members", "all": "all", "none": "none"}
PREVIEW_DELAY_MS = 350  # typing a pattern asks the engine once, not per keystroke


class WatchDialog(QDialog):
    """Choose the queues, agents and event kinds to watch; see what it costs; apply it.

    Signals:
        applied(object, list): the :class:`WatchSettings` and feed kinds, once the engine took
            them (the app persists them).
        preview_changed(object): a new :class:`SelectionPreview` for the pending selection.
    """

    applied = Signal(object, list)
    preview_changed = Signal(object)

    def __init__(
        self,
        watch: WatchSettings | None,
        feed_kinds: list[str],
        *,
        budget: Budget,
        live: BudgetRecord | None,
        directory: LoadDirectory,
        preview: PreviewSelection,
        apply: ApplyWatch,
        eventbridge: EventBridgeWatchBox | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.eventbridge = eventbridge  # org-wide classes, when this org has a queue
        self.setWindowTitle("What to watch")
        self.setObjectName("WatchDialog")
        self.resize(980, 720)
        self.applied_watch = watch or WatchSettings()
        self.live: BudgetRecord | None = live
        self.preview: SelectionPreview | None = None
        self.directory: Directory | None = None
        self._load_directory = directory
        self._preview = preview
        self._apply = apply
        self._tasks: set[asyncio.Future[object]] = set()
        self._preview_task: asyncio.Future[SelectionPreview | None] | None = None
        self._applying = False
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self._on_preview_timer_timeout)

        left = QVBoxLayout()
        left.addWidget(self._queues_box(), 3)
        left.addWidget(self._users_box(), 3)
        right = QVBoxLayout()
        self.budget_panel = BudgetPanel(budget)
        right.addWidget(self.budget_panel, 3)
        right.addWidget(self._kinds_box(feed_kinds))
        if eventbridge is not None:
            right.addWidget(eventbridge)
            eventbridge.edited.connect(self._on_kinds_edited)
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)

        self.problems = QLabel("")
        self.problems.setObjectName("watchProblems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: white; background: #b3261e; padding: 4px;")
        self.progress = QProgressBar()
        self.progress.setObjectName("applyProgress")
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setObjectName("applyStatus")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Apply | QDialogButtonBox.StandardButton.Close
        )
        self.apply_button = self.buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.apply_button.setObjectName("applyButton")
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self._on_apply_clicked)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addWidget(self.problems)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

        self._kinds_applied = self.feed_kinds()
        self._set_from(self.applied_watch)
        for button in (*self.queue_modes.buttons(), *self.user_modes.buttons()):
            button.toggled.connect(self._on_selection_edited)
        self.pattern.textChanged.connect(self._on_selection_edited)
        self.queue_pick.list.itemChanged.connect(self._on_selection_edited)
        self.user_pick.list.itemChanged.connect(self._on_selection_edited)
        for box in self.kind_boxes.values():
            box.toggled.connect(self._on_kinds_edited)
        self._on_selection_edited()

    # ------------------------------------------------------------------ layout
    def _queues_box(self) -> QGroupBox:
        box = QGroupBox("&Queues")
        self.queue_modes = QButtonGroup(self)
        self.queue_radio: dict[QueueMode, QRadioButton] = {}
        labels: tuple[tuple[QueueMode, str], ...] = (
            ("mine", "My queues (the ones I am a member of)"),
            ("all", "All queues"),
            ("pattern", "Queues named like"),
            ("pick", "Only these queues"),
            ("none", "No queues (agents only)"),
        )
        for mode, text in labels:
            radio = QRadioButton(text)
            radio.setObjectName(f"queues_{mode}")
            self.queue_radio[mode] = radio
            self.queue_modes.addButton(radio)
        self.pattern = QLineEdit(placeholderText="Sales*  ·  *Support  ·  an exact name")
        self.pattern.setObjectName("queuePattern")
        self.pattern_matches = QLabel("")
        self.pattern_matches.setObjectName("patternMatches")
        self.queue_pick = PickList("queue", "Search queues by name…")
        grid = QGridLayout(box)
        grid.addWidget(self.queue_radio["mine"], 0, 0, 1, 2)
        grid.addWidget(self.queue_radio["all"], 1, 0, 1, 2)
        grid.addWidget(self.queue_radio["pattern"], 2, 0)
        grid.addWidget(self.pattern, 2, 1)
        grid.addWidget(self.pattern_matches, 3, 1)
        grid.addWidget(self.queue_radio["pick"], 4, 0, 1, 2)
        grid.addWidget(self.queue_pick, 5, 0, 1, 2)
        grid.addWidget(self.queue_radio["none"], 6, 0, 1, 2)
        grid.setRowStretch(5, 1)
        return box

    def _users_box(self) -> QGroupBox:
        box = QGroupBox("A&gents")
        self.user_modes = QButtonGroup(self)
        self.user_radio: dict[UserMode, QRadioButton] = {}
        labels: tuple[tuple[UserMode, str], ...] = (
            ("members", "Members of the chosen queues (kept current as membership changes)"),
            ("all", "All agents"),
            ("pick", "Only these agents"),
            ("none", "No agents (queues only)"),
        )
        layout = QVBoxLayout(box)
        for mode, text in labels:
            radio = QRadioButton(text)
            radio.setObjectName(f"users_{mode}")
            self.user_radio[mode] = radio
            self.user_modes.addButton(radio)
            layout.addWidget(radio)
            if mode == "pick":
                self.user_pick = PickList("user", "Search agents by name…")
                layout.addWidget(self.user_pick, 1)
        return box

    def _kinds_box(self, feed_kinds: list[str]) -> QGroupBox:
        box = QGroupBox("&Events to show in the feed")
        grid = QGridLayout(box)
        self.kind_boxes: dict[str, QCheckBox] = {}
        for index, kind in enumerate(KINDS):
            check = QCheckBox(KIND_LABELS.get(kind, kind.title()))
            check.setObjectName(f"watchKind_{kind}")
            check.setChecked(not feed_kinds or kind in feed_kinds)
            self.kind_boxes[kind] = check
            grid.addWidget(check, index // 2, index % 2)
        return box

    # ------------------------------------------------------------------ the person's choice
    def _set_from(self, watch: WatchSettings) -> None:
        queues, users = watch.queues, watch.users
        if isinstance(queues, tuple):
            self.queue_radio["pick"].setChecked(True)
        elif queues in QUEUE_KEYWORDS:
            self.queue_radio[QUEUE_KEYWORDS[queues]].setChecked(True)
        else:
            self.queue_radio["pattern"].setChecked(True)
            self.pattern.setText(queues)
        if isinstance(users, tuple):
            self.user_radio["pick"].setChecked(True)
        else:
            self.user_radio[USER_KEYWORDS.get(users, "members")].setChecked(True)
        self.queue_pick.fill({}, queues if isinstance(queues, tuple) else ())
        self.user_pick.fill({}, users if isinstance(users, tuple) else ())

    def queue_mode(self) -> QueueMode:
        """Which queue choice is on."""
        return next((m for m, r in self.queue_radio.items() if r.isChecked()), "mine")

    def user_mode(self) -> UserMode:
        """Which agent choice is on."""
        return next((m for m, r in self.user_radio.items() if r.isChecked()), "members")

    def problems_of_pending(self) -> list[str]:
        """Why the pending choice cannot be applied, in words (empty when it can)."""
        problems: list[str] = []
        queue_mode, user_mode = self.queue_mode(), self.user_mode()
        if queue_mode == "pattern":
            problem = queue_pattern_problem(self.pattern.text())
            if problem:
                problems.append(f"Queue pattern: {problem}")
        if queue_mode == "pick" and not self.queue_pick.picked():
            problems.append("Pick at least one queue, or choose another option.")
        if user_mode == "pick" and not self.user_pick.picked():
            problems.append("Pick at least one agent, or choose another option.")
        if user_mode == "members" and queue_mode == "none":
            problems.append("Members of the chosen queues needs queues: choose some queues.")
        if queue_mode == "none" and user_mode == "none":
            problems.append("Choose some queues or agents to watch.")
        return problems

    def pending(self) -> WatchSettings | None:
        """The choice as it stands in the dialog, or None while it has problems."""
        if self.problems_of_pending():
            return None
        queue_mode, user_mode = self.queue_mode(), self.user_mode()
        queues: str | tuple[str, ...]
        if queue_mode == "pattern":
            queues = self.pattern.text().strip()
        elif queue_mode == "pick":
            queues = self.queue_pick.picked()
        else:
            queues = queue_mode
        users = self.user_pick.picked() if user_mode == "pick" else user_mode
        return WatchSettings(queues, users)

    def feed_kinds(self) -> list[str]:
        """The kinds of events the feed should show."""
        return [kind for kind, box in self.kind_boxes.items() if box.isChecked()]

    def _on_selection_edited(self, *_: object) -> None:
        self.pattern.setEnabled(self.queue_mode() == "pattern")
        self.queue_pick.setEnabled(self.queue_mode() == "pick")
        self.user_pick.setEnabled(self.user_mode() == "pick")
        self._update_pattern_matches()
        problems = self.problems_of_pending()
        self.problems.setText("\n".join(problems))
        self.problems.setVisible(bool(problems))
        self._update_apply()
        self.preview = None
        self._preview_timer.stop()
        if problems or self.pending() == self.applied_watch:
            self.budget_panel.preview_text.setText("")
        else:
            self.budget_panel.preview_text.setText("This selection: working out the plan…")
            self._preview_timer.start()
        self._show_meter()

    def _on_kinds_edited(self, *_: object) -> None:
        self._update_apply()

    def _update_pattern_matches(self) -> None:
        if self.queue_mode() != "pattern" or self.directory is None:
            self.pattern_matches.setText("")
            return
        text = self.pattern.text().strip()
        if queue_pattern_problem(text):
            self.pattern_matches.setText("")
            return
        count = sum(1 for name in self.directory.queues.values() if matches_pattern(text, name))
        self.pattern_matches.setText(f"matches {count} queue{'s' if count != 1 else ''}")

    def _update_apply(self) -> None:
        pending = self.pending()
        bridge = self.eventbridge is not None and self.eventbridge.changed()
        changed = pending is not None and (
            pending != self.applied_watch or self.feed_kinds() != self._kinds_applied or bridge
        )
        self.apply_button.setEnabled(changed and not self._applying)

    # ------------------------------------------------------------------ the org's lists
    def start(self) -> None:
        """Load the org's queues and agents for the pickers (in the background)."""
        self._keep(asyncio.ensure_future(self.refresh_directory()))
        if self.eventbridge is not None:  # which topics only EventBridge carries
            self._keep(asyncio.ensure_future(self.eventbridge.load()))

    async def refresh_directory(self) -> bool:
        """Fill the pickers from the injected directory; False (and said) when it failed."""
        self.status.setText("Loading the org's queues and agents…")
        try:
            directory = await self._load_directory()
        except GenesysTrayError as exc:
            logger.warning("queues and agents unavailable: %s", exc)
            self.status.setText(f"The org's queues and agents could not be read: {exc}")
            return False
        self.set_directory(directory)
        self.status.setText("")
        return True

    def set_directory(self, directory: Directory) -> None:
        """Show the org's queues and agents in the pickers, keeping what is picked."""
        self.directory = directory
        self.queue_pick.fill(directory.queues, self.queue_pick.picked())
        self.user_pick.fill(directory.users, self.user_pick.picked())
        mine = len(directory.mine)
        self.queue_radio["mine"].setText(
            f"My queues (the {mine} I am a member of)" if mine else "My queues (none)"
        )
        self.queue_radio["all"].setText(f"All queues ({len(directory.queues)})")
        self.user_radio["all"].setText(f"All agents ({len(directory.users)})")
        self._update_pattern_matches()

    # ------------------------------------------------------------------ budget
    def show_budget(self, record: BudgetRecord) -> None:
        """The engine's live figures (the bridge's ``budget_changed``)."""
        self.live = record
        self._show_meter()

    def _show_meter(self) -> None:
        self.budget_panel.show_figures(self.live, self.preview, self._names())

    def _names(self) -> dict[str, str]:
        """Names of queues and agents from every source the dialog has."""
        names: dict[str, str] = {}
        if self.directory is not None:
            names.update(self.directory.users)
            names.update(self.directory.queues)
        if self.preview is not None:
            names.update({k: v for k, v in self.preview.users.items() if v})
            names.update({k: v for k, v in self.preview.queues.items() if v})
        return names

    def _on_preview_timer_timeout(self) -> None:
        if self._preview_task is not None and not self._preview_task.done():
            self._preview_task.cancel()
        self._preview_task = asyncio.ensure_future(self.refresh_preview())

    async def refresh_preview(self) -> SelectionPreview | None:
        """Ask the engine how the pending choice would fit, and show it on the meter."""
        pending = self.pending()
        if pending is None:
            return None
        try:
            preview = await self._preview(selection_of(pending))
        except GenesysTrayError as exc:
            logger.warning("preview failed: %s", exc)
            self.budget_panel.preview_text.setText(
                f"This selection: the plan could not be worked out: {exc}"
            )
            return None
        if self.pending() != pending:
            return None  # the person changed it meanwhile; a newer preview is on its way
        self.preview = preview
        self._show_meter()
        self.preview_changed.emit(preview)
        return preview

    # ------------------------------------------------------------------ apply
    def show_progress(self, step: SelectionProgress) -> None:
        """Progress of applying: resolving → planning → subscribing N/M → re-synced."""
        self.progress.setVisible(True)
        if step.step == "subscribing" and step.total:
            self.progress.setRange(0, step.total)
            self.progress.setValue(step.done)
            self.progress.setFormat("%v of %m channels")
        elif step.step == "done":
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            self.progress.setFormat("Done")
        else:
            self.progress.setRange(0, 0)  # busy: no count to show yet
        self.status.setText(STEP_TEXT[step.step].format(done=step.done, total=step.total))

    def _on_apply_clicked(self) -> None:
        self._keep(asyncio.ensure_future(self.apply()))

    async def apply(self) -> bool:
        """Hand the pending choice to the engine; True once it is subscribed and re-synced."""
        pending = self.pending()
        if pending is None or self._applying:
            return False
        kinds = self.feed_kinds()
        self._applying = True
        self._update_apply()
        self.show_progress(SelectionProgress("resolving"))
        try:
            budget = await self._apply(pending, kinds, self.show_progress)
        except GenesysTrayError as exc:
            logger.warning("the new selection was not applied: %s", exc)
            self.progress.setVisible(False)
            self.status.setText(f"Not applied; still watching the previous selection: {exc}")
            return False
        finally:
            self._applying = False
            self._update_apply()
        self.applied_watch = pending
        self._kinds_applied = kinds
        if self.eventbridge is not None:
            self.eventbridge.mark_applied()
        self.preview = None
        self.live = budget
        self._on_selection_edited()
        self.applied.emit(pending, kinds)
        return True

    # ------------------------------------------------------------------ life
    def _keep(self, task: asyncio.Future[object]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def done(self, result: int) -> None:
        """Closing stops the preview; an apply in flight carries on in the engine."""
        self._preview_timer.stop()
        if self._preview_task is not None and not self._preview_task.done():
            self._preview_task.cancel()
        super().done(result)

    def cancel_tasks(self) -> None:
        """Cancel everything this dialog scheduled (shutdown, tests)."""
        for task in list(self._tasks):
            task.cancel()
        if self._preview_task is not None:
            self._preview_task.cancel()
        with contextlib.suppress(RuntimeError):
            self._preview_timer.stop()
