"""An agent's day from a real SQLite journal: the stretches and the time in each status.

The journal is written through its own writer (feed entries as the feed builder makes them)
and read back through :func:`core.storage.journal.day.load_day`, so the SQL, the JSON payloads
and the folding are all exercised on a file.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.feed.entry import FeedEntry
from core.feed.payloads import ConnectionData, FeedKind, PresenceData, RoutingData
from core.storage.journal.day import NOT_WATCHED, Status, load_day
from core.storage.journal.journal import Journal

DAY = datetime(2026, 12, 4, tzinfo=UTC)
AGENT = "a1b2c3d4-0000-4000-8000-000000000001"
OTHER = "a1b2c3d4-0000-4000-8000-000000000002"
BREAK_DEF = "def-break"


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def presence(when: datetime, user: str, system: str, definition: str | None = None) -> FeedEntry:
    return FeedEntry(
        when,
        FeedKind.PRESENCE,
        user,
        "Avery Ito",
        f"Avery Ito: {system}",
        data=PresenceData("stream", system, definition or f"def-{system.lower()}"),
    )


def routing(when: datetime, user: str, status: str) -> FeedEntry:
    return FeedEntry(
        when,
        FeedKind.ROUTING,
        user,
        "Avery Ito",
        f"Avery Ito: {status}",
        data=RoutingData("stream", status),
    )


def connection(when: datetime, state: str) -> FeedEntry:
    return FeedEntry(
        when,
        FeedKind.CONNECTION,
        "",
        "Connection",
        f"Connection {state}",
        data=ConnectionData(state, ""),
    )


async def written(path: Path, entries: list[FeedEntry]) -> Journal:
    journal = await Journal.open(path, clock=lambda: DAY + timedelta(days=1))
    for entry in entries:
        journal.append(entry)
    await journal.flush()
    return journal


ON_QUEUE_IDLE = Status("ON_QUEUE", "def-on_queue", "IDLE")
INTERACTING = Status("ON_QUEUE", "def-on_queue", "INTERACTING")
ON_BREAK = Status("BREAK", BREAK_DEF, None)


async def test_the_day_has_its_stretches_and_totals(tmp_path: Path) -> None:
    entries = [
        # Yesterday evening: on queue, idle; that is how the day begins.
        presence(at(-2), AGENT, "ON_QUEUE"),
        routing(at(-2), AGENT, "IDLE"),
        routing(at(1), AGENT, "INTERACTING"),  # 01:00
        routing(at(1.5), AGENT, "IDLE"),  # 01:30
        presence(at(2), AGENT, "BREAK", BREAK_DEF),  # 02:00; routing goes off queue
        routing(at(2), AGENT, "OFF_QUEUE"),
        presence(at(2.25), AGENT, "ON_QUEUE"),  # 02:15
        routing(at(2.25), AGENT, "IDLE"),
        routing(at(2.5), AGENT, "NOT_RESPONDING"),  # 02:30
        routing(at(2.6), AGENT, "IDLE"),  # 02:36
        connection(at(3), "stopped"),  # 03:00 the app stopped: nothing known
        connection(at(4), "starting"),  # 04:00 it started again
        presence(at(4.01), AGENT, "ON_QUEUE"),  # first sight, 36 s later
        routing(at(4.01), AGENT, "IDLE"),
        presence(at(1.2), OTHER, "BREAK"),  # another agent: not in this day
    ]
    journal = await written(tmp_path / "journal.sqlite3", entries)
    try:
        day = await load_day(journal, AGENT, DAY, at(5))
    finally:
        await journal.close()

    got = [(s.start, s.end, s.status) for s in day.segments]
    assert got == [
        (at(0), at(1), ON_QUEUE_IDLE),
        (at(1), at(1.5), INTERACTING),
        (at(1.5), at(2), ON_QUEUE_IDLE),
        (at(2), at(2.25), ON_BREAK),
        (at(2.25), at(2.5), ON_QUEUE_IDLE),
        (at(2.5), at(2.6), Status("ON_QUEUE", "def-on_queue", "NOT_RESPONDING")),
        (at(2.6), at(3), ON_QUEUE_IDLE),
        (at(3), at(4.01), NOT_WATCHED),
        (at(4.01), at(5), ON_QUEUE_IDLE),
    ]
    totals = {status.label({BREAK_DEF: "Lunch"}): round(s) for status, s in day.totals()}
    idle = (1 + 0.5 + 0.25 + 0.4 + 0.99) * 3600
    assert totals == {
        "On Queue · Idle": round(idle),
        "On Queue · Interacting": 1800,
        "Lunch": 900,
        "Not Responding": 360,
    }
    assert day.watched_s == pytest.approx(5 * 3600 - 1.01 * 3600)
    assert day.status_at(at(3.5)) is NOT_WATCHED
    assert day.status_at(at(1.25)) == INTERACTING


async def test_a_day_before_the_agent_was_ever_seen_is_not_watched(tmp_path: Path) -> None:
    journal = await written(tmp_path / "j.sqlite3", [presence(at(2), AGENT, "AVAILABLE")])
    try:
        day = await load_day(journal, AGENT, DAY, at(3))
    finally:
        await journal.close()
    assert [(s.start, s.end, s.status.label()) for s in day.segments] == [
        (at(0), at(2), "Not watched"),
        (at(2), at(3), "Available"),
    ]
    assert [(s.label(), round(t)) for s, t in day.totals()] == [("Available", 3600)]


async def test_a_stop_before_the_day_means_the_day_starts_unknown(tmp_path: Path) -> None:
    entries = [
        presence(at(-5), AGENT, "ON_QUEUE"),
        routing(at(-5), AGENT, "IDLE"),
        connection(at(-1), "stopped"),
        connection(at(1), "starting"),
        presence(at(1), AGENT, "AWAY"),
    ]
    journal = await written(tmp_path / "j.sqlite3", entries)
    try:
        day = await load_day(journal, AGENT, DAY, at(2))
    finally:
        await journal.close()
    assert [s.status.label() for s in day.segments] == ["Not watched", "Away"]
    assert day.segments[0].end == at(1)


async def test_a_damaged_row_does_not_break_the_day(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = await written(path, [presence(at(1), AGENT, "MEAL")])
    await journal.close()
    with sqlite3.connect(path) as conn:  # a row written by hand, its data not JSON
        conn.execute(
            "INSERT INTO entries (at, kind, subject_id, subject, summary, severity, data) "
            "VALUES (?, 'presence', ?, 'x', 'x', 'info', 'not json')",
            (at(1.5).timestamp(), AGENT),
        )
    journal = await Journal.open(path, clock=lambda: DAY + timedelta(days=1))
    try:
        day = await load_day(journal, AGENT, DAY, at(2))
    finally:
        await journal.close()
    assert [s.status.label() for s in day.segments] == ["Not watched", "Meal", "Not watched"]
