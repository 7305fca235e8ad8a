"""The "Me" tab: an agent's own view first: my status and for how long, my queues and who waits.

An agent (no supervisor permissions) opens the window on this tab; a supervisor has it too, after
the boards. It reads only the store (my row is always watched, see core.app.me) and repaints on
the bridge's batches and its one-second clock, like the boards.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.app.me import QUEUE_FIGURES_PERMISSION, MeProfile, my_status
from core.domain.format import clock_text
from core.state.store import Store
from gui.models.presence_style import CHIP_SIZE_PX, colour_chip, presence_colour

logger = logging.getLogger(__name__)

NOT_KNOWN = "—"  # not watched: no figure
NO_FIGURES = "Waiting counts need the permission {permission}: ask your Genesys Cloud admin for it."
HEADERS = ("My queue", "Waiting", "Agents on queue")


class MyView(QWidget):
    """My status with its time, and my queues with their waiting counts."""

    def __init__(self, store: Store, user_id: str, parent: QWidget | None = None) -> None:
        """An empty view of ``user_id``; :meth:`use_profile` names the queues once read."""
        super().__init__(parent)
        self.setObjectName("myView")
        self.store = store
        self.user_id = user_id
        self.profile: MeProfile | None = None
        self.who = QLabel()
        self.who.setObjectName("myName")
        font = self.who.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.who.setFont(font)
        self.status = QLabel("Your status is not known yet.")
        self.status.setObjectName("myStatus")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.chip = QLabel()  # my presence's colour, as the boards show it
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setObjectName("myQueues")
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a read-out, nothing to act on
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.empty = QLabel("You are not a member of any queue.")
        self.empty.hide()
        self.no_figures = QLabel(NO_FIGURES.format(permission=QUEUE_FIGURES_PERMISSION))
        self.no_figures.setWordWrap(True)
        self.no_figures.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.who)
        line = QHBoxLayout()
        line.addWidget(self.chip)
        line.addWidget(self.status, 1)
        layout.addLayout(line)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.no_figures)
        self.refresh()

    def use_profile(self, profile: MeProfile) -> None:
        """Show who I am and my queues (read once at start)."""
        self.profile = profile
        self.refresh()

    def my_queue_ids(self) -> list[str]:
        """My queues: the ones read at start, else the watched queues I am a member of."""
        if self.profile is not None and self.profile.queues:
            return list(self.profile.queues)
        return [q.id for q in self.store.queues.values() if self.user_id in q.member_ids]

    def refresh(self, now: datetime | None = None) -> None:
        """Repaint my status, its time, and my queues' figures."""
        user = self.store.users.get(self.user_id)
        name = (self.profile.name if self.profile is not None else "") or (
            user.name if user is not None else ""
        )
        self.who.setText(name or "Me")
        self.refresh_status(now)
        ids = self.my_queue_ids()
        self.empty.setVisible(self.profile is not None and not ids)
        self.table.setRowCount(len(ids))
        names = self.profile.queues if self.profile is not None else {}
        self.no_figures.setVisible(
            self.profile is not None and bool(ids) and not self.profile.sees_queue_figures
        )
        for row, queue_id in enumerate(ids):
            queue = self.store.queues.get(queue_id)
            label = (queue.name if queue is not None else "") or names.get(queue_id, "")
            waiting = queue.waiting if queue is not None else None
            on_queue = queue.on_queue if queue is not None else None
            for column, text in enumerate((label, _count(waiting), _count(on_queue))):
                item = self.table.item(row, column)
                if item is None:
                    item = QTableWidgetItem()
                    if column:
                        item.setTextAlignment(
                            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                        )
                    self.table.setItem(row, column, item)
                if item.text() != text:
                    item.setText(text)

    def refresh_status(self, now: datetime | None = None) -> None:
        """Repaint my status line (the clock ticks it once a second)."""
        status = my_status(self.store, self.user_id)
        if status is None:
            return
        text = status.words() or "Status not known"
        if status.since is not None:
            elapsed = ((now or datetime.now(UTC)) - status.since).total_seconds()
            text = f"{text} — for {clock_text(elapsed)}"
        if self.status.text() != text:
            self.status.setText(text)
            chip = colour_chip(presence_colour(status.system_presence, self.palette()))
            self.chip.setPixmap(chip.pixmap(CHIP_SIZE_PX, CHIP_SIZE_PX))


def _count(value: int | None) -> str:
    return NOT_KNOWN if value is None else str(value)
