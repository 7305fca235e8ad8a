"""Intraday queue history: steps for the charts, and backfill from a real journal file."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.feed.entry import FeedEntry
from core.feed.payloads import FeedKind, QueueData
from core.state.intraday import IntradayHistory, QueueSample, since_for
from core.storage.journal.journal import Journal
from core.storage.journal.samples import load_samples, record_samples

T0 = datetime(2026, 3, 2, 15, 0, 0, tzinfo=UTC)
E0 = T0.timestamp()


def _clock() -> datetime:
    """The journal's wall clock (its retention would prune a real "now" months later)."""
    return T0 + timedelta(hours=1)


def test_live_samples_that_repeat_are_kept_once_a_minute() -> None:
    history = IntradayHistory(keepalive_s=60, gap_s=300)
    kept = [history.add("q", QueueSample(E0 + 10 * i, 2, 0.8)) for i in range(13)]
    assert kept.count(True) == 3  # at 0 s, 60 s and 120 s
    assert history.add("q", QueueSample(E0 + 125, 3, 0.8))


def test_waiting_is_drawn_as_steps_held_until_now() -> None:
    history = IntradayHistory()
    history.add("q", QueueSample(E0, 1))
    history.add("q", QueueSample(E0 + 30, 4))
    steps = history.waiting("q", E0 - 60, E0 + 50)
    assert steps.x == [E0, E0 + 30, E0 + 30, E0 + 50]
    assert steps.y == [1, 1, 4, 4]


def test_a_stretch_nobody_watched_breaks_the_line() -> None:
    history = IntradayHistory(keepalive_s=60, gap_s=300)
    history.add("q", QueueSample(E0, 2))
    history.add("q", QueueSample(E0 + 3600, 5))
    steps = history.waiting("q", E0, E0 + 3610)
    assert any(math.isnan(v) for v in steps.y)
    assert steps.finite == [2, 5, 5]


def test_the_window_clips_and_starts_with_the_value_it_had_then() -> None:
    history = IntradayHistory()
    for i, n in enumerate([3, 3, 6, 1]):
        history.add("q", QueueSample(E0 + 100 * i, n))
    steps = history.waiting("q", E0 + 150, E0 + 320)
    assert steps.x[0] == E0 + 150 and steps.y[0] == 3
    assert steps.y[-1] == 1


def test_total_waiting_sums_the_queues() -> None:
    history = IntradayHistory()
    history.add("a", QueueSample(E0, 2))
    history.add("b", QueueSample(E0 + 10, 5))
    assert history.total_waiting(["a", "b"], E0, E0 + 20).y[-1] == 7


def test_service_level_is_in_percent() -> None:
    history = IntradayHistory()
    history.add("q", QueueSample(E0, 0, 0.75))
    assert history.service_level("q", E0, E0 + 5).y == [75.0, 75.0]


def test_today_starts_at_local_midnight_and_the_default_is_half_an_hour() -> None:
    start = since_for("today", T0)
    assert start.astimezone().hour == 0 and start <= T0
    assert since_for("30min", T0) == T0 - timedelta(minutes=30)


def _queue_entry(at: datetime, queue_id: str, waiting: int) -> FeedEntry:
    return FeedEntry(
        at, FeedKind.QUEUE, queue_id, "Sales", f"Sales: waiting {waiting}", "info",
        QueueData("websocket", waiting, None),
    )  # fmt: skip


async def test_backfill_reads_waiting_changes_and_samples_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = await Journal.open(path, clock=_clock)
    journal.append(_queue_entry(T0 - timedelta(minutes=2), "q-sales", 7))  # before the window
    for minute, waiting in [(1, 2), (4, 5), (9, 0)]:
        journal.append(_queue_entry(T0 + timedelta(minutes=minute), "q-sales", waiting))
    journal.append(_queue_entry(T0 + timedelta(minutes=2), "q-other", 9))
    samples = {"q-sales": QueueSample((T0 + timedelta(minutes=5)).timestamp(), 5, 0.8)}
    assert record_samples(journal, samples, now=T0 + timedelta(minutes=5))
    await journal.flush()
    await journal.close()

    with sqlite3.connect(path) as conn:  # it really is in the file
        assert conn.execute("SELECT count(*) FROM queue_samples").fetchone()[0] == 1

    journal = await Journal.open(path, clock=_clock)
    try:
        found = await load_samples(journal, ["q-sales"], T0)
    finally:
        await journal.close()
    assert list(found) == ["q-sales"]
    rows = found["q-sales"]
    assert [r.waiting for r in rows] == [7, 2, 5, 5, 0]
    assert [r.service_level for r in rows] == [None, None, None, 0.8, None]

    history = IntradayHistory()
    history.backfill(found)
    now = (T0 + timedelta(minutes=10)).timestamp()
    steps = history.waiting("q-sales", E0, now)
    assert steps.x[0] == E0 and steps.y[0] == 7  # the value the window starts with
    assert steps.finite[-1] == 0
    assert history.service_level("q-sales", E0, now).finite[-1] == 80.0


async def test_a_journal_without_the_samples_table_still_gives_the_waiting(
    tmp_path: Path,
) -> None:
    journal = await Journal.open(tmp_path / "j.sqlite3", clock=_clock)
    try:
        journal.append(_queue_entry(T0, "q", 3))
        await journal.flush()
        found = await load_samples(journal, ["q"], T0 - timedelta(minutes=1))
    finally:
        await journal.close()
    assert [(r.waiting, r.service_level) for r in found["q"]] == [(3, None)]


async def test_old_samples_are_pruned(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path / "j.sqlite3", clock=_clock)
    try:
        old = {"q": QueueSample(E0 - 3 * 86_400, 1, 0.5)}
        record_samples(journal, old, now=T0 - timedelta(days=3))
        record_samples(journal, {"q": QueueSample(E0, 2, 0.9)}, now=T0)
        await journal.flush()
        found = await load_samples(journal, ["q"], T0 - timedelta(days=4))
    finally:
        await journal.close()
    assert [r.waiting for r in found["q"]] == [2]
