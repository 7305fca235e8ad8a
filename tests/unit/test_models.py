"""Parsing Platform API bodies into core.rest.schema values: casing, tolerance, no crash on any
input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.presence import SYSTEM_PRESENCES, normalize_system_presence
from core.rest.observations import parse_queue_observations
from core.rest.schema import (
    parse_available_topic,
    parse_bulk_presence,
    parse_channel,
    parse_datetime,
    parse_listed_channel,
    parse_me,
    parse_presence_definition,
    parse_queue,
    parse_queue_member,
    parse_subscriptions,
    parse_token_info,
    parse_user,
    pick_label,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
# Bodies shaped roughly like the real ones, with any value in any field.
KEYS = st.sampled_from(
    [
        "id", "name", "presence", "routingStatus", "presenceDefinition", "systemPresence",
        "status", "startTime", "modifiedDate", "message", "userId", "authorization",
        "permissions", "results", "group", "queueId", "mediaType", "data", "metric", "stats",
        "count", "qualifier", "entities", "state", "missingPermissions", "languageLabels",
        "connectUri", "expires", "user", "joined", "OAuthClient", "organization", "type",
    ]
)  # fmt: skip
SHAPED = st.recursive(
    JSON,
    lambda inner: st.dictionaries(KEYS, inner, max_size=6) | st.lists(inner, max_size=4),
    max_leaves=30,
)
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("On Queue", "ON_QUEUE"),  # REST
        ("OnQueue", "ON_QUEUE"),  # new definitions API
        ("ON_QUEUE", "ON_QUEUE"),  # events
        ("on queue", "ON_QUEUE"),
        ("Available", "AVAILABLE"),
        ("AVAILABLE", "AVAILABLE"),
        ("Meal", "MEAL"),
        ("  Break ", "BREAK"),
        ("OutOfOffice", "OUT_OF_OFFICE"),
        ("Out of office", "OUT_OF_OFFICE"),
        ("", ""),
    ],
)
def test_system_presence_spellings_meet(raw: str, expected: str) -> None:
    assert normalize_system_presence(raw) == expected


@given(st.text())
def test_normalising_never_raises_and_is_idempotent(text: str) -> None:
    once = normalize_system_presence(text)
    assert normalize_system_presence(once) == once


def test_every_system_presence_is_its_own_normal_form() -> None:
    assert [normalize_system_presence(p) for p in SYSTEM_PRESENCES] == list(SYSTEM_PRESENCES)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-27T08:41:12.045Z", datetime(2026, 11, 27, 8, 41, 12, 45000, tzinfo=UTC)),
        ("2026-11-27T08:41:12+01:00", datetime(2026, 11, 27, 7, 41, 12, tzinfo=UTC)),
        ("2026-11-27T08:41:12", datetime(2026, 11, 27, 8, 41, 12, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
        (1764232872, None),
    ],
)
def test_datetimes_parse_or_become_none(raw: object, expected: datetime | None) -> None:
    assert parse_datetime(raw) == expected


@given(SHAPED)
def test_no_body_crashes_a_parser(raw: Any) -> None:
    parse_user(raw)
    parse_me(raw)
    parse_bulk_presence(raw)
    parse_token_info(raw)
    parse_presence_definition(raw, "de")
    parse_queue(raw)
    parse_queue_member(raw)
    parse_queue_observations(raw, ("q1",))
    parse_channel(raw, NOW)
    parse_listed_channel(raw)
    parse_subscriptions(raw)
    parse_available_topic(raw)


def test_user_with_expanded_blocks() -> None:
    user = parse_user(
        {
            "id": "u1",
            "name": "Dana Agent",
            "presence": {
                "presenceDefinition": {"id": "p1", "systemPresence": "On Queue"},
                "message": "hi",
                "modifiedDate": "2026-11-27T08:00:01.000Z",
            },
            "routingStatus": {"status": "idle", "startTime": "bad"},
        }
    )
    assert user is not None
    assert user.presence is not None and user.presence.system_presence == "ON_QUEUE"
    assert user.presence.modified == datetime(2026, 11, 27, 8, 0, 1, tzinfo=UTC)
    assert user.routing is not None and (user.routing.status, user.routing.since) == ("IDLE", None)


def test_user_without_expansions_is_still_a_user() -> None:
    """``expand`` is best effort (genesys-api.md 8.17)."""
    assert parse_user({"id": "u1"}) == parse_user({"id": "u1", "presence": {}, "routingStatus": 7})
    user = parse_user({"id": "u1"})
    assert user is not None and user.presence is None and user.routing is None
    assert parse_user({"name": "no id"}) is None


def test_queue_member_falls_back_to_its_own_routing_status() -> None:
    member = parse_queue_member(
        {"id": "u1", "name": "Dana", "joined": True, "routingStatus": {"status": "IDLE"}}
    )
    assert member is not None
    assert (member.id, member.user.name, member.joined) == ("u1", "Dana", True)
    assert member.user.routing is not None and member.user.routing.status == "IDLE"


def test_labels_fall_back_from_locale_to_language_to_en_us_to_any() -> None:
    labels = {"en_US": "Lunch", "de": "Mittagessen"}
    assert pick_label(labels, "de_DE") == "Mittagessen"
    assert pick_label(labels, "fr") == "Lunch"
    assert pick_label({"ja": "昼食"}, "fr") == "昼食"
    assert pick_label({}, "fr") == ""


def test_observations_sum_media_and_take_user_counts_once() -> None:
    raw = {
        "results": [
            {
                "group": {"queueId": "q1"},
                "data": [
                    {"metric": "oOnQueueUsers", "qualifier": "IDLE", "stats": {"count": 2}},
                    {"metric": "oOnQueueUsers", "qualifier": "INTERACTING", "stats": {"count": 5}},
                    {"metric": "oOffQueueUsers", "stats": {"count": 1}},
                    {"metric": "oActiveUsers", "stats": {"count": 9}},
                    {"metric": "oMemberUsers", "stats": {"count": 14}},
                    {
                        "metric": "oUserRoutingStatuses",
                        "qualifier": "OFF_QUEUE",
                        "stats": {"count": 2},
                    },
                    {"metric": "oUserPresences", "qualifier": "p1", "stats": {"count": 1}},
                    {"metric": "oWaiting", "stats": {"count": 100}},  # a total beside its parts
                ],
            },
            {
                "group": {"queueId": "q1", "mediaType": "voice"},
                "data": [
                    {"metric": "oWaiting", "stats": {"count": 3}},
                    {"metric": "oInteracting", "stats": {"count": 5}},
                ],
            },
            {
                "group": {"queueId": "q1", "mediaType": "chat"},
                "data": [
                    {"metric": "oWaiting", "stats": {"count": 1}},
                    {"metric": "oAlerting", "stats": {"count": "two"}},
                ],
            },
            {
                "group": {"mediaType": "voice"},
                "data": [{"metric": "oWaiting", "stats": {"count": 9}}],
            },
        ]
    }
    out = parse_queue_observations(raw, ("q1", "q2"))
    q1 = out["q1"]
    assert (q1.waiting, q1.interacting, q1.alerting) == (4, 5, 0)
    assert q1.on_queue == {"IDLE": 2, "INTERACTING": 5}
    assert q1.on_queue_total == 7
    assert q1.routing_statuses == {"OFF_QUEUE": 2}
    assert (q1.off_queue, q1.active, q1.members) == (1, 9, 14)
    assert out["q2"].waiting == 0 and out["q2"].members == 0
    assert set(out) == {"q1", "q2"}


def test_a_queue_level_total_counts_when_no_media_group_reports() -> None:
    raw = {
        "results": [
            {"group": {"queueId": "q1"}, "data": [{"metric": "oWaiting", "stats": {"count": 6}}]}
        ]
    }
    assert parse_queue_observations(raw)["q1"].waiting == 6


def test_observation_answers_keep_each_media_group_and_the_waiting_details() -> None:
    def group(media: str, waiting: int, ids: list[str]) -> dict[str, object]:
        row = {
            "metric": "oWaiting",
            "stats": {"count": waiting},
            "truncated": False,
            "observations": [
                {"conversationId": c, "observationDate": "2026-11-27T09:10:04.000Z"} for c in ids
            ],
        }
        return {"group": {"queueId": "q1", "mediaType": media}, "data": [row]}

    raw = {
        "results": [group("voice", 2, ["a", "b"]), group("chat", 1, ["c"]), group("email", 0, [])]
    }
    q1 = parse_queue_observations(raw, ("q1",), details=True)["q1"]
    assert q1.waiting == 3
    assert set(q1.media) == {"voice", "chat"}  # an idle group is no group
    assert q1.waiting_details is not None
    assert {(cid, media) for cid, _, media in q1.waiting_details} == {
        ("a", "voice"),
        ("b", "voice"),
        ("c", "chat"),
    }
    truncated = {
        "results": [
            {
                **group("voice", 2, ["a"]),
                "data": [
                    {
                        "metric": "oWaiting",
                        "stats": {"count": 2},
                        "truncated": True,
                        "observations": [],
                    }
                ],
            }
        ]
    }
    assert parse_queue_observations(truncated, details=True)["q1"].waiting_details is None
    # Not asked for: no details, whatever came.
    assert parse_queue_observations(raw)["q1"].waiting_details is None


def test_channel_expiry_falls_back_to_the_documented_lifetime() -> None:
    body = {"id": "streaming-1-a", "connectUri": "wss://s/channels/streaming-1-a"}
    channel = parse_channel({**body, "expires": "2026-11-28T09:00:00.000Z"}, NOW)
    assert channel is not None and channel.expires == datetime(2026, 11, 28, 9, tzinfo=UTC)
    channel = parse_channel({**body, "expires": "never"}, NOW)
    assert channel is not None and channel.expires == NOW + timedelta(hours=24)
    assert parse_channel({"id": "streaming-1-a"}, NOW) is None


def test_listed_channels_of_other_tokens_have_no_id() -> None:
    listed = parse_listed_channel({"expires": "2026-11-27T21:14:02.311Z"})
    assert listed is not None and listed.id is None and listed.expires is not None


def test_subscriptions_without_state_count_as_permitted() -> None:
    result = parse_subscriptions(
        {"entities": [{"id": "a"}, {"id": "b", "state": "Rejected"}, {"state": "Permitted"}]}
    )
    assert result.permitted == ("a",)
    assert [r.id for r in result.rejected] == ["b"]


def test_token_info_reads_the_capitalised_client_key() -> None:
    info = parse_token_info(
        {
            "organization": {"id": "o1", "name": "Acme"},
            "authorizedScope": ["notifications", 3],
            "dateTokenIdles": "2026-11-27T09:10:00.000Z",
            "OAuthClient": {"id": "c1", "name": "Tray", "authorizedGrantType": "CODE"},
        }
    )
    assert (info.organization_name, info.home_organization_id) == ("Acme", "o1")
    assert info.authorized_scope == ("notifications",)
    assert (info.oauth_client_id, info.grant_type) == ("c1", "CODE")
    assert info.idles_at == datetime(2026, 11, 27, 9, 10, tzinfo=UTC)


def test_available_topic_permission_details() -> None:
    topic = parse_available_topic(
        {
            "id": "v2.users.{id}.conversations",
            "requiresPermissions": ["conversation:communication:view"],
            "permissionDetails": [{"allowsCurrentUser": True}],
        }
    )
    assert topic is not None and topic.allows_current_user
    assert topic.visibility == "Public"
