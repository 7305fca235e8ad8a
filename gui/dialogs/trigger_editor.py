"""Create or edit one trigger: pickers for the events and the workflow, and its conditions.

The events (topics) and workflows come from the org (the board reads them on the app's loop and
hands them in); the conditions editor offers the 12 comparisons in words, each row a field (a
JSON path of the event), a comparison and a value (a list, comma-separated, for "is one of",
"is none of" and "contains all of"). Nothing is sent from here: :meth:`TriggerEditor.trigger`
is what the board creates or saves. The topic of an existing trigger cannot change (Genesys
Cloud: "topicName cannot be updated, a new trigger must be created").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from core.triggers.model import (
    LIST_OPERATORS,
    MAX_DELAY_S,
    MIN_DELAY_S,
    MIN_TTL_S,
    OPERATORS,
    Criterion,
    Trigger,
    Workflow,
    problems,
)
from core.triggers.words import OPERATOR_WORDS, criteria_words, field_words, topic_words

logger = logging.getLogger(__name__)

TIMING_NONE, TIMING_TTL, TIMING_DELAY = 0, 1, 2
TIMING_LABELS = ("Run at once", "Run at once, skip late events", "Run later")


def parse_value(text: str) -> Any:
    """A typed value: JSON numbers, true/false (or yes/no) and null; anything else is text."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("yes", "no"):
        return lowered == "yes"
    try:
        value = json.loads(stripped)
    except ValueError:
        return stripped
    return value if isinstance(value, int | float | bool) or value is None else stripped


def parse_values(text: str) -> tuple[Any, ...]:
    """A comma-separated list of values."""
    return tuple(parse_value(part) for part in text.split(",") if part.strip())


def value_text(criterion: Criterion) -> str:
    """What the value box shows for a criterion."""
    if criterion.takes_list:
        return ", ".join(_one_text(v) for v in criterion.values)
    return _one_text(criterion.value)


def _one_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


