"""The Queues board's KPI and agent columns, over a real Store (offscreen Qt, model tester on)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester, QSignalSpy
from PySide6.QtWidgets import QApplication

from core.state.kpis import Figures, QueueKpis
from core.state.store import Store
from core.streaming.events import (
    PresenceChanged,
    QueueMembershipChanged,
    QueueObserved,
    RoutingChanged,
)
from gui.models.queues import QueuesModel
from gui.models.table_base import SORT_ROLE

T0 = datetime(2026, 11, 27, 9, 40, tzinfo=UTC)
TIP = Qt.ItemDataRole.ToolTipRole


@pytest.fixture(autouse=True)
def _app(qapp: QApplication) -> QApplication:
    return qapp


@pytest.fixture
def store() -> Store:
    store = Store()
    store.queue("q-sales").name = "Sales"
    store.queue("q-new").name = "New"
    people = {
        "u-idle": ("ON_QUEUE", "IDLE"),
        "u-busy": ("ON_QUEUE", "INTERACTING"),
        "u-busy2": ("ON_QUEUE", "INTERACTING"),
        "u-nr": ("ON_QUEUE", "NOT_RESPONDING"),
        "u-lunch": ("MEAL", "OFF_QUEUE"),
        "u-avail": ("AVAILABLE", "OFF_QUEUE"),
        "u-gone": ("OFFLINE", "OFF_QUEUE"),
    }
    for user_id, (presence, routing) in people.items():
        store.apply(PresenceChanged(user_id, f"def-{presence}", presence, "", T0))
        store.apply(RoutingChanged(user_id, routing, T0))
        store.apply(QueueMembershipChanged("q-sales", user_id, True))
    store.apply(QueueObserved("q-sales", interacting=2, media_type="voice"))
    store.apply(QueueObserved("q-sales", interacting=1, media_type="chat"))
    store.kpis["q-sales"] = QueueKpis(
        "q-sales",
        today=Figures(
            offered=40,
            answered=36,
            abandoned=2,
            sl_numerator=30,
            sl_denominator=38,
            answer_ms=36 * 12_000,
            handled=35,
            handle_ms=35 * 190_000,
        ),
        interval=Figures(offered=3, answered=2, sl_numerator=2, sl_denominator=2, answer_ms=8000),
        interval_start=T0.replace(minute=30),
        sl_targets={"voice": 20.0, "chat": 60.0},
    )
    return store


@pytest.fixture
def model(store: Store) -> Iterator[QueuesModel]:
    queues = QueuesModel(store, clock=lambda: T0)
    queues.set_queues(["q-sales", "q-new"])
    tester = QAbstractItemModelTester(queues, QAbstractItemModelTester.FailureReportingMode.Warning)
    yield queues
    del tester


def cells(model: QueuesModel, row: int, columns: range) -> list[object]:
    return [model.index(row, c).data() for c in columns]


def test_today_kpis_show_with_the_queue_s_own_target(model: QueuesModel) -> None:
    kpis = range(QueuesModel.OFFERED, QueuesModel.AHT + 1)
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in kpis] == [
        "Offered",
        "Answered",
        "Abandoned",
        "Abandon %",
        "Service level",
        "ASA",
        "AHT",
    ]
    assert cells(model, 0, kpis) == [40, 36, 2, "5.0 %", "79 % (20 s)", "00:12", "03:10"]
    # A queue whose figures were not read yet: dashes, sorted below every known figure.
    assert cells(model, 1, kpis) == ["—"] * 7
    assert model.index(1, QueuesModel.SERVICE_LEVEL).data(SORT_ROLE) == -1.0
    assert model.index(0, QueuesModel.SERVICE_LEVEL).data(SORT_ROLE) == pytest.approx(30 / 38)
    assert model.index(0, QueuesModel.ASA).data(SORT_ROLE) == 12.0
    # The current half hour is in the tooltip of every KPI cell.
    tip = model.index(0, QueuesModel.OFFERED).data(TIP)
    assert "today" in tip and "This half hour" in tip
    assert "offered 3, answered 2, abandoned 0, service level 100 %, ASA 00:04" in tip
    assert "not read yet" in model.index(1, QueuesModel.OFFERED).data(TIP)
    right = model.index(0, QueuesModel.SERVICE_LEVEL).data(Qt.ItemDataRole.TextAlignmentRole)
    assert right is not None


def test_no_traffic_yet_shows_a_dash_with_the_target(model: QueuesModel, store: Store) -> None:
    store.kpis["q-new"] = QueueKpis("q-new", sl_targets={"chat": 60.0})
    model.update_queues(["q-new"])
    assert model.index(1, QueuesModel.SERVICE_LEVEL).data() == "— (1 min)"
    assert model.index(1, QueuesModel.ABANDON_PCT).data() == "—"
    assert model.index(1, QueuesModel.OFFERED).data() == 0


def test_the_agent_breakdown_and_its_words(model: QueuesModel) -> None:
    agents = range(QueuesModel.IDLE, QueuesModel.ON_BREAK + 1)
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in agents] == [
        "Idle",
        "Agents interacting",
        "Not responding",
        "On break",
    ]
    assert cells(model, 0, agents) == [1, 2, 1, 1]
    assert cells(model, 1, agents) == ["—"] * 4  # nobody watched is joined to it
    words = model.index(0, QueuesModel.IDLE).data(TIP)
    assert words == (
        "Agents: 1 idle, 2 interacting (conversations: Voice 2, Chat 1), 1 not responding, "
        "1 on break, 1 off queue"
    )
    assert model.index(0, QueuesModel.OFF_QUEUE).data(TIP) == words


def test_an_agent_change_repaints_the_agent_columns_on_the_next_tick(
    model: QueuesModel, store: Store
) -> None:
    model.tick(T0)  # first sight: remembered, nothing to repaint
    spy = QSignalSpy(model.dataChanged)
    model.tick(T0 + timedelta(seconds=1))
    assert spy.count() == 1  # the longest wait only: no agent changed
    store.apply(RoutingChanged("u-idle", "INTERACTING", T0 + timedelta(seconds=2)))
    model.tick(T0 + timedelta(seconds=2))
    assert spy.count() == 3
    top_left, bottom_right, _roles = spy.at(2)
    assert (top_left.column(), bottom_right.column()) == (QueuesModel.IDLE, QueuesModel.ON_BREAK)
    assert cells(model, 0, range(QueuesModel.IDLE, QueuesModel.ON_BREAK + 1)) == [0, 3, 1, 1]
