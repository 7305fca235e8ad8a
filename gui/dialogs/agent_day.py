"""One agent's day from the journal: a status timeline and the time in each status.

Opened from the Agents board (double-click, Enter, or "Details…"; see gui.window.drill). The
journal is read off the loop thread (:func:`core.storage.journal.day.load_day` awaits the
journal's worker-thread reads, as the journal window does); this window only paints the result.
Today's view follows the agent: it reads again a moment after the agent's status changes (once
the journal has written it) and every half minute, so the last stretch keeps growing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

import shiboken6
from PySide6.QtCore import QDate, QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.domain.format import clock_text, duration_text
from core.rest.regions import Environment
from core.rest.web_pages import person_page
from core.state.store import Store
from core.storage.journal.day import AgentDay, load_day
from core.storage.journal.errors import JournalError
from core.storage.journal.journal import Journal
from gui.bridge import EngineBridge
from gui.dialogs.day_bar import DayBar, status_colour
from gui.dialogs.queue_detail import NO_PAGE_TIP, UrlOpener
from gui.models.presence_style import colour_chip

logger = logging.getLogger(__name__)

REFRESH_S = 30.0
AFTER_CHANGE_MS = 1500
MIN_ROW_S = 1.0  # the journal commits within half a second; read after it did


def day_bounds(day: date, now: datetime) -> tuple[datetime, datetime]:
    """Local midnight to the next (or to now, for today), in UTC."""
    start = datetime(day.year, day.month, day.day).astimezone()
    end = min(start + timedelta(days=1), now.astimezone())
    return start.astimezone(UTC), max(start, end).astimezone(UTC)


class AgentDayWindow(QWidget):
    """An agent's statuses over one day, painted, with the time in each.

    Signals:
        loaded(): a read of the journal finished (shown, or its failure said).
    """

    loaded = Signal()
    TOTAL_HEADERS: ClassVar[list[str]] = ["Status", "Time", "Share"]

    def __init__(
        self,
        store: Store,
        user_id: str,
        journal: Journal | None,
        *,
        bridge: EngineBridge | None = None,
        environment: Environment | None = None,
        settings: QSettings | None = None,
        open_url: UrlOpener = QDesktopServices.openUrl,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        del settings  # the same signature as the queue's window; nothing kept yet
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setObjectName("AgentDayWindow")
        self.store, self.user_id, self.journal = store, user_id, journal
        self._clock, self._open_url = clock, open_url
        self.url = person_page(environment, user_id)
        self.day: AgentDay | None = None
        self._task: asyncio.Future[AgentDay | None] | None = None
        self._loaded_at = 0.0
        self.resize(820, 520)

        self.title = QLabel()
        self.title.setObjectName("agentDayTitle")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.title.setFont(font)
        self.date = QDateEdit(QDate.currentDate())
        self.date.setObjectName("agentDayDate")
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("ddd d MMM yyyy")
        self.date.setMaximumDate(QDate.currentDate())
        self.date.dateChanged.connect(self._on_date_changed)
        self.open_button = QPushButton("Open in Genesys Cloud")
        self.open_button.setObjectName("openInGenesys")
        self.open_button.setEnabled(self.url is not None)
        self.open_button.setToolTip(
            "Open this person's profile in the Genesys Cloud web app" if self.url else NO_PAGE_TIP
        )
        self.open_button.clicked.connect(self._on_open_button_clicked)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(QLabel("Day"))
        top.addWidget(self.date)
        top.addWidget(self.open_button)

        self.now_label = QLabel()
        self.now_label.setObjectName("agentDayNow")
        self.bar = DayBar()
        self.note = QLabel()
        self.note.setObjectName("agentDayNote")
        self.note.setWordWrap(True)
        self.totals = QTableWidget(0, len(self.TOTAL_HEADERS))
        self.totals.setObjectName("agentDayTotals")
        self.totals.setHorizontalHeaderLabels(self.TOTAL_HEADERS)
        self.totals.verticalHeader().setVisible(False)
        self.totals.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.totals.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        rows = self.totals.verticalHeader()  # compact rows, as on the boards
        rows.setDefaultSectionSize(self.totals.fontMetrics().height() + 8)
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.totals.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.now_label)
        layout.addWidget(self.bar)
        layout.addWidget(self.note)
        layout.addWidget(self.totals, 1)

        self._after_change = QTimer(self)
        self._after_change.setSingleShot(True)
        self._after_change.setInterval(AFTER_CHANGE_MS)
        self._after_change.timeout.connect(self.reload)
        if bridge is not None:
            bridge.users_changed.connect(self._on_bridge_users_changed)
            bridge.clock_ticked.connect(self._on_bridge_clock_ticked)
        self.totals.setFocus()  # not the date field: its day part would show selected
        self._show_now()
        if journal is None:
            self.note.setText("The journal is off, so there is no history of this agent's day.")
        else:
            self.reload()

    # ------------------------------------------------------------------ reading
    def selected_day(self) -> date:
        """The day shown (a local calendar day)."""
        picked = self.date.date()
        return date(picked.year(), picked.month(), picked.day())

    def is_today(self) -> bool:
        """Whether the day shown is today (then it follows the agent live)."""
        return self.selected_day() == self._clock().astimezone().date()

    def reload(self) -> None:
        """Read the day again (a read still running is replaced)."""
        if self.journal is None:
            return
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = asyncio.ensure_future(self.load())

    async def load(self) -> AgentDay | None:
        """Read the selected day from the journal and show it; None when it could not be read."""
        if self.journal is None or not shiboken6.isValid(self):
            return None
        start, end = day_bounds(self.selected_day(), self._clock())
        self._loaded_at = time.monotonic()
        try:
            day = await load_day(self.journal, self.user_id, start, end)
        except JournalError as exc:
            if shiboken6.isValid(self):
                self.note.setText(f"The journal could not be read: {exc}")
                self.loaded.emit()
            return None
        if not shiboken6.isValid(self):  # the window went while the journal was read (at quit)
            return day
        self.show_day(day)
        self.loaded.emit()
        return day

    # ------------------------------------------------------------------ showing
    def show_day(self, day: AgentDay) -> None:
        """Paint the timeline and list the time in each status."""
        self.day = day
        labels = self.store.presence_labels
        self.bar.set_day(day, labels)
        # A status held for less than a second (On Queue before its routing status arrives)
        # is a step between two, not a line of the table; the bar still has it.
        totals = [(status, seconds) for status, seconds in day.totals() if seconds >= MIN_ROW_S]
        watched = day.watched_s
        self.totals.setRowCount(len(totals))
        for row, (status, seconds) in enumerate(totals):
            name = QTableWidgetItem(status.label(labels))
            name.setIcon(colour_chip(status_colour(status, self.palette())))
            spent = QTableWidgetItem(duration_text(seconds))
            spent.setData(Qt.ItemDataRole.UserRole, seconds)
            share = QTableWidgetItem(f"{100 * seconds / watched:.0f} %" if watched else "")
            for item in (spent, share):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for column, item in enumerate((name, spent, share)):
                self.totals.setItem(row, column, item)
        if not totals:
            self.note.setText("The journal holds no status of this agent on this day.")
        else:
            known = [s for s in day.segments if s.status.known]
            first = known[0].start.astimezone()
            words = f"Watched for {duration_text(watched)} from {first:%H:%M}"
            gaps = sum(s.seconds for s in day.segments if not s.status.known and s.start > first)
            if gaps >= 60:
                words += f", with {duration_text(gaps)} not watched (hatched)"
            self.note.setText(words + ". Hover the bar for each stretch.")
        self._show_now()

    def _show_now(self) -> None:
        state = self.store.users.get(self.user_id)
        name = state.name if state is not None and state.name else self.user_id[:8]
        self.setWindowTitle(f"{name} — day")
        self.title.setText(name)
        if state is None or not self.is_today():
            self.now_label.setText("")
            return
        label = self.store.presence_label(self.user_id)
        if state.system_presence == "ON_QUEUE" and state.routing_status:
            label = f"{label} · {state.routing_status.replace('_', ' ').title()}"
        times = [t for t in (state.presence_since, state.routing_since) if t is not None]
        since = f" for {clock_text((self._clock() - max(times)).total_seconds())}" if times else ""
        self.now_label.setText(f"Now: {label}{since}" if label else "")

    # ------------------------------------------------------------------ slots
    def _on_date_changed(self, _date: QDate) -> None:
        self._show_now()
        self.reload()

    def _on_bridge_users_changed(self, ids: list[str]) -> None:
        if self.user_id in ids and self.is_today():
            self._show_now()
            self._after_change.start()

    def _on_bridge_clock_ticked(self) -> None:
        if not self.is_today():
            return
        self._show_now()
        if time.monotonic() - self._loaded_at >= REFRESH_S:
            self.reload()

    def _on_open_button_clicked(self) -> None:
        if self.url is not None:
            self._open_url(QUrl(self.url))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """A read still running is cancelled: nothing paints a closed window."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._after_change.stop()
        super().closeEvent(event)
