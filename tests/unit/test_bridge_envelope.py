"""EventBridge envelopes out of SQS bodies: every variant the fact sheet allows, and robustness.

genesys-eventbridge-triggers.md 1 and 4.3: key order free, ``account`` may be missing (moto's
template), ``time`` to the second, ``detail.timestamp`` with milliseconds or absent, the
correlation id's two spellings. Anything else is refused with :class:`EnvelopeError`, never
another exception.
"""

from __future__ import annotations

import contextlib
import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.eventbridge.dedup import Deduper, Verdict
from core.eventbridge.envelope import EnvelopeError, parse_envelope, parse_time
from core.eventbridge.fingerprint import content_fingerprint
from core.streaming.protocol import TopicEvent

Json = dict[str, Any]
USER = "278522be-1683-4877-8257-4164a177be89"


def envelope(**changes: Any) -> Json:
    """The blueprint's real presence envelope (section 1.1), with ``changes`` applied."""
    env: Json = {
        "version": "0",
        "id": "4cbedb0f-4dfd-4c8e-9e57-0acded092527",
        "detail-type": "v2.users.{id}.presence",
        "source": "aws.partner/genesys.com/cloud/bb14bed0-f8f9-445d-b9d1-10cecb8569d6/tray",
        "account": "123456789012",
        "time": "2021-06-25T15:11:52Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "topicName": f"v2.users.{USER}.presence",
            "version": "2",
            "eventBody": {
                "source": "PURECLOUD",
                "presenceDefinition": {"id": "x", "systemPresence": "Available"},
                "modifiedDate": "2021-06-25T15:11:50.000Z",
            },
            "metadata": {"CorrelationId": "b61df0b3-9e33-444b-a455-1c92a33ef4e2"},
            "timestamp": "2021-06-25T15:11:52.435Z",
        },
    }
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def test_the_blueprint_envelope() -> None:
    event = parse_envelope(json.dumps(envelope()))
    assert event.envelope_id == "4cbedb0f-4dfd-4c8e-9e57-0acded092527"
    assert event.pattern == "v2.users.{id}.presence"
    assert event.frame == TopicEvent(
        topic=f"v2.users.{USER}.presence",
        body=envelope()["detail"]["eventBody"],
        version="2",
        correlation_id="b61df0b3-9e33-444b-a455-1c92a33ef4e2",
    )
    assert event.happened == datetime(2021, 6, 25, 15, 11, 52, 435000, tzinfo=UTC)


def test_key_order_account_and_detail_type_do_not_matter() -> None:
    env = envelope(account=None, **{"detail-type": "v2.detail.events.conversation.{id}.acd.end"})
    keys = list(env)
    random.Random(7).shuffle(keys)
    shuffled = {key: env[key] for key in keys}
    event = parse_envelope(json.dumps(shuffled).encode())
    assert event.pattern == "v2.detail.events.conversation.{id}.acd.end"
    assert event.frame.topic == f"v2.users.{USER}.presence"
    assert parse_envelope(json.dumps(envelope(**{"detail-type": None}))).pattern == ""


def test_time_falls_back_to_the_envelope_then_to_the_body() -> None:
    env = envelope()
    del env["detail"]["timestamp"]
    assert parse_envelope(json.dumps(env)).happened == datetime(2021, 6, 25, 15, 11, 52, tzinfo=UTC)
    env["time"] = "2021-06-25T15:11:52.123Z"  # with milliseconds too
    assert parse_envelope(json.dumps(env)).happened.microsecond == 123000
    del env["time"]
    assert parse_envelope(json.dumps(env)).happened == datetime(2021, 6, 25, 15, 11, 50, tzinfo=UTC)
    env["detail"]["eventBody"] = {"eventTime": 1649237504949}  # epoch milliseconds (1.1)
    assert parse_envelope(json.dumps(env)).happened == datetime(
        2022, 4, 6, 9, 31, 44, 949000, tzinfo=UTC
    )
    env["detail"]["eventBody"] = {"nothing": "about time"}
    with pytest.raises(EnvelopeError, match="when it happened"):
        parse_envelope(json.dumps(env))


