"""Alerts that respect people (issue 16): what a notice and a resolution say, and the defaults.

A notice carries its context from the store (queue, how long, the count now); a resolution says
what is true now ("no longer Not Responding, now Idle"), never what fired (defect 7).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.alerts.engine import RuleEngine
from core.alerts.model import ChangeKind, Condition, Rule, Severity
from core.alerts.presets import demo_rules, starter_rules
from core.alerts.words import notice_body, notice_title, resolved_summary
from core.app.pipeline import Pipeline
from core.engine.records import ChangeRecord, EngineState, StateRecord
from core.feed.entry import FeedEntry
from core.state.store import Store
from core.streaming.events import (
    QueueConversationChanged,
    QueueMembershipChanged,
    QueueObserved,
    RoutingChanged,
)

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.t)


def _org() -> Store:
    store = Store()
    store.queue("sup").name = "Support"
    store.user("avery").name = "Avery Ito"
    store.apply(QueueMembershipChanged("sup", "avery", joined=True))
    return store


def test_not_responding_is_a_quiet_warning_after_a_while_in_both_rule_sets() -> None:
    """30 s for a real org; 10 s in the demo, whose day runs faster (speed 2)."""
    for rules, for_s in ((demo_rules(), 10), (starter_rules(), 30)):
        [rule] = [r for r in rules if r.condition is Condition.AGENT_NOT_RESPONDING]
        assert rule.severity is Severity.WARNING and rule.for_s == for_s
        assert rule.actions == ("notify",)
    assert {r.condition for r in starter_rules()} == {
        Condition.QUEUE_WAITING_ABOVE,
        Condition.QUEUE_LONGEST_WAIT_ABOVE,
        Condition.AGENT_NOT_RESPONDING,
    }
    assert len({r.id for r in starter_rules()}) == 3
    assert all(r.enabled and r.severity is Severity.WARNING for r in starter_rules())


def test_an_agent_notice_says_how_long_and_on_which_queue() -> None:
    clock = Clock()
    rule = demo_rules()[1]
    engine = RuleEngine([rule], clock=clock, wall=clock.wall)
    store = _org()
    store.apply(RoutingChanged("avery", "NOT_RESPONDING", T0))
    assert engine.evaluate(store, "live") == []
    clock.t = 10
    [fired] = engine.evaluate(store, "live")
    # the notice is built later than the firing: the time is the agent's own, up to now
    title = notice_title(fired.alert, store, T0 + timedelta(seconds=45), rule)
    assert title == "Avery Ito: Not Responding for 45 s, on Support"
    assert notice_body(fired.alert, rule, store) == (
        "Rule “Not responding”: Any agent becomes Not Responding for 10 s"
    )


def test_a_queue_notice_says_the_count_now_how_long_and_the_longest_wait() -> None:
    clock = Clock()
    rule = Rule("w", "Calls waiting", Condition.QUEUE_WAITING_ABOVE, threshold=3, for_s=120)
    engine = RuleEngine([rule], clock=clock, wall=clock.wall)
    store = _org()
    store.apply(QueueObserved("sup", waiting=5))
    store.apply(QueueConversationChanged("sup", "c1", "waiting", None, T0 - timedelta(seconds=70)))
    engine.evaluate(store, "live")
    clock.t = 120
    [fired] = engine.evaluate(store, "live")
    store.apply(QueueObserved("sup", waiting=8))  # the count now, not the one that fired
    title = notice_title(fired.alert, store, clock.wall(), rule)
    assert title == "Support: 8 waiting for 2 min, longest 03:10"


def test_a_resolution_says_what_is_true_now() -> None:
    clock = Clock()
    rule = demo_rules()[1]
    engine = RuleEngine([rule], clock=clock, wall=clock.wall)
    store = _org()
    store.user("avery").name = "Avery Ito 2"
    store.apply(RoutingChanged("avery", "NOT_RESPONDING", T0))
    engine.evaluate(store, "live")
    clock.t = 10
    engine.evaluate(store, "live")
    clock.t = 70
    store.apply(RoutingChanged("avery", "IDLE", clock.wall()))
    [resolved] = engine.evaluate(store, "live")
    assert resolved.kind is ChangeKind.RESOLVED
    said = resolved_summary(resolved.alert, store, rule)
    assert said == "Avery Ito 2 is no longer Not Responding (now Idle, after 1 min 10 s)"
    assert "is Not Responding" not in said


def test_a_queue_resolution_gives_the_count_now() -> None:
    clock = Clock()
    rule = Rule("w", "Calls waiting", Condition.QUEUE_WAITING_ABOVE, threshold=3)
    engine = RuleEngine([rule], clock=clock, wall=clock.wall)
    store = _org()
    store.apply(QueueObserved("sup", waiting=6))
    engine.evaluate(store, "live")
    clock.t = 90
    store.apply(QueueObserved("sup", waiting=1))
    [resolved] = engine.evaluate(store, "live")
    assert resolved_summary(resolved.alert, store, rule) == (
        "Support: back to 1 waiting, after 1 min 30 s"
    )


def test_the_feed_line_of_a_resolution_does_not_contradict_itself() -> None:
    """Defect 7: the journal and feed said "Not responding resolved: Avery Ito 2 is Not
    Responding"; through the pipeline the line now says what is true at the resolution."""
    clock = Clock()
    store = _org()
    store.user("avery").name = "Avery Ito 2"
    journal: list[FeedEntry] = []
    engine = RuleEngine(demo_rules(), clock=clock, wall=clock.wall)
    pipeline = Pipeline(store, rules=engine, journal=journal.append)
    pipeline.on_record(StateRecord(EngineState.LIVE, "live"))

    def apply(event: RoutingChanged) -> None:
        for change in store.apply(event):
            pipeline.on_record(ChangeRecord(change, "stream"))
        pipeline.evaluate()

    apply(RoutingChanged("avery", "NOT_RESPONDING", T0))
    clock.t = 10
    pipeline.evaluate()
    clock.t = 70
    apply(RoutingChanged("avery", "IDLE", clock.wall()))
    alerts = [e.summary for e in journal if e.kind == "alert"]
    assert alerts == [
        "Not responding fired: Avery Ito 2 is Not Responding for 10 s",
        "Not responding resolved: Avery Ito 2 is no longer Not Responding "
        "(now Idle, after 1 min 10 s)",
    ]
