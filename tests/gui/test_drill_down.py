"""Drill-down (issue 16): a queue's row opens its agents and calls, an agent's row their day.

Real Qt offscreen. The queue test runs the real engine against a sandbox org on loopback and
puts calls on a queue through the sandbox's control API; the agent test reads a journal file
written with known records. Both open their windows the way a person does: Enter or a
double-click on the board's row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPoint, QSettings, Qt, QUrl
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractItemView, QTableWidget
from pytestqt.qtbot import QtBot

from core.app.pipeline import Pipeline
from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.engine.records import ChangeRecord, EngineState, WatchRecord
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.feed.entry import FeedEntry
from core.feed.payloads import FeedKind, PresenceData, RoutingData
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.state.store import Store
from core.storage.journal.journal import Journal
from core.streaming.events import PresenceChanged, RoutingChanged
from core.streaming.reconnect import ChannelSettings
from gui.bridge import EngineBridge
from gui.dialogs.agent_day import AgentDayWindow
from gui.dialogs.queue_detail import QueueDetailWindow
from gui.models.table_base import ID_ROLE
from gui.window.drill import AGENT_WORDS
from gui.window.main_window import MainWindow
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox

DEADLINE_S = 15.0
SETTINGS = ChannelSettings(
    first_backoff_s=0.05,
    max_backoff_s=0.5,
    assumed_heartbeat_s=0.3,
    healthy_retry_s=0.05,
    overlap_s=1.0,
    confirm_counters_after_s=0.0,
)


async def _until(predicate: Callable[[], bool], what: str) -> None:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > DEADLINE_S:
            raise AssertionError(f"not within {DEADLINE_S:g} s: {what}")
        await asyncio.sleep(0.02)


def _row_of(view: QAbstractItemView, item_id: str) -> QModelIndex:
    model = view.model()
    assert isinstance(model, QAbstractItemModel)
    for row in range(model.rowCount()):
        index = model.index(row, 0)
        if index.data(ID_ROLE) == item_id:
            return index
    raise AssertionError(f"{item_id} is not on the board")


def _column(table: QTableWidget, header: str) -> list[str]:
    model = table.model()
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    column = headers.index(header)
    return [str(model.index(r, column).data()) for r in range(model.rowCount())]


@pytest.fixture
async def org() -> AsyncIterator[tuple[Sandbox, MonitorService]]:
    """A sandbox org (simulation paused) and the real engine watching two of its queues."""
    config = SandboxConfig(users=24, queues=3, seed=11, heartbeat_s=30.0, simulate=False)
    async with Sandbox(config) as sandbox:
        env = parse_environment(sandbox.base_url)
        auth = Authenticator(
            env, "sandbox-client", MemoryCredentialStore(), client_secret="sandbox-secret"
        )
        api = ApiClient(env, auth.access_token, on_unauthorized=auth.renew_rejected)
        queues = tuple(sorted(sandbox.org.queues)[:2])
        service = MonitorService(
            api, auth, Selection(queues=queues, users="members"), settings=SETTINGS
        )
        try:
            await auth.sign_in_client_credentials()
            yield sandbox, service
        finally:
            await service.stop()
            await api.aclose()
            await auth.aclose()


async def test_a_queue_row_opens_its_agents_and_waiting_calls(
    qtbot: QtBot, settings: QSettings, org: tuple[Sandbox, MonitorService]
) -> None:
    sandbox, service = org
    pipeline = Pipeline(service.store)
    service.add_listener(pipeline.on_record)
    bridge = EngineBridge(pipeline, interval_ms=20)
    window = MainWindow(service.store, bridge, tray_present=True, settings=settings)
    qtbot.addWidget(window)
    window.show()
    opened: list[QUrl] = []
    window.drill.use_service(service)  # the sandbox: no Genesys Cloud web app
    window.drill.open_url = opened.append
    try:
        await service.start()
        await _until(lambda: service.state is EngineState.LIVE, "the engine went live")
        queue_id = sorted(service.watch.queues)[0]
        members = set(sandbox.org.queues[queue_id].members)
        await _until(lambda: window.queues.row_of(queue_id) >= 0, "the queue is on its board")
        async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as control:
            sent = {}
            for media in ("voice", "chat", None):
                body = {"mediaType": media} if media else None
                answer = await control.post(f"/sandbox/queues/{queue_id}/conversations", json=body)
                assert answer.status_code == 200, answer.text
                sent[answer.json()["conversationId"]] = answer.json()["mediaType"]
                await asyncio.sleep(0.05)  # three different arrival times
        queue = service.store.queues[queue_id]
        await _until(
            lambda: {c for c, (s, _) in queue.conversations.items() if s == "waiting"} >= set(sent),
            "the store holds the three waiting calls",
        )

        window.tabs.setCurrentWidget(window.queues_board)
        view = window.queues_view
        view.setFocus()
        view.setCurrentIndex(_row_of(view, queue_id))
        QTest.keyClick(view, Qt.Key.Key_Return)
        detail = window.drill.windows.get(("queue", queue_id))
        assert isinstance(detail, QueueDetailWindow) and detail.isVisible()
        assert detail.windowTitle() == f"{queue.name} — queue details"

        # Its agents: the queue's members, as the org has them, each with a status.
        await _until(lambda: set(detail.agent_ids()) == members, "every member is listed")
        names = {service.store.users[u].name for u in members}
        assert set(_column(detail.agents, "Agent")) == names
        assert all(_column(detail.agents, "Presence"))
        assert all(t.count(":") >= 1 for t in _column(detail.agents, "Time in status"))

        # Its calls: the three waiting, oldest first, with their media and a running wait.
        calls = detail.calls_now()
        waiting = [c for c in calls if c.state == "waiting"]
        assert {c.conversation_id for c in waiting} >= set(sent)
        assert [c.media_type for c in waiting if c.conversation_id in sent] == list(sent.values())
        labels = {"voice": "Voice", "chat": "Chat", "callback": "Callback", "email": "Email"}
        shown = dict(
            zip(_column(detail.calls, "Call"), _column(detail.calls, "Media"), strict=True)
        )
        for cid, media in sent.items():
            assert shown[cid[:8]] == labels.get(media, media.title())
        assert _column(detail.calls, "State")[: len(sent)] == ["Waiting"] * len(sent)
        waits = _column(detail.calls, "Waited")[: len(sent)]
        assert all(w.startswith("00:") for w in waits)
        assert f"{len(waiting)} waiting" in detail.summary.text()

        # The sandbox is no Genesys Cloud region: nothing to open there.
        assert not detail.open_button.isEnabled()
        # A region's org opens the queue's page in the browser.
        window.drill.environment = parse_environment("mypurecloud.de")
        detail.close()
        await _until(lambda: ("queue", queue_id) not in window.drill.windows, "it closed")
        again = window.drill.open_queue(queue_id)
        QTest.mouseClick(again.open_button, Qt.MouseButton.LeftButton)
        assert [u.toString() for u in opened] == [
            f"https://apps.mypurecloud.de/directory/#/admin/admin/organization/_queuesV2/{queue_id}"
        ]

        # Live: a call taken by an agent leaves Waiting within a tick.
        async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as control:
            await control.post("/sandbox/simulation/resume")
        await _until(
            lambda: not any(c.state == "waiting" for c in again.calls_now()),
            "the agents took the calls",
        )
        await _until(lambda: "Waiting" not in _column(again.calls, "State"), "the table followed")
        await _until(lambda: "Connected" in _column(again.calls, "State"), "a call connected")
        rows = zip(_column(again.calls, "State"), _column(again.calls, "Waited"), strict=True)
        assert all(waited == "" for state, waited in rows if state == "Connected")
    finally:
        window.stop_timers()
        bridge.stop()


DAY = datetime.now(UTC).astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
AGENT = "u-avery"


def _presence(when: datetime, system: str) -> FeedEntry:
    return FeedEntry(
        when,
        FeedKind.PRESENCE,
        AGENT,
        "Avery Ito",
        "x",
        data=PresenceData("stream", system, f"d-{system}"),
    )


def _routing(when: datetime, status: str) -> FeedEntry:
    return FeedEntry(
        when, FeedKind.ROUTING, AGENT, "Avery Ito", "x", data=RoutingData("stream", status)
    )


async def test_an_agent_row_opens_their_day_with_its_stretches_and_totals(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    if now - DAY.astimezone(UTC) < timedelta(minutes=50):
        pytest.skip("too close to midnight for a day with 45 minutes of history")
    start = now - timedelta(minutes=45)
    records = [
        _presence(start, "AVAILABLE"),  # 15 min Available
        _presence(start + timedelta(minutes=15), "ON_QUEUE"),
        _routing(start + timedelta(minutes=15), "IDLE"),  # 10 min idle
        _routing(start + timedelta(minutes=25), "INTERACTING"),  # 12 min interacting
        _routing(start + timedelta(minutes=37), "IDLE"),  # 8 min idle, until now
    ]
    journal = await Journal.open(tmp_path / "journal.sqlite3")
    for entry in records:
        journal.append(entry)
    await journal.flush()
    store = Store()
    store.presence_labels.update({"d-AVAILABLE": "Available", "d-ON_QUEUE": "On Queue"})
    store.user(AGENT).name = "Avery Ito"
    store.apply(PresenceChanged(AGENT, "d-ON_QUEUE", "ON_QUEUE", "", start + timedelta(minutes=15)))
    store.apply(RoutingChanged(AGENT, "IDLE", start + timedelta(minutes=37)))
    bridge = EngineBridge(Pipeline(store), interval_ms=20)
    window = MainWindow(store, bridge, tray_present=True, settings=settings, journal=journal)
    qtbot.addWidget(window)
    window.show()
    opened: list[QUrl] = []
    window.drill.environment = parse_environment("usw2.pure.cloud")
    window.drill.open_url = opened.append
    try:
        bridge.pipeline.on_record(WatchRecord({AGENT: "Avery Ito"}, {}))
        for change in store.apply(RoutingChanged(AGENT, "IDLE", start + timedelta(minutes=37))):
            bridge.pipeline.on_record(ChangeRecord(change, "stream"))
        await _until(lambda: window.agents.row_of(AGENT) >= 0, "the agent is on the board")
        view = window.agents_view
        index = _row_of(view, AGENT)
        rect = view.visualRect(index)
        # A real double-click: press, release, then the second press as a double-click.
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        opened_day = window.drill.windows.get(("agent", AGENT))
        assert isinstance(opened_day, AgentDayWindow) and opened_day.isVisible()
        day_window = opened_day
        await _until(lambda: opened_day.day is not None, "the day was read")
        day = day_window.day
        assert day is not None

        known = [
            (s.status.label(store.presence_labels), round(s.seconds / 60))
            for s in day.segments
            if s.status.known
        ]
        assert known == [
            ("Available", 15),
            ("On Queue · Idle", 10),
            ("On Queue · Interacting", 12),
            ("On Queue · Idle", 8),
        ]
        assert day.segments[0].status.known is False  # midnight until the first record
        totals = dict(
            zip(
                _column(day_window.totals, "Status"),
                _column(day_window.totals, "Time"),
                strict=True,
            )
        )
        assert totals == {
            "On Queue · Idle": "18 min",
            "Available": "15 min",
            "On Queue · Interacting": "12 min",
        }
        assert _column(day_window.totals, "Share") == ["40 %", "33 %", "27 %"]
        first = start.astimezone()
        assert day_window.note.text().startswith(f"Watched for 45 min from {first:%H:%M}. ")
        assert day_window.now_label.text().startswith("Now: On Queue · Idle for ")
        # The painted bar: each stretch where its time says, in its status's colour.
        bar = day_window.bar
        image = bar.grab().toImage()
        mid = start + timedelta(minutes=31)  # inside the interacting stretch
        x = int(bar.x_of(mid) * image.width() / bar.width())
        y = int((8 + 17) * image.height() / bar.height())
        from gui.dialogs.day_bar import status_colour

        interacting = day.status_at(mid)
        assert image.pixelColor(x, y).name() == status_colour(interacting, bar.palette()).name()
        assert "Interacting" in bar.describe(
            next(s for s in day.segments if s.status == interacting)
        )

        # The row's right-click menu says "Details" and opens the same window.
        assert view.contextMenuPolicy() == Qt.ContextMenuPolicy.CustomContextMenu
        day_window.close()
        await _until(lambda: ("agent", AGENT) not in window.drill.windows, "it closed")
        menu = window.drill.row_menu(view, rect.center(), window.drill.open_agent, AGENT_WORDS)
        assert menu is not None and [a.text() for a in menu.actions()] == [AGENT_WORDS]
        assert AGENT_WORDS.startswith("Details")
        menu.actions()[0].trigger()
        again = window.drill.windows[("agent", AGENT)]
        assert isinstance(again, AgentDayWindow) and again.isVisible()
        day_window = again
        assert window.drill.row_menu(view, QPoint(5, 5000), window.drill.open_agent, "x") is None
        QTest.mouseClick(day_window.open_button, Qt.MouseButton.LeftButton)
        assert [u.toString() for u in opened] == [
            f"https://apps.usw2.pure.cloud/directory/#/person/{AGENT}"
        ]
    finally:
        window.stop_timers()
        bridge.stop()
        await journal.close()


async def test_a_day_window_gone_while_the_journal_is_read_paints_nothing(
    tmp_path: Path,
) -> None:
    """At quit the main window takes its children with it while a read may still run."""
    import shiboken6

    journal = await Journal.open(tmp_path / "journal.sqlite3")
    journal.append(_presence(datetime.now(UTC) - timedelta(minutes=1), "AVAILABLE"))
    await journal.flush()
    try:
        for wait_first in (False, True):  # gone before the read starts, and during it
            window = AgentDayWindow(Store(), AGENT, journal)
            task = window._task
            assert task is not None and not task.done()
            if wait_first:
                await asyncio.sleep(0)  # the read is under way in its worker thread
            shiboken6.delete(window)
            day = await task  # no "Internal C++ object already deleted"
            assert (day is not None) is wait_first
    finally:
        await journal.close()


@pytest.mark.parametrize(
    ("first", "end", "axis"),
    [
        ((21, 46), (22, 8), ((21, 45), (22, 10))),  # 22 min watched: five-minute ends
        ((20, 7), (22, 8), ((20, 0), (22, 15))),  # two hours: quarter hours
        ((8, 20), (17, 40), ((8, 0), (18, 0))),  # a working day: whole hours
        ((22, 1), (22, 3), ((21, 50), (22, 5))),  # two minutes: still a quarter hour wide
    ],
)
def test_the_bar_spans_what_was_watched_on_round_times(
    first: tuple[int, int], end: tuple[int, int], axis: tuple[tuple[int, int], ...]
) -> None:
    from core.storage.journal.day import NOT_WATCHED, AgentDay, Segment, Status
    from gui.dialogs.day_bar import axis_span

    def local(hm: tuple[int, int]) -> datetime:
        return datetime(2026, 12, 5, *hm).astimezone()

    midnight = datetime(2026, 12, 5).astimezone()
    segments = (
        Segment(midnight, local(first), NOT_WATCHED),
        Segment(local(first), local(end), Status("AVAILABLE", "d", None)),
    )
    day = AgentDay(AGENT, midnight, local(end), segments)
    assert axis_span(day) == (local(axis[0]), local(axis[1]))
