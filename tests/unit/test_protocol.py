"""The sans-I/O frame decoder and the heartbeat watchdog."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.streaming.protocol import (
    Heartbeat,
    Liveness,
    Malformed,
    Pong,
    SocketClosing,
    SubscribeReply,
    SystemMessage,
    TopicEvent,
    Watchdog,
    decode_frame,
)


def test_decodes_the_documented_frames() -> None:
    beat = {"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}}
    assert decode_frame(json.dumps(beat)) == Heartbeat()
    pong = {"topicName": "channel.metadata", "eventBody": {"message": "pong"}}
    assert decode_frame(json.dumps(pong)) == Pong()
    closing = {"topicName": "v2.system.socket_closing", "version": "2", "eventBody": {}}
    assert decode_frame(json.dumps(closing)) == SocketClosing()
    event = {
        "topicName": "v2.users.u1.presence",
        "version": "2",
        "eventBody": {"presenceDefinition": {"id": "p", "systemPresence": "AVAILABLE"}},
        "metadata": {"CorrelationId": "c-1"},
    }
    decoded = decode_frame(json.dumps(event))
    assert isinstance(decoded, TopicEvent)
    assert (decoded.topic, decoded.version, decoded.correlation_id) == (
        "v2.users.u1.presence",
        "2",
        "c-1",
    )


def test_system_messages_carry_kind_reason_and_channel() -> None:
    frame = {
        "topicName": "v2.system.token_revoked.streaming-1-abc",
        "eventBody": {
            "systemTopicType": "token_revoked",
            "reason": "user_tokens_revoked",
            "channelId": "streaming-1-abc",
        },
    }
    assert decode_frame(json.dumps(frame)) == SystemMessage(
        "v2.system.token_revoked.streaming-1-abc",
        "token_revoked",
        "user_tokens_revoked",
        "streaming-1-abc",
    )
    bare = {"topicName": "v2.system.no_longer_subscribed.x", "eventBody": {}}
    decoded = decode_frame(json.dumps(bare))
    assert isinstance(decoded, SystemMessage) and decoded.kind == "no_longer_subscribed"


def test_subscribe_replies_are_recognised() -> None:
    reply = {"result": "200", "status": "subscribed", "correlationId": "q1"}
    assert decode_frame(json.dumps(reply)) == SubscribeReply("200", "subscribed", "q1", "")


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        "null",
        '"text"',
        '{"eventBody": {}}',
        '{"topicName": 4, "eventBody": {}}',
        '{"topicName": "v2.users.x.presence", "eventBody": "no"}',
        '{"topicName": "channel.metadata", "eventBody": {}}',
    ],
)
def test_malformed_frames_become_values_not_exceptions(text: str) -> None:
    assert isinstance(decode_frame(text), Malformed)


def test_oversized_frames_are_refused_before_parsing() -> None:
    decoded = decode_frame("x" * 2000, max_bytes=1000)
    assert isinstance(decoded, Malformed) and "exceeds" in decoded.reason


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_no_input_crashes_the_decoder(data: str | bytes) -> None:
    decode_frame(data)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["topicName", "eventBody", "metadata", "message", "result", "version"]
                ),
                inner,
                max_size=5,
            )
        ),
        max_leaves=12,
    )
)
def test_no_json_shape_crashes_the_decoder(value: object) -> None:
    decode_frame(json.dumps(value))


def test_deeply_nested_json_is_malformed_not_a_crash() -> None:
    assert isinstance(decode_frame("[" * 100_000), Malformed)


def _beats(dog: Watchdog, start: float, interval: float, count: int) -> float:
    now = start
    for _ in range(count):
        now += interval
        dog.frame(now, heartbeat=True)
    return now


@pytest.mark.parametrize(("interval", "limit"), [(2.0, 10.0), (30.0, 90.0)])
def test_a_silent_server_is_found_dead_within_the_documented_bound(
    interval: float, limit: float
) -> None:
    dog = Watchdog()
    dog.connected(0.0)
    last = _beats(dog, 0.0, interval, 5)
    assert dog.interval_s == pytest.approx(interval)
    now = last
    while dog.check(now) is Liveness.OK:
        now = dog.next_check_at()
    assert dog.check(now) is Liveness.SEND_PING
    dog.ping_sent(now)
    assert dog.check(now) is Liveness.OK
    now = dog.next_check_at()
    assert dog.check(now) is Liveness.DEAD
    assert now - last <= limit
    assert now - last >= interval * 2  # not trigger-happy: two beats may be late


def test_any_frame_or_a_pong_keeps_the_socket_alive() -> None:
    dog = Watchdog(assumed_interval_s=2.0)
    dog.connected(0.0)
    assert dog.check(4.0) is Liveness.OK
    assert dog.check(4.5) is Liveness.SEND_PING
    dog.ping_sent(4.5)
    dog.frame(5.0)  # the pong
    assert dog.check(5.0) is Liveness.OK
    assert dog.next_check_at() == pytest.approx(5.0 + 4.4)


def test_one_late_beat_does_not_move_the_median_much() -> None:
    dog = Watchdog()
    dog.connected(0.0)
    now = _beats(dog, 0.0, 2.0, 6)
    dog.frame(now + 7.0, heartbeat=True)
    assert dog.interval_s == pytest.approx(2.0)
