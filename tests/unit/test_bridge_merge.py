"""The EventBridge merge with the real engine, pipeline, feed builder and an on-disk journal.

No sockets here (the sandbox end-to-end test is tests/integration/test_bridge_merge_e2e.py):
frames are handed to the service's socket callback and to the sink directly, in both orders.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from core.alerts.model import AlertChange, Condition, Rule
from core.app.bridge_merge import BridgeMerge
from core.app.pipeline import Pipeline
from core.engine.crossdedup import CrossDedup
from core.engine.records import EventRecord, GapRecord, Record
from core.engine.selection import Resolution
from core.engine.service import MonitorService
from core.eventbridge.events import BridgedEvent
from core.feed.entry import FeedEntry
from core.storage.journal.journal import Journal
from core.streaming.events import parse_event
from core.streaming.protocol import TopicEvent

USER = "11111111-1111-4111-8111-111111111111"
T0 = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def routing(status: str, at: datetime, cid: str = "") -> TopicEvent:
    """One routing-status frame of USER, as either transport carries it."""
    body = {"routingStatus": {"status": status, "startTime": iso(at)}}
    return TopicEvent(f"v2.users.{USER}.routingStatus", body, "2", cid)


def bridged(frame: TopicEvent, at: datetime, envelope: str = "") -> BridgedEvent:
    return BridgedEvent(envelope or f"env-{frame.correlation_id}-{at.timestamp()}", frame, at)


@dataclass
class Rig:
    service: MonitorService
    pipeline: Pipeline
    journal: Journal
    merge: BridgeMerge
    records: list[Record]
    entries: list[FeedEntry]
    alerts: list[AlertChange]
    path: Path

    def events(self) -> list[EventRecord]:
        return [r for r in self.records if isinstance(r, EventRecord)]

    def rows(self) -> list[tuple[float, str, str]]:
        """The journal's rows, read from the file by a connection of the test's own."""
        with sqlite3.connect(self.path) as db:
            return list(db.execute("SELECT at, kind, summary FROM entries ORDER BY id"))


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """A service watching USER, the app's pipeline, a journal that commits only when asked."""
    service = MonitorService(cast(Any, None), cast(Any, None))
    service._adopt(Resolution(users={USER: "Dana Agent"}, queues={}))
    path = tmp_path / "journal.sqlite3"
    journal = await Journal.open(path, flush_interval_s=3600.0)  # commits only on flush()
    rule = Rule("nr", "Not Responding", Condition.AGENT_NOT_RESPONDING, for_s=0.0)
    pipeline = Pipeline(service.store, rules=[rule], journal=journal.append)
    records: list[Record] = []
    entries: list[FeedEntry] = []
    alerts: list[AlertChange] = []
    service.add_listener(pipeline.on_record)
    service.add_listener(records.append)
    pipeline.add_entry_listener(entries.extend)
    pipeline.add_alert_listener(alerts.extend)
    merge = BridgeMerge(service, pipeline, flush=journal.flush, quiet_s=0.05)
    yield Rig(service, pipeline, journal, merge, records, entries, alerts, path)
    merge.close()
    await journal.close()


async def test_a_duplicate_by_correlation_id_is_emitted_once_whichever_comes_first(
    rig: Rig,
) -> None:
    first = routing("IDLE", T0, "cid-1")
    rig.service.shard_event(0, first)  # the socket first
    await rig.merge([bridged(first, T0)])
    second = routing("INTERACTING", T0 + timedelta(seconds=5), "cid-2")
    await rig.merge([bridged(second, T0 + timedelta(seconds=5))])  # EventBridge first
    rig.service.shard_event(0, second)
    events = rig.events()
    assert [(e.source, e.correlation_id) for e in events] == [
        ("websocket", "cid-1"),
        ("eventbridge", "cid-2"),
    ]
    assert rig.service.store.users[USER].routing_status == "INTERACTING"


async def test_a_duplicate_by_content_is_emitted_once_when_correlation_ids_differ(rig: Rig) -> None:
    # The CorrelationId being equal on both transports is unconfirmed: content must match too.
    ws = routing("IDLE", T0, "socket-id")
    rig.service.shard_event(0, ws)
    await rig.merge([bridged(routing("IDLE", T0, "bridge-id"), T0)])
    later = T0 + timedelta(seconds=9)
    await rig.merge([bridged(routing("OFF_QUEUE", later, "bridge-id-2"), later)])
    rig.service.shard_event(0, routing("OFF_QUEUE", later, "socket-id-2"))
    assert [e.source for e in rig.events()] == ["websocket", "eventbridge"]
    # A body that legitimately repeats is not swallowed: each copy cancels one, not all.
    rig.service.shard_event(0, routing("IDLE", T0 + timedelta(seconds=20), "x"))
    rig.service.shard_event(0, routing("IDLE", T0 + timedelta(seconds=20), "y"))
    assert len(rig.events()) == 4


async def test_a_recovered_event_older_than_the_live_state_is_journaled_not_applied(
    rig: Rig,
) -> None:
    live_at = T0 + timedelta(minutes=5)
    rig.service.shard_event(0, routing("IDLE", live_at, "live"))
    late = [
        bridged(routing("INTERACTING", T0 + timedelta(minutes=2), "b"), T0 + timedelta(minutes=2)),
        bridged(
            routing("NOT_RESPONDING", T0 + timedelta(minutes=1), "a"), T0 + timedelta(minutes=1)
        ),
    ]
    await rig.merge(late)
    user = rig.service.store.users[USER]
    assert (user.routing_status, user.routing_since) == ("IDLE", live_at)  # not rolled back
    recovered = [e for e in rig.events() if e.recovered]
    assert [e.correlation_id for e in recovered] == ["a", "b"]  # in event-time order
    rows = [r for r in rig.rows() if "recovered from EventBridge" in r[2]]
    assert [r[2] for r in rows] == [
        "Dana Agent: now Not Responding (recovered from EventBridge)",
        "Dana Agent: Not Responding → Interacting (recovered from EventBridge)",
    ]
    assert [r[0] for r in rows] == [
        (T0 + timedelta(minutes=1)).timestamp(),
        (T0 + timedelta(minutes=2)).timestamp(),
    ]


