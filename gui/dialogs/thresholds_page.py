"""The Settings dialog's queue limits: when a queue turns amber (warning) or red (critical).

One set of limits for all queues, and a queue may have its own. The limits are kept in
QSettings (gui.thresholds) when the dialog is saved; a set that cannot work (a critical level on
the wrong side of the warning level) is refused with a sentence saying which and why, and
nothing is saved. "Off" (0) turns one level of one figure off.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.state.levels import Limits, QueueLimits, Thresholds
from gui.thresholds import load_thresholds, save_thresholds

logger = logging.getLogger(__name__)

ALL_QUEUES = ""  # the scope key of the limits every queue without its own uses
OFF = "Off"
# (row label, unit suffix, highest value) of the three figures, in QueueLimits' order.
ROWS: tuple[tuple[str, str, int], ...] = (
    ("Calls waiting, at", "", 999),
    ("Longest wait, at", " s", 86_400),
    ("Service level, below", " %", 100),
)


class ThresholdsPage(QGroupBox):
    """Queue limits for all queues and per queue, edited in place and saved with the dialog."""

    def __init__(
        self,
        settings: QSettings,
        queues: Sequence[tuple[str, str]] = (),
        parent: QWidget | None = None,
    ) -> None:
        """Show the limits kept in ``settings``; ``queues`` are (id, name) pairs to choose from."""
        super().__init__("Queue limits", parent)
        self.setObjectName("thresholdsPage")
        self._settings = settings
        loaded = self._loaded = load_thresholds(settings)
        self._default = loaded.default
        self._own: dict[str, QueueLimits] = dict(loaded.per_queue)
        self._names = {queue_id: name or queue_id[:8] for queue_id, name in queues}
        for queue_id in self._own:
            self._names.setdefault(queue_id, queue_id[:8])
        self._scope = ALL_QUEUES

        layout = QVBoxLayout(self)
        self.scope = QComboBox()
        self.scope.setObjectName("thresholdsScope")
        self.scope.setAccessibleName("Limits for")
        self.scope.addItem("All queues", ALL_QUEUES)
        for queue_id, name in sorted(self._names.items(), key=lambda item: item[1].casefold()):
            self.scope.addItem(name, queue_id)
        layout.addWidget(self.scope)
        self.own_box = QCheckBox("This queue has its own limits")
        self.own_box.setObjectName("thresholdsOwn")
        layout.addWidget(self.own_box)
        grid = QGridLayout()
        grid.addWidget(QLabel("Warning"), 0, 1)
        grid.addWidget(QLabel("Critical"), 0, 2)
        self.spins: list[tuple[QSpinBox, QSpinBox]] = []
        for row, (label, suffix, top) in enumerate(ROWS, start=1):
            grid.addWidget(QLabel(label), row, 0)
            pair = []
            for column, level in ((1, "warning"), (2, "critical")):
                spin = QSpinBox()
                spin.setRange(0, top)
                spin.setSuffix(suffix)
                spin.setSpecialValueText(OFF)
                spin.setAccessibleName(f"{label} ({level})")
                grid.addWidget(spin, row, column)
                pair.append(spin)
            self.spins.append((pair[0], pair[1]))
        layout.addLayout(grid)
        self.problem_label = QLabel("")
        self.problem_label.setObjectName("thresholdsProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #c5221f;")
        self.problem_label.hide()
        layout.addWidget(self.problem_label)
        self._show_scope(ALL_QUEUES)
        self.scope.currentIndexChanged.connect(self._on_scope_index_changed)
        self.own_box.toggled.connect(self._on_own_box_toggled)

    # ------------------------------------------------------------------ the edit
    def edited(self) -> Thresholds:
        """The limits as the page shows them (not checked: see :meth:`problem`)."""
        self._keep_fields()
        return Thresholds(self._default, dict(self._own))

    def problem(self) -> str | None:
        """Why the edited limits cannot be saved, naming the queue; None when they can."""
        edited = self.edited()
        problem = edited.default.problem()
        if problem is not None:
            return f"Queue limits for all queues: {problem}"
        for queue_id, limits in edited.per_queue.items():
            problem = limits.problem()
            if problem is not None:
                return f"Queue limits for {self._names.get(queue_id, queue_id)}: {problem}"
        return None

    def save(self) -> str | None:
        """Keep the edited limits in QSettings; the problem (and nothing saved) when they fail."""
        problem = self.problem()
        edited = self.edited()
        if problem is None and edited != self._loaded:  # unchanged: nothing is written
            save_thresholds(self._settings, edited)
            self._loaded = edited
        self.show_problem(problem)
        return problem

    def show_problem(self, problem: str | None) -> None:
        """Show (or clear) the sentence under the limits."""
        self.problem_label.setText(problem or "")
        self.problem_label.setVisible(problem is not None)

    # ------------------------------------------------------------------ fields
    def _fields(self) -> QueueLimits:
        values = [(_value(w), _value(c)) for w, c in self.spins]
        return QueueLimits(
            waiting=Limits(*values[0]),
            longest_wait_s=Limits(*values[1]),
            service_level_pct=Limits(*values[2], below=True),
        )

    def _keep_fields(self) -> None:
        """Put the fields into the scope they show (a queue without its own keeps nothing)."""
        if self._scope == ALL_QUEUES:
            self._default = self._fields()
        elif self.own_box.isChecked():
            self._own[self._scope] = self._fields()
        else:
            self._own.pop(self._scope, None)

    def _show_scope(self, scope: str) -> None:
        self._scope = scope
        own = scope in self._own
        limits = self._own.get(scope, self._default)
        self.own_box.blockSignals(True)
        self.own_box.setChecked(own)
        self.own_box.blockSignals(False)
        self.own_box.setVisible(scope != ALL_QUEUES)
        pairs = (limits.waiting, limits.longest_wait_s, limits.service_level_pct)
        for (warning, critical), pair in zip(self.spins, pairs, strict=True):
            warning.setValue(round(pair.warning or 0))
            critical.setValue(round(pair.critical or 0))
        self._enable_fields()

    def _enable_fields(self) -> None:
        editable = self._scope == ALL_QUEUES or self.own_box.isChecked()
        for warning, critical in self.spins:
            warning.setEnabled(editable)
            critical.setEnabled(editable)

    # ------------------------------------------------------------------ slots
    def _on_scope_index_changed(self, _index: int) -> None:
        self._keep_fields()
        self._show_scope(str(self.scope.currentData()))
        self.show_problem(None)

    def _on_own_box_toggled(self, _checked: bool) -> None:
        self._enable_fields()


def _value(spin: QSpinBox) -> float | None:
    """A spin box's limit: None for "Off" (0)."""
    return None if spin.value() == 0 else float(spin.value())
