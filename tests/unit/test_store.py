"""The store converges whatever order, repetition or staleness the events come in."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from core.domain.media import MediaCounts
from core.state.store import Store
from core.streaming.events import (
    Event,
    PresenceChanged,
    QueueConversationChanged,
    QueueCountersRead,
    QueueMembershipChanged,
    QueueObserved,
    RoutingChanged,
    WaitingConversation,
)

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
    assert store.snapshot()["queues"]["q"] == {
        "waiting": 0,
        "interacting": 2,
        "media": {"": {"waiting": 0, "interacting": 2}},
    }


def test_media_groups_add_up_and_the_last_group_to_speak_does_not_win() -> None:
    """Against a multichannel stand-in the app took each group's event as the queue's total."""
    store = Store()
    store.apply(QueueObserved("q", waiting=3, interacting=1, media_type="voice"))
    store.apply(QueueObserved("q", waiting=1, interacting=2, media_type="chat"))
    store.apply(QueueObserved("q", waiting=0, interacting=1, media_type="email"))
    q = store.queues["q"]
    assert (q.waiting, q.interacting) == (4, 4)
    # A partial .activity block changes only what it names.
    store.apply(QueueObserved("q", waiting=2, media_type="voice"))
    assert (q.waiting, q.interacting) == (3, 4)
    assert store.snapshot()["queues"]["q"]["media"] == {
        "voice": {"waiting": 2, "interacting": 1},
        "chat": {"waiting": 1, "interacting": 2},
        "email": {"waiting": 0, "interacting": 1},
    }
    # A group that goes quiet publishes zeros once, and is gone.
    store.apply(QueueObserved("q", waiting=0, interacting=0, alerting=0, media_type="chat"))
    assert set(q.media) == {"voice", "email"}
    assert (q.waiting, q.interacting) == (2, 2)


def test_user_counts_in_a_media_group_do_not_touch_the_other_groups() -> None:
    store = Store()
    store.apply(QueueObserved("q", waiting=2, media_type="voice"))
    store.apply(QueueObserved("q", on_queue=7, off_queue=1))  # the {queueId} group
    q = store.queues["q"]
    assert (q.waiting, q.on_queue, q.off_queue) == (2, 7, 1)


def test_a_read_replaces_the_group_set() -> None:
    store = Store()
    store.apply(QueueObserved("q", waiting=2, media_type="voice"))
    store.apply(QueueObserved("q", waiting=5, media_type="chat"))
    read = QueueCountersRead("q", (("voice", MediaCounts(waiting=1, interacting=3)),), 4, 0)
    store.apply(read)
    q = store.queues["q"]
    assert (q.waiting, q.interacting, q.on_queue) == (1, 3, 4)
    assert set(q.media) == {"voice"}  # chat went quiet during the gap: it must not linger


def test_a_read_keeps_the_groups_the_stream_spoke_for_since() -> None:
    store = Store()
    store.apply(QueueObserved("q", waiting=2, media_type="voice"))
    store.apply(QueueObserved("q", waiting=5, media_type="chat"))
    groups = (("voice", MediaCounts(waiting=1)), ("chat", MediaCounts(waiting=9)))
    store.apply(QueueCountersRead("q", groups, keep_media=frozenset({"chat"})))
    assert store.queues["q"].waiting == 1 + 5


def test_a_read_drops_phantom_conversations() -> None:
    """A lost "ended" event left a conversation waiting for ever: the longest wait read
    7,200 s two hours later while the re-synced waiting count was 0."""
    store = Store()
    store.apply(QueueConversationChanged("q", "lost", "waiting", None, T0, "voice"))
    store.apply(QueueConversationChanged("q", "ringing", "alerting", "u", T0, "voice"))
    later = T0 + timedelta(hours=2)
    assert store.longest_wait_s("q", later) == 7200
    store.apply(QueueCountersRead("q", (), 0, 0, waiting=()))
    assert store.queues["q"].conversations == {}
    assert store.longest_wait_s("q", later) is None


def test_a_read_with_details_knows_which_conversations_wait() -> None:
    store = Store()
    store.apply(QueueConversationChanged("q", "old", "waiting", None, T0, "voice"))
    since = T0 + timedelta(minutes=5)
    read = QueueCountersRead(
        "q",
        (("chat", MediaCounts(waiting=1)),),
        waiting=(WaitingConversation("new", since, "chat"),),
    )
    store.apply(read)
    assert store.queues["q"].conversations == {"new": ("waiting", since)}


def test_a_read_without_details_trims_the_oldest_surplus() -> None:
    store = Store()
    for minute in range(3):
        stamp = T0 + timedelta(minutes=minute)
        store.apply(QueueConversationChanged("q", f"c{minute}", "waiting", None, stamp))
    store.apply(QueueCountersRead("q", (("voice", MediaCounts(waiting=2)),)))
    assert set(store.queues["q"].conversations) == {"c1", "c2"}


def test_a_read_leaves_conversations_alone_when_the_stream_spoke_since() -> None:
    store = Store()
    store.apply(QueueConversationChanged("q", "c", "waiting", None, T0))
    store.apply(QueueCountersRead("q", (), waiting=(), keep_conversations=True))
    assert set(store.queues["q"].conversations) == {"c"}


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
    for event in events:
        a.apply(event)
    for event in doubled:
        b.apply(event)
    assert a.snapshot() == b.snapshot()
    for user in {e.user_id for e in events if isinstance(e, RoutingChanged)}:
        newest = max(
            (e for e in events if isinstance(e, RoutingChanged) and e.user_id == user),
            key=lambda e: e.since or T0,
        )
        assert b.users[user].routing_status == newest.status


def test_labels_active_queues_and_longest_wait() -> None:
    from core.streaming.events import ActiveQueuesChanged, QueueConversationChanged

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
    assert store.longest_wait_s("q1", T0 + timedelta(seconds=40)) == 10  # ringing: not waiting
    store.apply(QueueConversationChanged("q1", "c1", "waiting", None, None))  # rang out
    assert store.longest_wait_s("q1", T0 + timedelta(seconds=40)) == 40  # its whole wait
    store.apply(QueueConversationChanged("q1", "c1", "interacting", "a", None))
    assert store.longest_wait_s("q1", T0 + timedelta(seconds=40)) == 10
    store.apply(QueueConversationChanged("q1", "c2", "ended", None, None))
    assert store.longest_wait_s("q1", T0 + timedelta(seconds=40)) is None
