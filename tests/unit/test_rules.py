"""The alert engine: thresholds, durations, hysteresis, cooldown, lifecycle, gaps, replay."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.alerts.engine import RuleEngine
from core.alerts.model import AlertState, ChangeKind, Condition, Rule, Severity
from core.alerts.presets import demo_rules
from core.alerts.replay import replay
from core.alerts.validation import validate_rule
from core.alerts.words import describe_rule
from core.domain.format import duration_text
from core.feed.entry import FeedEntry
from core.feed.payloads import (
    ConnectionData,
    PresenceData,
    QueueData,
    RoutingData,
    payload_from_json,
)
from core.state.store import Store
from core.streaming.events import PresenceChanged, QueueObserved, RoutingChanged

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class Clock:
    """Monotonic seconds and the matching wall time, moved by hand."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.t)


def make(*rules: Rule) -> tuple[RuleEngine, Clock]:
    clock = Clock()
    return RuleEngine(rules, clock=clock, wall=clock.wall), clock


def waiting_rule(**changes: Any) -> Rule:
    rule = Rule(
        id="waiting",
        name="Calls waiting",
        condition=Condition.QUEUE_WAITING_ABOVE,
        threshold=3,
        cooldown_s=0,
    )
    return replace(rule, **changes)


def queue_store(waiting: int | None = None, **values: Any) -> Store:
    store = Store()
    queue = store.queue("q")
    queue.name = "Sales EN"
    queue.waiting = waiting
    for name, value in values.items():
        setattr(queue, name, value)
    return store


def agent_store() -> Store:
    store = Store()
    store.presence_labels.update({"lunch": "Lunch", "meal": "Meal", "oq": "On Queue"})
    for user_id, name in (("dana", "Dana Agent"), ("eli", "Eli Agent")):
        store.user(user_id).name = name
    return store


def kinds(changes: list[Any]) -> list[tuple[str, str]]:
    return [(c.kind.value, c.alert.subject_id) for c in changes]


# ---------------------------------------------------------------------------- thresholds
def test_queue_waiting_fires_only_above_the_threshold() -> None:
    engine, _ = make(waiting_rule())
    store = queue_store(waiting=3)
    assert engine.evaluate(store, "live") == []
    store.queues["q"].waiting = 4
    [change] = engine.evaluate(store, "live")
    alert = change.alert
    assert change.kind is ChangeKind.FIRED
    assert (alert.rule_id, alert.subject_id, alert.subject_name) == ("waiting", "q", "Sales EN")
    assert (alert.state, alert.severity, alert.value) == (AlertState.FIRING, Severity.WARNING, 4)
    assert alert.summary == "Sales EN: 4 waiting (> 3)"
    assert alert.fired_at == T0 and alert.subject_kind == "queue"
    assert engine.active == [alert]
    assert engine.evaluate(store, "live") == []  # level based, but fires once


def test_for_duration_fires_not_before_and_exactly_at() -> None:
    engine, clock = make(waiting_rule(for_s=10))
    store = queue_store(waiting=5)
    assert engine.evaluate(store, "live") == []
    assert engine.next_deadline() == 10
    clock.t = 9.999
    assert engine.evaluate(store, "live") == []
    clock.t = 10.0
    [change] = engine.evaluate(store, "live")
    assert change.alert.summary == "Sales EN: 5 waiting (> 3) for 10 s"
    assert engine.next_deadline() is None


def test_the_pending_timer_restarts_when_the_condition_drops() -> None:
    engine, clock = make(waiting_rule(for_s=10))
    store = queue_store(waiting=5)
    engine.evaluate(store, "live")
    clock.t = 5
    store.queues["q"].waiting = 3
    engine.evaluate(store, "live")
    clock.t = 6
    store.queues["q"].waiting = 5
    engine.evaluate(store, "live")
    clock.t = 15
    assert engine.evaluate(store, "live") == []
    clock.t = 16
    assert kinds(engine.evaluate(store, "live")) == [("fired", "q")]


def test_a_value_flapping_around_the_threshold_fires_once() -> None:
    engine, clock = make(waiting_rule())
    store = queue_store()
    changes = []
    for second, waiting in enumerate([3, 4, 3, 4, 3, 4, 3, 4]):
        clock.t = second
        store.queues["q"].waiting = waiting
        changes += engine.evaluate(store, "live")
    assert kinds(changes) == [("fired", "q")]
    store.queues["q"].waiting = 2  # threshold 3 - hysteresis 1
    assert kinds(engine.evaluate(store, "live")) == [("resolved", "q")]


