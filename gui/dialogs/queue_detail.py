"""One queue up close: its agents and its calls, live, with a way into Genesys Cloud.

Opened from the Queues board (double-click, Enter, or "Details…" on a row; see
gui.window.drill). A window of its own, not modal: a supervisor keeps it beside the boards.
It reads the store only (agents the queue's membership and activity name, calls from
:func:`core.state.waiting.queue_calls`) and refreshes with the bridge's batches, at most once a
tick, so it costs nothing while the queue is quiet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar

from PySide6.QtCore import QSettings, Qt, QUrl
from PySide6.QtGui import QBrush, QDesktopServices, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.domain.format import clock_text, duration_text, status_text
from core.domain.media_names import media_label
from core.rest.regions import Environment
from core.rest.web_pages import queue_page
from core.state.levels import DEFAULT_LIMITS, Level
from core.state.store import Store, UserState
from core.state.waiting import QueueCall, queue_calls
from gui.bridge import EngineBridge
from gui.models.level_style import level_background, level_foreground
from gui.models.presence_style import (
    ALERT_ROUTING,
    colour_chip,
    presence_colour,
    warning_icon,
)
from gui.thresholds import load_thresholds

logger = logging.getLogger(__name__)

NO_PAGE_TIP = "Only an org in a Genesys Cloud region has a page there (the demo org has none)."
CALL_WORDS = {"waiting": "Waiting", "alerting": "Ringing", "interacting": "Connected"}
WAIT_STATES = frozenset({"waiting", "alerting"})
# Who needs a look first: not responding, then idle (can take a call), then busy, then the rest.
_ROUTING_ORDER = {"NOT_RESPONDING": 0, "IDLE": 1, "INTERACTING": 2, "COMMUNICATING": 3}

UrlOpener = Callable[[QUrl], object]


def _item(text: str, *, right: bool = False, sort: object = None) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if sort is not None:
        item.setData(Qt.ItemDataRole.UserRole, sort)
    return item


def _table(headers: list[str], name: str, stretch: int) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setWordWrap(False)
    table.setAlternatingRowColors(True)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    rows = table.verticalHeader()  # compact rows, as on the boards
    rows.setDefaultSectionSize(table.fontMetrics().height() + 8)
    rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    return table


class QueueDetailWindow(QWidget):
    """A queue's agents and calls (with wait and media), kept current from the bridge."""

    AGENT_HEADERS: ClassVar[list[str]] = ["Agent", "Presence", "Status", "Time in status"]
    CALL_HEADERS: ClassVar[list[str]] = ["Waited", "Media", "State", "Agent", "Call"]

    def __init__(
        self,
        store: Store,
        queue_id: str,
        *,
        bridge: EngineBridge | None = None,
        environment: Environment | None = None,
        settings: QSettings | None = None,
        open_url: UrlOpener = QDesktopServices.openUrl,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setObjectName("QueueDetailWindow")
        self.store, self.queue_id = store, queue_id
        self._clock, self._open_url = clock, open_url
        self._limits = (
            load_thresholds(settings).for_queue(queue_id)
            if settings is not None
            else DEFAULT_LIMITS
        )
        self.url = queue_page(environment, queue_id)
        self._shown_agents: set[str] = set()
        self.resize(820, 620)

        self.title = QLabel()
        self.title.setObjectName("queueDetailTitle")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.title.setFont(font)
        self.summary = QLabel()
        self.summary.setObjectName("queueDetailSummary")
        self.open_button = QPushButton("Open in Genesys Cloud")
        self.open_button.setObjectName("openInGenesys")
        self.open_button.setEnabled(self.url is not None)
        self.open_button.setToolTip(
            "Open this queue's page in the Genesys Cloud web app" if self.url else NO_PAGE_TIP
        )
        self.open_button.clicked.connect(self._on_open_button_clicked)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.open_button)

        self.calls_label = QLabel()
        self.calls = _table(self.CALL_HEADERS, "queueCalls", stretch=3)
        self.agents_label = QLabel()
        self.agents = _table(self.AGENT_HEADERS, "queueAgents", stretch=0)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.calls_label)
        layout.addWidget(self.calls, 2)
        layout.addWidget(self.agents_label)
        layout.addWidget(self.agents, 3)

        if bridge is not None:
            bridge.queues_changed.connect(self._on_bridge_queues_changed)
            bridge.users_changed.connect(self._on_bridge_users_changed)
            bridge.clock_ticked.connect(self.refresh)
        self.refresh()

    # ------------------------------------------------------------------ reading the store
    def agent_ids(self) -> list[str]:
        """The queue's agents the store knows: members, joined, or active on it."""
        queue = self.store.queues.get(self.queue_id)
        ids = set(queue.member_ids | queue.joined_ids) if queue is not None else set()
        ids.update(
            uid for uid in self.store.users if self.queue_id in self.store.active_queues(uid)
        )
        return sorted(ids, key=self._agent_order)

    def _agent_order(self, user_id: str) -> tuple[int, str]:
        state = self.store.users.get(user_id)
        if state is None:
            return (9, user_id)
        on_queue = state.system_presence == "ON_QUEUE"
        rank = _ROUTING_ORDER.get(state.routing_status or "", 4) if on_queue else 5
        if state.routing_status in ALERT_ROUTING:
            rank = 0
        return (rank, (state.name or user_id).casefold())

    def calls_now(self) -> list[QueueCall]:
        """The queue's calls, waiting ones first and longest-waiting first."""
        queue = self.store.queues.get(self.queue_id)
        if queue is None:
            return []
        return queue_calls(queue.conversations, self.store.conversation_details)

    def _name(self, user_id: str | None) -> str:
        if user_id is None:
            return ""
        state = self.store.users.get(user_id)
        return state.name if state is not None and state.name else user_id[:8]

    # ------------------------------------------------------------------ showing it
    def refresh(self) -> None:
        """Show the store's current picture of the queue."""
        now = self._clock()
        queue = self.store.queues.get(self.queue_id)
        name = queue.name if queue is not None and queue.name else self.queue_id[:8]
        self.setWindowTitle(f"{name} — queue details")
        self.title.setText(name)
        calls = self.calls_now()
        self._fill_calls(calls, now)
        agents = self.agent_ids()
        self._fill_agents(agents, now)
        waiting = [c for c in calls if c.state == "waiting"]
        ringing = sum(1 for c in calls if c.state == "alerting")
        connected = sum(1 for c in calls if c.state == "interacting")
        waits = [w for w in (c.wait_s(now) for c in waiting) if w is not None]
        parts = [f"{len(waiting)} waiting"]
        if waits:
            parts.append(f"longest {duration_text(max(waits))}")
        parts += [f"{ringing} ringing", f"{connected} connected", f"{len(agents)} agents"]
        self.summary.setText(" · ".join(parts))
        self.calls_label.setText(
            f"Calls ({len(calls)})" if calls else "Calls: none waiting or connected right now"
        )
        self.agents_label.setText(f"Agents ({len(agents)})")

    def _fill_calls(self, calls: list[QueueCall], now: datetime) -> None:
        table = self.calls
        table.setRowCount(len(calls))
        for row, call in enumerate(calls):
            # A connected call waited once; its time since joining the queue is no wait now.
            wait = call.wait_s(now) if call.state in WAIT_STATES else None
            cells = [
                _item("" if wait is None else clock_text(wait), right=True, sort=wait),
                _item(media_label(call.media_type)),
                _item(CALL_WORDS.get(call.state, status_text(call.state))),
                _item(self._name(call.agent_user_id)),
                _item(call.conversation_id[:8], sort=call.conversation_id),
            ]
            cells[4].setToolTip(f"Conversation {call.conversation_id}")
            if call.since is not None and wait is not None:
                cells[0].setToolTip(f"Waiting since {call.since.astimezone():%H:%M:%S}")
            if call.state == "waiting":
                self._style_wait(cells[0], self._limits.longest_wait_s.level(wait))
            for column, item in enumerate(cells):
                table.setItem(row, column, item)

    def _style_wait(self, item: QTableWidgetItem, level: Level | None) -> None:
        background, foreground = level_background(level), level_foreground(level)
        if background is not None:
            item.setBackground(QBrush(background))
        if foreground is not None:
            item.setForeground(QBrush(foreground))
        if level is not None and level > Level.OK:
            font = QFont(item.font())
            font.setBold(True)
            item.setFont(font)
            item.setToolTip(f"{item.toolTip()} ({level.word})".strip())

    def _fill_agents(self, agents: list[str], now: datetime) -> None:
        table = self.agents
        self._shown_agents = set(agents)
        table.setRowCount(len(agents))
        for row, user_id in enumerate(agents):
            state = self.store.users.get(user_id)
            seconds = _seconds_in_state(state, now)
            routing = state.routing_status if state is not None else None
            cells = [
                _item(self._name(user_id), sort=user_id),
                _item(self.store.presence_label(user_id)),
                _item(status_text(routing)),
                _item("" if seconds is None else clock_text(seconds), right=True),
            ]
            if state is not None and state.system_presence:
                cells[1].setIcon(colour_chip(presence_colour(state.system_presence)))
            if routing in ALERT_ROUTING:
                cells[2].setIcon(warning_icon())
                font = QFont(cells[2].font())
                font.setBold(True)
                cells[2].setFont(font)
            for column, item in enumerate(cells):
                table.setItem(row, column, item)

    # ------------------------------------------------------------------ slots
    def _on_bridge_queues_changed(self, ids: list[str]) -> None:
        if self.queue_id in ids:
            self.refresh()

    def _on_bridge_users_changed(self, ids: list[str]) -> None:
        if self._shown_agents.intersection(ids):
            self.refresh()

    def _on_open_button_clicked(self) -> None:
        if self.url is not None:
            self._open_url(QUrl(self.url))


def _seconds_in_state(state: UserState | None, now: datetime) -> float | None:
    """Since the later of the presence and routing changes (as the Agents board counts it)."""
    if state is None:
        return None
    times = [t for t in (state.presence_since, state.routing_since) if t is not None]
    return max(0.0, (now - max(times)).total_seconds()) if times else None
