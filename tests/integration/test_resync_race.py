"""A re-sync's queue counters against events that arrive while it reads, on the real sandbox.

(And the second read of the counters a moment after a gap's re-sync, which repairs a count that
an older counter still in flight outranked.)

The rule is "the stream wins over a re-sync read that started before it": a counter delivered
by the stream after the read began is newer than the read. A conversation event on the same
queue is no such thing, it says nothing about the counters; it used to veto the re-sync's
counters all the same, so a count missed during a gap stayed wrong until the queue's next change
(found by the chaos run with a moving org: interacting 16 shown, 10 true).

The race is made deterministic with one seam: the engine's observation query runs for real and,
before it returns, the stream delivers the event under test through the engine's own
``shard_event`` (as the socket reader would).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

import orjson
import pytest

from core.engine.selection import Selection
from core.rest.observations import QueueObservation
from core.rest.schema import UserRecord
from core.streaming.protocol import TopicEvent, decode_frame
from sandbox.server import Sandbox
from tests.integration import test_engine as bed

pytestmark = bed.engine_config()
engines = bed.engines
EngineFactory = bed.EngineFactory


def _frame(topic: str, body: Mapping[str, object]) -> TopicEvent:
    frame = decode_frame(orjson.dumps({"topicName": topic, "version": "2", "eventBody": body}))
    assert isinstance(frame, TopicEvent)
    return frame


def _conversation(queue_id: str) -> TopicEvent:
    now = datetime.now(UTC).isoformat()
    body = {
        "id": "race-conversation",
        "participants": [{"purpose": "acd", "state": "connected", "connectedTime": now}],
    }
    return _frame(f"v2.routing.queues.{queue_id}.conversations", body)


def _observation(queue_id: str, waiting: int) -> TopicEvent:
    body = {
        "group": {"queueId": queue_id},
        "data": [{"metrics": [{"metric": "oWaiting", "stats": {"count": waiting}}]}],
    }
    return _frame(f"v2.analytics.queues.{queue_id}.observations", body)


@pytest.mark.parametrize("arrives", ["conversation", "observation"])
async def test_only_streamed_counters_outrank_a_resync(
    engines: EngineFactory, sandbox: Sandbox, arrives: str
) -> None:
    queue_id = sorted(sandbox.org.queues)[0]
    engine = await engines(Selection(queues=(queue_id,), users="members"))
    await engine.pause()
    await engine.settled()
    service = engine.service
    truth = (await engine.truth())["queues"][queue_id]
    # A change the engine missed (as during a gap): its counters are off now.
    service.store.queues[queue_id].waiting = truth["waiting"] + 5
    streamed = truth["waiting"] + 2
    real_query = engine.api.queue_observations

    async def query_then_stream(ids: Iterable[str]) -> dict[str, QueueObservation]:
        answer = await real_query(ids)
        event = (
            _conversation(queue_id)
            if arrives == "conversation"
            else _observation(queue_id, streamed)
        )
        service.shard_event(0, event)  # arrives while the re-sync is reading
        return answer

    engine.api.queue_observations = query_then_stream  # type: ignore[method-assign,assignment]
    await service.resync_once()
    shown = service.store.queues[queue_id].waiting
    if arrives == "conversation":
        assert shown == truth["waiting"]  # the re-sync's read wins: nothing newer came
    else:
        assert shown == streamed  # the streamed counter is newer than the read


async def test_a_counter_outranked_by_an_older_one_in_flight_is_read_again(
    engines: EngineFactory, sandbox: Sandbox
) -> None:
    """Counters carry no time: a streamed counter generated before the re-sync's read but
    delivered after it wins, wrongly; the confirmation read after the gap puts it right."""
    queue_id = sorted(sandbox.org.queues)[0]
    engine = await engines(Selection(queues=(queue_id,), users="members"), start=False)
    service = engine.service
    service.settings = replace(bed.SETTINGS, confirm_counters_after_s=0.3)
    await service.start()
    await engine.settled()
    await engine.pause()
    waiting = (await engine.truth())["queues"][queue_id]["waiting"]
    stale = waiting + 3
    real_query = engine.api.queue_observations
    reads = 0

    async def query_then_late_frame(ids: Iterable[str]) -> dict[str, QueueObservation]:
        nonlocal reads
        reads += 1
        answer = await real_query(ids)
        if reads == 1:  # the re-sync's read: an older counter lands right after it
            service.shard_event(0, _observation(queue_id, stale))
        return answer

    engine.api.queue_observations = query_then_late_frame  # type: ignore[method-assign,assignment]
    mark = engine.records.mark()
    await engine.fault("drop")
    await engine.next_resync(mark)
    assert service.store.queues[queue_id].waiting == stale  # the late frame won the re-sync
    confirmed = service.counters["confirmations"]
    await engine.records.until(
        lambda: (
            service.counters["confirmations"] > confirmed
            and service.store.queues[queue_id].waiting == waiting
        ),
        bed.WAIT_S,
    )
    assert reads == 2


async def test_a_streamed_presence_without_a_time_outranks_the_read_it_overtook(
    engines: EngineFactory, sandbox: Sandbox
) -> None:
    """A presence event may come without ``modifiedDate`` (5.1); one that arrives while the
    re-sync reads is newer than the read, though no timestamp says so. The read used to win and
    left the user in the old presence until their next change (CI's chaos run: ON_QUEUE shown,
    TRAINING true, after a token fault)."""
    queue_id = sorted(sandbox.org.queues)[0]
    engine = await engines(Selection(queues=(queue_id,), users="members"))
    await engine.pause()
    await engine.settled()
    service = engine.service
    user_id = sorted(service.watch.users)[0]
    shown = service.store.users[user_id]
    training = next(
        pid
        for pid, definition in sandbox.org.presences.items()
        if definition.system == "TRAINING" and pid != shown.definition_id
    )
    real_users = engine.api.users

    async def read_then_stream(ids: Iterable[str] | None = None) -> list[UserRecord]:
        answer = await real_users(ids)
        body = {"presenceDefinition": {"id": training, "systemPresence": "TRAINING"}}
        service.shard_event(0, _frame(f"v2.users.{user_id}.presence", body))
        return answer

    engine.api.users = read_then_stream  # type: ignore[method-assign]
    before = shown.definition_id
    await service.resync_once()
    assert before != training
    assert service.store.users[user_id].definition_id == training
    assert service.store.users[user_id].system_presence == "TRAINING"