def test_without_hysteresis_it_resolves_at_the_threshold() -> None:
    engine, _ = make(waiting_rule(hysteresis=0))
    store = queue_store(waiting=4)
    engine.evaluate(store, "live")
    store.queues["q"].waiting = 3
    assert kinds(engine.evaluate(store, "live")) == [("resolved", "q")]


def test_hysteresis_never_asks_for_a_negative_count() -> None:
    engine, _ = make(waiting_rule(threshold=0, hysteresis=1))
    store = queue_store(waiting=1)
    assert kinds(engine.evaluate(store, "live")) == [("fired", "q")]
    store.queues["q"].waiting = 0
    assert kinds(engine.evaluate(store, "live")) == [("resolved", "q")]


def test_on_queue_below_resolves_at_threshold_plus_hysteresis() -> None:
    rule = Rule("staff", "Staffing", Condition.QUEUE_ON_QUEUE_BELOW, threshold=3, cooldown_s=0)
    engine, _ = make(rule)
    store = queue_store(on_queue=2)
    [fired] = engine.evaluate(store, "live")
    assert fired.alert.summary == "Sales EN: 2 on queue (< 3)"
    store.queues["q"].on_queue = 3
    assert engine.evaluate(store, "live") == []
    store.queues["q"].on_queue = 4
    assert kinds(engine.evaluate(store, "live")) == [("resolved", "q")]


def test_longest_wait_reads_the_waiting_conversations() -> None:
    rule = Rule("wait", "Long wait", Condition.QUEUE_LONGEST_WAIT_ABOVE, threshold=60, cooldown_s=0)
    engine, clock = make(rule)
    store = queue_store(waiting=1)
    store.queues["q"].conversations = {"c1": ("waiting", T0 - timedelta(seconds=50))}
    assert engine.evaluate(store, "live") == []
    clock.t = 11
    [fired] = engine.evaluate(store, "live")
    assert fired.alert.summary == "Sales EN: longest wait 1 min 1 s (> 1 min)"
    store.queues["q"].conversations = {}  # answered: nothing waits, the value is unknown
    assert kinds(engine.evaluate(store, "live")) == [("resolved", "q")]


def test_unknown_queue_values_do_not_hold() -> None:
    below = Rule("staff", "Staffing", Condition.QUEUE_ON_QUEUE_BELOW, threshold=3)
    engine, _ = make(waiting_rule(), below)
    store = queue_store()  # waiting and on_queue unknown (None)
    assert engine.evaluate(store, "live") == []


# --------------------------------------------------------------- cooldown and lifecycle
def test_cooldown_holds_back_the_next_fire_until_it_ends() -> None:
    engine, clock = make(waiting_rule(cooldown_s=60))
    store = queue_store(waiting=5)
    engine.evaluate(store, "live")
    clock.t = 1
    store.queues["q"].waiting = 0
    assert kinds(engine.evaluate(store, "live")) == [("resolved", "q")]
    clock.t = 30
    store.queues["q"].waiting = 5
    assert engine.evaluate(store, "live") == []
    assert engine.next_deadline() == 61
    clock.t = 60.9
    assert engine.evaluate(store, "live") == []
    clock.t = 61
    assert kinds(engine.evaluate(store, "live")) == [("fired", "q")]


def test_alert_lifecycle_firing_acknowledged_resolved() -> None:
    engine, clock = make(waiting_rule())
    store = queue_store(waiting=5)
    [fired] = engine.evaluate(store, "live")
    clock.t = 3
    ack = engine.acknowledge(fired.alert.id)
    assert ack is not None and ack.kind is ChangeKind.ACKNOWLEDGED
    assert ack.alert.state is AlertState.ACKNOWLEDGED
    assert ack.alert.acknowledged_at == T0 + timedelta(seconds=3)
    assert engine.acknowledge(fired.alert.id) is None  # already seen
    assert engine.acknowledge("nope") is None
    assert [a.state for a in engine.active] == [AlertState.ACKNOWLEDGED]
    clock.t = 8
    store.queues["q"].waiting = 0
    [resolved] = engine.evaluate(store, "live")
    assert resolved.alert.state is AlertState.RESOLVED
    assert resolved.alert.resolved_at == T0 + timedelta(seconds=8)
    assert resolved.alert.id == fired.alert.id
    assert engine.active == []
    assert engine.acknowledge(fired.alert.id) is None
    assert [c.kind for c in engine.history] == [
        ChangeKind.FIRED,
        ChangeKind.ACKNOWLEDGED,
        ChangeKind.RESOLVED,
    ]


