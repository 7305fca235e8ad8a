"""The cross-transport dedup must tell two alike events apart, and one event on both transports
together, whatever the transports do with CorrelationId (absent, different, or shared: the fact
sheet leaves it unconfirmed).

Found by tests/integration/test_listen_eventbridge.py (about a third of the runs stopped listen
before the first match by CorrelationId): content was what a body parses into, so an event that
happened in a gap was cancelled by an earlier, different socket event whose body parsed alike,
and was never printed or journaled. Content is now the whole body; for bodies that are exactly
alike, EventBridge's event time rules out a socket frame that arrived before the event happened.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.engine.crossdedup import EARLY_S, CrossDedup
from core.streaming.events import parse_event
from core.streaming.protocol import TopicEvent

TOPIC = "v2.routing.queues.q1.conversations"


def _frame(correlation_id: str, note: str) -> TopicEvent:
    body = {
        "id": "c1",
        "participants": [
            {"purpose": "acd", "state": "connected", "connectedTime": "2026-12-05T19:00:00Z"},
            {"purpose": "customer", "state": "connected", "note": note},
        ],
    }
    return TopicEvent(TOPIC, body, "2", correlation_id)


T0 = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)
PRESENCE = "v2.users.u1.presence"


def available(correlation_id: str = "") -> TopicEvent:
    """A presence frame without ``modifiedDate``: every "Available" is exactly alike."""
    body = {
        "source": "PURECLOUD",
        "presenceDefinition": {"id": "p-av", "systemPresence": "AVAILABLE"},
    }
    return TopicEvent(PRESENCE, body, "2", correlation_id)


class Clock:
    """The socket's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now

    def at(self, when: datetime) -> None:
        self.now = when.timestamp()


def _dedup(clock: Clock) -> CrossDedup:
    return CrossDedup(wall=clock, monotonic=lambda: 0.0)


def test_a_gap_event_alike_an_earlier_socket_event_is_not_lost() -> None:
    dedup = CrossDedup()
    before, in_gap = _frame("before", "a"), _frame("in-gap", "b")  # two events, alike typed
    typed_before, typed_gap = parse_event(before), parse_event(in_gap)
    assert typed_before is not None and typed_gap is not None and typed_before == typed_gap
    assert dedup.websocket(before, typed_before)  # the socket brought the first one
    # The socket was down for the second: only EventBridge has it, then the first one's copy.
    emitted = dedup.bridged(in_gap, typed_gap)
    copy_of_first = dedup.bridged(before, typed_before)
    assert emitted, "the gap's event was taken for the copy of an earlier one"
    assert not copy_of_first


@pytest.mark.parametrize(
    ("before_ws", "before_eb", "gap_eb"),
    [
        ("before", "before", "in-gap"),  # ids shared (not yet known)
        ("ws-1", "eb-1", "eb-2"),  # ids differ between the transports
        ("", "", ""),  # no ids at all
        ("ws-1", "", ""),  # ids on the socket only
    ],
)
def test_an_exactly_alike_event_of_a_gap_is_new_whatever_the_ids(
    before_ws: str, before_eb: str, gap_eb: str
) -> None:
    clock = Clock()
    dedup = _dedup(clock)
    clock.at(T0 + timedelta(seconds=0.3))  # the socket brings the first event 0.3 s after
    assert dedup.websocket(available(before_ws))
    # The socket is down; 20 s later the agent is Available again: only EventBridge has it,
    # and its backlog brings it before the first one's copy.
    clock.at(T0 + timedelta(seconds=30))
    assert dedup.bridged(available(gap_eb), happened=T0 + timedelta(seconds=20))
    assert not dedup.bridged(available(before_eb), happened=T0)
    assert dedup.duplicates == {"websocket": 0, "eventbridge": 1}


