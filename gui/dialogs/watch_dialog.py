"""What to watch: queues, agents and event kinds, with the topic budget and rejected topics.

The Notification Service has no wildcards and hard limits (1000 topics a channel, 20 channels),
so what a person picks here decides what the engine can subscribe. The dialog shows that cost
*before* applying (a preview the engine works out with ``core.streaming.planner.plan_topics``) and
the live
figures after, lists every topic the org refused with the permissions to ask an admin for, and
applies a change through the engine without dropping the picture of what stays watched.

Like the other dialogs it never touches the network: the org's queues and agents, the preview
and the apply are injected async callables (the app wires them to ``MonitorService``), and the
live budget arrives through :meth:`WatchDialog.show_budget` from the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Literal

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QRadioButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.engine.service import (
    BudgetRecord,
    Directory,
    Selection,
    SelectionPreview,
    SelectionProgress,
)
from core.errors import GenesysTrayError
from core.feed.builder import KINDS
from core.rest.schema import RejectedTopic
from core.storage.settings import WatchSettings, queue_pattern_problem
from core.streaming.planner import Budget

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
KIND_LABELS = {
    "presence": "Presence changes",
    "routing": "Routing status changes",
    "queue": "Queue activity (waiting, answered)",
    "membership": "Queue membership changes",
    "connection": "Connection state",
    "gap": "Gaps and re-syncs",
    "budget": "Topic budget and refusals",
    "alert": "Alerts fired and resolved",
}
# What each permission gives the board: the words an admin needs to decide.
PERMISSION_USES = {
    "analytics:queueObservation:view": "queue counters (waiting, interacting, on queue)",
    "conversation:communication:view": "the calls waiting in a queue and agents' call counts",
    "routing:queue:view": "queues and their membership",
    "directory:user:view": "agents' names",
    "analytics:userAggregate:view": "agents' statistics",
}
STEP_TEXT = {
    "resolving": "Finding the queues and agents…",
    "planning": "Planning channels…",
    "subscribing": "Subscribing: {done} of {total} channels",
    "resyncing": "Reading the current state of the new subjects…",
    "done": "Re-synced: the board is live with the new selection.",
}


def selection_of(watch: WatchSettings) -> Selection:
    """The engine's selection for what the person chose."""
    return Selection(queues=watch.queues, users=watch.users)


def admin_request(rejected: Iterable[RejectedTopic]) -> str:
    """What to ask a Genesys Cloud admin for, in words, for these refused topics ("" for none)."""
    missing = sorted({p for r in rejected for p in r.missing_permissions})
    if not missing:
        return ""
    lines = [
        f"• {p}" + (f" — for {PERMISSION_USES[p]}" if p in PERMISSION_USES else "") for p in missing
    ]
    return (
        "Ask your Genesys Cloud admin to add these permissions to one of your roles:\n"
        + "\n".join(lines)
    )


TOPIC_KINDS = (
    (".observations", "queue counters"),
    (".conversations", "calls in the queue"),
    (".users", "queue membership"),
)


def topic_label(topic: str, names: Mapping[str, str]) -> str:
    """A refused topic in words: whose it is (by name when known) and what it carries."""
    parts = topic.split("?", 1)[0].split(".")
    subject = parts[3] if topic.startswith(("v2.analytics.queues.", "v2.routing.queues.")) else ""
    if topic.startswith("v2.users.") and len(parts) > 2:
        subject = parts[2]
    if not subject:
        return topic
    what = next((words for suffix, words in TOPIC_KINDS if topic.endswith(suffix)), "")
    if topic.startswith("v2.users."):
        what = "presence and routing status"
    name = names.get(subject) or f"{subject[:8]}…"
    return f"{name}: {what}" if what else name


def _describe(users: int, queues: int) -> str:
    return (
        f"{users} agent{'s' if users != 1 else ''} and {queues} queue{'s' if queues != 1 else ''}"
    )


def _budget_text(record: BudgetRecord) -> str:
    plural = "s" if record.channels != 1 else ""
    text = f"{record.topics} topics on {record.channels} channel{plural}"
    if record.over_budget:
        text += f"; {len(record.over_budget)} do not fit and will not be watched"
    return text