def test_history_is_bounded() -> None:
    clock = Clock()
    engine = RuleEngine([waiting_rule()], clock=clock, wall=clock.wall, history_limit=3)
    store = queue_store()
    for second in range(10):
        clock.t = second
        store.queues["q"].waiting = 5 if second % 2 == 0 else 0
        engine.evaluate(store, "live")
    assert len(engine.history) == 3
    assert engine.history[-1].at == T0 + timedelta(seconds=9)


def test_set_rules_keeps_unchanged_rules_and_restarts_edited_ones() -> None:
    other = waiting_rule(id="other", name="Other")
    engine, clock = make(waiting_rule(), other)
    store = queue_store(waiting=5)
    [first, second] = engine.evaluate(store, "live")
    clock.t = 1
    edited = replace(other, threshold=4)
    [resolved] = engine.set_rules([waiting_rule(), edited])
    assert (resolved.kind, resolved.alert.id) == (ChangeKind.RESOLVED, second.alert.id)
    assert [a.id for a in engine.active] == [first.alert.id]
    [refired] = engine.evaluate(store, "live")  # the edited rule starts afresh
    assert refired.alert.rule_id == "other" and refired.alert.id != second.alert.id
    assert kinds(engine.set_rules([])) == [("resolved", "q"), ("resolved", "q")]
    assert engine.active == []


def test_disabled_rules_never_fire_and_disabling_resolves() -> None:
    engine, _ = make(waiting_rule())
    store = queue_store(waiting=5)
    engine.evaluate(store, "live")
    assert kinds(engine.set_rules([waiting_rule(enabled=False)])) == [("resolved", "q")]
    assert engine.evaluate(store, "live") == []
    assert engine.rules == [waiting_rule(enabled=False)]


def test_two_rules_with_one_id_are_refused() -> None:
    with pytest.raises(ValueError, match="share the id"):
        RuleEngine([waiting_rule(), waiting_rule()])


# ------------------------------------------------------------------------------------ gaps
def test_a_condition_that_became_true_during_a_gap_fires_after_the_resync() -> None:
    engine, clock = make(waiting_rule(for_s=10))
    store = Store()
    store.apply(QueueObserved("q", waiting=1))
    assert engine.evaluate(store, "live") == []
    clock.t = 5
    assert engine.evaluate(store, "reconnecting") == []
    clock.t = 20
    store.apply(QueueObserved("q", waiting=6))  # the REST re-sync finds the queue full
    assert engine.evaluate(store, "resyncing") == []  # frozen until the picture is live
    clock.t = 21
    assert engine.evaluate(store, "live") == []
    clock.t = 31
    assert kinds(engine.evaluate(store, "live")) == [("fired", "q")]


def test_nothing_resolves_from_a_picture_that_is_not_live() -> None:
    engine, _ = make(waiting_rule())
    store = queue_store(waiting=5)
    engine.evaluate(store, "live")
    store.queues["q"].waiting = 0
    assert engine.evaluate(store, "stale") == []
    assert engine.evaluate(store, "reconnecting") == []
    assert kinds(engine.evaluate(store, "live")) == [("resolved", "q")]


def test_not_responding_during_a_gap_counts_from_the_agents_own_timestamp() -> None:
    rule = Rule("nr", "Not responding", Condition.AGENT_NOT_RESPONDING, for_s=30)
    engine, clock = make(rule)
    store = agent_store()
    store.apply(RoutingChanged("dana", "IDLE", T0))
    engine.evaluate(store, "live")
    clock.t = 60
    engine.evaluate(store, "reconnecting")
    store.apply(RoutingChanged("dana", "NOT_RESPONDING", T0 + timedelta(seconds=10)))
    assert engine.evaluate(store, "resyncing") == []
    clock.t = 62
    [fired] = engine.evaluate(store, "live")
    assert fired.alert.summary == "Dana Agent is Not Responding for 52 s"


