"""The cross-transport dedup when a queue conversation's typed content repeats.

Found by the EventBridge chaos run (tests/chaos/bridge.py): after a delivery outage the backlog
arrives in batches not in event order, so EventBridge can bring an event the socket missed (in a
gap) before the copies of earlier socket events with the same typed content. Matched by content,
it was dropped, and the earlier copies, matched by their correlation ids, were dropped too: the
gap's event was lost.
"""

from __future__ import annotations

from core.engine.crossdedup import CrossDedup
from core.streaming.events import parse_event
from core.streaming.protocol import TopicEvent

QUEUE = "22222222-2222-4222-8222-222222222222"
CONVERSATION = "33333333-3333-4333-8333-333333333333"


def waiting(cid: str) -> TopicEvent:
    """A queue conversation update whose typed content is the same every time ("waiting")."""
    body = {
        "id": CONVERSATION,
        "participants": [
            {"purpose": "customer", "state": "connected"},
            {"purpose": "acd", "state": "connected", "connectedTime": "2026-12-05T14:00:00Z"},
        ],
    }
    return TopicEvent(f"v2.routing.queues.{QUEUE}.conversations", body, "2", cid)


def test_an_event_from_a_gap_is_not_taken_for_an_earlier_one_with_the_same_content() -> None:
    dedup = CrossDedup()
    frames = {cid: waiting(cid) for cid in ("a", "b", "c", "x")}
    typed = {cid: parse_event(frame) or [] for cid, frame in frames.items()}
    assert typed["a"] and typed["a"] == typed["x"]  # the same typed content
    # Correlation ids are shared by the transports (learnt from a first match).
    assert dedup.websocket(frames["a"], typed["a"])
    assert not dedup.bridged(frames["a"], typed["a"])
    # The socket brings b and c; then it stalls and misses x.
    assert dedup.websocket(frames["b"], typed["b"])
    assert dedup.websocket(frames["c"], typed["c"])
    # EventBridge's backlog: x first, then the copies of b and c.
    assert dedup.bridged(frames["x"], typed["x"]), "the gap's event was taken for a copy"
    assert not dedup.bridged(frames["b"], typed["b"])
    assert not dedup.bridged(frames["c"], typed["c"])


def test_the_same_order_on_the_other_side_when_eventbridge_comes_first() -> None:
    dedup = CrossDedup()
    frames = {cid: waiting(cid) for cid in ("a", "b", "c", "x")}
    typed = {cid: parse_event(frame) or [] for cid, frame in frames.items()}
    assert dedup.bridged(frames["a"], typed["a"])
    assert not dedup.websocket(frames["a"], typed["a"])
    # EventBridge brings b and c first (the socket is late), and x only EventBridge knows.
    assert dedup.bridged(frames["b"], typed["b"])
    assert dedup.bridged(frames["c"], typed["c"])
    # The socket brings x before its copies of b and c: x is new.
    assert dedup.websocket(frames["x"], typed["x"])
    assert not dedup.websocket(frames["b"], typed["b"])
    assert not dedup.websocket(frames["c"], typed["c"])
