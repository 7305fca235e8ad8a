"""Changing what is watched on a running engine, against the real sandbox org.

``MonitorService.set_selection`` re-resolves, re-plans (topics keep their channel), subscribes
the new topics on the live channel and re-syncs; what stays watched keeps its state and never
goes through a gap, and what is no longer watched is unsubscribed and dropped from the store.
Every wait is for a record or a state the engine announces, with a deadline.
"""

from __future__ import annotations

from core.engine.records import ChangeRecord, EngineState, GapRecord, SelectionProgress, WatchRecord
from core.engine.selection import Selection
from core.streaming.planner import queue_topics, user_topic
from sandbox.server import Sandbox
from tests.integration import test_engine as bed

pytestmark = bed.engine_config()
engines = bed.engines  # the wired-engine fixture of test_engine.py
EngineFactory = bed.EngineFactory
OBSERVATIONS = "analytics:queueObservation:view"
CONVERSATIONS = "conversation:communication:view"


def _members(sandbox: Sandbox, queue_id: str) -> set[str]:
    return set(sandbox.org.queues[queue_id].members)


async def test_adding_a_queue_subscribes_it_and_fills_it_by_resync(
    engines: EngineFactory, sandbox: Sandbox
) -> None:
    first, second = sorted(sandbox.org.queues)[:2]
    engine = await engines(Selection(queues=(first,), users="members"))
    await engine.pause()
    await engine.settled()
    kept_users = set(engine.service.watch.users)
    kept_state = {uid: engine.picture()["users"][uid] for uid in kept_users}
    newcomers = _members(sandbox, second) - kept_users
    assert newcomers, "the second queue must bring agents the first does not have"
    channels_before = engine.shard.counters["channels_created"]
    mark = engine.records.mark()
    steps: list[SelectionProgress] = []

    budget = await engine.service.set_selection(
        Selection(queues=(first, second), users="members"), steps.append
    )

    # Topics: the new queue's and its members' topics are subscribed on the same channel.
    wanted = {*queue_topics(second), *(user_topic(uid) for uid in newcomers)}
    assert wanted <= set(engine.shard.topics)
    assert engine.shard.subscribed == engine.shard.topics
    assert engine.shard.counters["channels_created"] == channels_before
    assert budget.channels == 1 and budget.topics == len(engine.shard.topics)
    # Progress went resolving → planning → subscribing 1/1 → done.
    names = [s.step for s in steps]
    assert names[:2] == ["resolving", "planning"]
    assert SelectionProgress("subscribing", 1, 1) in steps
    assert steps[-1] == SelectionProgress("done", 1, 1)
    # The store got the new subjects' state from the re-sync, and equals the truth.
    resynced = {
        r.change.id
        for r in engine.records.records[mark:]
        if isinstance(r, ChangeRecord) and r.source == "resync"
    }
    assert newcomers <= resynced
    assert second in engine.service.watch.queues
    await engine.settled()
    await engine.assert_matches_truth()
    # What stayed watched kept its state and went through no gap.
    assert not [r for r in engine.records.records[mark:] if isinstance(r, GapRecord)]
    for uid in kept_users:
        assert engine.picture()["users"][uid] == kept_state[uid]
    # And the new queue's members now change through the stream.
    await engine.converged(resync=False)


async def test_removing_a_queue_unsubscribes_it_and_drops_it(
    engines: EngineFactory, sandbox: Sandbox
) -> None:
    first, second = sorted(sandbox.org.queues)[:2]
    engine = await engines(Selection(queues=(first, second), users="members"))
    await engine.pause()
    await engine.settled()
    stays = _members(sandbox, first)
    goes = _members(sandbox, second) - stays
    assert goes
    kept_state = {uid: engine.picture()["users"][uid] for uid in stays}
    mark = engine.records.mark()

    await engine.service.set_selection(Selection(queues=(first,), users="members"))

    topics = set(engine.shard.topics)
    assert not set(queue_topics(second)) & topics
    assert not {user_topic(uid) for uid in goes} & topics
    assert engine.shard.subscribed == engine.shard.topics
    assert second not in engine.service.store.queues
    assert not goes & set(engine.service.store.users)
    _, watch = await engine.records.wait_for(lambda r: isinstance(r, WatchRecord), since=mark)
    assert isinstance(watch, WatchRecord) and second not in watch.queues
    # Changes to a dropped agent reach nobody: the store does not bring the row back.
    dropped = sorted(goes)[0]
    await engine.set_presence(dropped, "MEETING")
    await engine.converged(resync=False)  # stream proof on what stays (frames are in order)
    assert dropped not in engine.service.store.users
    # What stays kept its state, with no gap.
    assert not [r for r in engine.records.records[mark:] if isinstance(r, GapRecord)]
    for uid in stays:
        assert uid in engine.service.store.users
    assert engine.picture()["users"].keys() >= kept_state.keys()


async def test_a_queue_added_by_an_agent_reports_its_refused_topics(
    engines: EngineFactory, sandbox: Sandbox
) -> None:
    agent = next(
        u.id
        for u in sandbox.org.users.values()
        if u.role == "agent" and any(u.id in q.members for q in sandbox.org.queues.values())
    )
    engine = await engines(Selection(queues="none", users=(agent,)), grant="pkce", user=agent)
    assert not engine.service.budget_report().rejected
    queue_id = sorted(sandbox.org.queues)[0]

    preview = await engine.service.preview_selection(Selection(queues=(queue_id,), users=(agent,)))
    assert set(preview.queues) == {queue_id}
    assert preview.budget.topics == 1 + len(queue_topics(queue_id))
    assert engine.service.watch.queues == {}  # a preview changes nothing

    budget = await engine.service.set_selection(Selection(queues=(queue_id,), users=(agent,)))
    refused = {r.id: r.missing_permissions for r in budget.rejected}
    assert refused == {  # an agent may not see a queue's counters nor its calls
        f"v2.analytics.queues.{queue_id}.observations": (OBSERVATIONS,),
        f"v2.routing.queues.{queue_id}.conversations": (CONVERSATIONS,),
    }
    assert engine.service.state is EngineState.LIVE
    # Removing the queue again clears the refusal.
    budget = await engine.service.set_selection(Selection(queues="none", users=(agent,)))
    assert not budget.rejected
    assert set(engine.shard.topics) == {user_topic(agent)}


async def test_a_service_account_asked_for_my_queues_watches_every_queue(
    engines: EngineFactory, sandbox: Sandbox
) -> None:
    """Client credentials have no "me": the default selection still reaches a live board."""
    engine = await engines(Selection(queues="mine", users="members"), grant="client_credentials")
    await engine.settled()
    assert engine.service.state is EngineState.LIVE
    assert set(engine.service.watch.queues) == set(sandbox.org.queues)
    members = set().union(*(_members(sandbox, q) for q in sandbox.org.queues))
    assert set(engine.service.watch.users) == members