# ---------------------------------------------------------------------------------- agents
def test_not_responding_names_the_agent() -> None:
    engine, clock = make(demo_rules()[1])
    store = agent_store()
    store.apply(RoutingChanged("dana", "INTERACTING", T0))
    assert engine.evaluate(store, "live") == []
    store.apply(RoutingChanged("dana", "NOT_RESPONDING", T0))
    assert engine.evaluate(store, "live") == []  # a ring-out is not news: 10 s first (demo)
    clock.t = 9
    assert engine.evaluate(store, "live") == []
    clock.t = 10
    [fired] = engine.evaluate(store, "live")
    assert fired.alert.summary == "Dana Agent is Not Responding for 10 s"
    assert (fired.alert.severity, fired.alert.subject_kind) == (Severity.WARNING, "agent")
    assert fired.alert.actions == ("notify",)  # a warning: shown, no sound
    store.apply(RoutingChanged("dana", "IDLE", T0 + timedelta(seconds=31)))
    assert kinds(engine.evaluate(store, "live")) == [("resolved", "dana")]


def test_presence_by_custom_definition_id_or_by_system_key() -> None:
    by_id = Rule("lunch", "At lunch", Condition.AGENT_PRESENCE_IS, presence="lunch")
    by_key = Rule("meal", "Any meal", Condition.AGENT_PRESENCE_IS, presence="Meal")
    engine, _ = make(by_id, by_key)
    store = agent_store()
    store.apply(PresenceChanged("dana", "lunch", "MEAL", "", T0))  # custom "Lunch" under Meal
    store.apply(PresenceChanged("eli", "meal", "MEAL", "", T0))  # the org's plain Meal
    changes = engine.evaluate(store, "live")
    assert sorted((c.alert.rule_id, c.alert.subject_id) for c in changes) == [
        ("lunch", "dana"),
        ("meal", "dana"),
        ("meal", "eli"),
    ]
    summaries = {c.alert.summary for c in changes}
    assert summaries == {"Dana Agent is in Lunch", "Eli Agent is in Meal"}


def test_presence_longer_than_counts_from_when_the_presence_began() -> None:
    rule = Rule(
        "long",
        "Long lunch",
        Condition.AGENT_PRESENCE_LONGER_THAN,
        presence="lunch",
        threshold=30,
        cooldown_s=0,
    )
    engine, clock = make(rule)
    store = agent_store()
    store.apply(PresenceChanged("dana", "lunch", "MEAL", "", T0 - timedelta(minutes=25)))
    assert engine.evaluate(store, "live") == []
    assert engine.next_deadline() == 5 * 60
    clock.t = 4 * 60
    # a new presence message re-stamps the presence; the lunch itself did not restart
    store.apply(PresenceChanged("dana", "lunch", "MEAL", "back soon", clock.wall()))
    assert engine.evaluate(store, "live") == []
    clock.t = 5 * 60 - 0.5
    assert engine.evaluate(store, "live") == []
    clock.t = 7 * 60
    [fired] = engine.evaluate(store, "live")
    assert fired.alert.summary == "Dana Agent in Lunch for 32 min"
    store.apply(PresenceChanged("dana", "oq", "ON_QUEUE", "", clock.wall()))
    assert kinds(engine.evaluate(store, "live")) == [("resolved", "dana")]


def test_agent_rules_skip_users_the_store_does_not_know() -> None:
    rule = Rule("nr", "Not responding", Condition.AGENT_NOT_RESPONDING, subjects=("ghost", "dana"))
    engine, _ = make(rule, waiting_rule(subjects=("no-such-queue",)))
    store = agent_store()
    store.apply(RoutingChanged("dana", "NOT_RESPONDING", T0))
    assert kinds(engine.evaluate(store, "live")) == [("fired", "dana")]


def test_rules_naming_subjects_watch_only_those() -> None:
    rule = Rule("nr", "Not responding", Condition.AGENT_NOT_RESPONDING, subjects=("eli",))
    engine, _ = make(rule)
    store = agent_store()
    store.apply(RoutingChanged("dana", "NOT_RESPONDING", T0))
    assert engine.evaluate(store, "live") == []


# ------------------------------------------------------------------------------ connection
def test_channel_not_live_for_counts_any_state_but_live() -> None:
    rule = Rule("conn", "Offline", Condition.CHANNEL_NOT_LIVE_FOR, threshold=120, cooldown_s=0)
    engine, clock = make(rule)
    store = Store()
    engine.evaluate(store, "live")
    clock.t = 10
    assert engine.evaluate(store, "reconnecting") == []
    clock.t = 100
    assert engine.evaluate(store, "resyncing") == []
    clock.t = 129.9
    assert engine.evaluate(store, "reconnecting") == []
    clock.t = 130
    [fired] = engine.evaluate(store, "reconnecting")
    assert fired.alert.summary == "Connection not live for 2 min"
    assert (fired.alert.subject_id, fired.alert.subject_kind) == ("", "connection")
    clock.t = 131
    assert kinds(engine.evaluate(store, "live")) == [("resolved", "")]


