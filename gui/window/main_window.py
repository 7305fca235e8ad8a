"""The monitor window: Agents, Queues and Feed boards over the engine's store, and a status bar.

The window only reads the store and listens to the bridge; anything that needs the network is
asked of the engine through signals the app wires up (design.md: widgets never call the network).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import (
    QByteArray,
    QEvent,
    QSettings,
    Signal,
)
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.engine.records import BudgetRecord, EngineState, WatchRecord
from core.eventbridge.events import SourceStatus
from core.eventbridge.words import websocket_text
from core.feed.entry import FeedEntry
from core.state.store import Store
from core.storage.journal.journal import Journal
from core.storage.journal.picture import load_picture
from gui.bridge import EngineBridge, LinkHealth
from gui.dialogs.journal_dialog import JournalDialog
from gui.models.agent_groups import unwatched_rechecks
from gui.models.agents import AgentsFilterProxy, AgentsModel
from gui.models.feed import FEED_CAPACITY, FeedFilterProxy, FeedModel
from gui.models.queues import QueuesModel
from gui.plain_text import plain_tooltip
from gui.thresholds import glance
from gui.window.agents_board import AgentsBoard
from gui.window.columns import install_column_chooser
from gui.window.drill import install_drill
from gui.window.feed_board import FeedBoard
from gui.window.glance_filter import GlanceFilter
from gui.window.header_strip import HeaderStrip
from gui.window.layouts import Layouts
from gui.window.queues_board import QueuesBoard
from gui.window.sign_in_banner import SignInBanner
from gui.window.sources import EventBridgeLabel
from gui.window.stale_picture import StalePictureBanner
from gui.window.status_line import WatchLabel

logger = logging.getLogger(__name__)

STATE_TEXT = {
    "starting": "Connecting…",
    "offline": "Offline: retrying",
    "live": "Live",
    "stale": "Stale: no heartbeat",
    "reconnecting": "Reconnecting…",
    "resyncing": "Re-syncing…",
    "sign_in_needed": "Sign-in needed",
    "stopped": "Stopped",
}
HISTORY_SAMPLE_MS = 10_000
COLUMN_ROOM_PX = 40  # at least this much room beyond the widest text of a fitted column
QUEUES_MIN_PX = 160  # the Active queues column is capped at a third of the board, not below this


class MainWindow(QMainWindow):
    """Agents, queues and the feed.

    Signals:
        quit_requested(): the person asked to quit (or closed the window without a tray).
        filters_requested(): "Filters & alerts…" from the window's menu.
        pause_toggled(bool): the feed's pause button changed.
        reconnect_requested(): "Reconnect now" from the window's menu.
        settings_requested(): "Settings…" from the window's menu.
        watch_requested(): "What to watch…" from the window's menu.
    """

    quit_requested = Signal()
    pause_toggled = Signal(bool)
    reconnect_requested = Signal()
    filters_requested = Signal()
    settings_requested = Signal()
    watch_requested = Signal()

    def __init__(
        self,
        store: Store,
        bridge: EngineBridge,
        *,
        tray_present: bool,
        settings: QSettings | None = None,
        journal: Journal | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.bridge = bridge
        self.tray_present = tray_present
        self.journal = journal
        self.journal_dialog: JournalDialog | None = None
        self.settings = settings or QSettings()
        self._last_update: datetime | None = None
        # While the window is hidden in the tray (or minimised) the boards rest: what changed is
        # only noted, and brought in at once when the window comes back (see _wake_boards). The
        # store is always current, so nothing is lost; the tray and the alerts never rest.
        self._dirty_users: set[str] = set()
        self._dirty_queues: set[str] = set()
        self._feed_backlog: deque[FeedEntry] = deque(maxlen=FEED_CAPACITY)
        # Until the engine is first live the boards may show the journal's last known picture.
        self._watch = WatchRecord({}, {})  # the engine's selection, applied once live
        self._state = EngineState.STARTING
        self._eventbridge: SourceStatus | None = None  # None: no EventBridge queue set up
        self._went_live = False
        self._picture_task: asyncio.Task[None] | None = None
        self.setWindowTitle("Genesys Tray")
        self.setObjectName("MainWindow")
        self.resize(1100, 680)

        self.agents = AgentsModel(store, self)
        self.agents_proxy = AgentsFilterProxy(self)
        self.agents_proxy.setSourceModel(self.agents)
        self.queues = QueuesModel(store, self)
        self.feed = FeedModel(parent=self)
        self.feed_proxy = FeedFilterProxy(self)
        self.feed_proxy.setSourceModel(self.feed)

        self._idle_queues: dict[str, bool] = {}  # see gui.models.agent_groups.unwatched_rechecks
        self.tabs = QTabWidget()
        self.agents_board = AgentsBoard(self.agents, self.agents_proxy, self.settings)
        self.agents_view = self.agents_board.view
        self.agent_search = self.agents_board.search
        self.queue_filter = self.agents_board.queue_filter
        self.tabs.addTab(self.agents_board, "&Agents")
        self.queues_board = QueuesBoard(
            self.queues, store=store, journal=journal, settings=self.settings
        )
        self.queues_view = self.queues_board.view
        self.tabs.addTab(self.queues_board, "&Queues")
        install_column_chooser(self.queues_view)
        self.feed_board = FeedBoard(
            self.feed, self.feed_proxy, self.settings, journal_available=journal is not None
        )
        self._feed_parts()
        self.tabs.addTab(self.feed_board, "&Feed")
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        self.sign_in_banner = SignInBanner(dims=self.tabs)  # while the boards wait for a sign-in
        self.picture_banner = StalePictureBanner()  # while they show the last known picture
        # The contact centre in eight figures above every tab; a click narrows a board to one.
        self.header_strip = HeaderStrip(store, self.settings, bridge)
        self.glance_filter = GlanceFilter(
            store, self.settings, self.tabs, boards=(self.agents_board, self.queues_board)
        )
        self.header_strip.filter_requested.connect(self.glance_filter.apply)
        bridge.queues_changed.connect(self.glance_filter.refresh_queues)
        central = QWidget()
        central_box = QVBoxLayout(central)
        central_box.setContentsMargins(0, 0, 0, 0)
        for part in (self.sign_in_banner, self.picture_banner, self.header_strip):
            central_box.addWidget(part)
        central_box.addWidget(self.glance_filter)
        central_box.addWidget(self.tabs)
        self.setCentralWidget(central)
        self._status_bar()
        self._menu()
        self.layouts = Layouts(self.queues_board, store, self.settings, self)  # View menu
        self.layouts.add_menu(self.menuBar())

        bridge.users_changed.connect(self._on_bridge_users_changed)
        bridge.queues_changed.connect(self._on_bridge_queues_changed)
        bridge.feed_appended.connect(self._on_bridge_feed_appended)
        bridge.watch_changed.connect(self._on_bridge_watch_changed)
        bridge.budget_changed.connect(self._on_bridge_budget_changed)
        bridge.state_changed.connect(self._on_bridge_state_changed)
        bridge.health_changed.connect(self._on_bridge_health_changed)

        # The time column and the sparkline sample move with the bridge's batches (see
        # EngineBridge.clock_ticked), so a view repaints at most once per batch.
        bridge.clock_ticked.connect(self._on_bridge_clock_ticked)
        self._sampled_at = time.monotonic()
        self.drill = install_drill(self)  # rows open a queue's details, an agent's day
        self.restore_settings()

    # ------------------------------------------------------------------ tabs
    def _feed_parts(self) -> None:
        """The feed board's parts the window drives (pause, the count of new entries)."""
        board = self.feed_board
        self.feed_view, self.feed_search = board.view, board.search
        self.kind_filter, self.pause_button = board.kinds_button, board.pause_button
        self.new_label, self.older_button = board.new_label, board.journal_button
        self.pause_button.toggled.connect(self._on_pause_button_toggled)
        self.feed.pending_changed.connect(self._on_feed_pending_changed)
        self.older_button.clicked.connect(self._on_older_clicked)
        board.kinds_requested.connect(self.filters_requested.emit)  # the feed's kinds live there

    def _status_bar(self) -> None:
        self.state_label = QLabel(STATE_TEXT["starting"])
        self.state_label.setObjectName("stateLabel")
        self.watch_label = WatchLabel()  # "Watching 65 agents and 9 queues · updated just now"
        bar = self.statusBar()
        self.eventbridge_label = EventBridgeLabel()  # "· EventBridge lag 0.8 s, backlog 0"
        bar.addWidget(self.state_label)
        bar.addWidget(self.eventbridge_label, 1)
        bar.addPermanentWidget(self.watch_label)

    def _menu(self) -> None:
        menu = self.menuBar().addMenu("&Monitor")
        actions: list[tuple[str, QKeySequence, Callable[[], object]]] = [
            ("&Reconnect now", QKeySequence("Ctrl+R"), self.reconnect_requested.emit),
            ("&What to watch…", QKeySequence("Ctrl+Shift+W"), self.watch_requested.emit),
            ("Filters && &alerts…", QKeySequence("Ctrl+L"), self.filters_requested.emit),
            ("&Find", QKeySequence(QKeySequence.StandardKey.Find), self._on_find_triggered),
            ("&Settings…", QKeySequence("Ctrl+,"), self.settings_requested.emit),
            ("&Quit", QKeySequence(QKeySequence.StandardKey.Quit), self.quit_requested.emit),
        ]
        for text, shortcut, slot in actions:
            action = QAction(text, self)
            action.setShortcut(shortcut)
            action.triggered.connect(slot)
            menu.addAction(action)
        for index in range(3):
            jump = QAction(self)
            jump.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
            jump.triggered.connect(lambda _=False, i=index: self.tabs.setCurrentIndex(i))
            self.addAction(jump)

    # ------------------------------------------------------------------ bridge slots
    def _on_bridge_watch_changed(self, watch: WatchRecord) -> None:
        self._watch = watch
        if not self.showing_picture:  # else applied when the engine is live
            self._apply_watch(watch)

    def _apply_watch(self, watch: WatchRecord) -> None:
        self.agents.set_users(list(watch.users))
        self.queues.set_queues(list(watch.queues))
        if not self.settings.contains(f"columns/{self.agents_view.objectName()}"):
            for view in (self.agents_view, self.queues_view):
                view.resizeColumnsToContents()
            # Fitted to today's rows, the names would cut off the bold rows: room to grow. The
            # queues list is capped: it must not take the width the statuses need.
            header = self.agents_view.horizontalHeader()
            width = header.sectionSize(AgentsModel.NAME)
            header.resizeSection(AgentsModel.NAME, width + max(COLUMN_ROOM_PX, width // 4))
            cap = max(QUEUES_MIN_PX, self.agents_view.viewport().width() // 3)
            header.resizeSection(
                AgentsModel.QUEUES, min(header.sectionSize(AgentsModel.QUEUES), cap)
            )
        # Presence and routing fit the longest text they can ever show ("Not Responding" in
        # bold with its icon), whatever today's rows or a saved width say.
        self.agents_board.fit_status_columns(self.store)
        self.agents_board.set_queues(watch.queues)
        self.watch_label.set_watch(len(watch.users), len(watch.queues))

    @property
    def boards_resting(self) -> bool:
        """True while nobody can see the boards: hidden in the tray, or minimised."""
        return not self.isVisible() or self.isMinimized()

    def _on_bridge_users_changed(self, ids: list[str]) -> None:
        self._last_update = datetime.now(UTC)
        if self.showing_picture:
            return  # the whole live picture replaces the old one at once
        if self.boards_resting:
            self._dirty_users.update(ids)
            return
        self.agents.update_users(ids)

    def _on_bridge_queues_changed(self, ids: list[str]) -> None:
        self._last_update = datetime.now(UTC)
        if self.showing_picture:
            return
        if self.boards_resting:
            self._dirty_queues.update(ids)
            return
        self.queues.update_queues(ids)
        self.agents.update_queues(ids)
        self._recheck_unwatched(ids)
        self.queues_board.widen_count_columns()

    def _recheck_unwatched(self, queue_ids: list[str]) -> None:
        """Repaint agents whose "call from a queue not watched" note a queue change moved."""
        users = unwatched_rechecks(self.store, queue_ids, self._idle_queues)
        if users:
            self.agents.update_users(users)

    def _on_tabs_current_changed(self, _index: int) -> None:
        self.queues_board.widen_count_columns()

    def _wake_boards(self) -> None:
        """Bring in what changed while the boards rested, in one update per board."""
        if self.boards_resting:
            return
        users, queues = list(self._dirty_users), list(self._dirty_queues)
        self._dirty_users.clear()
        self._dirty_queues.clear()
        if users:
            self.agents.update_users(users)
        if queues:
            self.queues.update_queues(queues)
            self.agents.update_queues(queues)
            self._recheck_unwatched(queues)
            self.queues_board.widen_count_columns()
        if self._feed_backlog:
            backlog = list(self._feed_backlog)
            self._feed_backlog.clear()
            self.feed.append(backlog)
            self.feed_board.fit_subjects(backlog)
        now = datetime.now(UTC)
        self.agents.tick(now)
        self.queues.tick(now)

    def _on_bridge_feed_appended(self, entries: list[FeedEntry]) -> None:
        if self.boards_resting:
            self._feed_backlog.extend(entries)
            return
        self.feed.append(entries)
        self.feed_board.fit_subjects(entries)

    def _on_bridge_budget_changed(self, budget: BudgetRecord) -> None:
        self.watch_label.set_budget(budget)  # channels and topics: in its tooltip

    def _on_bridge_state_changed(self, state: EngineState, detail: str) -> None:
        self._state = state
        self.watch_label.set_state(state)  # only an updating engine speaks of freshness
        self.show_eventbridge(self._eventbridge)
        self.state_label.setToolTip(plain_tooltip(detail) or "")  # may quote the server
        self.sign_in_banner.set_state(state, detail, datetime.now(UTC))
        if state is EngineState.LIVE:
            self._went_live = True
            self._end_picture()
        elif self.showing_picture:
            self.picture_banner.set_state(state, datetime.now(UTC))

    def show_eventbridge(self, status: SourceStatus | None) -> None:
        """Both sources ("WebSocket live · EventBridge lag 0.8 s"); None: the WebSocket alone."""
        self._eventbridge = status
        text = STATE_TEXT.get(self._state, self._state)
        self.state_label.setText(text if status is None else websocket_text(text))
        self.eventbridge_label.show_status(status)

    # ------------------------------------------------------------------ last known picture
    @property
    def showing_picture(self) -> bool:
        """True while the boards show the journal's last known picture, greyed as stale."""
        return self.agents.stale

    def start_last_picture(self, org: str = "") -> None:
        """Read the last known picture of ``org`` (off the GUI thread); show it until live."""
        if self.journal is not None and self._picture_task is None:
            self._picture_task = asyncio.ensure_future(self._show_last_picture(self.journal, org))

    async def _show_last_picture(self, journal: Journal, org: str) -> None:
        picture = await load_picture(journal, org)
        if picture is None or self._went_live:
            return  # nothing saved (the boards stay empty), or the live picture came first
        logger.info("showing the last known picture of %s", picture.taken_at.isoformat())
        store = picture.to_store()
        self.agents.use_store(store, picture.taken_at)
        self.queues.use_store(store, picture.taken_at)
        self._apply_watch(picture.watch())
        self.picture_banner.show_picture(picture.taken_at, self._state, datetime.now(UTC))

    def _end_picture(self) -> None:
        """The engine is live: the whole live picture replaces the old one, greying and all."""
        if not self.showing_picture:
            return
        self.agents.use_store(self.store)
        self.queues.use_store(self.store)
        self.picture_banner.end()
        self._apply_watch(self._watch)

    def _on_bridge_health_changed(self, health: LinkHealth) -> None:
        self.watch_label.set_health(health)

    # ------------------------------------------------------------------ own slots
    def _on_bridge_clock_ticked(self) -> None:
        now = datetime.now(UTC)
        self.picture_banner.refresh(now)
        if not self.boards_resting:
            self.agents.tick(now)
            self.queues.tick(now)
        # The trend history is sampled even while resting: the sparkline must have no hole.
        if time.monotonic() - self._sampled_at >= HISTORY_SAMPLE_MS / 1000:
            self._sampled_at = time.monotonic()
            self.queues.sample(now)

    def _on_pause_button_toggled(self, paused: bool) -> None:
        self.feed.set_paused(paused)
        self.pause_button.setText("&Resume" if paused else "&Pause")
        self.pause_toggled.emit(paused)

    def _on_feed_pending_changed(self, count: int) -> None:
        self.new_label.setText(f"{count} new" if count else "")

    def _on_older_clicked(self) -> None:
        self.open_journal()

    def open_journal(self) -> JournalDialog | None:
        """Show the journal window, pre-filled with the feed's current search."""
        if self.journal is None:
            return None
        if self.journal_dialog is None:
            self.journal_dialog = JournalDialog(self.journal, self)
        dialog = self.journal_dialog
        dialog.search.setText(self.feed_search.text())
        dialog.show()
        dialog.raise_()
        dialog.search_now()
        return dialog

    def show_problem(self, title: str, message: str) -> QMessageBox:
        """Tell the person about a problem without blocking the app (non-modal)."""
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self
        )
        box.setModal(False)
        box.open()
        self.statusBar().showMessage(message, 15_000)
        return box

    def _on_find_triggered(self) -> None:
        search = {0: self.agent_search, 2: self.feed_search}.get(self.tabs.currentIndex())
        if search is not None:
            search.setFocus()
            search.selectAll()

    # ------------------------------------------------------------------ API for the app
    def set_paused(self, paused: bool) -> None:
        """Pause or resume the feed (from the tray)."""
        self.pause_button.setChecked(paused)

    def reveal(self, kind: str, subject_id: str) -> None:
        """Show the board row of a queue or agent (a notification's "Open")."""
        self.glance_filter.clear()  # a board narrowed by the header strip could hide the row
        if kind == "queue":
            self.tabs.setCurrentIndex(1)
            self.queues_board.select_queue(subject_id)  # the board may be sorted
        elif kind == "agent":
            self.tabs.setCurrentIndex(0)
            self.agent_search.clear()
            self.queue_filter.setCurrentIndex(0)
            self.agents_board.select_agent(subject_id)
        else:
            self.tabs.setCurrentIndex(2)

    def summary_lines(self) -> list[str]:
        """The tray tooltip's glance: one line per queue out of its limits (gui.thresholds)."""
        return glance(self.store, self.settings).problem_lines()

    def data_as_of(self) -> datetime | None:
        """When the boards last changed."""
        return self._last_update

    def stop_timers(self) -> None:
        """Part of the staged shutdown: the clock-driven columns stop moving."""
        self.bridge.clock_ticked.disconnect(self._on_bridge_clock_ticked)
        self.queues_board.timer.stop()
        self.layouts.close_all()
        if self._picture_task is not None:
            self._picture_task.cancel()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        """The boards wake before the window paints, so it never shows a stale row."""
        super().showEvent(event)
        self._wake_boards()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        """Follow the system palette (light/dark); wake the boards when un-minimised."""
        if event.type() == QEvent.Type.WindowStateChange:
            self._wake_boards()
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            for model in (self.agents, self.queues, self.feed):
                restyle = getattr(model, "restyle", None)
                if callable(restyle):
                    restyle()
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """With a tray, closing hides the window; without one, it quits the app."""
        self.save_settings()
        if self.tray_present:
            event.ignore()
            self.hide()
        else:
            event.accept()
            self.quit_requested.emit()

    # ------------------------------------------------------------------ settings
    def save_settings(self) -> None:
        """Remember geometry and the column widths of every table."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.agents_board.sync_columns()  # the grouped tree's choices are the table's
        for view in (self.agents_view, self.queues_view, self.feed_view):
            self.settings.setValue(
                f"columns/{view.objectName()}", view.horizontalHeader().saveState()
            )
        self.settings.setValue("window/tab", self.tabs.currentIndex())

    def restore_settings(self) -> None:
        """Restore what :meth:`save_settings` remembered (ignoring anything unreadable)."""
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        for view in (self.agents_view, self.queues_view, self.feed_view):
            state = self.settings.value(f"columns/{view.objectName()}")
            if isinstance(state, QByteArray):
                view.horizontalHeader().restoreState(state)
        self.agents_board.restore_columns()  # the grouped tree shows the table's columns
        self.agents_board.fit_status_columns(self.store)  # a saved width never cuts a status
        tab = self.settings.value("window/tab")
        if isinstance(tab, int) or (isinstance(tab, str) and tab.isdigit()):
            self.tabs.setCurrentIndex(int(tab))