async def test_a_recovered_event_newer_than_the_live_state_is_applied(rig: Rig) -> None:
    rig.service.shard_event(0, routing("IDLE", T0, "live"))
    newer = T0 + timedelta(minutes=3)
    await rig.merge([bridged(routing("OFF_QUEUE", newer, "n"), newer)])
    user = rig.service.store.users[USER]
    assert (user.routing_status, user.routing_since) == ("OFF_QUEUE", newer)
    assert rig.rows()[-1][2] == "Dana Agent: Idle → Off Queue (recovered from EventBridge)"


async def test_the_sink_returns_only_once_the_journal_file_holds_the_events(rig: Rig) -> None:
    at = T0 + timedelta(minutes=1)
    await rig.merge([bridged(routing("IDLE", at, "c"), at)])
    # The writer commits every hour here: only the sink's own flush can have put it there.
    assert [r[2] for r in rig.rows()] == ["Dana Agent: now Idle (recovered from EventBridge)"]


async def test_a_gap_line_counts_what_came_back_and_a_gap_alert_is_history_only(rig: Rig) -> None:
    started, ended = T0, T0 + timedelta(seconds=42)
    rig.service.shard_event(0, routing("IDLE", T0 - timedelta(minutes=1), "before"))
    rig.pipeline.start()
    rig.service.publish(GapRecord("start", "network lost", started))
    rig.service.shard_event(0, routing("IDLE", ended, "resync-read"))  # what the re-sync read
    rig.service.publish(GapRecord("end", "network lost", started, ended, users_resynced=120))
    rig.pipeline.evaluate()
    in_gap = [
        routing("NOT_RESPONDING", T0 + timedelta(seconds=10), "g1"),
        routing("IDLE", T0 + timedelta(seconds=30), "g2"),
    ]
    await rig.merge([bridged(f, T0 + timedelta(seconds=10 + 20 * i)) for i, f in enumerate(in_gap)])
    done = asyncio.Event()
    rig.pipeline.add_entry_listener(
        lambda entries: done.set() if any(e.kind == "gap" for e in entries) else None
    )
    async with asyncio.timeout(5):
        while not any("recovered from EventBridge, re-synced" in e.summary for e in rig.entries):
            await asyncio.wait_for(done.wait(), 5)
            done.clear()
    rig.pipeline.stop()
    lines = [e.summary for e in rig.entries if e.kind == "gap"]
    want = (
        "Disconnected 00:42, 2 events recovered from EventBridge, re-synced 120 users and 0 queues"
    )
    assert lines.count(want) == 1
    history = [e for e in rig.entries if e.kind == "alert"]
    assert len(history) == 1
    began = (T0 + timedelta(seconds=10)).astimezone()
    ended_nr = (T0 + timedelta(seconds=30)).astimezone()
    assert history[0].summary.endswith(
        f"(recovered: {began:%H:%M:%S}-{ended_nr:%H:%M:%S}, while disconnected)"
    )
    assert history[0].summary.startswith("Not Responding fired: Dana Agent")
    assert not [c for c in rig.alerts if c.alert.subject_id == USER]  # no live notification


async def test_what_eventbridge_brought_before_the_gap_was_noticed_is_counted(rig: Rig) -> None:
    # A socket that died silently: EventBridge delivers the gap's events before the watchdog
    # notices and the gap is announced. The gap's line must count them all the same.
    now = datetime.now(UTC)
    rig.service.shard_event(0, routing("IDLE", now - timedelta(seconds=30), "live"))
    silent = now - timedelta(seconds=5)
    await rig.merge([bridged(routing("OFF_QUEUE", silent, "s1"), silent)])
    rig.pipeline.start()
    rig.service.publish(GapRecord("start", "no heartbeat", now - timedelta(seconds=2)))
    rig.service.publish(GapRecord("end", "no heartbeat", now - timedelta(seconds=2), now))
    rig.merge.backlog_empty()
    rig.pipeline.stop()
    lines = [e.summary for e in rig.entries if "from EventBridge," in e.summary]
    assert lines == [
        "Disconnected 00:02, 1 event recovered from EventBridge, re-synced 0 users and 0 queues"
    ]


def test_the_dedup_forgets_by_count_and_by_time() -> None:
    clock = [0.0]
    dedup = CrossDedup(window_s=10.0, capacity=3, monotonic=lambda: clock[0])
    frames = [routing("IDLE", T0 + timedelta(seconds=i), f"c{i}") for i in range(5)]
    for frame in frames:
        assert dedup.websocket(frame, parse_event(frame) or [])
    assert len(dedup) == 3  # bounded: the two oldest are forgotten
    assert [dedup.bridged(f, parse_event(f) or []) for f in frames] == [
        True,
        True,
        False,
        False,
        False,
    ]
    late = routing("OFF_QUEUE", T0, "late")
    dedup.websocket(late, parse_event(late) or [])
    clock[0] = 11.0  # past the window: a copy this late is taken as new
    assert dedup.bridged(late, parse_event(late) or [])