class _PickList(QWidget):
    """A search box over a checkable list of (id, name) pairs."""

    def __init__(self, name: str, placeholder: str) -> None:
        super().__init__()
        self.search = QLineEdit(placeholderText=placeholder)
        self.search.setObjectName(f"{name}Search")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search_text_changed)
        self.list = QListWidget()
        self.list.setObjectName(f"{name}List")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.list.setUniformItemSizes(True)
        self.list.setMinimumHeight(110)
        self.count = QLabel("")
        self.count.setObjectName(f"{name}Count")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.count)

    def fill(self, names: Mapping[str, str], checked: Iterable[str]) -> None:
        """Show these entries (picked ones first), keeping picks unknown to ``names``."""
        picked = set(checked)
        entries = dict(names)
        for missing in picked - set(entries):  # before the org's lists load: just the id
            entries[missing] = f"{missing[:8]}…" + (" (not found)" if names else "")
        self.list.blockSignals(True)
        self.list.clear()
        order = sorted(entries.items(), key=lambda kv: (kv[0] not in picked, kv[1].lower()))
        for entry_id, name in order:
            item = QListWidgetItem(name or entry_id[:8])
            item.setData(Qt.ItemDataRole.UserRole, entry_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if entry_id in picked else Qt.CheckState.Unchecked
            )
            self.list.addItem(item)
        self.list.blockSignals(False)
        self._on_search_text_changed(self.search.text())

    def picked(self) -> tuple[str, ...]:
        """Ids checked, in list order."""
        return tuple(
            str(self.list.item(row).data(Qt.ItemDataRole.UserRole))
            for row in range(self.list.count())
            if self.list.item(row).checkState() == Qt.CheckState.Checked
        )

    def set_checked(self, entry_id: str, checked: bool = True) -> None:
        """Check or uncheck one entry (as a click would)."""
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == entry_id:
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def visible_ids(self) -> list[str]:
        """Ids the search leaves shown."""
        return [
            str(self.list.item(row).data(Qt.ItemDataRole.UserRole))
            for row in range(self.list.count())
            if not self.list.item(row).isHidden()
        ]

    def _on_search_text_changed(self, text: str) -> None:
        needle = text.strip().lower()
        shown = 0
        for row in range(self.list.count()):
            item = self.list.item(row)
            hide = bool(needle) and needle not in item.text().lower()
            item.setHidden(hide)
            shown += not hide
        self.count.setText(f"{len(self.picked())} picked · {shown} shown")


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
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("What to watch")
        self.setObjectName("WatchDialog")
        self.resize(980, 720)
        self.applied_watch = watch or WatchSettings()
        self.budget = budget
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
        right.addWidget(self._budget_box(), 3)
        right.addWidget(self._kinds_box(feed_kinds))
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
        self.queue_pick = _PickList("queue", "Search queues by name…")
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
                self.user_pick = _PickList("user", "Search agents by name…")
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

    def _budget_box(self) -> QGroupBox:
        box = QGroupBox("Topic budget")
        self.channels_bar = QProgressBar()
        self.channels_bar.setObjectName("channelsMeter")
        self.channels_bar.setRange(0, self.budget.max_channels)
        self.channels_bar.setFormat(f"%v of {self.budget.max_channels} channels")
        self.topics_bar = QProgressBar()
        self.topics_bar.setObjectName("topicsMeter")
        self.topics_bar.setRange(0, self.budget.max_topics_per_channel)
        self.topics_bar.setFormat(
            f"%v of {self.budget.max_topics_per_channel} topics on the fullest channel"
        )
        self.meter_source = QLabel("")
        self.meter_source.setObjectName("meterSource")
        self.live_text = QLabel("")
        self.live_text.setObjectName("liveBudget")
        self.live_text.setWordWrap(True)
        self.preview_text = QLabel("")
        self.preview_text.setObjectName("previewBudget")
        self.preview_text.setWordWrap(True)
        self.rejected_list = QTreeWidget()
        self.rejected_list.setObjectName("rejectedTopics")
        self.rejected_list.setHeaderLabels(["Refused topic", "Missing permission"])
        self.rejected_list.setRootIsDecorated(False)
        self.rejected_list.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.rejected_list.header().setStretchLastSection(False)
        self.rejected_list.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.admin_ask = QLabel("")
        self.admin_ask.setObjectName("adminAsk")
        self.admin_ask.setWordWrap(True)
        self.admin_ask.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.no_rejections = QLabel("No topic was refused.")
        self.no_rejections.setObjectName("noRejections")
        layout = QVBoxLayout(box)
        layout.addWidget(self.meter_source)
        layout.addWidget(self.channels_bar)
        layout.addWidget(self.topics_bar)
        layout.addWidget(self.live_text)
        layout.addWidget(self.preview_text)
        layout.addWidget(self.no_rejections)
        layout.addWidget(self.rejected_list, 1)
        layout.addWidget(self.admin_ask)
        layout.addStretch(0)  # hidden list: the figures stay together at the top
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
            self.preview_text.setText("")
        else:
            self.preview_text.setText("This selection: working out the plan…")
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
        count = sum(1 for name in self.directory.queues.values() if _matches(text, name))
        self.pattern_matches.setText(f"matches {count} queue{'s' if count != 1 else ''}")

    def _update_apply(self) -> None:
        pending = self.pending()
        changed = pending is not None and (
            pending != self.applied_watch or self.feed_kinds() != self._kinds_applied
        )
        self.apply_button.setEnabled(changed and not self._applying)

    # ------------------------------------------------------------------ the org's lists
    def start(self) -> None:
        """Load the org's queues and agents for the pickers (in the background)."""
        self._keep(asyncio.ensure_future(self.refresh_directory()))

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
        live, preview = self.live, self.preview
        shown = preview.budget if preview is not None else live
        self.meter_source.setText(
            "This selection, if applied:" if preview is not None else "In use now:"
        )
        self.live_text.setText(f"In use now: {_budget_text(live)}" if live else "")
        if preview is not None:
            self.preview_text.setText(
                f"This selection: {_describe(len(preview.users), len(preview.queues))}, "
                f"{_budget_text(preview.budget)}"
            )
        if shown is None:
            self.channels_bar.setValue(0)
            self.topics_bar.setValue(0)
        else:
            self.channels_bar.setValue(min(shown.channels, self.budget.max_channels))
            fullest = max(shown.per_channel, default=0)
            self.topics_bar.setValue(min(fullest, self.budget.max_topics_per_channel))
        self._show_rejected(shown.rejected if shown is not None else ())

    def _show_rejected(self, rejected: tuple[RejectedTopic, ...]) -> None:
        self.rejected_list.clear()
        names = self._names()
        for topic in rejected:
            label = topic_label(topic.id, names)
            item = QTreeWidgetItem([label, ", ".join(topic.missing_permissions) or "?"])
            item.setData(0, Qt.ItemDataRole.UserRole, topic.id)
            item.setToolTip(0, topic.id)
            item.setToolTip(1, topic.reason)
            self.rejected_list.addTopLevelItem(item)
        self.rejected_list.setVisible(bool(rejected))
        self.no_rejections.setVisible(not rejected)
        ask = admin_request(rejected)
        if rejected and self.preview is not None:
            ask += "\nTopics not subscribed yet are checked when you apply."
        self.admin_ask.setText(ask)
        self.admin_ask.setVisible(bool(rejected))

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
            self.preview_text.setText(f"This selection: the plan could not be worked out: {exc}")
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


def _matches(pattern: str, name: str) -> bool:
    """Genesys Cloud's queue name filter: ``*`` at either end, otherwise exact (any case)."""
    text, subject = pattern.strip().lower(), name.lower()
    start, end = text.startswith("*"), text.endswith("*")
    core_text = text.strip("*")
    if start and end:
        return core_text in subject
    if start:
        return subject.endswith(core_text)
    if end:
        return subject.startswith(core_text)
    return subject == core_text