def test_a_deliberate_stop_is_not_an_outage() -> None:
    rule = Rule("conn", "Offline", Condition.CHANNEL_NOT_LIVE_FOR, threshold=10)
    engine, clock = make(rule)
    engine.evaluate(Store(), "stopped")
    clock.t = 100
    assert engine.evaluate(Store(), "stopped") == []


# --------------------------------------------------------------------------------- cost
def big_store(users: int) -> Store:
    store = Store()
    for n in range(users):
        user = store.user(f"u{n}")
        user.routing_status = "NOT_RESPONDING" if n % 1000 == 0 else "IDLE"
        user.definition_id, user.system_presence = (
            ("lunch", "MEAL") if n % 1000 == 1 else ("oq", "ON_QUEUE")
        )
    return store


def test_any_agent_rules_share_one_pass_over_the_users() -> None:
    store = big_store(5000)
    rules = [Rule(f"nr{n}", "NR", Condition.AGENT_NOT_RESPONDING) for n in range(10)] + [
        Rule(f"p{n}", "P", Condition.AGENT_PRESENCE_IS, presence=("lunch", "MEAL")[n % 2])
        for n in range(10)
    ]
    engine, _ = make(*rules)
    changes = engine.evaluate(store, "live")
    assert len(changes) == 10 * 5 + 10 * 5  # 5 users not responding, 5 at lunch
    # two passes over 5,000 users (one per condition kind), then only the matching users
    assert engine.visits == 2 * 5000 + len(changes)
    engine.evaluate(store, "live")
    assert engine.visits == 2 * 5000 + len(changes)


def test_rules_naming_subjects_visit_only_their_subjects() -> None:
    store = big_store(5000)
    rules = [
        Rule(
            f"nr{n}",
            "NR",
            Condition.AGENT_NOT_RESPONDING,
            subjects=(f"u{n}", f"u{n + 1}", f"u{n + 2}"),
        )
        for n in range(20)
    ]
    engine, _ = make(*rules)
    engine.evaluate(store, "live")
    assert engine.visits == 20 * 3


# ---------------------------------------------------------------------------- properties
@given(st.lists(st.tuples(st.integers(0, 8), st.floats(0, 30)), max_size=60))
def test_fires_and_resolves_alternate_whatever_the_values(steps: list[tuple[int, float]]) -> None:
    engine, clock = make(waiting_rule(for_s=5, cooldown_s=10))
    store = queue_store()
    active = False
    last_resolved = -1e9
    for waiting, advance in steps:
        clock.t += advance
        store.queues["q"].waiting = waiting
        for change in engine.evaluate(store, "live"):
            if change.kind is ChangeKind.FIRED:
                assert not active and waiting > 3
                assert clock.t >= last_resolved + 10 - 1e-6
                active = True
            else:
                assert active and waiting <= 2
                active, last_resolved = False, clock.t
        assert len(engine.active) == int(active)


# ---------------------------------------------------------------------------- validation
QUEUES = {"q1": "Sales EN", "q2": "Support"}
USERS = {"u1": "Dana Agent"}
PRESENCES = {"lunch": "Lunch", "oq": "On Queue"}


def problems(rule: Rule) -> list[tuple[str, str]]:
    found = validate_rule(rule, queues=QUEUES, users=USERS, presences=PRESENCES)
    return [(p.field, p.message) for p in found]


def test_a_good_rule_has_no_problems() -> None:
    assert problems(waiting_rule(subjects=("q1",))) == []
    for rule in demo_rules(["q1"]):
        assert problems(rule) == []


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": "  "}, "name", "Give the rule a name"),
        ({"threshold": None}, "threshold", "Enter a threshold"),
        ({"threshold": "three"}, "threshold", "not a number"),
        ({"threshold": float("nan")}, "threshold", "not a number"),
        ({"threshold": -1}, "threshold", "0 or more"),
        ({"for_s": -5}, "for_s", "cannot be negative"),
        ({"cooldown_s": -1}, "cooldown_s", "cannot be negative"),
        ({"hysteresis": -1}, "hysteresis", "cannot be negative"),
        ({"subjects": ("q9",)}, "subjects", "Unknown queues: q9"),
        ({"subjects": ("u1",)}, "subjects", "Dana Agent: agent, but this rule watches queues"),
        ({"actions": ("notify", "email")}, "actions", "notify, sound"),
    ],
)
def test_validation_names_the_field_and_the_reason(
    changes: dict[str, Any], field: str, words: str
) -> None:
    found = problems(waiting_rule(**changes))
    assert [f for f, _ in found] == [field]
    assert words in found[0][1]


