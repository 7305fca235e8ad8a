"""Typed feed payloads: every kind goes to a journal row with today's JSON keys and comes back.

The JSON written here is what journal files on disk, the CSV/JSONL exports and older builds hold,
so each kind's keys are pinned literally; a row of no known shape loads as RawData, never lost.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.feed.entry import KINDS, FeedEntry
from core.feed.payloads import (
    AlertData,
    BudgetData,
    ConnectionData,
    FeedData,
    FeedKind,
    GapData,
    MembershipData,
    PresenceData,
    QueueData,
    RawData,
    RoutingData,
    payload_from_json,
)
from core.storage.journal.journal import Journal
from core.storage.journal.rows import to_entries, to_row

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

# Every kind, with the exact JSON object (keys in order) the journal has always stored for it.
PAYLOADS: list[tuple[FeedKind, FeedData, dict[str, Any]]] = [
    (
        FeedKind.PRESENCE,
        PresenceData("resync", "MEAL", "lunch"),
        {"source": "resync", "presence": "MEAL", "definitionId": "lunch"},
    ),
    (
        FeedKind.PRESENCE,
        PresenceData("stream", None, None),
        {"source": "stream", "presence": None, "definitionId": None},
    ),
    (
        FeedKind.ROUTING,
        RoutingData("stream", "NOT_RESPONDING"),
        {"source": "stream", "routingStatus": "NOT_RESPONDING"},
    ),
    (
        FeedKind.QUEUE,
        QueueData("stream", waiting=4, interacting=0),
        {"source": "stream", "waiting": 4, "interacting": 0},
    ),
    (FeedKind.QUEUE, QueueData("resync", interacting=2), {"source": "resync", "interacting": 2}),
    (FeedKind.MEMBERSHIP, MembershipData("u-1", False), {"userId": "u-1", "joined": False}),
    (
        FeedKind.CONNECTION,
        ConnectionData("reconnecting", "socket closed"),
        {"state": "reconnecting", "detail": "socket closed"},
    ),
    (FeedKind.GAP, GapData("start", "closed"), {"phase": "start", "reason": "closed"}),
    (
        FeedKind.GAP,
        GapData("end", "socket closed", 12.5, 3, 2, 1),
        {
            "phase": "end",
            "reason": "socket closed",
            "seconds": 12.5,
            "users": 3,
            "queues": 2,
            "changed": 1,
        },
    ),
    (
        FeedKind.BUDGET,
        BudgetData(("v2.users.u.presence",), ("presence:view",)),
        {"rejected": ["v2.users.u.presence"], "missing": ["presence:view"]},
    ),
    (
        FeedKind.ALERT,
        AlertData("a-1", "waiting", "fired", "info", 5),
        {"alertId": "a-1", "ruleId": "waiting", "change": "fired", "severity": "info", "value": 5},
    ),
    (
        FeedKind.ALERT,
        AlertData("a-2", "nr", "resolved", "info", None),
        {"alertId": "a-2", "ruleId": "nr", "change": "resolved", "severity": "info", "value": None},
    ),
    (  # core.app.actions: nothing replays actions, so their payload stays RawData
        FeedKind.ACTION,
        RawData({"actorId": "u-0", "action": "routing", "targetId": "u-1", "outcome": "done"}),
        {"actorId": "u-0", "action": "routing", "targetId": "u-1", "outcome": "done"},
    ),
    (  # core.triggers: a failed or throttled trigger run; nothing replays it either
        FeedKind.TRIGGER,
        RawData({"triggerId": "t-1", "flowId": "wf-1", "error": "down", "throttled": False}),
        {"triggerId": "t-1", "flowId": "wf-1", "error": "down", "throttled": False},
    ),
]


def fields(e: FeedEntry) -> tuple[Any, ...]:
    return (e.at, e.kind, e.subject_id, e.subject, e.summary, e.severity, e.data)


def test_every_kind_has_a_payload_case_and_kinds_stay_plain_text() -> None:
    assert {kind for kind, _, _ in PAYLOADS} == set(FeedKind)
    assert tuple(kind.value for kind in FeedKind) == KINDS
    assert all(type(kind) is str for kind in KINDS)
    stored: str = "queue"
    assert stored == FeedKind.QUEUE  # compares with the stored text


@pytest.mark.parametrize(("kind", "payload", "stored"), PAYLOADS)
def test_a_row_of_every_kind_round_trips_with_todays_json_keys(
    kind: FeedKind, payload: FeedData, stored: dict[str, Any]
) -> None:
    written = FeedEntry(T0, kind, "id", "Subject", "summary", "info", payload)
    row = to_row(written)
    assert list(json.loads(row[6]).items()) == list(stored.items())
    [back] = to_entries([(1, *row)])
    assert fields(back) == fields(written)
    assert type(back.data) is type(payload)


# A row written by hand or by another build: not quite any kind's shape.
ODD_ROWS: list[tuple[str, str, dict[str, Any]]] = [
    ("presence", '{"presence": "BREAK"}', {"presence": "BREAK"}),  # keys missing
    ("queue", '{"source": "stream", "waiting": "4"}', {"source": "stream", "waiting": "4"}),
    ("queue", '{"waiting": 4}', {"waiting": 4}),  # no source
    ("queue", '{"source": "stream", "waiting": true}', {"source": "stream", "waiting": True}),
    (
        "membership",
        '{"userId": "u", "joined": true, "note": "x"}',  # a key too many
        {"userId": "u", "joined": True, "note": "x"},
    ),
    ("gap", '{"phase": "end", "reason": "r", "seconds": 3}',
     {"phase": "end", "reason": "r", "seconds": 3}),  # an end without its counts
    ("alert", '{"alertId": 1, "ruleId": "r", "change": "fired", "severity": "warning", "value": 1}',
     {"alertId": 1, "ruleId": "r", "change": "fired", "severity": "warning", "value": 1}),
    ("budget", '{"rejected": "t", "missing": []}', {"rejected": "t", "missing": []}),
    ("routing", "[1, 2]", {"value": [1, 2]}),  # not a JSON object
    ("connection", "null", {"value": None}),
    ("gap", "not json {", {"raw": "not json {"}),
    ("someday", '{"state": "live", "detail": ""}', {"state": "live", "detail": ""}),  # unknown kind
]  # fmt: skip


@pytest.mark.parametrize(("kind", "text", "kept"), ODD_ROWS)
def test_a_hand_written_odd_row_loads_as_raw_data_with_nothing_lost(
    kind: str, text: str, kept: dict[str, Any]
) -> None:
    [back] = to_entries([(1, T0.timestamp(), kind, "id", "S", "s", "info", text)])
    assert back.data == RawData(kept)
    assert (back.kind, back.at) == (kind, T0)


def test_payload_from_json_never_raises_on_what_json_can_hold() -> None:
    for kind in [*KINDS, "", "other"]:
        odd: list[object] = [None, 1, 2.5, "text", [], {}, {"source": None}, {"phase": []}]
        for obj in odd:
            assert isinstance(payload_from_json(kind, obj), RawData)


async def test_a_journal_file_keeps_typed_rows_and_a_hand_written_one(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    written = [
        FeedEntry(T0.replace(second=i), kind, f"id-{i}", "Subject", f"entry {i}", "info", payload)
        for i, (kind, payload, _) in enumerate(PAYLOADS)
    ]
    async with await Journal.open(path, retention_days=0) as journal:
        for e in written:
            journal.append(e)
    with sqlite3.connect(path) as db:  # another program (or a person) adds a row of its own
        db.execute(
            "INSERT INTO entries (at, kind, subject_id, subject, summary, severity, data) "
            "VALUES (?, 'queue', 'q', 'Sales', 'by hand', 'info', '{\"waiting\": 3}')",
            (T0.replace(minute=30).timestamp(),),
        )
    db.close()
    async with await Journal.open(path, retention_days=0) as journal:
        found = await journal.search(limit=100)
    [by_hand, *typed] = found
    assert by_hand.summary == "by hand" and by_hand.data == RawData({"waiting": 3})
    assert [fields(e) for e in reversed(typed)] == [fields(e) for e in written]
