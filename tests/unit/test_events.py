"""Typed events parsed from the documented topic bodies (genesys-api.md section 5)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from core.streaming.events import (
    ActiveQueuesChanged,
    ConversationSummaryChanged,
    PresenceChanged,
    QueueConversationChanged,
    QueueMembershipChanged,
    QueueObserved,
    RoutingChanged,
    parse_event,
)
from core.streaming.protocol import TopicEvent

U = "8c1f3b2e-5d7a-4e9f-a1b2-c3d4e5f60718"
Q = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"


def frame(topic: str, body: dict[str, Any]) -> TopicEvent:
    return TopicEvent(topic=topic, body=body, version="2", correlation_id="c")


def test_presence_topic_normalises_and_keeps_the_definition_id() -> None:
    events = parse_event(
        frame(
            f"v2.users.{U}.presence",
            {
                "source": "PURECLOUD",
                "presenceDefinition": {"id": "lunch", "systemPresence": "MEAL"},
                "primary": True,
                "message": "back at 2pm",
                "modifiedDate": "2026-11-27T08:41:12.045Z",
            },
        )
    )
    assert events is not None and len(events) == 1
    event = events[0]
    assert isinstance(event, PresenceChanged)
    assert (event.user_id, event.definition_id, event.system_presence, event.message) == (
        U,
        "lunch",
        "MEAL",
        "back at 2pm",
    )
    assert event.modified is not None and event.modified.microsecond == 45000


def test_presence_without_modified_date_is_still_an_event() -> None:
    events = parse_event(
        frame(
            f"v2.users.{U}.presence",
            {"presenceDefinition": {"id": "a", "systemPresence": "On Queue"}},
        )
    )
    assert events == [PresenceChanged(U, "a", "ON_QUEUE", "", None)]


def test_routing_status_topic() -> None:
    events = parse_event(
        frame(
            f"v2.users.{U}.routingStatus",
            {
                "id": U,
                "routingStatus": {
                    "status": "NOT_RESPONDING",
                    "startTime": "2026-11-27T08:43:00.512Z",
                },
            },
        )
    )
    assert events is not None
    assert isinstance(events[0], RoutingChanged) and events[0].status == "NOT_RESPONDING"


def test_activity_topic_yields_only_the_blocks_it_carries() -> None:
    body = {
        "id": U,
        "routingStatus": {"status": "OFF_QUEUE", "startTime": "2026-11-27T09:03:17.067Z"},
        "presence": {
            "presenceDefinition": {"id": "av", "systemPresence": "AVAILABLE"},
            "presenceMessage": "",
            "modifiedDate": "2026-11-27T09:03:17.047Z",
        },
        "activeQueueIds": [Q],
        "dateActiveQueuesChanged": "2026-11-25T04:15:44.913Z",
    }
    events = parse_event(frame(f"v2.users.{U}.activity", body))
    assert events is not None
    assert [type(e) for e in events] == [PresenceChanged, RoutingChanged, ActiveQueuesChanged]
    only_routing = parse_event(
        frame(f"v2.users.{U}.activity", {"id": U, "routingStatus": body["routingStatus"]})
    )
    assert only_routing is not None and [type(e) for e in only_routing] == [RoutingChanged]


def test_conversation_summary() -> None:
    body = {
        "userId": U,
        "call": {"contactCenter": {"active": 1, "acw": 0}, "enterprise": {"active": 0, "acw": 0}},
    }
    assert parse_event(frame(f"v2.users.{U}.conversationsummary", body)) == [
        ConversationSummaryChanged(U, 1, 0)
    ]


def test_queue_membership() -> None:
    body = {"id": U, "user": {"id": U}, "queueId": Q, "joined": False}
    assert parse_event(frame(f"v2.routing.queues.{Q}.users", body)) == [
        QueueMembershipChanged(Q, U, False)
    ]


def test_flattened_call_topic_waiting_then_interacting() -> None:
    waiting = {
        "id": "c1",
        "participants": [
            {"id": "p1", "purpose": "customer", "state": "connected"},
            {
                "id": "p2",
                "purpose": "acd",
                "state": "connected",
                "queue": {"id": Q},
                "connectedTime": "2026-11-27T09:10:04.000Z",
            },
        ],
    }
    events = parse_event(frame(f"v2.routing.queues.{Q}.conversations.calls", waiting))
    assert events is not None
    event = events[0]
    assert isinstance(event, QueueConversationChanged) and event.state == "waiting"
    assert event.since is not None
    answered = dict(waiting)
    answered["participants"] = [
        *waiting["participants"][:1],
        {"id": "p2", "purpose": "acd", "state": "disconnected"},
        {"id": "p3", "purpose": "agent", "state": "connected", "user": {"id": U}},
    ]
    events = parse_event(frame(f"v2.routing.queues.{Q}.conversations.calls", answered))
    assert events == [QueueConversationChanged(Q, "c1", "interacting", U, None, "voice")]


def test_generic_topic_reads_state_from_the_media_session() -> None:
    body = {
        "id": "c2",
        "participants": [
            {"id": "p1", "purpose": "customer", "calls": [{"state": "connected"}]},
            {"id": "p2", "purpose": "acd", "calls": [{"state": "disconnected"}]},
            {"id": "p3", "purpose": "agent", "userId": U, "calls": [{"state": "alerting"}]},
        ],
    }
    assert parse_event(frame(f"v2.routing.queues.{Q}.conversations", body)) == [
        QueueConversationChanged(Q, "c2", "alerting", U, None, "voice")
    ]


def test_media_of_a_conversation_comes_from_its_topic_or_its_sessions() -> None:
    flattened = {
        "id": "c3",
        "participants": [{"id": "p1", "purpose": "acd", "state": "connected"}],
    }
    [emailed] = parse_event(frame(f"v2.routing.queues.{Q}.conversations.emails", flattened)) or []
    assert isinstance(emailed, QueueConversationChanged) and emailed.media_type == "email"
    nested = {
        "id": "c4",
        "participants": [{"id": "p1", "purpose": "acd", "chats": [{"state": "connected"}]}],
    }
    [chatted] = parse_event(frame(f"v2.routing.queues.{Q}.conversations", nested)) or []
    assert isinstance(chatted, QueueConversationChanged)
    assert (chatted.state, chatted.media_type) == ("waiting", "chat")


def test_conversation_summary_adds_up_every_media() -> None:
    cc = {"contactCenter": {"active": 2, "acw": 1}, "enterprise": {"active": 0, "acw": 0}}
    body = {
        "userId": U,
        "call": {"contactCenter": {"active": 0, "acw": 0}},
        "chat": cc,
        "email": cc,
    }
    assert parse_event(frame(f"v2.users.{U}.conversationsummary", body)) == [
        ConversationSummaryChanged(U, 4, 2)
    ]


def test_an_observation_event_speaks_for_its_media_group_only() -> None:
    body = {
        "group": {"queueId": Q, "mediaType": "voice"},
        "data": [
            {
                "interval": "2026-11-27T09:00:00.000Z/2026-11-27T09:30:00.000Z",
                "metrics": [
                    {"metric": "oWaiting", "stats": {"count": 3}},
                    {"metric": "oInteracting", "stats": {"count": 5}},
                    {"metric": "oOnQueueUsers", "qualifier": "IDLE", "stats": {"count": 2}},
                    {"metric": "oOnQueueUsers", "qualifier": "INTERACTING", "stats": {"count": 5}},
                ],
            }
        ],
    }
    events = parse_event(frame(f"v2.analytics.queues.{Q}.observations", body))
    assert events == [QueueObserved(Q, waiting=3, interacting=5, on_queue=7, media_type="voice")]


def test_a_queue_only_observation_group_carries_user_counts_only() -> None:
    body = {
        "group": {"queueId": Q},
        "data": [{"metrics": [{"metric": "oOffQueueUsers", "stats": {"count": 4}}]}],
    }
    [event] = parse_event(frame(f"v2.analytics.queues.{Q}.observations", body)) or []
    assert isinstance(event, QueueObserved)
    assert (event.off_queue, event.names_conversations) == (4, False)


def test_queue_activity_with_longest_wait() -> None:
    body = {
        "results": [
            {
                "mediaType": "voice",
                "data": [
                    {"metric": "oWaiting", "count": 3},
                    {"metric": "oInteracting", "count": 1},
                    {"metric": "oLongestWaiting", "count": 1, "calculatedMetricValue": 184000},
                ],
            },
            {"mediaType": "chat", "data": [{"metric": "oWaiting", "count": 2}]},
        ]
    }
    events = parse_event(frame(f"v2.analytics.queues.{Q}.activity", body))
    assert events == [
        QueueObserved(Q, waiting=3, interacting=1, longest_wait_ms=184000, media_type="voice"),
        QueueObserved(Q, waiting=2, media_type="chat"),  # a partial block: unsaid is not zero
    ]


def test_unknown_topics_and_bad_bodies_yield_none() -> None:
    assert parse_event(frame("v2.sandbox.unknown.topic", {"a": 1})) is None
    assert parse_event(frame(f"v2.users.{U}.presence", {"presenceDefinition": 7})) is None
    assert parse_event(frame(f"v2.analytics.queues.{Q}.observations", {"data": "x"})) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=15,
)
topics = st.sampled_from(
    [
        f"v2.users.{U}.presence",
        f"v2.users.{U}.routingStatus",
        f"v2.users.{U}.activity",
        f"v2.users.{U}.conversationsummary",
        f"v2.routing.queues.{Q}.users",
        f"v2.routing.queues.{Q}.conversations",
        f"v2.routing.queues.{Q}.conversations.calls",
        f"v2.analytics.queues.{Q}.observations",
        f"v2.analytics.queues.{Q}.activity",
        "v2.users",
        "v2.routing.queues.x",
    ]
)


@given(
    topics,
    st.dictionaries(
        st.sampled_from(
            [
                "presenceDefinition",
                "routingStatus",
                "presence",
                "participants",
                "data",
                "results",
                "activeQueueIds",
                "call",
                "user",
                "joined",
                "id",
                "metrics",
                "modifiedDate",
            ]
        ),
        json_values,
        max_size=6,
    ),
)
def test_no_body_crashes_the_parser(topic: str, body: dict[str, Any]) -> None:
    parse_event(frame(topic, body))
