"""A channel shard's own faults (issue 14): a failed rollover leaks no channel, and an
unexpected exception does not end the shard for good.

A rollover creates the new channel before its subscribe and connect, and either can fail. The
new channel was then neither used nor remembered, so it sat in the user's pool of 20 until it
expired; a few failed rollovers a day would crowd the pool. Now the shard keeps it as the
channel it connects to next. Real shard, real API client, real sandbox over loopback; the one
fault (the rollover's subscribe fails once) is injected at the API seam.

The shard's task ran unowned too: an exception outside its connection handling (its owner
failing while the token was renewed, say) ended it, and the channel stayed down with no one
told. Now it is logged once and the shard starts again after a backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.errors import TransportError
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.rest.schema import ChannelInfo, RejectedTopic, SubscriptionResult
from core.streaming.memory import MemoryChannelMemory
from core.streaming.planner import user_topic
from core.streaming.ports import ShardPhase
from core.streaming.protocol import Malformed, TopicEvent
from core.streaming.reconnect import ChannelSettings
from core.streaming.shard import ChannelShard
from sandbox.server import Sandbox

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"  # the sandbox's published demo credential
WAIT_S = 8.0
SETTINGS = ChannelSettings(
    first_backoff_s=0.05,
    max_backoff_s=0.5,
    assumed_heartbeat_s=0.3,
    healthy_retry_s=0.05,
    overlap_s=0.5,
)


class FlakyChannelApi(ApiClient):
    """The real API client; it notes every channel it creates, and one subscribe can fail."""

    created: list[str]
    fail_subscribe_at = 0  # the n-th PUT (1-based) fails; 0: none

    async def create_channel(self) -> ChannelInfo:
        """Create a channel for real and note its id."""
        channel = await super().create_channel()
        self.created.append(channel.id)
        return channel

    async def put_subscriptions(
        self, channel_id: str, topics: Sequence[str], *, ignore_errors: bool = True
    ) -> SubscriptionResult:
        """Fail the chosen PUT as a dropped connection would, pass the others on."""
        self.fail_subscribe_at -= 1
        if self.fail_subscribe_at == 0:
            raise TransportError("the connection dropped")
        return await super().put_subscriptions(channel_id, topics, ignore_errors=ignore_errors)


class InjectedError(RuntimeError):
    """The unexpected exception the shard's owner raises once."""


class Sink:
    """The shard's owner: notes every live socket (why and on which channel)."""

    def __init__(self, shard: list[ChannelShard]) -> None:
        self.shard = shard
        self.fail_token_lost = 0  # the owner fails unexpectedly this many times
        self.lives: list[tuple[str, str | None]] = []
        self.changed = asyncio.Event()

    def shard_event(self, slot: int, event: TopicEvent) -> None:
        """Events do not matter here."""

    def shard_phase(self, slot: int, phase: ShardPhase, detail: str) -> None:
        """Phases do not matter here."""

    def shard_live(self, slot: int, *, gap: bool, reason: str) -> None:
        """Note the live socket's reason and channel."""
        channel = self.shard[0].channel
        self.lives.append((reason, channel.id if channel else None))
        self.changed.set()

    def shard_rejected(self, slot: int, rejected: tuple[RejectedTopic, ...]) -> None:
        """Nothing is rejected here."""

    def shard_malformed(self, slot: int, frame: Malformed) -> None:
        """Nothing is malformed here."""

    async def shard_token_lost(self, slot: int) -> bool:
        """A new token is there (the API client renews a refused one by itself)."""
        if self.fail_token_lost > 0:
            self.fail_token_lost -= 1
            raise InjectedError("the owner broke")
        return True

    async def until(self, count: int) -> None:
        """Wait for the ``count``-th live socket."""
        async with asyncio.timeout(WAIT_S):
            while len(self.lives) < count:
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def api(sandbox: Sandbox) -> AsyncIterator[FlakyChannelApi]:
    """A signed-in, flaky-on-demand API client of the sandbox."""
    env = parse_environment(sandbox.base_url)
    auth = Authenticator(env, CLIENT_ID, MemoryCredentialStore(), client_secret=CLIENT_SECRET)
    client = FlakyChannelApi(env, auth.access_token, on_unauthorized=auth.renew_rejected)
    client.created = []
    await auth.sign_in_client_credentials()
    yield client
    await client.aclose()
    await auth.aclose()


@pytest.mark.sandbox_config(heartbeat_s=0.2, channel_ttl_s=3.0)
async def test_a_rollover_whose_subscribe_fails_keeps_its_new_channel(
    api: FlakyChannelApi, http: httpx.AsyncClient
) -> None:
    truth: dict[str, Any] = (await http.get("/sandbox/truth")).json()
    topics = [user_topic(uid) for uid in sorted(truth["users"])[:3]]
    memory = MemoryChannelMemory()
    holder: list[ChannelShard] = []
    sink = Sink(holder)
    shard = ChannelShard(0, topics, api=api, sink=sink, memory=memory, settings=SETTINGS)
    holder.append(shard)
    api.fail_subscribe_at = 2  # the first PUT subscribes the first channel; the rollover's fails
    shard.start()
    try:
        await sink.until(1)
        first = api.created[0]
        assert sink.lives == [("start", first)]
        # At 80 % of its 3 s life the shard rolls over; the new channel's subscribe fails, the
        # shard reconnects: onto the channel that rollover made, not the old one or a third.
        await sink.until(2)
        assert len(api.created) == 2, "a rollover that failed must not cost another channel"
        second = api.created[1]
        assert sink.lives[1][1] == second
        assert shard.channel is not None and shard.channel.id == second
        assert shard.subscribed == tuple(topics)
        stored = await memory.load(0)
        assert stored is not None and stored.id == second  # a restart reuses it too
        listed = {c.id for c in await api.list_channels()}
        assert second in listed
    finally:
        await shard.stop()


@pytest.mark.sandbox_config(heartbeat_s=0.2)
async def test_a_shard_whose_owner_raises_once_logs_it_and_comes_back(
    api: FlakyChannelApi, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    truth: dict[str, Any] = (await http.get("/sandbox/truth")).json()
    topics = [user_topic(uid) for uid in sorted(truth["users"])[:3]]
    holder: list[ChannelShard] = []
    sink = Sink(holder)
    shard = ChannelShard(0, topics, api=api, sink=sink, settings=SETTINGS)
    holder.append(shard)
    shard.start()
    try:
        await sink.until(1)
        sink.fail_token_lost = 1
        # The token dies: the socket is told, and the shard asks its owner, which raises.
        resp = await http.post("/sandbox/faults/revoke_tokens")
        assert resp.status_code == 200 and resp.json()["count"] >= 1
        await sink.until(2)
        assert sink.fail_token_lost == 0
        assert shard.phase is ShardPhase.LIVE and shard.running
        logged = [
            r
            for r in caplog.records
            if (r.exc_info and isinstance(r.exc_info[1], InjectedError))
            or "the owner broke" in r.getMessage()
        ]
        assert len(logged) == 1, [r.getMessage() for r in logged]
    finally:
        await shard.stop()
