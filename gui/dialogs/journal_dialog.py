"""The journal window: search every event ever recorded, page back in time, export a range.

The feed in the main window holds the recent past in memory; this dialog reads the SQLite
journal (core.storage.journal.journal) for everything older. Reads and exports run off the loop
thread inside the journal; the dialog only awaits them, shows progress and says clearly when
something fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, QDateTime, Qt, QTime, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressDialog,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core.feed.entry import KINDS
from core.storage.journal.errors import JournalError
from core.storage.journal.export import ExportFormat
from core.storage.journal.journal import Journal
from gui.models.feed import KIND_LABELS, FeedModel

logger = logging.getLogger(__name__)

PAGE = 200
TIME_PADDING_PX = 24  # the cell's margins either side of the text, and a spare


def _to_utc(value: QDateTime) -> datetime:
    return datetime.fromtimestamp(value.toSecsSinceEpoch(), tz=UTC)


class JournalDialog(QDialog):
    """Search and export the journal.

    Signals:
        export_finished(str, int): the file written and how many entries it holds.
        export_failed(str): a message for the person.
    """

    export_finished = Signal(str, int)
    export_failed = Signal(str)

    def __init__(self, journal: Journal, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.journal = journal
        self.setWindowTitle("Journal — older events")
        self.setObjectName("JournalDialog")
        self.resize(960, 560)
        self.model = FeedModel(self, capacity=100_000, show_date=True)
        self._task: asyncio.Future[object] | None = None

        self.search = QLineEdit(placeholderText="Search every recorded event…")
        self.search.setObjectName("journalSearch")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self._on_search_return_pressed)
        self.kind = QComboBox()
        self.kind.addItem("All kinds", None)
        for kind in KINDS:
            self.kind.addItem(KIND_LABELS.get(kind, kind.title()), kind)
        self.find_button = QPushButton("&Search")
        self.find_button.clicked.connect(self._on_search_return_pressed)
        # Not "Older…": the main window's button that opens this dialog was called that too.
        self.older_button = QPushButton(f"Show {PAGE} &older entries")
        self.older_button.setObjectName("olderButton")
        self.older_button.setToolTip("Add the next older entries below the ones shown")
        self.older_button.clicked.connect(self._on_older_clicked)
        self.status = QLabel("")
        self.status.setObjectName("journalStatus")
        top = QHBoxLayout()
        top.addWidget(self.search, 3)
        top.addWidget(self.kind, 1)
        top.addWidget(self.find_button)

        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.verticalHeader().setVisible(False)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.setWordWrap(False)
        self._fit_time_column()

        now = QDateTime.currentDateTime()
        self.start = QDateTimeEdit(QDateTime(QDate.currentDate().addDays(-1), QTime(0, 0)))
        self.end = QDateTimeEdit(now.addSecs(60))
        for edit in (self.start, self.end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.format = QComboBox()
        self.format.addItem("CSV", "csv")
        self.format.addItem("JSON lines", "jsonl")
        self.export_button = QPushButton("&Export…")
        self.export_button.setObjectName("exportButton")
        self.export_button.clicked.connect(self._on_export_clicked)
        bottom = QHBoxLayout()
        bottom.addWidget(self.older_button)
        bottom.addWidget(self.status, 1)
        bottom.addWidget(QLabel("From"))
        bottom.addWidget(self.start)
        bottom.addWidget(QLabel("to"))
        bottom.addWidget(self.end)
        bottom.addWidget(self.format)
        bottom.addWidget(self.export_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view)
        layout.addLayout(bottom)

    def _fit_time_column(self) -> None:
        """The Time column shows "2026-12-04 14:03:07" whole (it was cut to "2026-12-04 …")."""
        sample = datetime(2026, 12, 28, 23, 58, 58).strftime("%Y-%m-%d %H:%M:%S")
        width = QFontMetrics(self.view.font()).horizontalAdvance(sample) + TIME_PADDING_PX
        self.view.horizontalHeader().resizeSection(FeedModel.TIME, width)

    # ------------------------------------------------------------------ searching
    def _kinds(self) -> tuple[str, ...]:
        kind = self.kind.currentData()
        return () if kind is None else (kind,)

    def _run(self, coro: Coroutine[Any, Any, object]) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = asyncio.ensure_future(coro)

    def search_now(self) -> None:
        """Run the search in the box (replacing the results)."""
        self._run(self.load(reset=True))

    def _on_search_return_pressed(self) -> None:
        self.search_now()

    def _on_older_clicked(self) -> None:
        self._run(self.load(reset=False))

    async def load(self, *, reset: bool) -> None:
        """Search (``reset``) or fetch the next page of older entries."""
        before = None
        if not reset and self.model.rowCount():
            before = self.model.entry(self.model.rowCount() - 1).at
        self.status.setText("Searching…")
        try:
            entries = await self.journal.search(
                self.search.text(), kinds=self._kinds(), before=before, limit=PAGE
            )
        except JournalError as exc:
            self.status.setText(f"The journal could not be searched: {exc}")
            return
        if reset:
            self.model.clear()
        self.model.append_older(entries)
        total = self.model.rowCount()
        more = "" if len(entries) == PAGE else " (no older entries)"
        self.status.setText(f"{total} entries shown{more}")

    # ------------------------------------------------------------------ exporting
    def _on_export_clicked(self) -> None:
        fmt = str(self.format.currentData())
        default = Path.home() / f"genesys-journal.{fmt}"
        name, _ = QFileDialog.getSaveFileName(
            self, "Export the journal", str(default), f"{fmt.upper()} (*.{fmt})"
        )
        if name:
            start, end = _to_utc(self.start.dateTime()), _to_utc(self.end.dateTime())
            self._run(self.export(Path(name), start, end, "jsonl" if fmt == "jsonl" else "csv"))

    async def export(self, path: Path, start: datetime, end: datetime, fmt: ExportFormat) -> int:
        """Export ``[start, end)`` to ``path`` with a cancellable progress dialog."""
        progress = QProgressDialog("Exporting the journal…", "Cancel", 0, 100, self)
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(300)
        progress.setValue(0)

        def on_progress(done: int, total: int) -> None:
            progress.setMaximum(max(1, total))
            progress.setValue(done)

        job = asyncio.ensure_future(
            self.journal.export(path, start, end, fmt, progress=on_progress)
        )
        progress.canceled.connect(job.cancel)
        try:
            count = await job
        except asyncio.CancelledError:
            self.status.setText("Export cancelled; nothing was written.")
            return 0
        except (JournalError, OSError) as exc:
            message = f"The export failed: {exc}"
            self.status.setText(message)
            self.export_failed.emit(message)
            return 0
        finally:
            progress.canceled.disconnect(job.cancel)  # closing emits canceled, too
            progress.close()
        self.status.setText(f"Exported {count} entries to {path}")
        self.export_finished.emit(str(path), count)
        return count
