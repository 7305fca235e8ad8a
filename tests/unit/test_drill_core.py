"""The drill-down's core parts: a queue's calls with their media, and the Genesys Cloud links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.domain.media import MediaCounts
from core.rest.regions import Environment, parse_environment
from core.rest.web_pages import apps_base, person_page, queue_page
from core.state.store import Store
from core.state.waiting import KEEP_AT_MOST, ConversationBook, queue_calls
from core.streaming.events import (
    QueueConversationChanged,
    QueueCountersRead,
    WaitingConversation,
)

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
Q = "11111111-2222-4333-8444-555555555555"
USER = "99999999-2222-4333-8444-555555555555"


def test_a_queue_lists_its_calls_waiting_first_with_media_and_wait() -> None:
    store = Store()

    def ago(seconds: float) -> datetime:
        return NOW - timedelta(seconds=seconds)

    store.apply(QueueConversationChanged(Q, "c-chat", "waiting", None, ago(30), "chat"))
    store.apply(QueueConversationChanged(Q, "c-voice", "waiting", None, ago(90), "voice"))
    store.apply(QueueConversationChanged(Q, "c-ring", "alerting", USER, ago(5), "voice"))
    store.apply(QueueConversationChanged(Q, "c-gone", "waiting", None, NOW, "email"))
    store.apply(QueueConversationChanged(Q, "c-gone", "ended", None, NOW, "email"))

    calls = queue_calls(store.queues[Q].conversations, store.conversation_details)
    assert [(c.conversation_id, c.state, c.media_type, c.agent_user_id) for c in calls] == [
        ("c-voice", "waiting", "voice", None),
        ("c-chat", "waiting", "chat", None),
        ("c-ring", "alerting", "voice", USER),
    ]
    assert [c.wait_s(NOW) for c in calls] == [90.0, 30.0, 5.0]
    assert store.conversation_details.detail("c-gone") is None


def test_a_ring_out_waits_again_without_its_agent_and_keeps_its_media() -> None:
    store = Store()
    start = NOW - timedelta(seconds=60)
    store.apply(QueueConversationChanged(Q, "c1", "alerting", USER, start, "callback"))
    store.apply(QueueConversationChanged(Q, "c1", "waiting", None, start, ""))
    (call,) = queue_calls(store.queues[Q].conversations, store.conversation_details)
    assert (call.state, call.media_type, call.agent_user_id, call.since) == (
        "waiting",
        "callback",
        None,
        start,
    )


def test_a_rest_read_names_the_media_of_the_calls_it_saw_waiting() -> None:
    store = Store()
    since = NOW - timedelta(seconds=12)
    store.apply(
        QueueCountersRead(
            Q,
            (("email", MediaCounts(waiting=1)),),
            waiting=(WaitingConversation("c-mail", since, "email"),),
        )
    )
    (call,) = queue_calls(store.queues[Q].conversations, store.conversation_details)
    assert (call.conversation_id, call.media_type, call.wait_s(NOW)) == ("c-mail", "email", 12.0)


def test_the_book_forgets_the_least_recent_beyond_its_limit() -> None:
    book = ConversationBook()
    for n in range(KEEP_AT_MOST + 10):
        book.note(QueueConversationChanged(Q, f"c{n}", "waiting", None, NOW, "voice"))
    book.note(QueueConversationChanged(Q, "c0", "interacting", USER, NOW, ""))  # stale already
    assert len(book) == KEEP_AT_MOST
    assert book.detail("c10") is None and book.detail("c11") is not None
    assert book.detail("c0") is not None and book.detail("c0").agent_user_id == USER  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("region", "apps"),
    [
        ("mypurecloud.de", "https://apps.mypurecloud.de"),
        ("usw2.pure.cloud", "https://apps.usw2.pure.cloud"),
        ("https://api.mypurecloud.com.au", "https://apps.mypurecloud.com.au"),
    ],
)
def test_open_in_genesys_cloud_links_go_to_the_regions_web_app(region: str, apps: str) -> None:
    env = parse_environment(region)
    assert apps_base(env) == apps
    assert queue_page(env, Q) == f"{apps}/directory/#/admin/admin/organization/_queuesV2/{Q}"
    assert person_page(env, USER) == f"{apps}/directory/#/person/{USER}"


def test_no_link_outside_the_regions_or_for_an_id_that_is_no_id() -> None:
    sandbox = parse_environment("http://127.0.0.1:8765")
    assert apps_base(sandbox) is None and queue_page(sandbox, Q) is None
    assert person_page(None, USER) is None
    env = Environment.for_region(parse_environment("mypurecloud.ie").region)  # type: ignore[arg-type]
    assert queue_page(env, "../admin#/x") is None
    assert person_page(env, "") is None
