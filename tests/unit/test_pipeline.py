"""The one pipeline: records become feed entries and journal rows, the rules run per batch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from core.alerts.model import AlertChange, ChangeKind, Condition, Rule
from core.app.pipeline import Pipeline
from core.engine.records import (
    ChangeRecord,
    EngineState,
    EventRecord,
    GapRecord,
    Record,
    StateRecord,
)
from core.feed.entry import FeedEntry
from core.feed.payloads import AlertData
from core.state.store import Store
from core.streaming.events import QueueObserved, RoutingChanged

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
WAITING = Rule(
    id="waiting",
    name="Calls waiting",
    condition=Condition.QUEUE_WAITING_ABOVE,
    threshold=2,
    for_s=0,
    cooldown_s=0,
)


class Taps:
    """What the pipeline hands its subscribers, in order."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.journal: list[FeedEntry] = []
        self.order: list[str] = []
        self.changes: list[AlertChange] = []
        self.fired = asyncio.Event()
        pipeline.add_record_listener(self._on_record)
        pipeline.add_entry_listener(self._on_entries)
        pipeline.add_alert_listener(self._on_alerts)

    def _on_record(self, record: Record) -> None:
        self.order.append(type(record).__name__)

    def _on_entries(self, entries: list[FeedEntry]) -> None:
        self.order.extend(f"entry:{entry.kind}" for entry in entries)

    def _on_alerts(self, changes: list[AlertChange]) -> None:
        self.changes.extend(changes)
        if any(change.kind is ChangeKind.FIRED for change in changes):
            self.fired.set()


def _pipeline(
    rules: list[Rule], *, batch_s: float = 0.125, tick_s: float = 1.0
) -> tuple[Pipeline, Store, Taps]:
    store = Store()
    store.user("u").name = "Dana Agent"
    store.queue("q").name = "Sales EN"
    journal: list[FeedEntry] = []
    pipeline = Pipeline(store, rules=rules, journal=journal.append, batch_s=batch_s, tick_s=tick_s)
    taps = Taps(pipeline)
    taps.journal = journal
    return pipeline, store, taps


def _waiting(store: Store, pipeline: Pipeline, count: int) -> None:
    for change in store.apply(QueueObserved("q", waiting=count)):
        pipeline.on_record(ChangeRecord(change, "stream"))


def test_a_change_is_journaled_and_its_entries_go_out_before_the_record() -> None:
    pipeline, store, taps = _pipeline([])
    for change in store.apply(RoutingChanged("u", "IDLE", T0)):
        pipeline.on_record(ChangeRecord(change, "stream"))
    assert [e.kind for e in taps.journal] == ["routing"]
    assert taps.order == ["entry:routing", "ChangeRecord"]  # entries first: a gap flushes its own
    taps.order.clear()
    event = EventRecord("v2.users.u.routingStatus", RoutingChanged("u", "IDLE", T0))
    pipeline.on_record(event)  # the hot path: handed on, nothing built
    assert taps.order == ["EventRecord"] and len(taps.journal) == 1
    assert pipeline.events == 1


def test_store_changes_do_not_run_the_rules_until_started() -> None:
    pipeline, store, taps = _pipeline([WAITING])
    pipeline.on_record(StateRecord(EngineState.LIVE, ""))
    runs = pipeline.evaluations
    for count in range(3, 10):
        _waiting(store, pipeline, count)
    assert pipeline.evaluations == runs and taps.changes == []  # never per record


async def test_a_batch_of_changes_runs_the_rules_once_and_the_alert_is_journaled() -> None:
    pipeline, store, taps = _pipeline([WAITING], batch_s=0.01, tick_s=3600)
    pipeline.on_record(StateRecord(EngineState.LIVE, ""))
    pipeline.start()
    try:
        runs = pipeline.evaluations
        for count in range(3, 10):
            _waiting(store, pipeline, count)
        await asyncio.wait_for(taps.fired.wait(), 5)
        assert pipeline.evaluations == runs + 1  # one run for the whole batch
    finally:
        pipeline.stop()
    [fired] = taps.changes
    assert (fired.kind, fired.alert.subject_id) == (ChangeKind.FIRED, "q")
    alert_rows = [e for e in taps.journal if e.kind == "alert"]
    assert [e.summary for e in alert_rows] == ["Calls waiting fired: " + fired.alert.summary]
    assert "entry:alert" in taps.order
    assert [a.id for a in pipeline.active] == [fired.alert.id]


def test_a_state_change_and_a_resync_run_the_rules_at_once() -> None:
    pipeline, store, taps = _pipeline([WAITING])
    _waiting(store, pipeline, 5)  # while not live: the store may be out of date
    pipeline.on_record(StateRecord(EngineState.RECONNECTING, "socket closed"))
    assert taps.changes == []
    pipeline.on_record(StateRecord(EngineState.LIVE, ""))
    assert [c.kind for c in taps.changes] == [ChangeKind.FIRED]
    _waiting(store, pipeline, 0)
    pipeline.on_record(GapRecord("end", "drop", T0, T0, queues_resynced=1, changed=1))
    assert [c.kind for c in taps.changes] == [ChangeKind.FIRED, ChangeKind.RESOLVED]
    assert pipeline.state is EngineState.LIVE


def test_acknowledging_and_removing_a_rule_are_published_and_journaled() -> None:
    pipeline, store, taps = _pipeline([WAITING])
    pipeline.on_record(StateRecord(EngineState.LIVE, ""))
    _waiting(store, pipeline, 5)
    [fired] = pipeline.evaluate()
    assert pipeline.acknowledge(fired.alert.id) is not None
    assert pipeline.acknowledge(fired.alert.id) is None  # already seen: nothing published
    pipeline.set_rules([])
    assert [c.kind for c in taps.changes] == [
        ChangeKind.FIRED,
        ChangeKind.ACKNOWLEDGED,
        ChangeKind.RESOLVED,
    ]
    assert [e.data.change for e in taps.journal if isinstance(e.data, AlertData)] == [
        "fired",
        "acknowledged",
        "resolved",
    ]
    assert pipeline.active == [] and pipeline.rules == []


def test_a_failing_alert_listener_does_not_stop_the_others() -> None:
    pipeline, store, taps = _pipeline([WAITING])

    def broken(changes: list[AlertChange]) -> None:
        raise RuntimeError("a subscriber's bug")

    later: list[AlertChange] = []
    remove = pipeline.add_alert_listener(broken)
    pipeline.add_alert_listener(later.extend)
    pipeline.on_record(StateRecord(EngineState.LIVE, ""))
    _waiting(store, pipeline, 5)
    pipeline.evaluate()
    assert [c.kind for c in later] == [ChangeKind.FIRED] == [c.kind for c in taps.changes]
    remove()
    remove()  # twice: harmless
    _waiting(store, pipeline, 0)
    pipeline.evaluate()
    assert [c.kind for c in later] == [ChangeKind.FIRED, ChangeKind.RESOLVED]
