"""Filters & alerts: the rules list, the rule editor and the feed filters.

Pickers are fed by live data (the watched queues and agents, the org's own presences), mistakes
are shown inline while typing (a threshold that is not a number, a rule that can never fire)
instead of failing later, and "Test against the journal" tells how often a rule would have
fired over the last hour or day. Nothing is saved until the person presses Save; the app then
persists the configuration and applies it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.alerts.model import (
    CONDITION_LABELS,
    MEDIA_CONDITIONS,
    THRESHOLD_UNITS,
    Condition,
    Rule,
    Severity,
    subject_kind,
)
from core.alerts.replay import REPLAY_LIMIT, ReplayResult, ReplayStoppedError, cap_note, replay
from core.alerts.validation import validate_rule
from core.alerts.words import describe_rule
from core.domain.format import status_text
from core.domain.media_names import ALL_MEDIA, RULE_MEDIA, media_label, rule_media
from core.domain.presence import SYSTEM_PRESENCES
from core.feed.entry import KINDS, FeedEntry
from core.storage.journal.errors import JournalError
from core.storage.journal.journal import Journal
from gui.dialogs.rule_trigger import RuleTriggerRow

logger = logging.getLogger(__name__)

ANY = "__any__"
REPLAY_WINDOWS = (("last hour", timedelta(hours=1)), ("last day", timedelta(days=1)))


def _span(window: timedelta) -> str:
    """The tested stretch in words ("the last hour")."""
    label = next((label for label, span in REPLAY_WINDOWS if span == window), None)
    return f"the {label}" if label else f"the last {window}"


def _number(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return None


class FilterDialog(QDialog):
    """Rules with enable switches, an editor with live pickers, and the feed's filters.

    Signals:
        saved(list, list): the rules and the feed kinds the person saved.
    """

    saved = Signal(list, list)

    def __init__(
        self,
        rules: list[Rule],
        feed_kinds: list[str],
        *,
        queues: Mapping[str, str],
        users: Mapping[str, str],
        presences: Mapping[str, str],
        journal: Journal | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Filters & alerts")
        self.setObjectName("FilterDialog")
        self.resize(860, 520)
        self.rules = list(rules)
        self.queues = dict(queues)
        self.users = dict(users)
        self.presences = dict(presences)
        self.journal = journal
        self._loading = False
        self._task: asyncio.Future[str] | None = None

        tabs = QTabWidget()
        tabs.addTab(self._rules_page(), "&Alert rules")
        tabs.addTab(self._feed_page(feed_kinds), "&Feed filters")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.buttons)
        self._fill_list()
        if self.rules:
            self.rule_list.setCurrentRow(0)
        self._refresh_editor()

    # ------------------------------------------------------------------ layout
    def _rules_page(self) -> QWidget:
        page = QWidget()
        self.rule_list = QListWidget()
        self.rule_list.setObjectName("ruleList")
        self.rule_list.currentRowChanged.connect(self._on_rule_list_row_changed)
        self.rule_list.itemChanged.connect(self._on_rule_list_item_changed)
        self.add_button = QPushButton("&Add rule")
        self.add_button.clicked.connect(self._on_add_clicked)
        self.remove_button = QPushButton("&Remove")
        self.remove_button.clicked.connect(self._on_remove_clicked)
        left = QVBoxLayout()
        left.addWidget(self.rule_list)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        left.addLayout(buttons)

        self.name = QLineEdit()
        self.name.setObjectName("ruleName")
        self.condition = QComboBox()
        self.condition.setObjectName("ruleCondition")
        for condition, label in CONDITION_LABELS.items():
            self.condition.addItem(label, condition.value)
        self.subject = QComboBox()
        self.subject.setObjectName("ruleSubject")
        self.threshold = QLineEdit()
        self.threshold.setObjectName("ruleThreshold")
        self.threshold_unit = QLabel("")
        self.presence = QComboBox()
        self.presence.setObjectName("rulePresence")
        self.media = QComboBox()
        self.media.setObjectName("ruleMedia")
        self.media.setToolTip("Count one media type only, or the whole queue")
        self.media.addItem("All media", ALL_MEDIA)
        for media in RULE_MEDIA:
            self.media.addItem(media_label(media), media)
        self.description = QLabel("")
        self.description.setObjectName("ruleDescription")
        self.description.setWordWrap(True)
        self.for_s = QLineEdit("0")
        self.for_s.setObjectName("ruleFor")
        self.cooldown = QLineEdit("300")
        self.severity = QComboBox()
        for severity in Severity:
            self.severity.addItem(severity.value.title(), severity.value)
        self.sound = QCheckBox("Play a sound")
        self.problems = QLabel("")
        self.problems.setObjectName("ruleProblems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet(
            "color: palette(bright-text); background: #b3261e; padding: 4px;"
        )
        self.replay_window = QComboBox()
        for label, _ in REPLAY_WINDOWS:
            self.replay_window.addItem(label)
        self.replay_button = QPushButton("&Test against the journal")
        self.replay_button.setObjectName("replayButton")
        self.replay_button.setEnabled(self.journal is not None)
        self.replay_button.clicked.connect(self._on_replay_clicked)
        self.replay_result = QLabel("")
        self.replay_result.setObjectName("replayResult")

        threshold_row = QHBoxLayout()
        threshold_row.addWidget(self.threshold)
        threshold_row.addWidget(self.threshold_unit)
        form = QFormLayout()
        form.addRow("&Name", self.name)
        form.addRow("&When", self.condition)
        form.addRow("&Subject", self.subject)
        form.addRow("&Media", self.media)
        form.addRow("Threshold", threshold_row)
        form.addRow("&Presence", self.presence)
        form.addRow("For (seconds)", self.for_s)
        form.addRow("Quiet after (seconds)", self.cooldown)
        form.addRow("Se&verity", self.severity)
        form.addRow("", self.sound)
        replay_row = QHBoxLayout()
        replay_row.addWidget(self.replay_button)
        replay_row.addWidget(self.replay_window)
        replay_row.addWidget(self.replay_result, 1)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addWidget(self.description)
        right.addWidget(self.problems)
        right.addLayout(replay_row)
        self.genesys = RuleTriggerRow()  # "Also run in Genesys Cloud…" (gui.triggers_ui)
        right.addWidget(self.genesys)
        right.addStretch(1)
        self.editor = QWidget()
        self.editor.setLayout(right)

        for widget in (self.name, self.threshold, self.for_s, self.cooldown):
            widget.textEdited.connect(self._on_editor_changed)
        for combo in (self.subject, self.presence, self.severity, self.media):
            combo.currentIndexChanged.connect(self._on_editor_changed)
        self.condition.currentIndexChanged.connect(self._on_condition_changed)
        self.sound.toggled.connect(self._on_editor_changed)

        layout = QHBoxLayout(page)
        layout.addLayout(left, 2)
        layout.addWidget(self.editor, 3)
        return page

    def _feed_page(self, feed_kinds: list[str]) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(QLabel("Show these kinds of events in the feed:"))
        self.kind_boxes: dict[str, QCheckBox] = {}
        for kind in KINDS:
            box = QCheckBox(kind.title())
            box.setObjectName(f"feedKind_{kind}")
            box.setChecked(not feed_kinds or kind in feed_kinds)
            self.kind_boxes[kind] = box
            layout.addWidget(box)
        layout.addStretch(1)
        return page

    # ------------------------------------------------------------------ list
    def _fill_list(self) -> None:
        self._loading = True
        self.rule_list.clear()
        for rule in self.rules:
            item = QListWidgetItem(rule.name or "(unnamed rule)")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if rule.enabled else Qt.CheckState.Unchecked)
            self.rule_list.addItem(item)
        self._loading = False

    def _on_rule_list_row_changed(self, _row: int) -> None:
        self._refresh_editor()

    def _on_rule_list_item_changed(self, item: QListWidgetItem) -> None:
        if self._loading:
            return
        row = self.rule_list.row(item)
        enabled = item.checkState() == Qt.CheckState.Checked
        self.rules[row] = dataclasses.replace(self.rules[row], enabled=enabled)

    def _on_add_clicked(self) -> None:
        rule = Rule(
            id=f"rule-{uuid.uuid4().hex[:8]}",
            name="New rule",
            condition=Condition.QUEUE_WAITING_ABOVE,
            threshold=3,
            for_s=10,
        )
        self.rules.append(rule)
        self._fill_list()
        self.rule_list.setCurrentRow(len(self.rules) - 1)
        self.name.setFocus()
        self.name.selectAll()

    def _on_remove_clicked(self) -> None:
        row = self.rule_list.currentRow()
        if 0 <= row < len(self.rules):
            del self.rules[row]
            self._fill_list()
            self.rule_list.setCurrentRow(min(row, len(self.rules) - 1))
            self._refresh_editor()

    # ------------------------------------------------------------------ editor
    def _current(self) -> Rule | None:
        row = self.rule_list.currentRow()
        return self.rules[row] if 0 <= row < len(self.rules) else None

    def _fill_subjects(self, condition: Condition, selected: tuple[str, ...]) -> None:
        kind = subject_kind(condition)
        self.subject.blockSignals(True)
        self.subject.clear()
        if kind == "connection":
            self.subject.addItem("The connection", ANY)
        else:
            self.subject.addItem("Any queue" if kind == "queue" else "Any agent", ANY)
            names = self.queues if kind == "queue" else self.users
            for subject_id, name in sorted(names.items(), key=lambda kv: kv[1].lower()):
                self.subject.addItem(name or subject_id[:8], subject_id)
            for subject_id in selected:
                if self.subject.findData(subject_id) < 0:
                    self.subject.addItem(f"{subject_id[:8]} (not watched)", subject_id)
        index = self.subject.findData(selected[0]) if selected else 0
        self.subject.setCurrentIndex(max(0, index))
        self.subject.setEnabled(kind != "connection")
        self.subject.blockSignals(False)

    def _fill_presences(self, selected: str | None) -> None:
        self.presence.blockSignals(True)
        self.presence.clear()
        for key in SYSTEM_PRESENCES:
            self.presence.addItem(f"{status_text(key)} (any)", key)
        for definition_id, label in sorted(self.presences.items(), key=lambda kv: kv[1].lower()):
            self.presence.addItem(label, definition_id)
        index = self.presence.findData(selected) if selected else -1
        self.presence.setCurrentIndex(max(0, index))
        self.presence.blockSignals(False)

    def _select_media(self, media: str) -> None:
        """Select a rule's media; one the editor does not offer (a hand-edited file) is added."""
        key = rule_media(media)
        key = media if key is None else key
        if self.media.findData(key) < 0:
            self.media.addItem(media_label(key), key)
        self.media.setCurrentIndex(self.media.findData(key))

    def _refresh_editor(self) -> None:
        rule = self._current()
        self.editor.setEnabled(rule is not None)
        self.remove_button.setEnabled(rule is not None)
        if rule is None:
            self.problems.setVisible(False)
            return
        self._loading = True
        self.name.setText(rule.name)
        self.condition.setCurrentIndex(max(0, self.condition.findData(rule.condition.value)))
        self._fill_subjects(rule.condition, rule.subjects)
        self._fill_presences(rule.presence)
        self._select_media(rule.media)
        self.threshold.setText("" if rule.threshold is None else f"{rule.threshold:g}")
        self.for_s.setText(f"{rule.for_s:g}")
        self.cooldown.setText(f"{rule.cooldown_s:g}")
        self.severity.setCurrentIndex(max(0, self.severity.findData(rule.severity.value)))
        self.sound.setChecked("sound" in rule.actions)
        self._loading = False
        self._apply_condition_fields(rule.condition)
        self._show_problems(rule, raw_problems=[])
        self.replay_result.setText("")

    def _apply_condition_fields(self, condition: Condition) -> None:
        unit = THRESHOLD_UNITS.get(condition)
        self.threshold.setEnabled(unit is not None)
        self.threshold_unit.setText(unit or "")
        self.presence.setEnabled(
            condition in (Condition.AGENT_PRESENCE_IS, Condition.AGENT_PRESENCE_LONGER_THAN)
        )
        self.media.setEnabled(condition in MEDIA_CONDITIONS)

    def _on_condition_changed(self, _index: int) -> None:
        if self._loading:
            return
        condition = Condition(self.condition.currentData())
        self._fill_subjects(condition, ())
        self._apply_condition_fields(condition)
        self._on_editor_changed()

    def _on_editor_changed(self, *_: object) -> None:
        if self._loading:
            return
        row = self.rule_list.currentRow()
        if not 0 <= row < len(self.rules):
            return
        rule, raw = self._rule_from_editor(self.rules[row])
        self.rules[row] = rule
        item = self.rule_list.item(row)
        self._loading = True
        item.setText(rule.name or "(unnamed rule)")
        self._loading = False
        self._show_problems(rule, raw_problems=raw)

    def _rule_from_editor(self, base: Rule) -> tuple[Rule, list[tuple[str, str]]]:
        """The edited rule, and (field, message) for fields that did not even parse."""
        raw: list[tuple[str, str]] = []
        condition = Condition(self.condition.currentData())
        threshold: float | None = None
        if THRESHOLD_UNITS.get(condition) is not None:
            threshold = _number(self.threshold.text())
            if threshold is None:
                raw.append(("threshold", f"Threshold: '{self.threshold.text()}' is not a number."))
        for_s = _number(self.for_s.text())
        if for_s is None:
            raw.append(("for_s", f"For: '{self.for_s.text()}' is not a number of seconds."))
        cooldown = _number(self.cooldown.text())
        if cooldown is None:
            raw.append(
                ("cooldown_s", f"Quiet after: '{self.cooldown.text()}' is not a number of seconds.")
            )
        subject = self.subject.currentData()
        presence = (
            str(self.presence.currentData())
            if condition in (Condition.AGENT_PRESENCE_IS, Condition.AGENT_PRESENCE_LONGER_THAN)
            else None
        )
        media = str(self.media.currentData()) if condition in MEDIA_CONDITIONS else ALL_MEDIA
        actions = ("notify", "sound") if self.sound.isChecked() else ("notify",)
        rule = dataclasses.replace(
            base,
            name=self.name.text().strip(),
            condition=condition,
            subjects=() if subject in (None, ANY) else (str(subject),),
            threshold=threshold,
            presence=presence,
            for_s=for_s if for_s is not None else base.for_s,
            cooldown_s=cooldown if cooldown is not None else base.cooldown_s,
            severity=Severity(self.severity.currentData()),
            actions=actions,
            media=media,
        )
        return rule, raw

    def problems_of(self, rule: Rule, *, skip: frozenset[str] = frozenset()) -> list[str]:
        """Every problem of ``rule`` against the live data, in words (``skip``: fields)."""
        return [
            p.message
            for p in validate_rule(
                rule, queues=self.queues, users=self.users, presences=self.presences
            )
            if p.field not in skip
        ]

    def _show_problems(self, rule: Rule, raw_problems: list[tuple[str, str]]) -> None:
        unparsed = frozenset(field for field, _ in raw_problems)
        messages = [text for _, text in raw_problems] + self.problems_of(rule, skip=unparsed)
        self.description.setText(
            describe_rule(rule, queues=self.queues, users=self.users, presences=self.presences)
        )
        self.problems.setText("\n".join(messages))
        self.problems.setVisible(bool(messages))
        self.genesys.show_rule(rule)
        self._update_save()

    def _update_save(self) -> None:
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        broken = [r.name or r.id for r in self.rules if self.problems_of(r)]
        bad_text = self.problems.isVisible() and bool(self.problems.text())
        save.setEnabled(not broken and not bad_text)
        save.setToolTip("Fix the rules marked in red first." if broken or bad_text else "")

    # ------------------------------------------------------------------ replay
    def _on_replay_clicked(self) -> None:
        rule = self._current()
        if rule is None or self.journal is None:
            return
        window = REPLAY_WINDOWS[self.replay_window.currentIndex()][1]
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = asyncio.ensure_future(self.test_against_journal(rule, window))

    async def test_against_journal(self, rule: Rule, window: timedelta) -> str:
        """How often ``rule`` would have fired in the last ``window``; also shown inline.

        The journal is read and the rule replayed in worker threads, so the app stays
        responsive over a big journal; progress is shown, and when only the newest entries
        could be read, the answer says so.
        """
        assert self.journal is not None
        end = datetime.now(UTC)
        start = end - window
        before = end + timedelta(seconds=1)
        self._show_replay("Reading the journal…")
        total: int | None = None
        try:
            # The scene before ``start`` matters (who was already waiting): read a little more.
            entries = await self.journal.search(limit=REPLAY_LIMIT, before=before)
            if len(entries) >= REPLAY_LIMIT and entries[-1].at > start:  # the cap cut the span
                total = await self.journal.count(before=before)
                total -= await self.journal.count(before=start)
        except JournalError as exc:
            return self._show_replay(f"The journal could not be read: {exc}")
        result = await self._replay_off_loop(rule, entries, start, end)
        if result.note:
            text = result.note
        elif result.fired == 0:
            text = "Would not have fired."
        else:
            first = result.first.astimezone().strftime("%H:%M:%S") if result.first else "?"
            times = "once" if result.fired == 1 else f"{result.fired} times"
            text = f"Would have fired {times} (first at {first})."
        cap = None if total is None else cap_note(len(entries), total, _span(window))
        return self._show_replay(f"{text} {cap}" if cap and not result.note else text)

    async def _replay_off_loop(
        self, rule: Rule, entries: list[FeedEntry], start: datetime, end: datetime
    ) -> ReplayResult:
        """:func:`replay` in a worker thread; cancelling stops the thread too, and waits for it."""
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def progress(done: int, total: int) -> None:  # in the worker thread
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody to tell
                loop.call_soon_threadsafe(self._show_progress, stop, done, total)

        work = asyncio.ensure_future(
            asyncio.to_thread(replay, rule, entries, start, end, progress=progress, stop=stop)
        )
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            stop.set()  # the thread sees it within a few milliseconds
            await asyncio.wait([work])
            problem = None if work.cancelled() else work.exception()
            if problem is not None and not isinstance(problem, ReplayStoppedError):
                logger.warning("a cancelled test against the journal failed: %r", problem)
            raise

    def _show_progress(self, stop: threading.Event, done: int, total: int) -> None:
        if not stop.is_set():  # a cancelled replay's last reports are dropped
            self._show_replay(f"Checking the journal: {done:,} of {total:,} entries…")

    def _show_replay(self, text: str) -> str:
        if shiboken6.isValid(self.replay_result):
            self.replay_result.setText(text)
        return text

    def done(self, result: int) -> None:
        """Closing cancels a test against the journal that is still running."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        super().done(result)

    async def cancel_tasks(self) -> None:
        """Cancel the running test against the journal and wait until it stopped (shutdown)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        if task is not None:
            await asyncio.wait([task])

    # ------------------------------------------------------------------ save
    def feed_kinds(self) -> list[str]:
        """The kinds the feed should show."""
        return [kind for kind, box in self.kind_boxes.items() if box.isChecked()]

    def _on_buttons_accepted(self) -> None:
        if any(self.problems_of(r) for r in self.rules):
            return
        self.saved.emit(list(self.rules), self.feed_kinds())
        self.accept()
