"""The replay's worker-thread hooks: progress, stop, and the words for a capped read."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from core.alerts.model import Condition, Rule
from core.alerts.replay import PROGRESS_EVERY, ReplayStoppedError, cap_note, replay
from core.feed.entry import FeedEntry
from core.feed.payloads import QueueData

END = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
RULE = Rule(id="r", name="Busy", condition=Condition.QUEUE_WAITING_ABOVE, threshold=3)


def entries(count: int) -> list[FeedEntry]:
    start = END - timedelta(minutes=30)
    return [
        FeedEntry(start + timedelta(seconds=i / 10), "queue", "q", "Q", "", data=QueueData("s", 5))
        for i in range(count)
    ]


def test_progress_is_reported_as_the_replay_goes() -> None:
    seen: list[tuple[int, int]] = []
    count = PROGRESS_EVERY * 2 + 1
    result = replay(
        RULE, entries(count), END - timedelta(hours=1), END, progress=lambda *a: seen.append(a)
    )
    assert result.fired == 1
    assert seen == [(PROGRESS_EVERY, count), (PROGRESS_EVERY * 2, count)]


def test_a_stop_ends_the_replay_without_a_result() -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(ReplayStoppedError):
        replay(RULE, entries(10), END - timedelta(hours=1), END, stop=stop)


def test_a_capped_read_is_said_in_words() -> None:
    assert cap_note(100_000, 100_000, "the last day") is None
    assert cap_note(100_000, 240_311, "the last day") == (
        "Checked the latest 100,000 of 240,311 entries in the last day; "
        "the older ones were not checked."
    )
