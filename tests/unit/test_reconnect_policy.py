"""The reconnect policy: a healthy session that ends is retried at once; only failures escalate.

Against another Genesys stand-in, seven drops 7 s apart each waited twice as long as the last
(1.0, 1.8, 4.4, 9.3, 16.8 s): the backoff reset only after a socket had lived 30 s, though every
one of them had subscribed, heard heartbeats and carried events.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import RateLimitedError
from core.rest.schema import ChannelInfo, ListedChannel, RejectedTopic, SubscriptionResult
from core.streaming.ports import ShardPhase
from core.streaming.protocol import Malformed, TopicEvent
from core.streaming.reconnect import Backoff, ChannelSettings
from core.streaming.shard import ChannelShard

HEARTBEAT = json.dumps(
    {"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}}
)
FAST = ChannelSettings(
    healthy_retry_s=0.01,
    first_backoff_s=0.02,
    max_backoff_s=0.08,
    backoff_jitter=0.0,
    flap_limit=1000,  # these sessions last milliseconds; the flap guard has its own test
)


# --------------------------------------------------------------------------- the pure policy
def test_the_first_retry_of_a_series_comes_within_the_healthy_bound() -> None:
    settings = ChannelSettings()
    delays = [Backoff(settings, random.Random(seed)).next_delay() for seed in range(200)]
    assert all(0.0 <= d <= settings.healthy_retry_s for d in delays)
    # Full jitter: a crowd dropped together does not come back in step.
    assert max(delays) - min(delays) > 0.5 * settings.healthy_retry_s


def test_failed_attempts_double_up_to_the_cap() -> None:
    settings = ChannelSettings(first_backoff_s=1.0, max_backoff_s=8.0, backoff_jitter=0.0)
    backoff = Backoff(settings, random.Random(1))
    backoff.next_delay()  # the first of the series
    assert [backoff.next_delay() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_a_healthy_session_starts_a_new_series() -> None:
    now = [0.0]
    settings = ChannelSettings(first_backoff_s=1.0, backoff_jitter=0.0)
    backoff = Backoff(settings, random.Random(1), lambda: now[0])
    for _ in range(5):
        backoff.next_delay()
    for _ in range(7):  # seven healthy sessions, 7 s apart
        now[0] += 7.0
        backoff.healthy_session_ended()
        assert backoff.next_delay() <= settings.healthy_retry_s


def test_healthy_sessions_that_flap_escalate_after_all() -> None:
    now = [0.0]
    settings = ChannelSettings(first_backoff_s=1.0, backoff_jitter=0.0, flap_limit=4)
    backoff = Backoff(settings, random.Random(1), lambda: now[0])
    delays = []
    for _ in range(6):  # a server that accepts, beats once and drops, every 0.5 s
        now[0] += 0.5
        backoff.healthy_session_ended()
        delays.append(backoff.next_delay())
    assert all(d <= settings.healthy_retry_s for d in delays[:3])
    assert delays[3:] == [1.0, 2.0, 4.0]


# --------------------------------------------------------------------------- a shard, for real
@dataclass
class _Api:
    """Channel REST answers: always a channel, always subscribed."""

    fail_puts: list[Exception] = field(default_factory=list)
    puts: int = 0

    async def create_channel(self) -> ChannelInfo:
        return ChannelInfo("c1", "ws://x/c1", datetime.now(UTC) + timedelta(hours=24))

    async def channel_exists(self, channel_id: str) -> bool:
        return True

    async def put_subscriptions(
        self, channel_id: str, topics: Sequence[str], *, ignore_errors: bool = True
    ) -> SubscriptionResult:
        self.puts += 1
        if self.fail_puts:
            raise self.fail_puts.pop(0)
        return SubscriptionResult(tuple(topics), ())

    async def delete_subscriptions(self, channel_id: str) -> None:
        return None

    async def list_channels(self, include: str = "token") -> list[ListedChannel]:
        return []


class _Socket:
    """A socket that delivers ``frames`` and then drops (no close frame)."""

    def __init__(self, frames: list[str]) -> None:
        self.frames = list(frames)

    async def send(self, message: str) -> None:
        return None

    async def recv(self) -> str:
        await asyncio.sleep(0)
        if self.frames:
            return self.frames.pop(0)
        raise ConnectionResetError("dropped")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


class _Sink:
    def __init__(self) -> None:
        self.lives = 0

    def shard_event(self, slot: int, event: TopicEvent) -> None: ...

    def shard_phase(self, slot: int, phase: ShardPhase, detail: str) -> None: ...

    def shard_live(self, slot: int, *, gap: bool, reason: str) -> None:
        self.lives += 1

    def shard_rejected(self, slot: int, rejected: tuple[RejectedTopic, ...]) -> None: ...

    def shard_malformed(self, slot: int, frame: Malformed) -> None: ...

    async def shard_token_lost(self, slot: int) -> bool:
        return True


async def _attempts_at_each_connect(frames: list[str], connects: int) -> list[int]:
    """The backoff's attempt counter each time the shard opens a socket."""
    seen: list[int] = []
    done = asyncio.Event()
    shard: ChannelShard

    async def connector(uri: str) -> _Socket:
        seen.append(shard.backoff.attempt)
        if len(seen) >= connects:
            done.set()
        return _Socket(frames)

    shard = ChannelShard(
        0,
        ("t",),
        api=_Api(),
        sink=_Sink(),
        connector=connector,
        settings=FAST,
    )
    shard.start()
    try:
        await asyncio.wait_for(done.wait(), 5.0)
    finally:
        await shard.stop()
    return seen


async def test_drops_after_healthy_sessions_never_escalate() -> None:
    seen = await _attempts_at_each_connect([HEARTBEAT], connects=7)
    # Start, then every reconnect is the first attempt of a fresh series.
    assert seen == [0] + [1] * 6


async def test_sockets_that_die_before_they_are_healthy_escalate() -> None:
    seen = await _attempts_at_each_connect([], connects=5)
    assert seen == [0, 1, 2, 3, 4]


async def test_an_event_also_proves_a_session_healthy() -> None:
    event = json.dumps({"topicName": "v2.users.u1.presence", "eventBody": {}, "metadata": {}})
    seen = await _attempts_at_each_connect([event], connects=4)
    assert seen == [0, 1, 1, 1]


async def test_retry_after_is_waited_exactly_without_escalating() -> None:
    """A 429 the REST client gave up on is the server saying when: no backoff on top."""
    api = _Api(fail_puts=[RateLimitedError(429, "slow down", retry_after_s=0.05)] * 3)
    waits: list[float] = []
    connected = asyncio.Event()

    class _Quiet(_Socket):
        async def recv(self) -> str:
            await asyncio.Event().wait()  # open, and silent, until closed
            raise AssertionError("unreachable")

    async def connector(uri: str) -> _Socket:
        connected.set()
        return _Quiet([])

    shard = ChannelShard(0, ("t",), api=api, sink=_Sink(), connector=connector, settings=FAST)
    original = shard._wait_or_stop

    async def recording(delay: float) -> bool:
        waits.append(delay)
        return await original(delay)

    shard._wait_or_stop = recording  # type: ignore[method-assign]
    shard.start()
    try:
        await asyncio.wait_for(connected.wait(), 5.0)
        assert shard.backoff.attempt == 0  # nothing failed on our side
    finally:
        await shard.stop()
    assert api.puts == 4
    assert waits == [pytest.approx(0.05)] * 3
