"""Names, labels and messages with bidi overrides, newlines and markup, from a real org.

The sandbox org is given hostile text in every name, presence label and presence message; the
real engine signs in, resolves the selection over REST, subscribes and goes live. What reaches
the store (and so every board, feed line, notification and tooltip) is one plain line each.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.domain.text import plain_line
from core.engine.records import ChangeRecord, EngineState, Record, StateRecord
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.feed.builder import FeedBuilder
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.streaming.reconnect import ChannelSettings
from sandbox.server import Sandbox

HOSTILE = "Dana\u202eTNEGA\u202c\nAlerts: everyone is Offline\r\n\x1b[2J\u2066<b>x</b>\u2069"
HIDDEN = ("\n", "\r", "\x1b", "\u202e", "\u202c", "\u2066", "\u2069")
SETTINGS = ChannelSettings(
    first_backoff_s=0.05,
    max_backoff_s=0.5,
    assumed_heartbeat_s=0.3,
    healthy_retry_s=0.05,
    overlap_s=1.0,
    confirm_counters_after_s=0.0,
)
pytestmark = pytest.mark.sandbox_config(users=12, queues=3, seed=5, heartbeat_s=0.2)


def assert_plain(text: str | None) -> None:
    assert text is not None
    assert not any(ch in text for ch in HIDDEN), repr(text)
    assert text.isprintable(), repr(text)


@pytest.fixture
async def service(sandbox: Sandbox, http: httpx.AsyncClient) -> AsyncIterator[MonitorService]:
    org = sandbox.org
    for queue in org.queues.values():
        queue.name = "Q " + HOSTILE
    for user in org.users.values():
        user.name = "U " + HOSTILE
        user.presence_message = "M " + HOSTILE
    for definition in org.presences.values():
        definition.labels = {key: "L " + HOSTILE for key in definition.labels}
    env = parse_environment(sandbox.base_url)
    auth = Authenticator(
        env, "sandbox-client", MemoryCredentialStore(), client_secret="sandbox-secret"
    )
    api = ApiClient(env, auth.access_token, on_unauthorized=auth.renew_rejected)
    queues = tuple(sorted(org.queues)[:2])
    monitor = MonitorService(
        api, auth, Selection(queues=queues, users="members"), settings=SETTINGS
    )
    try:
        await auth.sign_in_client_credentials()
        yield monitor
    finally:
        await monitor.stop()
        await api.aclose()
        await auth.aclose()


async def test_hostile_org_text_is_plain_in_the_store_and_the_feed(
    sandbox: Sandbox, http: httpx.AsyncClient, service: MonitorService
) -> None:
    records: list[Record] = []
    heard, live = asyncio.Event(), asyncio.Event()
    service.add_listener(records.append)
    service.add_listener(
        lambda r: live.set() if isinstance(r, StateRecord) and r.state is EngineState.LIVE else None
    )
    await service.start()
    async with asyncio.timeout(10):
        await live.wait()
    store = service.store
    assert store.users and store.queues and store.presence_labels
    for queue in store.queues.values():
        assert queue.name == plain_line("Q " + HOSTILE)
    for user in store.users.values():
        assert user.name == plain_line("U " + HOSTILE)
        assert_plain(user.presence_message)
        assert_plain(store.presence_label(user.id))
    for label in store.presence_labels.values():
        assert label == plain_line("L " + HOSTILE)
    # A change through the stream: its feed line is one plain line naming the plain name.
    user_id = sorted(service.watch.users)[0]

    def on_record(record: Record) -> None:
        if isinstance(record, ChangeRecord) and record.change.id == user_id:
            heard.set()

    service.add_listener(on_record)
    truth = (await http.get("/sandbox/truth")).json()["users"][user_id]
    presence = "TRAINING" if truth["presence"] != "TRAINING" else "AWAY"
    resp = await http.post(f"/sandbox/users/{user_id}/presence", json={"presence": presence})
    assert resp.status_code == 200, resp.text
    async with asyncio.timeout(10):
        await heard.wait()
    feed = FeedBuilder(store)
    lines = [e for r in records if isinstance(r, ChangeRecord) for e in feed.entries(r)]
    assert any(e.subject == plain_line("U " + HOSTILE) for e in lines)
    for entry in lines:
        assert_plain(entry.subject)
        assert_plain(entry.summary)
