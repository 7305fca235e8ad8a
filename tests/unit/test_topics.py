"""Topic building and the budget planner."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from core.streaming.events import (
    PresenceChanged,
    QueueMembershipChanged,
    RoutingChanged,
    parse_event,
)
from core.streaming.planner import Budget, plan_topics, queue_topics, user_topic
from core.streaming.protocol import TopicEvent

UUID = "8c1f3b2e-5d7a-4e9f-a1b2-c3d4e5f60718"


def test_user_topic_is_one_combined_topic_whose_events_arrive_under_the_documented_names() -> None:
    topic = user_topic(UUID)
    assert topic == f"v2.users.{UUID}?presence&routingStatus"
    assert len(topic) <= 200
    # The service delivers a combined topic's events under one name per suffix (5.1, 5.2).
    presence = {"presenceDefinition": {"id": "d", "systemPresence": "Available"}}
    routing = {"routingStatus": {"status": "IDLE", "startTime": "2026-11-27T09:03:17.067Z"}}
    assert parse_event(TopicEvent(f"v2.users.{UUID}.presence", presence, "2", "")) == [
        PresenceChanged(UUID, "d", "AVAILABLE", "", None)
    ]
    assert parse_event(TopicEvent(f"v2.users.{UUID}.routingStatus", routing, "2", "")) == [
        RoutingChanged(UUID, "IDLE", datetime(2026, 11, 27, 9, 3, 17, 67000, tzinfo=UTC))
    ]
    membership = queue_topics(UUID)[2]
    joined = parse_event(TopicEvent(membership, {"id": "u", "joined": True}, "2", ""))
    assert joined == [QueueMembershipChanged(UUID, "u", True)]


def test_queue_topics_cover_counters_conversations_and_membership() -> None:
    assert queue_topics("q") == (
        "v2.analytics.queues.q.observations",
        "v2.routing.queues.q.conversations",
        "v2.routing.queues.q.users",
    )
    assert queue_topics("q", analytics="activity")[0] == "v2.analytics.queues.q.activity"


def test_1500_users_shard_across_two_channels_under_the_cap() -> None:
    plan = plan_topics(user_topic(f"u{i}") for i in range(1500))
    assert [len(s) for s in plan.shards] == [900, 600]
    assert plan.over_budget == ()
    assert plan.topic_count == 1500


def test_the_pool_reserve_is_never_used_and_overflow_is_reported() -> None:
    budget = Budget(shard_at=10, max_channels=3, reserve_channels=1)
    plan = plan_topics((f"t{i}" for i in range(25)), budget=budget)
    assert len(plan.shards) == 2
    assert plan.topic_count == 20
    assert plan.over_budget == tuple(f"t{i}" for i in range(20, 25))


def test_replanning_keeps_topics_on_their_channel() -> None:
    budget = Budget(shard_at=5)
    first = plan_topics((f"t{i}" for i in range(8)), budget=budget)
    wanted = [f"t{i}" for i in range(8) if i != 2] + ["new"]
    second = plan_topics(wanted, first.shards, budget)
    assert second.shards[0] == tuple(t for t in first.shards[0] if t != "t2")
    assert second.shards[1] == (*first.shards[1], "new")  # the emptier shard takes it


def test_overlong_combined_topics_are_refused_not_sent() -> None:
    long_topic = "v2.users.x?" + "&".join(["presence"] * 30)
    plan = plan_topics([long_topic, "ok"])
    assert plan.over_budget == (long_topic,)
    assert plan.shards == (("ok",),)


@given(
    st.lists(st.text(alphabet="abc", min_size=1, max_size=3), max_size=60),
    st.lists(st.text(alphabet="abc", min_size=1, max_size=3), max_size=60),
    st.integers(1, 7),
    st.integers(2, 5),
)
def test_every_wanted_topic_is_placed_once_or_reported(
    before: list[str], after: list[str], shard_at: int, channels: int
) -> None:
    budget = Budget(shard_at=shard_at, max_channels=channels, reserve_channels=1)
    first = plan_topics(before, budget=budget)
    plan = plan_topics(after, first.shards, budget)
    placed = [t for s in plan.shards for t in s]
    assert len(placed) == len(set(placed))
    assert set(placed) | set(plan.over_budget) == set(after)
    assert all(len(s) <= shard_at for s in plan.shards)
    assert not plan.shards or plan.shards[-1]  # an emptied slot stays only between full ones
    assert len(plan.shards) <= budget.usable_channels


# Arbitrary text: whatever a selection or a server hands us, topic handling never crashes.
@given(st.text(max_size=400))
def test_any_topic_text_is_read_without_crashing(topic: str) -> None:
    assert user_topic(topic).startswith(f"v2.users.{topic}?")
    read = parse_event(TopicEvent(topic, {}, "2", ""))
    assert read is None or isinstance(read, list)


@given(st.lists(st.text(max_size=260), max_size=40), st.lists(st.text(max_size=260), max_size=40))
@example(before=["0", "1", "00", "000", "0000", ""], after=[""])  # the first shard empties
def test_any_topic_text_is_placed_once_or_reported(before: list[str], after: list[str]) -> None:
    budget = Budget(shard_at=5, max_channels=4)
    first = plan_topics(before, budget=budget)  # the shards a running engine holds
    plan = plan_topics(after, first.shards, budget)
    placed = [t for s in plan.shards for t in s]
    assert len(placed) == len(set(placed))
    assert set(placed) | set(plan.over_budget) == set(after)
    assert all(len(t) <= 200 for t in placed if "?" in t)
    assert all(len(s) <= 5 for s in plan.shards)
    # An emptied shard keeps its slot in the middle (see the next test); never at the tail.
    assert not plan.shards or plan.shards[-1]


def test_an_emptied_shard_keeps_its_slot() -> None:
    """The service maps plan index to channel slot: a gap closed by dropping the empty shard
    made every later channel re-PUT another's topics."""
    budget = Budget(shard_at=2, max_channels=5)
    current = [("a", "b"), ("c", "d"), ("e", "f")]
    plan = plan_topics(["a", "b", "e", "f"], current, budget)
    assert plan.shards == (("a", "b"), (), ("e", "f"))
    assert plan.channels == 2
    tail = plan_topics(["a", "b"], current, budget)
    assert tail.shards == (("a", "b"),)
