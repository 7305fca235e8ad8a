"""The Queues board: the queues table with its count and trend cells.

Kept apart from the main window so the board can grow (drill-down, charts) without the window
growing with it.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QTableView, QVBoxLayout, QWidget

from gui.models.queues import QueuesModel
from gui.window.delegates import CountSplitDelegate, SparklineDelegate
from gui.window.tables import board_table

logger = logging.getLogger(__name__)


class QueuesBoard(QWidget):
    """The Queues tab's page: one table over :class:`QueuesModel`."""

    def __init__(self, model: QueuesModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.view: QTableView = board_table(model, "queuesView")
        self.view.setItemDelegateForColumn(model.TREND, SparklineDelegate(self.view))
        counts = CountSplitDelegate(self.view)
        for column in (model.WAITING, model.INTERACTING):
            self.view.setItemDelegateForColumn(column, counts)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view)

    def widen_count_columns(self) -> None:
        """Grow Waiting and Interacting (never shrink them) so a split by media is not cut off.

        Measuring asks every row for its size, so it waits until the board is in view.
        """
        if not self.view.isVisible():
            return
        header = self.view.horizontalHeader()
        for column in (self.model.WAITING, self.model.INTERACTING):
            wanted = self.view.sizeHintForColumn(column)
            if wanted > header.sectionSize(column):
                header.resizeSection(column, wanted)
