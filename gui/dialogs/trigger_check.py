""" "Would it fire?": one trigger against the journal's recent events, and the org's own test.

The journal keeps presence and routing moves, not event bodies; each is rebuilt as the body of
the trigger's topic (:mod:`core.triggers.journal_events`) and run through the local evaluator.
That evaluator approximates Genesys Cloud's (the operators are not documented exactly), so the
chosen body can also be sent to the org's ``/test``, which answers for real.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import ApiError, GenesysTrayError
from core.feed.entry import FeedEntry
from core.triggers.client import TriggerRefusedError, check_words, plain_message
from core.triggers.journal_events import Hit, journal_kinds, would_fire
from core.triggers.model import Trigger
from core.triggers.words import criteria_words, criterion_words

logger = logging.getLogger(__name__)

RECENT: Final = 500  # journal entries looked at
JournalSearch = Callable[[tuple[str, ...]], Awaitable[list[FeedEntry]]]
Run = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


class TriggerCheck(QDialog):
    """The journal's hits for one trigger, and a body to test with Genesys Cloud.

    Signals:
        hits_shown(int, int): events looked at, events that would have fired.
        tested(str): the org's answer, in words.
    """

    hits_shown = Signal(int, int)
    tested = Signal(str)

    def __init__(
        self,
        trigger: Trigger,
        *,
        test: Callable[[Any], Awaitable[dict[str, Any]]],
        journal_search: JournalSearch | None,
        run: Run,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("TriggerCheck")
        self.setWindowTitle(f"Would it fire? — {trigger.name}")
        self.resize(820, 560)
        self.trigger = trigger
        self._test = test
        self.journal_search = journal_search
        self._run = run
        self.hits: list[Hit] = []
        heading = QLabel(f"Runs when {criteria_words(trigger.criteria)}.")
        heading.setWordWrap(True)
        self.summary = QLabel("Reading the journal…")
        self.summary.setObjectName("checkSummary")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("checkHits")
        self.table.setHorizontalHeaderLabels(["When", "Who", "What happened", "Would fire"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._on_hit_selected)
        self.body = QPlainTextEdit()
        self.body.setObjectName("checkBody")
        self.body.setPlaceholderText('{"id": "…", "routingStatus": {"status": "NOT_RESPONDING"}}')
        self.test_button = QPushButton("Ask &Genesys Cloud")
        self.test_button.setObjectName("checkTestButton")
        self.test_button.clicked.connect(self._on_test_clicked)
        self.answer = QPlainTextEdit()
        self.answer.setObjectName("checkAnswer")
        self.answer.setReadOnly(True)
        self.answer.setPlaceholderText("Genesys Cloud's answer shows here.")
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 2)
        layout.addWidget(QLabel("Event to test (pick one above, or write one):"))
        layout.addWidget(self.body, 1)
        layout.addLayout(row)
        layout.addWidget(self.answer, 1)

    def start(self) -> None:
        """Read the journal in the background."""
        self._run(self.load())

    async def load(self) -> list[Hit]:
        """Evaluate the journal's recent events of the trigger's topic."""
        kinds = journal_kinds(self.trigger.topic_name)
        if self.journal_search is None or not kinds:
            self.summary.setText(
                "The journal keeps no events of this kind; write an event below and ask "
                "Genesys Cloud."
            )
            self.hits_shown.emit(0, 0)
            return []
        entries = await self.journal_search(kinds)
        self.show_hits(would_fire(self.trigger.topic_name, self.trigger.criteria, entries))
        return self.hits

    def show_hits(self, hits: list[Hit]) -> None:
        """Fill the table, those that would have fired first."""
        self.hits = sorted(hits, key=lambda h: not h.fired)
        fired = sum(1 for h in hits if h.fired)
        self.table.setRowCount(len(self.hits))
        for row, hit in enumerate(self.hits):
            why = "; ".join(
                f"{criterion_words(r.criterion)}: {'yes' if r.matched else 'no'}"
                for r in hit.results
            )
            cells = (
                hit.entry.at.astimezone().strftime("%H:%M:%S"),
                hit.entry.subject,
                hit.entry.summary,
                "Yes" if hit.fired else "No",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(why)
                self.table.setItem(row, column, item)
        self.summary.setText(
            f"Of the journal's last {len(hits)} events of this kind, {fired} would have run "
            "the workflow (checked here; the comparisons are close to Genesys Cloud's, and "
            "“Ask Genesys Cloud” checks one for sure)."
        )
        if self.hits:
            self.table.selectRow(0)
        self.hits_shown.emit(len(hits), fired)

    def _on_hit_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows and rows[0].row() < len(self.hits):
            self.body.setPlainText(json.dumps(self.hits[rows[0].row()].body, indent=2))

    def _on_test_clicked(self) -> None:
        self._run(self.ask())

    async def ask(self) -> str:
        """Send the body to the org's test of this trigger; show its answer."""
        try:
            body = json.loads(self.body.toPlainText() or "{}")
        except ValueError as exc:
            return self._show_answer(f"The event is not JSON: {exc}.")
        self.test_button.setEnabled(False)
        try:
            result = await self._test(body)
        except TriggerRefusedError as exc:
            return self._show_answer(exc.words)
        except GenesysTrayError as exc:
            message = plain_message(exc) if isinstance(exc, ApiError) else str(exc)
            return self._show_answer(f"Genesys Cloud could not test it: {message}")
        finally:
            self.test_button.setEnabled(True)
        return self._show_answer("\n".join(check_words(result)))

    def _show_answer(self, text: str) -> str:
        self.answer.setPlainText(text)
        self.tested.emit(text)
        return text
