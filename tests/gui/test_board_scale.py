"""The agents board at thousands of rows: a change costs what changed, not the rows between.

P9 (50,000 users, 1,000 events a second) froze the loop for most of a second per update: one
dataChanged from the lowest to the highest changed row made the sorting proxy re-read every
row between, and the 1 Hz tick called a Python filter for every row. These tests count the
Python calls the board's models make (``sys.setprofile``) over a real proxy and view, and check
the cheap paths give the same rows, order and filter as a proxy built afresh.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

import pytest
from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtTest import QSignalSpy
from PySide6.QtWidgets import QApplication, QTableView

from core.state.store import Store
from core.streaming.events import PresenceChanged, QueueMembershipChanged, RoutingChanged
from gui.models.agents import AgentsFilterProxy, AgentsModel
from gui.models.table_base import ID_ROLE, SORT_ROLE, row_runs

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ROWS = 3000
STATUSES = ("IDLE", "INTERACTING", "NOT_RESPONDING", "OFF_QUEUE")


@pytest.fixture(autouse=True)
def _app(qapp: QApplication) -> QApplication:
    return qapp


@contextmanager
def python_calls() -> Iterator[list[int]]:
    """Counts calls into the board models' Python code (gui/models) while the block runs."""
    count = [0]

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call" and "gui/models/" in frame.f_code.co_filename.replace("\\", "/"):
            count[0] += 1

    sys.setprofile(profile)
    try:
        yield count
    finally:
        sys.setprofile(None)


def big_store(rows: int = ROWS) -> Store:
    store = Store()
    store.presence_labels.update({"def-av": "Ready", "def-brk": "Coffee"})
    for n in range(rows):
        user_id = f"u{n:05d}"
        store.user(user_id).name = f"Agent {n:05d}"
        store.apply(PresenceChanged(user_id, "def-av", "AVAILABLE", "", T0))
        store.apply(RoutingChanged(user_id, STATUSES[n % 3], T0 + timedelta(seconds=n % 97)))
    store.queue("q-1").name = "Sales"
    for n in range(0, rows, 7):
        store.apply(QueueMembershipChanged("q-1", f"u{n:05d}", True))
    return store


def board(store: Store, sort_column: int) -> tuple[AgentsModel, AgentsFilterProxy, QTableView]:
    model = AgentsModel(store, clock=lambda: T0 + timedelta(seconds=600))
    proxy = AgentsFilterProxy()
    proxy.setSourceModel(model)
    view = QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(sort_column, Qt.SortOrder.AscendingOrder)
    model.set_users(sorted(store.users))
    return model, proxy, view


def shown(proxy: QAbstractItemModel) -> list[str]:
    return [proxy.index(row, 0).data(ID_ROLE) for row in range(proxy.rowCount())]


def afresh(store: Store, sort_column: int, setup: Callable[[AgentsFilterProxy], None]) -> list[str]:
    """The rows a new proxy over the same store shows: the full pass to compare with."""
    _model, proxy, _view = board(store, sort_column)
    setup(proxy)
    return shown(proxy)


def change_scattered(store: Store, rng: random.Random, step: int) -> list[str]:
    """A hundred users across the whole board change routing status."""
    picked = rng.sample(sorted(store.users), 100)
    for user_id in picked:
        status = rng.choice(STATUSES)
        store.apply(RoutingChanged(user_id, status, T0 + timedelta(seconds=200 + step)))
    return picked


def test_row_runs_cover_the_rows_and_merge_only_near_ones() -> None:
    assert row_runs([]) == []
    assert row_runs([20, 3, 3, 4, 5]) == [(3, 5), (20, 20)]
    assert row_runs([9, 3, 5]) == [(3, 9)]  # 4 rows apart or less: one range
    assert row_runs([10, 0, 500, 14], gap=4) == [(0, 0), (10, 14), (500, 500)]
    assert row_runs([1, 7], gap=0) == [(1, 1), (7, 7)]
    rows = random.Random(3).sample(range(50_000), 100)
    runs = row_runs(rows)
    covered = {r for first, last in runs for r in range(first, last + 1)}
    assert set(rows) <= covered
    assert len(covered) < 2 * len(rows)  # not the span from the lowest to the highest


@pytest.mark.parametrize("sort_column", [AgentsModel.NAME, AgentsModel.ROUTING])
def test_scattered_updates_cost_the_changed_rows_and_keep_the_order(sort_column: int) -> None:
    store = big_store()
    model, proxy, _view = board(store, sort_column)
    rng = random.Random(5)
    spy = QSignalSpy(model.dataChanged)
    for step in range(3):
        changed = change_scattered(store, rng, step)
        with python_calls() as calls:
            model.update_users(changed)
        # a sorted proxy re-reads a changed row and places it by a binary search: about
        # 2 log2(3000) = 24 sort keys of a few calls each; the whole span: ~3,000 x that
        assert calls[0] < 100 * 200, calls[0]
    assert spy.count() > 3  # one signal per run of rows, not one over the whole span
    # in the order a fresh sort gives (rows of equal keys may sit in any order among them)
    _fresh_model, fresh, _fresh_view = board(store, sort_column)
    assert keys(proxy, sort_column) == keys(fresh, sort_column)
    assert sorted(shown(proxy)) == sorted(shown(fresh)) == sorted(store.users)


def keys(proxy: QAbstractItemModel, column: int) -> list[object]:
    return [proxy.index(row, column).data(SORT_ROLE) for row in range(proxy.rowCount())]


def test_a_live_search_follows_scattered_updates_like_a_fresh_search() -> None:
    store = big_store()
    model, proxy, _view = board(store, AgentsModel.NAME)
    proxy.set_search("not responding")
    proxy.set_queue("q-1")
    rng = random.Random(8)
    for step in range(3):
        model.update_users(change_scattered(store, rng, step))

    def same_filter(fresh: AgentsFilterProxy) -> None:
        fresh.set_search("not responding")
        fresh.set_queue("q-1")

    expected = afresh(store, AgentsModel.NAME, same_filter)
    assert expected and shown(proxy) == expected
    truth = sorted(
        (u.name.casefold(), u.id)
        for u in store.users.values()
        if u.routing_status == "NOT_RESPONDING" and u.id in store.queues["q-1"].member_ids
    )
    assert shown(proxy) == [user_id for _name, user_id in truth]
    proxy.set_search("")
    proxy.set_queue(None)
    assert len(shown(proxy)) == ROWS


def test_the_tick_calls_no_python_per_row_while_no_filter_is_set() -> None:
    store = big_store()
    model, proxy, _view = board(store, AgentsModel.NAME)
    before = shown(proxy)
    spy = QSignalSpy(proxy.dataChanged)
    with python_calls() as calls:
        model.tick(T0 + timedelta(seconds=900))
    assert calls[0] < 50, calls[0]  # was one filter call per row: 3,000
    assert spy.count() >= 1  # the view still hears of the new times
    assert shown(proxy) == before
    assert proxy.index(0, AgentsModel.TIME).data() == "15:00"

    proxy.set_search("agent 029")  # with a filter on, the rows are asked again, correctly
    filtered = shown(proxy)
    model.tick(T0 + timedelta(seconds=901))
    assert shown(proxy) == filtered == [f"u{n:05d}" for n in range(2900, 3000)]