def test_correlation_id_spellings_and_absence() -> None:
    env = envelope()
    env["detail"]["metadata"] = {"correlationId": "lower"}
    assert parse_envelope(json.dumps(env)).frame.correlation_id == "lower"
    del env["detail"]["metadata"]
    assert parse_envelope(json.dumps(env)).frame.correlation_id == ""


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"version":"0","id":"poison","detail-type":', "not JSON"),
        ("[1, 2]", "JSON list"),
        ("", "not JSON"),
        (json.dumps(envelope(id="")), "no envelope id"),
        (json.dumps(envelope(detail=None)), "no detail"),
        (json.dumps(envelope(detail={"eventBody": {}})), "no topic name"),
        (json.dumps(envelope(detail={"topicName": "v2.x", "eventBody": []})), "not an object"),
        ("[" * 5000 + "]" * 5000, "not JSON"),  # deeper than orjson's 1,024 levels
        (json.dumps(envelope(id=10**30)), "no envelope id"),  # beyond 64 bits
        ("x" * (4 * 1024 * 1024 + 1), "larger than"),
    ],
)
def test_what_is_not_an_envelope_is_refused_in_plain_words(body: str, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        parse_envelope(body)


@pytest.mark.parametrize(
    "value",
    ["", "yesterday", "9999-99-99T00:00:00Z", 10**30, -5, float("nan"), True, None, [1], "1" * 50],
)
def test_times_that_are_not_times(value: Any) -> None:
    assert parse_time(value) is None


@given(st.one_of(st.text(max_size=400), st.binary(max_size=400)))
@settings(max_examples=300, deadline=None)
def test_never_raises_anything_else_on_garbage(data: str | bytes) -> None:
    with contextlib.suppress(EnvelopeError):
        parse_envelope(data)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    st.dictionaries(
        st.sampled_from(["id", "time", "detail", "detail-type", "version", "account"]),
        _json,
    ),
    st.dictionaries(
        st.sampled_from(["topicName", "eventBody", "metadata", "timestamp", "version"]), _json
    ),
    st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_never_raises_anything_else_on_envelope_shaped_junk(
    outer: Json, detail: Json, nest: bool
) -> None:
    outer = {**outer, "detail": detail} if nest else outer
    try:
        event = parse_envelope(json.dumps(outer))
    except EnvelopeError:
        return
    assert event.envelope_id and event.frame.topic
    assert event.happened.tzinfo is not None


def test_fingerprint_ignores_key_order_and_correlation() -> None:
    one = TopicEvent("v2.users.u.presence", {"a": 1, "b": {"x": [1, 2], "y": "z"}}, "2", "c1")
    two = TopicEvent("v2.users.u.presence", {"b": {"y": "z", "x": [1, 2]}, "a": 1}, "", "")
    other = TopicEvent("v2.users.u.presence", {"a": 2, "b": {"x": [1, 2], "y": "z"}}, "2", "c1")
    assert content_fingerprint(one) == content_fingerprint(two)
    assert content_fingerprint(one) != content_fingerprint(other)
    huge = TopicEvent("t", {"n": 10**30}, "", "")  # not from orjson: the slow path, no crash
    assert content_fingerprint(huge).startswith("t#")


def test_dedup_by_id_by_content_and_in_flight() -> None:
    dedup = Deduper(capacity=2)
    first = parse_envelope(json.dumps(envelope()))
    retried = parse_envelope(json.dumps(envelope(id="another-id")))  # Genesys retry: new id
    assert dedup.check(first) is Verdict.NEW
    dedup.take_off(first)
    assert dedup.check(first) is Verdict.IN_FLIGHT
    assert dedup.check(retried) is Verdict.IN_FLIGHT
    dedup.land(first, journaled=False)  # the sink failed: the repeat must carry it
    assert dedup.check(retried) is Verdict.NEW
    dedup.take_off(retried)
    dedup.land(retried, journaled=True)
    assert dedup.check(first) is Verdict.SEEN
    for n in range(3):  # the LRU forgets the oldest beyond its capacity
        env = envelope(id=f"e{n}")
        env["detail"]["timestamp"] = f"2021-06-25T15:12:0{n}.000Z"
        later = parse_envelope(json.dumps(env))
        dedup.take_off(later)
        dedup.land(later, journaled=True)
    assert dedup.check(first) is Verdict.NEW
