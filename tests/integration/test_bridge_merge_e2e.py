"""The EventBridge merge end to end: the real engine against the sandbox, its queue on moto.

The engine watches over the WebSocket; the sandbox's EventBridge envelopes are read from the
loopback SQS queue with botocore, parsed by the consumer's own parser and handed to the merge.
A stalled socket is the gap: what happened in it reaches us only through EventBridge.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.alerts.model import AlertChange, Condition, Rule
from core.app.bridge_merge import BridgeMerge
from core.app.pipeline import Pipeline
from core.engine.records import EventRecord, Record
from core.eventbridge.envelope import parse_envelope
from core.feed.entry import FeedEntry
from core.storage.journal.journal import Journal
from sandbox.server import Sandbox
from tests.integration.sqs_reader import QueueReader
from tests.integration.test_engine import (  # noqa: F401 - the fixture is used by name
    ENGINE_SANDBOX,
    EngineFactory,
    engines,
)
from tests.integration.test_sandbox_eventbridge import EB

pytestmark = pytest.mark.sandbox_config(**{**ENGINE_SANDBOX, **EB, "simulate": False})


async def pump(reader: QueueReader, merge: BridgeMerge) -> None:
    """The consumer in small: receive, parse, hand to the sink, then delete (reader deletes)."""
    while True:
        bodies = await asyncio.to_thread(reader.receive_once, 1)
        if bodies:
            await merge([parse_envelope(body) for body in bodies])


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    async with await Journal.open(tmp_path / "journal.sqlite3") as opened:
        yield opened


async def test_a_gap_comes_back_once_counted_and_its_alert_only_in_history(
    sandbox: Sandbox,
    engines: EngineFactory,  # noqa: F811
    journal: Journal,
) -> None:
    assert sandbox.eventbridge is not None
    engine = await engines(start=False)
    service = engine.service
    rule = Rule("nr", "Not Responding", Condition.AGENT_NOT_RESPONDING)
    pipeline = Pipeline(service.store, rules=[rule], journal=journal.append)
    entries: list[FeedEntry] = []
    alerts: list[AlertChange] = []
    events: list[EventRecord] = []

    moved = asyncio.Event()

    def keep(record: Record) -> None:
        if isinstance(record, EventRecord):
            events.append(record)
            moved.set()

    async def until(condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(20):
            while not condition():
                moved.clear()
                await moved.wait()

    unhook = service.add_listener(pipeline.on_record)
    service.add_listener(keep)

    def took(new: list[FeedEntry]) -> None:
        entries.extend(new)
        moved.set()

    pipeline.add_entry_listener(took)
    pipeline.add_alert_listener(alerts.extend)
    merge = BridgeMerge(service, pipeline, flush=journal.flush, quiet_s=1.0)
    reader = QueueReader(sandbox.eventbridge.queue_url)
    pumping = asyncio.create_task(pump(reader, merge))
    try:
        await service.start()
        pipeline.start()
        await engine.settled()
        user = sorted(service.watch.users)[0]
        route = f"/sandbox/users/{user}/routingstatus"

        # Live: the socket brings it, EventBridge's copy comes later and is dropped.
        await engine.control(route, {"status": "OFF_QUEUE"})
        await engine.control(route, {"status": "IDLE"})

        # The gap: the socket stalls; a Not Responding begins and ends inside it.
        mark = engine.records.mark()
        stalled_at = datetime.now(UTC)
        await engine.fault("stall")
        await engine.control(route, {"status": "NOT_RESPONDING"})
        await engine.control(route, {"status": "IDLE"})
        gap = await engine.next_resync(mark, deadline_s=15.0)
        await engine.settled()

        def gap_lines() -> list[FeedEntry]:
            return [e for e in entries if "recovered from EventBridge," in e.summary]

        await until(lambda: bool(gap_lines()))
        lines = gap_lines()
        assert len(lines) == 1
        published = (await engine.http.get("/sandbox/eventbridge/published")).json()["entities"]
        watched = set(service.watch.users) | set(service.watch.queues)
        in_gap = [
            p
            for p in published
            if stalled_at <= datetime.fromisoformat(p["time"]) <= (gap.ended or stalled_at)
            and p["topic"].split(".")[2 if p["topic"].startswith("v2.users") else 3] in watched
        ]
        assert in_gap, "the sandbox published nothing in the gap"
        assert f", {len(in_gap)} events recovered from EventBridge, re-synced" in lines[0].summary

        # The gap's history in the feed, in the order it happened, marked as recovered.
        told = [
            e.summary.split(": ", 1)[1]
            for e in entries
            if e.subject_id == user and e.kind == "routing" and "(recovered" in e.summary
        ]
        assert len(told) == 2  # before: the live row, or "?" when it came after the re-sync
        assert told[0].endswith(" → Not Responding (recovered from EventBridge)")
        assert told[1] == "Not Responding → Idle (recovered from EventBridge)"

        # Each event once, whichever transport: every published one of the user, exactly once.
        of_user = [p["correlation_id"] for p in published if user in p["topic"]]
        await until(lambda: len({e.correlation_id for e in events if _of(e, user)}) >= len(of_user))
        mine = [e.correlation_id for e in events if _of(e, user)]
        assert sorted(mine) == sorted(of_user)
        recovered = {e.correlation_id for e in events if e.recovered}
        assert {p["correlation_id"] for p in in_gap} <= recovered

        # The alert: once, in history, marked recovered; never a live notification.
        history = [e for e in entries if e.kind == "alert" and "recovered:" in e.summary]
        assert [e.subject_id for e in history] == [user]
        assert history[0].summary.endswith(", while disconnected)")
        assert not [c for c in alerts if c.alert.subject_id == user]
        assert service.store.users[user].routing_status == "IDLE"
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pumping
        merge.close()
        pipeline.stop()
        unhook()  # the journal closes before the engine stops
        reader.close()


def _of(record: EventRecord, user: str) -> bool:
    return getattr(record.event, "user_id", None) == user and record.topic.startswith("v2.users")