def test_a_rule_that_can_never_fire_is_flagged() -> None:
    rule = Rule("s", "Staffing", Condition.QUEUE_ON_QUEUE_BELOW, threshold=0)
    [(field, message)] = problems(rule)
    assert field == "threshold" and "can never fire" in message


def test_presence_must_exist_in_the_org_or_be_a_system_key() -> None:
    rule = Rule("p", "Lunch", Condition.AGENT_PRESENCE_IS, presence="deleted-id")
    [(field, message)] = problems(rule)
    assert field == "presence" and "does not exist" in message
    assert problems(replace(rule, presence="MEAL")) == []
    assert problems(replace(rule, presence="lunch")) == []
    assert problems(replace(rule, presence=None)) == [("presence", "Choose a presence.")]


def test_agent_rules_refuse_queues_and_connection_rules_refuse_subjects() -> None:
    rule = Rule("nr", "NR", Condition.AGENT_NOT_RESPONDING, subjects=("q1",))
    assert problems(rule) == [("subjects", "Sales EN: queue, but this rule watches agents.")]
    conn = Rule("c", "Conn", Condition.CHANNEL_NOT_LIVE_FOR, threshold=60, subjects=("q1",))
    assert [f for f, _ in problems(conn)] == ["subjects"]


def test_without_live_data_only_the_rule_itself_is_checked() -> None:
    rule = Rule("p", "Lunch", Condition.AGENT_PRESENCE_IS, presence="some-id", subjects=("u9",))
    assert validate_rule(rule, queues=None, users=None, presences=None) == []


