"""The EventBridge history's rows are copies of the live rows that share nothing with them.

The merge starts a history row from the live one for every event newer than both; that copy used
``deepcopy`` (milliseconds per queue with hundreds of members, a tenth of P9's loop). The cheaper
copy must stay whole: whatever the live store does next never shows in the history's row.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from core.app.bridge_merge import _own_row
from core.state.store import Store
from core.streaming.events import (
    ActiveQueuesChanged,
    Event,
    PresenceChanged,
    QueueConversationChanged,
    QueueMembershipChanged,
    QueueObserved,
    RoutingChanged,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def live_store() -> Store:
    store = Store()
    events: list[Event] = [
        PresenceChanged("u1", "def-av", "AVAILABLE", "hi", T0),
        RoutingChanged("u1", "IDLE", T0),
        ActiveQueuesChanged("u1", ("q",), T0),
        QueueObserved("q", waiting=2, interacting=1, on_queue=3, media_type="voice"),
        QueueObserved("q", waiting=1, media_type="chat"),
        QueueConversationChanged("q", "c1", "waiting", None, T0),
    ]
    events += [QueueMembershipChanged("q", f"u{n}", n % 2 == 0) for n in range(300)]
    for event in events:
        store.apply(event)
    store.queue("q").name = "Sales"
    store.user("u1").name = "Ana"
    return store


def test_a_copied_queue_row_keeps_its_picture_whatever_the_live_one_does() -> None:
    store = live_store()
    live = store.queues["q"]
    row, frozen = _own_row(live), copy.deepcopy(live)
    assert row == frozen and row is not live
    for name in ("media", "member_ids", "joined_ids", "conversations"):
        assert getattr(row, name) is not getattr(live, name)  # a write in place stays apart
    later: list[Event] = [
        QueueMembershipChanged("q", "u-new", True),
        QueueMembershipChanged("q", "u2", False),
        QueueConversationChanged("q", "c2", "waiting", None, T0 + timedelta(seconds=5)),
        QueueConversationChanged("q", "c1", "interacting", None, T0 + timedelta(seconds=6)),
        QueueObserved("q", waiting=9, media_type="voice"),
        QueueObserved("q", waiting=0, media_type="chat"),
    ]
    for event in later:
        assert store.apply(event)
    assert store.queues["q"] != frozen  # the live row moved on
    assert row == frozen  # the copy did not


def test_a_copied_user_row_keeps_its_picture_whatever_the_live_one_does() -> None:
    store = live_store()
    live = store.users["u1"]
    row, frozen = _own_row(live), copy.deepcopy(live)
    assert row == frozen and row is not live
    for event in (
        PresenceChanged("u1", "def-brk", "BREAK", "", T0 + timedelta(seconds=9)),
        RoutingChanged("u1", "NOT_RESPONDING", T0 + timedelta(seconds=9)),
        ActiveQueuesChanged("u1", (), T0 + timedelta(seconds=9)),
    ):
        assert store.apply(event)
    assert store.users["u1"] != frozen
    assert row == frozen
