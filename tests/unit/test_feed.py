"""Feed entries read like a person would say them, with names and org labels resolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.engine.records import BudgetRecord, ChangeRecord, EngineState, GapRecord, StateRecord
from core.feed.builder import FeedBuilder
from core.feed.payloads import (
    AlertData,
    BudgetData,
    ConnectionData,
    GapData,
    MembershipData,
    PresenceData,
    QueueData,
    RoutingData,
)
from core.rest.schema import RejectedTopic
from core.state.store import Store
from core.streaming.events import (
    PresenceChanged,
    QueueMembershipChanged,
    QueueObserved,
    RoutingChanged,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def build() -> tuple[Store, FeedBuilder]:
    store = Store()
    store.user("u").name = "Dana Agent"
    store.queue("q").name = "Sales EN"
    store.presence_labels.update({"oq": "On Queue", "lunch": "Lunch"})
    return store, FeedBuilder(store, clock=lambda: T0)


def test_presence_change_uses_org_labels_and_marks_resync() -> None:
    store, feed = build()
    store.apply(PresenceChanged("u", "oq", "ON_QUEUE", "", T0))
    [change] = store.apply(PresenceChanged("u", "lunch", "MEAL", "", T0 + timedelta(seconds=5)))
    [entry] = feed.entries(ChangeRecord(change, "stream"))
    assert (entry.kind, entry.subject, entry.summary) == (
        "presence",
        "Dana Agent",
        "Dana Agent: On Queue → Lunch",
    )
    [change] = store.apply(PresenceChanged("u", "oq", "ON_QUEUE", "", T0 + timedelta(seconds=9)))
    [entry] = feed.entries(ChangeRecord(change, "resync"))
    assert entry.summary == "Dana Agent: Lunch → On Queue (changed while disconnected)"
    assert entry.data == PresenceData("resync", "ON_QUEUE", "oq")


def test_not_responding_is_a_warning() -> None:
    store, feed = build()
    store.apply(RoutingChanged("u", "IDLE", T0))
    [change] = store.apply(RoutingChanged("u", "NOT_RESPONDING", T0 + timedelta(seconds=1)))
    [entry] = feed.entries(ChangeRecord(change, "stream"))
    assert entry.summary == "Dana Agent: Idle → Not Responding"
    assert entry.severity == "warning"
    assert entry.data == RoutingData("stream", "NOT_RESPONDING", "IDLE")
    assert isinstance(entry.data, RoutingData) and not entry.data.routine  # news, not routine


def test_queue_counts_and_membership() -> None:
    store, feed = build()
    store.apply(QueueObserved("q", waiting=1, interacting=2))
    [change] = store.apply(QueueObserved("q", waiting=4, interacting=2))
    [entry] = feed.entries(ChangeRecord(change, "stream"))
    assert entry.summary == "Sales EN: waiting 1 → 4"
    assert entry.data == QueueData("stream", waiting=4)  # interacting did not change
    [change] = store.apply(QueueMembershipChanged("q", "u", True))
    [entry] = feed.entries(ChangeRecord(change, "stream"))
    assert entry.summary == "Dana Agent joined Sales EN"
    assert entry.data == MembershipData("u", joined=True)


def test_gap_markers_say_how_long_and_what_was_resynced() -> None:
    _, feed = build()
    [start] = feed.entries(GapRecord("start", "closed", T0))
    assert start.summary == "Disconnected (closed)" and start.severity == "warning"
    assert start.data == GapData("start", "closed")
    [end] = feed.entries(
        GapRecord(
            "end",
            "closed",
            T0,
            T0 + timedelta(seconds=42),
            users_resynced=37,
            queues_resynced=3,
            changed=5,
        )
    )
    assert end.summary == "Disconnected 00:42, re-synced 37 users and 3 queues (5 changed)"
    assert end.data == GapData("end", "closed", 42.0, users=37, queues=3, changed=5)


def test_connection_and_budget_entries() -> None:
    _, feed = build()
    [entry] = feed.entries(StateRecord(EngineState.RECONNECTING, "dead"))
    assert entry.kind == "connection" and entry.severity == "warning"
    assert entry.data == ConnectionData("reconnecting", "dead")
    rejected = (
        RejectedTopic(
            "v2.analytics.queues.q.observations",
            "missing permissions",
            ("analytics:queueObservation:view",),
        ),
    )
    [entry] = feed.entries(BudgetRecord(3, 1, (3,), 900, (), rejected))
    assert entry.summary == "1 topics rejected (missing analytics:queueObservation:view)"
    assert entry.data == BudgetData((rejected[0].id,), ("analytics:queueObservation:view",))
    assert feed.entries(BudgetRecord(3, 1, (3,), 900, (), ())) == []


def test_alerts_become_feed_lines_from_firing_to_resolved() -> None:
    from core.alerts.engine import RuleEngine
    from core.alerts.model import ChangeKind, Condition, Rule, Severity
    from core.feed.builder import alert_entry

    now = [0.0]
    wall = [T0]
    rule = Rule("waiting", "Calls waiting", Condition.QUEUE_WAITING_ABOVE, threshold=2)
    engine = RuleEngine([rule], clock=lambda: now[0], wall=lambda: wall[0])
    store = Store()
    store.queue("q1").name = "Sales EN"
    store.apply(QueueObserved("q1", waiting=5))
    fired = engine.evaluate(store, "live")
    assert [c.kind for c in fired] == [ChangeKind.FIRED]
    line = alert_entry(fired[0])
    assert (line.at, line.kind, line.subject_id, line.subject) == (T0, "alert", "q1", "Sales EN")
    assert line.summary.startswith("Calls waiting fired: ") and "5" in line.summary
    assert line.severity == "warning"
    assert isinstance(line.data, AlertData)
    assert (line.data.rule_id, line.data.change, line.data.value) == ("waiting", "fired", 5)

    now[0], wall[0] = 10.0, T0 + timedelta(seconds=10)
    store.apply(QueueObserved("q1", waiting=0))
    resolved = engine.evaluate(store, "live")
    assert [c.kind for c in resolved] == [ChangeKind.RESOLVED]
    done = alert_entry(resolved[0])
    assert done.at == T0 + timedelta(seconds=10)
    assert done.summary == "Calls waiting resolved: Sales EN"  # not "5 waiting" again
    assert done.severity == "info"  # a resolution is good news, never a warning line

    quiet = Rule("info", "FYI", Condition.QUEUE_WAITING_ABOVE, threshold=0, severity=Severity.INFO)
    engine.set_rules([quiet])
    store.apply(QueueObserved("q1", waiting=1))
    assert alert_entry(engine.evaluate(store, "live")[0]).severity == "info"


def test_idle_interacting_moves_are_routine_and_keep_their_previous_status() -> None:
    """The feed hides routine moves by default (issue 16, defect 6): the data must say which."""
    from core.feed.payloads import payload_from_json

    store, feed = build()
    store.apply(RoutingChanged("u", "IDLE", T0))
    routine: list[bool] = []
    for n, status in enumerate(("INTERACTING", "IDLE", "NOT_RESPONDING", "IDLE"), start=1):
        [change] = store.apply(RoutingChanged("u", status, T0 + timedelta(seconds=n)))
        [entry] = feed.entries(ChangeRecord(change, "stream"))
        assert isinstance(entry.data, RoutingData)
        routine.append(entry.data.routine)
        assert payload_from_json("routing", entry.data.to_json()) == entry.data  # the journal
    assert routine == [True, True, False, False]  # Not Responding, and its end, are news
    old_row = {"source": "stream", "routingStatus": "IDLE"}  # written before previousStatus
    assert payload_from_json("routing", old_row) == RoutingData("stream", "IDLE")
