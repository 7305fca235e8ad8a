"""The timer's picture save reads the store in slices, giving the loop back, and writes the same."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.engine.records import EngineState, StateRecord, WatchRecord
from core.state.store import Store
from core.storage.journal.journal import Journal
from core.storage.journal.picture import PictureKeeper
from core.streaming.events import PresenceChanged, QueueObserved, RoutingChanged

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
USERS = 1_000


def _org() -> tuple[Store, WatchRecord]:
    store = Store()
    store.presence_labels["def-avail"] = "Available"
    watch = WatchRecord(
        {f"u-{i:04d}": f"Agent {i}" for i in range(USERS)}, {"q-1": "Sales", "q-2": "Help"}
    )
    for i, (user_id, name) in enumerate(watch.users.items()):
        store.user(user_id).name = name
        since = T0 - timedelta(seconds=i)
        store.apply(PresenceChanged(user_id, "def-avail", "AVAILABLE", f"note {i}", since))
        store.apply(RoutingChanged(user_id, "IDLE", since))
    for queue_id, name in watch.queues.items():
        store.queue(queue_id).name = name
        store.apply(QueueObserved(queue_id, waiting=2, interacting=1, on_queue=4, off_queue=0))
    return store, watch


def _keeper(store: Store, journal: Journal, watch: WatchRecord) -> PictureKeeper:
    keeper = PictureKeeper(store, journal, clock=lambda: T0)
    keeper.on_record(watch)
    keeper.on_record(StateRecord(EngineState.LIVE, "live"))
    return keeper


def _table(path: Path) -> set[tuple[str, str, str, str, float]]:
    with sqlite3.connect(path) as conn:
        return set(conn.execute("SELECT kind, subject_id, name, data, at FROM picture"))


async def _turns_during(work: asyncio.Future[int] | asyncio.Task[int]) -> int:
    """How many times a second task ran while ``work`` was under way."""
    turns = 0
    while not work.done():
        turns += 1
        await asyncio.sleep(0)
    return turns


async def test_a_save_in_slices_writes_what_a_whole_save_writes(tmp_path: Path) -> None:
    whole, sliced = tmp_path / "whole.sqlite3", tmp_path / "sliced.sqlite3"
    for path in (whole, sliced):
        store, watch = _org()
        journal = await Journal.open(path)
        try:
            keeper = _keeper(store, journal, watch)
            first = keeper.save() if path == whole else await keeper.save_in_slices(100)
            assert first == USERS + 2
            store.apply(RoutingChanged("u-0007", "INTERACTING", T0 + timedelta(seconds=1)))
            later = keeper.save() if path == whole else await keeper.save_in_slices(100)
            assert later == 1  # only the user whose look changed
            await journal.flush()
        finally:
            await journal.close()
    assert _table(whole) == _table(sliced)
    assert len(_table(sliced)) == USERS + 2 + 1  # the "taken" row too


async def test_a_save_in_slices_gives_the_loop_back_between_slices(tmp_path: Path) -> None:
    store, watch = _org()
    journal = await Journal.open(tmp_path / "journal.sqlite3")
    try:
        keeper = _keeper(store, journal, watch)
        saving = asyncio.get_running_loop().create_task(keeper.save_in_slices(slice_size=100))
        turns = await _turns_during(saving)
        assert saving.result() == USERS + 2
        # one turn per 100 subjects at least; a whole save would let the other task run once
        assert turns >= (USERS + 2) // 100
    finally:
        await journal.close()


async def test_the_stop_replaces_a_save_under_way_with_the_final_one(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    store, watch = _org()
    journal = await Journal.open(path)
    try:
        keeper = PictureKeeper(store, journal, clock=lambda: T0, interval_s=0.01)
        keeper.on_record(watch)
        keeper.on_record(StateRecord(EngineState.LIVE, "live"))
        keeper.start()
        # the timer starts a save in slices; wait until it is under way, then stop
        deadline = asyncio.get_running_loop().time() + 5
        while keeper._slicing is None:
            assert asyncio.get_running_loop().time() < deadline, "the timer never fired"
            await asyncio.sleep(0.005)
        slicing = keeper._slicing
        keeper.stop()
        await asyncio.sleep(0)
        assert slicing.done()
        assert keeper.saves >= 1
        await journal.flush()
    finally:
        await journal.close()
    assert len(_table(path)) == USERS + 2 + 1


async def test_a_swapped_subject_is_deleted_by_a_save_in_slices(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    store, watch = _org()
    journal = await Journal.open(path)
    try:
        keeper = _keeper(store, journal, watch)
        await keeper.save_in_slices(100)
        users = dict(watch.users)
        del users["u-0003"]  # as many subjects as before: one gone, one new
        users["u-new"] = "Newcomer"
        keeper.on_record(WatchRecord(users, dict(watch.queues)))
        assert await keeper.save_in_slices(100) == USERS - 3  # u-0004 on moved up, and u-new
        await journal.flush()
    finally:
        await journal.close()
    subjects = {sid for kind, sid, *_ in _table(path) if kind == "user"}
    assert "u-0003" not in subjects and "u-new" in subjects and len(subjects) == USERS