def test_demo_rules_are_the_two_examples() -> None:
    calls, not_responding = demo_rules()
    assert (calls.name, calls.condition, calls.threshold, calls.for_s) == (
        "Calls waiting",
        Condition.QUEUE_WAITING_ABOVE,
        3,
        10,
    )
    assert calls.subjects == () and calls.enabled and calls.severity is Severity.WARNING
    assert not_responding.condition is Condition.AGENT_NOT_RESPONDING
    assert not_responding.severity is Severity.WARNING and not_responding.enabled
    assert not_responding.for_s == 10 and "sound" not in not_responding.actions


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (42.4, "42 s"), (90, "1 min 30 s"), (120, "2 min"), (1930, "32 min"),
     (3900, "1 h 5 min"), (7200, "2 h")],
)  # fmt: skip
def test_durations_read_the_way_people_say_them(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


# ---------------------------------------------------------------------------------- replay
def queue_entry(second: float, waiting: int, queue: str = "q") -> FeedEntry:
    return FeedEntry(
        T0 + timedelta(seconds=second),
        "queue",
        queue,
        queue.upper(),
        "",
        data=QueueData("stream", waiting=waiting),
    )


def connection_entry(second: float, state: str) -> FeedEntry:
    at = T0 + timedelta(seconds=second)
    return FeedEntry(at, "connection", "", "Connection", "", data=ConnectionData(state, ""))


def test_replay_counts_fires_with_durations_hysteresis_and_cooldown() -> None:
    rule = waiting_rule(for_s=10, cooldown_s=60)
    entries = [
        queue_entry(0, 5),  # fires at 10, with no entry at 10: the timer expires by itself
        queue_entry(12, 3),  # hysteresis: still firing
        queue_entry(13, 4),
        queue_entry(20, 1),  # resolved; cooldown until 80
        queue_entry(30, 6),  # held from 30, but the cooldown holds it back until 80
        queue_entry(90, 2),  # it fired at 80, when the cooldown ended; resolved again now
        queue_entry(100, 4, queue="q2"),  # another queue fires at 110
        queue_entry(150, 9),
        queue_entry(155, 3),  # dropped before its 10 s were up: no fire
    ]
    result = replay(rule, entries, T0, T0 + timedelta(hours=1))
    assert result.fired == 3
    assert result.first == T0 + timedelta(seconds=10)
    assert result.subjects == {"q": 2, "q2": 1}
    assert result.note is None


def test_replay_counts_only_inside_the_window_and_follows_gaps() -> None:
    rule = waiting_rule(for_s=10)
    entries = [
        queue_entry(-100, 5),  # fires at -90: before the window, not counted
        queue_entry(-50, 0),
        connection_entry(200, "reconnecting"),
        queue_entry(210, 9),  # found by the re-sync: frozen until live
        connection_entry(215, "live"),  # held from 215: fires at 225
        queue_entry(4000, 9, queue="late"),  # after the window
    ]
    result = replay(rule, reversed(entries), T0, T0 + timedelta(hours=1))
    assert (result.fired, result.first) == (1, T0 + timedelta(seconds=225))


def test_replay_of_agent_and_connection_rules() -> None:
    def routing(second: float, user: str, status: str) -> FeedEntry:
        return FeedEntry(
            T0 + timedelta(seconds=second),
            "routing",
            user,
            user,
            "",
            data=RoutingData("stream", status),
        )

    nr = Rule("nr", "NR", Condition.AGENT_NOT_RESPONDING, for_s=5, cooldown_s=0)
    junk = payload_from_json("routing", {"routingStatus": 42})
    entries = [
        routing(0, "dana", "NOT_RESPONDING"),
        routing(3, "dana", "IDLE"),  # too short
        routing(10, "dana", "NOT_RESPONDING"),
        routing(20, "dana", "IDLE"),
        routing(30, "eli", "NOT_RESPONDING"),
        # junk (a row written by hand): read back as RawData, and skipped
        FeedEntry(T0, "routing", "x", "x", "", data=junk),
    ]
    result = replay(nr, entries, T0, T0 + timedelta(minutes=5))
    assert (result.fired, result.subjects) == (2, {"dana": 1, "eli": 1})
    assert result.first == T0 + timedelta(seconds=15)

    conn = Rule("c", "Conn", Condition.CHANNEL_NOT_LIVE_FOR, threshold=60, enabled=False)
    outage = [connection_entry(100, "reconnecting"), connection_entry(130, "live")]
    outage += [connection_entry(200, "reconnecting"), connection_entry(300, "live")]
    result = replay(conn, outage, T0, T0 + timedelta(minutes=10))
    assert (result.fired, result.first) == (1, T0 + timedelta(seconds=260))


def test_replay_of_presence_by_custom_definition() -> None:
    def presence(second: float, system: str, definition: str) -> FeedEntry:
        return FeedEntry(
            T0 + timedelta(seconds=second),
            "presence",
            "dana",
            "Dana Agent",
            "",
            data=PresenceData("stream", system, definition),
        )

    rule = Rule(
        "l", "Long lunch", Condition.AGENT_PRESENCE_LONGER_THAN, presence="lunch", threshold=30
    )
    entries = [presence(0, "MEAL", "lunch"), presence(45 * 60, "ON_QUEUE", "oq")]
    result = replay(rule, entries, T0, T0 + timedelta(hours=1))
    assert (result.fired, result.first) == (1, T0 + timedelta(minutes=30))


def test_replay_says_when_the_journal_cannot_answer() -> None:
    rule = Rule("s", "Staffing", Condition.QUEUE_ON_QUEUE_BELOW, threshold=2)
    result = replay(rule, [queue_entry(0, 5)], T0, T0 + timedelta(hours=1))
    assert result.fired == 0 and result.note and "cannot be tested" in result.note


# ------------------------------------------------------------------------ one media type
def multichannel_store(**groups: tuple[int, int | None]) -> Store:
    """Queue "q" fed by the real store: ``media=(waiting, longest_wait_ms)`` per group."""
    store = Store()
    for media, (waiting, longest_ms) in groups.items():
        store.apply(
            QueueObserved(
                "q", waiting=waiting, interacting=0, longest_wait_ms=longest_ms, media_type=media
            )
        )
    store.queue("q").name = "Sales EN"
    return store


def test_a_media_filter_counts_only_that_media_group() -> None:
    chat, voice, everything = (
        waiting_rule(id="chat", media="chat"),
        waiting_rule(id="voice", media="voice"),
        waiting_rule(id="all"),
    )
    engine, _ = make(chat, voice, everything)
    store = multichannel_store(voice=(3, 1000), chat=(2, 1000))  # 5 in all, neither above 3
    fired = engine.evaluate(store, "live")
    assert [(c.alert.rule_id, c.alert.value) for c in fired] == [("all", 5)]
    store.apply(QueueObserved("q", waiting=4, media_type="chat"))  # chat 4 > 3, voice still 3
    [change] = engine.evaluate(store, "live")
    assert (change.alert.rule_id, change.alert.value) == ("chat", 4)
    assert change.alert.summary == "Sales EN: 4 waiting on chat (> 3)"
    store.apply(QueueObserved("q", waiting=0, media_type="chat"))  # the chat group empties
    assert [(c.kind.value, c.alert.rule_id) for c in engine.evaluate(store, "live")] == [
        ("resolved", "chat")
    ]  # "all" (3 waiting, resolves at <= 2) holds on


def test_a_media_filter_reads_that_groups_longest_wait() -> None:
    rule = Rule(
        "lw",
        "Long chat wait",
        Condition.QUEUE_LONGEST_WAIT_ABOVE,
        threshold=60,
        cooldown_s=0,
        media="chat",
    )
    engine, _ = make(rule)
    store = multichannel_store(voice=(1, 300_000), chat=(1, 30_000))  # voice waits 5 min
    assert engine.evaluate(store, "live") == []  # chat's 30 s is what counts
    store.apply(QueueObserved("q", waiting=1, longest_wait_ms=90_000, media_type="chat"))
    [change] = engine.evaluate(store, "live")
    assert change.alert.value == 90.0
    assert change.alert.summary == "Sales EN: longest chat wait 1 min 30 s (> 1 min)"


def test_a_media_filter_never_holds_on_counts_not_split_by_media() -> None:
    engine, _ = make(waiting_rule(media="chat"))
    store = Store()
    store.apply(QueueObserved("q", waiting=9))  # a source without the split: chat unknown
    assert engine.evaluate(store, "live") == []
    store.apply(QueueObserved("q", waiting=9, media_type="chat"))
    assert kinds(engine.evaluate(store, "live")) == [("fired", "q")]


def test_a_media_filter_spelled_the_engines_way_or_an_alias() -> None:
    engine, _ = make(waiting_rule(media="calls"))  # "calls" is voice
    assert kinds(engine.evaluate(multichannel_store(voice=(4, None)), "live")) == [("fired", "q")]
    assert problems(waiting_rule(media="calls")) == []


def test_an_unknown_media_type_is_refused() -> None:
    [(field, message)] = problems(waiting_rule(media="pigeon"))
    assert field == "media" and "'pigeon'" in message and "chat" in message
    # conditions that cannot split by media ignore the field, like a threshold they do not use
    staffing = Rule("s", "Staffing", Condition.QUEUE_ON_QUEUE_BELOW, threshold=2, media="pigeon")
    assert problems(staffing) == []


def test_replay_says_the_journal_has_no_split_by_media() -> None:
    result = replay(waiting_rule(media="chat"), [queue_entry(0, 5)], T0, T0 + timedelta(hours=1))
    assert result.fired == 0 and result.note and "split by media" in result.note
    assert replay(waiting_rule(), [queue_entry(0, 5)], T0, T0 + timedelta(hours=1)).fired == 1


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (
            waiting_rule(subjects=("q1",), media="chat"),
            "Conversations waiting on Sales (chat only) above 3",
        ),
        (waiting_rule(for_s=10), "Conversations waiting on any queue above 3 for 10 s"),
        (
            Rule("lw", "x", Condition.QUEUE_LONGEST_WAIT_ABOVE, threshold=90, media="voice"),
            "Longest wait on any queue (voice only) above 1 min 30 s",
        ),
        (
            Rule("s", "x", Condition.QUEUE_ON_QUEUE_BELOW, threshold=2, media="chat"),
            "Agents on queue on any queue below 2",
        ),
        (Rule("nr", "x", Condition.AGENT_NOT_RESPONDING), "Any agent becomes Not Responding"),
        (
            Rule(
                "p",
                "x",
                Condition.AGENT_PRESENCE_LONGER_THAN,
                subjects=("u1",),
                threshold=45,
                presence="meal",
            ),
            "Dana Agent in Meal longer than 45 min",
        ),
        (
            Rule("c", "x", Condition.CHANNEL_NOT_LIVE_FOR, threshold=120),
            "The connection is not live for 2 min",
        ),
    ],
)
def test_a_rule_reads_as_one_sentence(rule: Rule, words: str) -> None:
    assert describe_rule(rule, queues={"q1": "Sales"}, users={"u1": "Dana Agent"}) == words