@pytest.mark.parametrize(("ws_id", "eb_id"), [("ws-1", "eb-1"), ("", ""), ("", "eb-1")])
def test_the_same_event_is_matched_by_content_when_ids_differ_or_are_absent(
    ws_id: str, eb_id: str
) -> None:
    clock = Clock()
    dedup = _dedup(clock)
    clock.at(T0 + timedelta(seconds=1.5))
    assert dedup.websocket(available(ws_id))
    # A clock a few seconds behind Genesys' still matches (within EARLY_S)...
    assert not dedup.bridged(available(eb_id), happened=T0 + timedelta(seconds=EARLY_S))
    # ... and EventBridge first, the socket's copy after, the same.
    assert dedup.bridged(available(eb_id + "-2"), happened=T0 + timedelta(seconds=60))
    clock.at(T0 + timedelta(seconds=60.4))
    assert not dedup.websocket(available(ws_id + "-2" if ws_id else ""))
    assert dedup.duplicates == {"websocket": 1, "eventbridge": 1}


def test_the_copy_is_matched_to_the_socket_frame_closest_in_time() -> None:
    """Two alike events the socket brought: each copy takes its own, so a third, from a gap
    after them, is still new (taking the oldest would leave the second's copy nothing)."""
    clock = Clock()
    dedup = _dedup(clock)
    for seconds, cid in ((0.2, "ws-a"), (40.2, "ws-b")):
        clock.at(T0 + timedelta(seconds=seconds))
        assert dedup.websocket(available(cid))
    clock.at(T0 + timedelta(seconds=120))
    assert not dedup.bridged(available("eb-b"), happened=T0 + timedelta(seconds=40))
    assert dedup.bridged(available("eb-gap"), happened=T0 + timedelta(seconds=80))
    assert not dedup.bridged(available("eb-a"), happened=T0)


def test_once_ids_are_known_shared_alike_events_with_other_ids_never_match() -> None:
    clock = Clock()
    dedup = _dedup(clock)
    assert dedup.websocket(available("one"))
    assert not dedup.bridged(available("one"), happened=T0)  # matched by id: shared
    assert dedup.ids_shared
    clock.at(T0 + timedelta(seconds=10))
    assert dedup.websocket(available("two"))
    # An alike event of the same moment, but another id: another event.
    assert dedup.bridged(available("three"), happened=T0 + timedelta(seconds=10))
    assert not dedup.bridged(available("two"), happened=T0 + timedelta(seconds=10))
    # A frame without an id is still matched by content, either way round.
    clock.at(T0 + timedelta(seconds=10.5))
    assert not dedup.websocket(available(""))  # the socket's copy of "three"
    clock.at(T0 + timedelta(seconds=20))
    assert dedup.websocket(available(""))
    assert not dedup.bridged(available("four"), happened=T0 + timedelta(seconds=20))


def test_an_id_reused_for_other_content_does_not_merge_two_events() -> None:
    """CorrelationId may not be unique per event: the same id with other content is not a twin."""
    dedup = CrossDedup()
    away = TopicEvent(
        PRESENCE, {"presenceDefinition": {"id": "p-away", "systemPresence": "AWAY"}}, "2", "c"
    )
    assert dedup.websocket(available("c"))
    assert dedup.bridged(away)
    assert not dedup.bridged(available("c"))  # its own copy
    assert dedup.duplicates == {"websocket": 0, "eventbridge": 1}


def test_key_order_does_not_make_two_copies_differ() -> None:
    dedup = CrossDedup()
    body = {
        "source": "PURECLOUD",
        "presenceDefinition": {"id": "p-av", "systemPresence": "AVAILABLE"},
    }
    shuffled = {
        "presenceDefinition": {"systemPresence": "AVAILABLE", "id": "p-av"},
        "source": "PURECLOUD",
    }
    assert dedup.websocket(TopicEvent(PRESENCE, body, "2", "ws"))
    assert not dedup.bridged(TopicEvent(PRESENCE, shuffled, "2", "eb"))
