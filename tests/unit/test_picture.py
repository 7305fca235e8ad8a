"""The journal's last known picture: saved from the store while live, read back after a restart."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.engine.records import EngineState, StateRecord, WatchRecord
from core.feed.entry import FeedEntry
from core.state.store import Store
from core.storage.journal.journal import Journal
from core.storage.journal.picture import Picture, PictureKeeper, load_picture
from core.streaming.events import (
    PresenceChanged,
    QueueMembershipChanged,
    QueueObserved,
    RoutingChanged,
)

T0 = datetime(2026, 3, 2, 18, 2, 7, tzinfo=UTC)
WATCH = WatchRecord(
    {"u-ana": "Ana", "u-ben": "Ben", "u-cho": "Cho"}, {"q-sales": "Sales", "q-help": "Help"}
)


class Clock:
    """A wall clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _store() -> Store:
    store = Store()
    store.presence_labels.update({"def-lunch": "Lunch", "def-avail": "Available"})
    for user_id, name in WATCH.users.items():
        store.user(user_id).name = name
    ana_since = T0 - timedelta(minutes=9)
    store.apply(PresenceChanged("u-ana", "def-lunch", "MEAL", "back at 2", ana_since))
    store.apply(PresenceChanged("u-ben", "def-avail", "AVAILABLE", "", T0 - timedelta(minutes=3)))
    store.apply(RoutingChanged("u-ben", "INTERACTING", T0 - timedelta(minutes=2)))
    store.apply(RoutingChanged("u-cho", "NOT_RESPONDING", T0 - timedelta(seconds=40)))
    for queue_id, name in WATCH.queues.items():
        store.queue(queue_id).name = name
    store.apply(QueueObserved("q-sales", waiting=4, interacting=2, on_queue=5, off_queue=1))
    store.apply(QueueObserved("q-help", waiting=0, interacting=1, on_queue=2, off_queue=3))
    store.apply(QueueMembershipChanged("q-sales", "u-ben", joined=True))
    return store


def _live_keeper(store: Store, journal: Journal, clock: Clock) -> PictureKeeper:
    keeper = PictureKeeper(store, journal, clock=clock)
    keeper.on_record(WATCH)
    keeper.on_record(StateRecord(EngineState.LIVE, "live"))
    return keeper


def _rows(path: Path) -> dict[tuple[str, str], float]:
    with sqlite3.connect(path) as conn:
        return {(k, s): at for k, s, at in conn.execute("SELECT kind, subject_id, at FROM picture")}


async def test_a_saved_picture_reads_back_equal_from_the_reopened_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    store = _store()
    journal = await Journal.open(path)
    keeper = _live_keeper(store, journal, Clock(T0))
    assert keeper.save() == 5
    await journal.close()

    journal = await Journal.open(path)
    try:
        picture = await load_picture(journal)
    finally:
        await journal.close()
    assert isinstance(picture, Picture)
    assert picture.taken_at == T0
    assert picture.watch() == WATCH  # names and the watched order
    shown = picture.to_store()
    for user_id in WATCH.users:
        assert shown.presence_label(user_id) == store.presence_label(user_id)
        before, after = store.users[user_id], shown.users[user_id]
        assert (after.name, after.system_presence, after.presence_message) == (
            before.name,
            before.system_presence,
            before.presence_message,
        )
        assert (after.routing_status, after.routing_since, after.presence_since) == (
            before.routing_status,
            before.routing_since,
            before.presence_since,
        )
    assert shown.presence_label("u-ana") == "Lunch"
    for queue_id in WATCH.queues:
        before_q, after_q = store.queues[queue_id], shown.queues[queue_id]
        for field in ("name", "waiting", "interacting", "on_queue", "off_queue", "joined_ids"):
            assert getattr(after_q, field) == getattr(before_q, field), field
    assert shown.active_queues("u-ben") == ("q-sales",)


async def test_the_throttle_writes_only_the_rows_that_changed(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    store, clock = _store(), Clock(T0)
    journal = await Journal.open(path)
    try:
        keeper = _live_keeper(store, journal, clock)
        keeper.save()
        await journal.flush()
        first = _rows(path)
        assert len(first) == 6  # five subjects and the "taken" row

        clock.now = T0 + timedelta(seconds=15)
        assert keeper.save() == 0  # nothing changed: nothing written
        store.apply(RoutingChanged("u-ana", "IDLE", clock.now))
        store.apply(QueueObserved("q-help", waiting=3))
        assert keeper.save() == 2
        await journal.flush()
        second = _rows(path)
    finally:
        await journal.close()
    later = clock.now.timestamp()
    changed = {key for key in second if second[key] != first[key]}
    assert changed == {("user", "u-ana"), ("queue", "q-help"), ("taken", "")}
    assert all(second[key] == later for key in changed)


async def test_an_offline_start_never_overwrites_the_saved_picture(tmp_path: Path) -> None:
    """The store is empty until the org answers: saving it then would wipe yesterday's picture."""
    path = tmp_path / "journal.sqlite3"
    journal = await Journal.open(path)
    _live_keeper(_store(), journal, Clock(T0)).save()
    await journal.close()

    journal = await Journal.open(path)
    try:
        keeper = PictureKeeper(Store(), journal, clock=Clock(T0 + timedelta(hours=2)))
        keeper.on_record(WATCH)
        keeper.on_record(StateRecord(EngineState.OFFLINE, "Offline: retrying in 2 s"))
        keeper.stop()  # the final save of a session that never went live
        assert keeper.save() == 0
        await journal.flush()
        picture = await load_picture(journal)
    finally:
        await journal.close()
    assert picture is not None and picture.taken_at == T0
    assert picture.to_store().users["u-ana"].name == "Ana"


async def test_a_journal_from_before_the_picture_gets_one_and_keeps_its_entries(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = await Journal.open(path)
    journal.append(FeedEntry(datetime.now(UTC), "presence", "u-ana", "Ana", "Ana is at Lunch"))
    await journal.close()
    with sqlite3.connect(path) as conn:  # a journal written before this change
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert "picture" not in tables

    journal = await Journal.open(path)
    try:
        assert await load_picture(journal) is None  # nothing saved: the boards start empty
        _live_keeper(_store(), journal, Clock(T0)).stop()  # the final save at stop
    finally:
        await journal.close()
    journal = await Journal.open(path)
    try:
        picture = await load_picture(journal)
        assert [entry.summary for entry in await journal.search()] == ["Ana is at Lunch"]
    finally:
        await journal.close()
    assert picture is not None and len(picture.users) == 3


async def test_a_picture_of_another_org_is_not_shown(tmp_path: Path) -> None:
    """One journal serves every profile: org B's offline start must not show org A's people."""
    path = tmp_path / "journal.sqlite3"
    journal = await Journal.open(path)
    try:
        keeper = PictureKeeper(_store(), journal, org="org-a", clock=Clock(T0))
        keeper.on_record(WATCH)
        keeper.on_record(StateRecord(EngineState.LIVE, "live"))
        keeper.save()
        await journal.flush()
        assert await load_picture(journal, "org-b") is None
        assert await load_picture(journal) is None
        picture = await load_picture(journal, "org-a")
    finally:
        await journal.close()
    assert picture is not None and picture.watch() == WATCH