class TriggerEditor(QDialog):
    """One trigger's fields; accepted only when :func:`core.triggers.model.problems` is empty."""

    def __init__(
        self,
        topics: Sequence[str],
        workflows: Sequence[Workflow],
        trigger: Trigger | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("TriggerEditor")
        self.setWindowTitle("Edit trigger" if trigger and trigger.id else "New trigger")
        self.resize(760, 480)
        self.base = trigger
        self.name = QLineEdit(trigger.name if trigger else "")
        self.name.setObjectName("triggerName")
        self.topic = QComboBox()
        self.topic.setObjectName("triggerTopic")
        listed = list(topics)
        if trigger and trigger.topic_name and trigger.topic_name not in listed:
            listed.insert(0, trigger.topic_name)
        for topic in listed:
            self.topic.addItem(f"{topic_words(topic)} — {topic}", topic)
        if trigger:
            self.topic.setCurrentIndex(max(0, self.topic.findData(trigger.topic_name)))
        self.topic.setEnabled(not (trigger and trigger.id))  # fixed once created
        self.workflow = QComboBox()
        self.workflow.setObjectName("triggerWorkflow")
        for flow in workflows:
            label = flow.name if flow.active else f"{flow.name} (not published)"
            self.workflow.addItem(label, flow.id)
        if trigger and trigger.target_id:
            found = self.workflow.findData(trigger.target_id)
            if found < 0:
                self.workflow.addItem(f"(missing workflow {trigger.target_id})", trigger.target_id)
                found = self.workflow.count() - 1
            self.workflow.setCurrentIndex(found)
        self.enabled = QCheckBox("On")
        self.enabled.setChecked(trigger.enabled if trigger else True)
        self.timing = QComboBox()
        self.timing.addItems(TIMING_LABELS)
        self.seconds = QSpinBox()
        self.seconds.setRange(MIN_TTL_S, MAX_DELAY_S * 10)
        self.seconds.setSuffix(" s")
        if trigger and trigger.delay_s is not None:
            self.timing.setCurrentIndex(TIMING_DELAY)
            self.seconds.setValue(trigger.delay_s)
        elif trigger and trigger.ttl_s is not None:
            self.timing.setCurrentIndex(TIMING_TTL)
            self.seconds.setValue(trigger.ttl_s)

        self.words = QLabel("")
        self.words.setObjectName("triggerWords")
        self.words.setWordWrap(True)
        self.problems = QLabel("")
        self.problems.setObjectName("triggerProblems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #b3261e;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._on_accepted)
        self.buttons.rejected.connect(self.reject)
        self.criteria = QTableWidget(0, 3)
        self.criteria.setObjectName("triggerCriteria")
        self.criteria.setHorizontalHeaderLabels(["Field of the event", "Comparison", "Value"])
        header = self.criteria.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for criterion in trigger.criteria if trigger else ():
            self.add_row(criterion)
        add = QPushButton("&Add condition")
        add.clicked.connect(lambda: self.add_row(None))
        remove = QPushButton("&Remove condition")
        remove.clicked.connect(self._on_remove_clicked)

        timing_row = QHBoxLayout()
        timing_row.addWidget(self.timing)
        timing_row.addWidget(self.seconds)
        form = QFormLayout()
        form.addRow("&Name", self.name)
        form.addRow("&Events", self.topic)
        form.addRow("&Workflow", self.workflow)
        form.addRow("", self.enabled)
        form.addRow("Timing", timing_row)
        row_buttons = QHBoxLayout()
        row_buttons.addWidget(add)
        row_buttons.addWidget(remove)
        row_buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Run only when every condition holds:"))
        layout.addWidget(self.criteria, 1)
        layout.addLayout(row_buttons)
        layout.addWidget(self.words)
        layout.addWidget(self.problems)
        layout.addWidget(self.buttons)
        self.name.textEdited.connect(self._refresh)
        self.timing.currentIndexChanged.connect(self._on_timing_changed)
        self._on_timing_changed(self.timing.currentIndex())
        self.criteria.itemChanged.connect(self._refresh)
        self._refresh()

    # ------------------------------------------------------------------ rows
    def add_row(self, criterion: Criterion | None) -> int:
        """Add one condition row (empty, or showing ``criterion``); returns its row."""
        row = self.criteria.rowCount()
        self.criteria.insertRow(row)
        path = QLineEdit(criterion.json_path if criterion else "")
        path.setPlaceholderText("routingStatus.status")
        operator = QComboBox()
        for op in OPERATORS:
            operator.addItem(OPERATOR_WORDS[op], op)
        if criterion is not None:
            operator.setCurrentIndex(max(0, operator.findData(criterion.operator)))
        value = QLineEdit(value_text(criterion) if criterion else "")
        value.setPlaceholderText("NOT_RESPONDING")
        for edit in (path, value):
            edit.textEdited.connect(self._refresh)
        operator.currentIndexChanged.connect(self._refresh)
        self.criteria.setCellWidget(row, 0, path)
        self.criteria.setCellWidget(row, 1, operator)
        self.criteria.setCellWidget(row, 2, value)
        self._refresh()
        return row

    def set_row(self, row: int, path: str, operator: str, value: str) -> None:
        """Fill one row (tests and the rule dialog use it)."""
        self._cell(row, 0, QLineEdit).setText(path)
        combo = self._cell(row, 1, QComboBox)
        combo.setCurrentIndex(combo.findData(operator))
        self._cell(row, 2, QLineEdit).setText(value)
        self._refresh()

    def _cell(self, row: int, column: int, kind: type[Any]) -> Any:
        widget = self.criteria.cellWidget(row, column)
        assert isinstance(widget, kind)
        return widget

    def _on_remove_clicked(self) -> None:
        row = self.criteria.currentRow()
        self.criteria.removeRow(row if row >= 0 else self.criteria.rowCount() - 1)
        self._refresh()

    def _on_timing_changed(self, index: int) -> None:
        self.seconds.setEnabled(index != TIMING_NONE)
        if index == TIMING_DELAY:
            self.seconds.setRange(MIN_DELAY_S, MAX_DELAY_S)
        elif index == TIMING_TTL:
            self.seconds.setRange(MIN_TTL_S, 86_400)
        self._refresh()

    # ------------------------------------------------------------------ the result
    def criteria_of(self) -> tuple[Criterion, ...]:
        """The conditions as typed (rows without a field are left out)."""
        out = []
        for row in range(self.criteria.rowCount()):
            path = self._cell(row, 0, QLineEdit).text().strip()
            operator = str(self._cell(row, 1, QComboBox).currentData())
            text = self._cell(row, 2, QLineEdit).text()
            if not path:
                continue
            if operator in LIST_OPERATORS:
                out.append(Criterion(path, operator, values=parse_values(text)))
            elif operator == "Exists":
                out.append(Criterion(path, operator, parse_value(text or "true")))
            else:
                out.append(Criterion(path, operator, parse_value(text)))
        return tuple(out)

    def trigger(self) -> Trigger:
        """The trigger as the dialog shows it (with the id and version it was opened with)."""
        base = self.base
        timing = self.timing.currentIndex()
        seconds = self.seconds.value()
        return Trigger(
            name=self.name.text().strip(),
            topic_name=str(self.topic.currentData() or ""),
            target_id=str(self.workflow.currentData() or ""),
            enabled=self.enabled.isChecked(),
            criteria=self.criteria_of(),
            ttl_s=seconds if timing == TIMING_TTL else None,
            delay_s=seconds if timing == TIMING_DELAY else None,
            description=base.description if base else "",
            id=base.id if base else "",
            version=base.version if base else 0,
            data_format=base.data_format if base else None,
        )

    def _refresh(self, *_: object) -> None:
        trigger = self.trigger()
        self.words.setText("Runs when " + criteria_words(trigger.criteria) + ".")
        hints = [f"“{c.json_path}” is the {field_words(c.json_path)}" for c in trigger.criteria]
        self.words.setToolTip("\n".join(hints))
        found = problems(trigger)
        self.problems.setText("\n".join(found))
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not found)

    def _on_accepted(self) -> None:
        if problems(self.trigger()):
            return
        self.accept()
