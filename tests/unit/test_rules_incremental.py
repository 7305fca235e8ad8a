"""The rule engine fed the changed subjects gives exactly the alerts of a full pass.

Two engines run side by side on one store and one clock through random histories of presence,
routing and queue changes: one looks at everyone on every evaluation, the other is told which
subjects changed (as the pipeline tells it). Their alert changes must be equal, change for change
(ids, times, values and words included), while the second looks at far fewer subjects.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from core.alerts.engine import RuleEngine
from core.alerts.model import Condition, Rule
from core.app.pipeline import Pipeline
from core.engine.records import ChangeRecord, EngineState, StateRecord
from core.state.store import Store
from core.streaming.events import Event, PresenceChanged, QueueObserved, RoutingChanged

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
USERS = [f"u{n:03d}" for n in range(200)]
QUEUES = ["q-a", "q-b"]
PRESENCES = [("def-av", "AVAILABLE"), ("def-brk", "BREAK"), ("def-lunch", "MEAL")]
ROUTING = ["IDLE", "INTERACTING", "NOT_RESPONDING", "OFF_QUEUE"]
RULES = [
    Rule("nr", "Not responding", Condition.AGENT_NOT_RESPONDING, cooldown_s=0),
    Rule("nr-10", "Not responding 10 s", Condition.AGENT_NOT_RESPONDING, for_s=10, cooldown_s=30),
    Rule("break", "On break", Condition.AGENT_PRESENCE_IS, presence="BREAK", cooldown_s=5),
    Rule(
        "lunch-long",
        "Long lunch",
        Condition.AGENT_PRESENCE_LONGER_THAN,
        presence="def-lunch",
        threshold=0.5,  # minutes
        cooldown_s=20,
    ),
    Rule(
        "named",
        "Named agents",
        Condition.AGENT_NOT_RESPONDING,
        subjects=(USERS[0], USERS[1], USERS[2]),
        for_s=3,
    ),
    Rule("waiting", "Calls waiting", Condition.QUEUE_WAITING_ABOVE, threshold=3, cooldown_s=0),
]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.t)


def seeded_store(rng: random.Random, clock: Clock) -> Store:
    store = Store()
    for user_id in USERS:
        store.user(user_id).name = f"Agent {user_id}"
        definition, system = rng.choice(PRESENCES)
        store.apply(PresenceChanged(user_id, definition, system, "", clock.wall()))
        store.apply(RoutingChanged(user_id, rng.choice(ROUTING), clock.wall()))
    for queue_id in QUEUES:
        store.apply(QueueObserved(queue_id, waiting=rng.randint(0, 6)))
    return store


def random_event(rng: random.Random, clock: Clock) -> Event:
    roll = rng.random()
    if roll < 0.1:
        return QueueObserved(rng.choice(QUEUES), waiting=rng.randint(0, 6))
    user_id = rng.choice(USERS)
    if roll < 0.55:
        definition, system = rng.choice(PRESENCES)
        return PresenceChanged(user_id, definition, system, "", clock.wall())
    return RoutingChanged(user_id, rng.choice(ROUTING), clock.wall())


@pytest.mark.parametrize("seed", range(6))
def test_changed_subjects_give_the_alerts_of_a_full_pass(seed: int) -> None:
    rng = random.Random(seed)
    clock = Clock()
    store = seeded_store(rng, clock)
    full = RuleEngine(RULES, clock=clock, wall=clock.wall)
    told = RuleEngine(RULES, clock=clock, wall=clock.wall)
    assert full.evaluate(store, "live") == told.evaluate(store, "live", changed=set())
    fired = 0
    full_visits = told_visits = 0
    for _step in range(400):
        clock.t += rng.choice((0.05, 0.125, 0.5, 1.0, 3.0))
        changed: set[str] = set()
        for _ in range(rng.randint(0, 6)):
            event = random_event(rng, clock)
            for change in store.apply(event):
                changed.add(change.id)
        expected = full.evaluate(store, "live")
        got = told.evaluate(store, "live", changed=changed)
        assert got == expected
        fired += len(expected)
        full_visits += full.visits
        told_visits += told.visits
    assert [a.id for a in told.active] == [a.id for a in full.active]
    assert told.next_deadline() == full.next_deadline()
    assert fired > 50  # the histories do fire, resolve and wait out timers
    assert told_visits * 5 < full_visits  # and the told engine looked at far fewer subjects


def test_the_engine_looks_at_everyone_when_a_partial_look_could_differ() -> None:
    rng = random.Random(1)
    clock = Clock()
    store = seeded_store(rng, clock)
    engine = RuleEngine(RULES, clock=clock, wall=clock.wall)
    engine.evaluate(store, "live", changed=set())
    first = engine.visits
    assert first >= len(USERS)  # the first evaluation: everyone

    engine.evaluate(store, "live", changed=set())
    assert engine.visits < 20  # nothing changed: the queues and due timers only

    engine.evaluate(store, "live", changed=None)  # "not known": everyone
    assert engine.visits >= len(USERS)

    # a user the store dropped (unwatched) without a change: the counts tell
    nr = next(u for u in USERS if store.users[u].routing_status == "NOT_RESPONDING")
    engine.evaluate(store, "live", changed=set())
    assert any(a.subject_id == nr for a in engine.active)
    del store.users[nr]
    resolved = engine.evaluate(store, "live", changed=set())
    assert any(c.alert.subject_id == nr and c.alert.resolved_at for c in resolved)

    engine.set_rules(RULES[:2])  # new rules: everyone
    engine.evaluate(store, "live", changed=set())
    assert engine.visits >= len(store.users)

    engine.evaluate(store, "resyncing", changed=set())  # frozen, then back: everyone
    engine.evaluate(store, "live", changed=set())
    assert engine.visits >= len(store.users)

    other = seeded_store(random.Random(2), clock)  # another store: everyone
    engine.evaluate(other, "live", changed=set())
    assert engine.visits >= len(other.users)


async def test_the_pipeline_tells_the_rules_what_its_change_records_changed() -> None:
    store = Store()
    for user_id in USERS:
        store.apply(RoutingChanged(user_id, "IDLE", T0))
    rule = Rule("nr", "Not responding", Condition.AGENT_NOT_RESPONDING, cooldown_s=0)
    pipeline = Pipeline(store, rules=[rule], batch_s=0.01, tick_s=3600)
    fired = asyncio.Event()
    pipeline.add_alert_listener(lambda changes: fired.set())
    pipeline.on_record(StateRecord(EngineState.LIVE, ""))  # a full look at once
    assert pipeline.rule_engine.visits >= len(USERS)
    pipeline.start()
    try:
        for change in store.apply(RoutingChanged(USERS[7], "NOT_RESPONDING", T0)):
            pipeline.on_record(ChangeRecord(change, "stream"))
        await asyncio.wait_for(fired.wait(), 5)
    finally:
        pipeline.stop()
    assert [a.subject_id for a in pipeline.active] == [USERS[7]]
    assert pipeline.rule_engine.visits == 1  # the batch looked at the one changed agent
    assert pipeline.evaluate() == []  # and a full look agrees
    assert pipeline.rule_engine.visits >= len(USERS)
