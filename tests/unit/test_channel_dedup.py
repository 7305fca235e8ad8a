"""Duplicate frames after a socket switch are dropped by notification identity, not by body."""

from __future__ import annotations

import asyncio

from core.streaming.protocol import TopicEvent
from core.streaming.shard import ChannelShard

TOPIC = "v2.analytics.queues.q1.observations"
ZERO = {"group": {"queueId": "q1"}, "data": [{"metrics": [{"metric": "oWaiting", "count": 0}]}]}
ONE = {"group": {"queueId": "q1"}, "data": [{"metrics": [{"metric": "oWaiting", "count": 1}]}]}


class _Sink:
    def shard_phase(self, *args: object) -> None: ...


def _shard_in_overlap() -> ChannelShard:
    now = [100.0]
    shard = ChannelShard(0, (TOPIC,), api=None, sink=_Sink(), monotonic=lambda: now[0])  # type: ignore[arg-type]
    shard.dedup.open_window(5.0)  # a socket switch just happened (now is 100)
    return shard


def test_a_counter_that_returns_to_its_old_value_is_not_a_duplicate() -> None:
    shard = _shard_in_overlap()
    frames = [
        TopicEvent(TOPIC, ZERO, "2", "c1"),
        TopicEvent(TOPIC, ONE, "2", "c2"),
        TopicEvent(TOPIC, ZERO, "2", "c3"),  # 0 → 1 → 0: the same body, a new notification
    ]
    assert [shard.dedup.is_duplicate(f) for f in frames] == [False, False, False]


def test_the_same_notification_on_the_second_socket_is_dropped() -> None:
    shard = _shard_in_overlap()
    assert not shard.dedup.is_duplicate(TopicEvent(TOPIC, ONE, "2", "c2"))
    assert shard.dedup.is_duplicate(TopicEvent(TOPIC, ONE, "2", "c2"))
    # Without a correlation id the body is all there is to go by.
    assert not shard.dedup.is_duplicate(TopicEvent(TOPIC, ZERO, "2", ""))
    assert shard.dedup.is_duplicate(TopicEvent(TOPIC, ZERO, "2", ""))


def test_a_new_switch_over_window_forgets_the_last_one() -> None:
    """Heartbeats do not clear the memory, so a quiet stream kept it until the next switch."""
    shard = _shard_in_overlap()
    assert not shard.dedup.is_duplicate(TopicEvent(TOPIC, ONE, "2", ""))

    class _Socket:
        async def close(self, code: int = 1000, reason: str = "") -> None: ...

    async def run() -> None:
        shard._live = None
        shard._adopt(_Socket())  # type: ignore[arg-type]
        shard._adopt(_Socket())  # type: ignore[arg-type]  # the next socket switch
        assert not shard.dedup.is_duplicate(TopicEvent(TOPIC, ONE, "2", ""))
        await shard._close_all()

    asyncio.run(run())


def test_after_every_socket_closed_nothing_is_a_duplicate() -> None:
    """A reconnect inside the window: the sockets that could repeat a frame are gone."""
    shard = _shard_in_overlap()
    frame = TopicEvent(TOPIC, ONE, "2", "c9")
    assert not shard.dedup.is_duplicate(frame)
    asyncio.run(shard._close_all())
    assert not shard.dedup.is_duplicate(frame)
