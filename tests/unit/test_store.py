"""The store converges whatever order, repetition or staleness the events come in."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from core.events import (
    Event,
    PresenceChanged,
    QueueMembershipChanged,
    QueueObserved,
    RoutingChanged,
)
from core.store import Store

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def presence(user: str, system: str, seconds: int, definition: str = "d") -> PresenceChanged:
    return PresenceChanged(
        user, f"{definition}-{system}", system, "", T0 + timedelta(seconds=seconds)
    )


def routing(user: str, status: str, seconds: int) -> RoutingChanged:
    return RoutingChanged(user, status, T0 + timedelta(seconds=seconds))


def test_newer_wins_and_older_is_ignored() -> None:
    store = Store()
    store.apply(routing("u", "IDLE", 10))
    assert store.apply(routing("u", "INTERACTING", 5)) == []
    assert store.users["u"].routing_status == "IDLE"
    assert store.ignored_stale == 1
    changes = store.apply(routing("u", "NOT_RESPONDING", 20))
    assert [c.fields for c in changes] == [("routing_status", "routing_since")]
    assert changes[0].before[0] == "IDLE" and changes[0].after[0] == "NOT_RESPONDING"


def test_repeats_change_nothing() -> None:
    store = Store()
    event = presence("u", "ON_QUEUE", 1)
    assert store.apply(event)
    assert store.apply(event) == []


def test_presence_keeps_the_org_definition_id() -> None:
    store = Store()
    store.apply(PresenceChanged("u", "lunch-id", "MEAL", "", T0))
    snap = store.snapshot()["users"]["u"]
    assert snap == {"presence": "MEAL", "presenceDefinitionId": "lunch-id", "routingStatus": None}


def test_queue_observations_merge_field_by_field() -> None:
    store = Store()
    store.apply(QueueObserved("q", waiting=3, interacting=2, on_queue=5))
    store.apply(QueueObserved("q", waiting=1, longest_wait_ms=4000))
    q = store.queues["q"]
    assert (q.waiting, q.interacting, q.on_queue, q.longest_wait_ms) == (1, 2, 5, 4000)
    store.apply(QueueObserved("q", waiting=0, alerting=0))
    assert store.queues["q"].longest_wait_ms is None
    assert store.snapshot()["queues"]["q"] == {"waiting": 0, "interacting": 2}


def test_membership_tracks_members_and_joined() -> None:
    store = Store()
    store.apply(QueueMembershipChanged("q", "a", True))
    store.apply(QueueMembershipChanged("q", "b", False))
    assert store.queues["q"].member_ids == {"a", "b"}
    assert store.queues["q"].joined_ids == {"a"}
    store.apply(QueueMembershipChanged("q", "a", False))
    assert store.queues["q"].joined_ids == set()


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["u1", "u2"]),
            st.sampled_from(["IDLE", "INTERACTING", "OFF_QUEUE"]),
            st.integers(0, 50),
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 2**32),
)
def test_any_order_converges_to_the_newest_status(
    raw: list[tuple[str, str, int]], seed: int
) -> None:
    # Distinct timestamps per user, as a real stream has.
    seen: set[tuple[str, int]] = set()
    events: list[Event] = []
    for user, status, second in raw:
        if (user, second) not in seen:
            seen.add((user, second))
            events.append(routing(user, status, second))
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    doubled = shuffled + shuffled[: len(shuffled) // 2]  # duplicates around a reconnect
    a, b = Store(), Store()
    a.apply_all(events)
    b.apply_all(doubled)
    assert a.snapshot() == b.snapshot()
    for user in {e.user_id for e in events if isinstance(e, RoutingChanged)}:
        newest = max(
            (e for e in events if isinstance(e, RoutingChanged) and e.user_id == user),
            key=lambda e: e.since or T0,
        )
        assert b.users[user].routing_status == newest.status


def test_labels_active_queues_and_longest_wait() -> None:
    from core.events import ActiveQueuesChanged, QueueConversationChanged

    store = Store()
    store.presence_labels["lunch-id"] = "Lunch"
    store.apply(PresenceChanged("u", "lunch-id", "MEAL", "", T0))
    store.apply(PresenceChanged("v", "unknown-id", "ON_QUEUE", "", T0))
    assert store.presence_label("u") == "Lunch"
    assert store.presence_label("v") == "On Queue"
    store.apply(QueueMembershipChanged("q1", "u", True))
    store.apply(QueueMembershipChanged("q2", "u", False))
    assert store.active_queues("u") == ("q1",)
    store.apply(ActiveQueuesChanged("u", ("q2",), T0))
    assert store.active_queues("u") == ("q2",)
    store.apply(QueueConversationChanged("q1", "c1", "waiting", None, T0))
    store.apply(QueueConversationChanged("q1", "c2", "waiting", None, T0 + timedelta(seconds=30)))
    store.apply(QueueConversationChanged("q1", "c1", "alerting", "a", None))  # keeps its start
    assert store.longest_wait_s("q1", T0 + timedelta(seconds=40)) == 40
    store.apply(QueueConversationChanged("q1", "c1", "interacting", "a", None))
    assert store.longest_wait_s("q1", T0 + timedelta(seconds=40)) == 10
    store.apply(QueueConversationChanged("q1", "c2", "ended", None, None))
    assert store.longest_wait_s("q1", T0 + timedelta(seconds=40)) is None
