"""core.triggers: the local evaluator (per operator), plain words, rule translation, journal
bodies, flow-instance runs and the trigger model's wire shape."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest

from core.alerts.model import Condition, Rule
from core.feed.entry import FeedEntry
from core.feed.payloads import PresenceData, QueueData, RoutingData
from core.triggers.evaluate import PathError, check, explain, extract, matches, path_steps
from core.triggers.from_rule import ACTIVITY_TOPIC, TriggerPlan, rule_to_trigger
from core.triggers.journal_events import event_body, journal_kinds, would_fire
from core.triggers.live import InvocationLog, flow_topic, parse_invocation
from core.triggers.model import OPERATORS, Criterion, Trigger, problems
from core.triggers.words import (
    criteria_words,
    criterion_words,
    field_words,
    timing_words,
    value_words,
)

BODY = {
    "id": "u1",
    "routingStatus": {"status": "NOT_RESPONDING"},
    "presence": {"presenceDefinition": {"id": "d1", "systemPresence": "On Queue"}},
    "queueIds": ["q1", "q2", "q3"],
    "waiting": 4,
    "note": "late for the meeting",
}


@pytest.mark.parametrize(
    ("criterion", "expected"),
    [
        (Criterion("routingStatus.status", "Equal", "NOT_RESPONDING"), True),
        (Criterion("routingStatus.status", "Equal", "IDLE"), False),
        (Criterion("routingStatus.status", "NotEqual", "IDLE"), True),
        (Criterion("routingStatus.status", "NotEqual", "NOT_RESPONDING"), False),
        (Criterion("waiting", "GreaterThan", 3), True),
        (Criterion("waiting", "GreaterThan", 4), False),
        (Criterion("waiting", "GreaterThanOrEqual", 4), True),
        (Criterion("waiting", "GreaterThanOrEqual", 5), False),
        (Criterion("waiting", "LessThan", 5), True),
        (Criterion("waiting", "LessThan", 4), False),
        (Criterion("waiting", "LessThanOrEqual", 4), True),
        (Criterion("waiting", "LessThanOrEqual", 3), False),
        (Criterion("id", "In", values=("u0", "u1")), True),
        (Criterion("id", "In", values=("u0",)), False),
        (Criterion("id", "NotIn", values=("u0",)), True),
        (Criterion("id", "NotIn", values=("u1",)), False),
        (Criterion("queueIds", "Contains", "q2"), True),
        (Criterion("queueIds", "Contains", "q9"), False),
        (Criterion("note", "Contains", "meeting"), True),
        (Criterion("note", "Contains", "lunch"), False),
        (Criterion("queueIds", "All", values=("q1", "q3")), True),
        (Criterion("queueIds", "All", values=("q1", "q9")), False),
        (Criterion("presence.presenceMessage", "Exists", False), True),
        (Criterion("presence.presenceDefinition.id", "Exists", True), True),
        (Criterion("presence.presenceMessage", "Exists", True), False),
        (Criterion("queueIds", "Size", 3), True),
        (Criterion("queueIds", "Size", 2), False),
    ],
)
def test_each_operator(criterion: Criterion, expected: bool) -> None:
    assert check(BODY, criterion).matched is expected


def test_every_operator_is_covered_above() -> None:
    assert len(OPERATORS) == 12
    assert set(OPERATORS) == {
        "Equal", "NotEqual", "GreaterThan", "GreaterThanOrEqual", "LessThan",
        "LessThanOrEqual", "In", "NotIn", "Contains", "All", "Exists", "Size",
    }  # fmt: skip


def test_paths_in_every_spelling() -> None:
    assert extract(BODY, "$.routingStatus.status") == ["NOT_RESPONDING"]
    assert extract(BODY, "$['presence']['presenceDefinition']['id']") == ["d1"]
    assert extract(BODY, "queueIds[1]") == ["q2"]
    assert extract(BODY, "queueIds[*]") == ["q1", "q2", "q3"]
    assert extract(BODY, "missing.field") == []
    assert path_steps("$.a['b c'][0]") == ["a", "b c", 0]
    with pytest.raises(PathError):
        path_steps("$")


def test_all_criteria_must_match_and_none_fires_always() -> None:
    nr = Criterion("routingStatus.status", "Equal", "NOT_RESPONDING")
    other = Criterion("id", "Equal", "u2")
    assert matches(BODY, [nr])
    assert not matches(BODY, [nr, other])
    assert matches(BODY, [])
    results = explain(BODY, [nr, other])
    assert [r.matched for r in results] == [True, False]
    assert results[1].found == ("u1",)


def test_absent_fields_and_bad_paths() -> None:
    assert not check({}, Criterion("a", "Equal", 1)).matched
    assert check({}, Criterion("a", "NotEqual", 1)).matched
    bad = check(BODY, Criterion("", "Equal", 1))
    assert not bad.matched and bad.problem
    assert not check(BODY, Criterion("id", "Whatever", 1)).matched


def test_plain_words() -> None:
    assert (
        criterion_words(Criterion("routingStatus.status", "Equal", "NOT_RESPONDING"))
        == "routing status is Not Responding"
    )
    assert (
        criterion_words(
            Criterion("presence.presenceDefinition.systemPresence", "In", values=("MEAL", "BREAK"))
        )
        == "presence is one of Meal or Break"
    )
    assert field_words("$['conversation']['wrapupCode']") == "conversation's wrapup code"
    assert criterion_words(Criterion("x", "Exists", False)) == "x is absent"
    assert criterion_words(Criterion("queueIds", "Size", 3)) == "queue ids has 3 items"
    assert value_words(True) == "yes"
    meal = Criterion("presenceDefinition.systemPresence", "In", values=("MEAL", "Meal"))
    assert criterion_words(meal) == "presence is Meal"
    assert timing_words(Trigger("x", "t", "w", delay_s=600)) == "runs 10 min later"
    assert timing_words(Trigger("x", "t", "w", ttl_s=90)) == "skips events older than 90 s"
    assert timing_words(Trigger("x", "t", "w")) == ""
    assert value_words("d1-lowercase-id") == "d1-lowercase-id"
    assert criteria_words(()) == "every event (no conditions)"
    two = criteria_words(
        (Criterion("id", "In", values=("u1",)), Criterion("waiting", "GreaterThan", 2))
    )
    assert two == "agent is u1 and waiting is more than 2"


def test_not_responding_rule_becomes_a_trigger() -> None:
    rule = Rule("r1", "Not responding", Condition.AGENT_NOT_RESPONDING, subjects=("u1", "u2"))
    plan = rule_to_trigger(rule)
    assert isinstance(plan, TriggerPlan)
    assert plan.topic_name == ACTIVITY_TOPIC
    assert plan.criteria == (
        Criterion("id", "In", values=("u1", "u2")),
        Criterion("routingStatus.status", "Equal", "NOT_RESPONDING"),
    )
    trigger = plan.trigger("wf1")
    assert trigger.target_id == "wf1" and trigger.name.startswith("Not responding")
    assert matches(BODY, trigger.criteria)
    assert not matches({**BODY, "id": "u9"}, trigger.criteria)
    assert not plan.differs(trigger)
    disabled = rule_to_trigger(Rule("r1", "Not responding", Condition.AGENT_NOT_RESPONDING,
                                    subjects=("u1", "u2"), enabled=False))  # fmt: skip
    assert isinstance(disabled, TriggerPlan) and disabled.differs(trigger)
    assert not disabled.applied(trigger).enabled


def test_presence_rule_matches_every_spelling() -> None:
    plan = rule_to_trigger(Rule("r2", "On queue", Condition.AGENT_PRESENCE_IS, presence="on queue"))
    assert isinstance(plan, TriggerPlan)
    for spelling in ("ON_QUEUE", "On Queue", "OnQueue"):
        body = {"presence": {"presenceDefinition": {"systemPresence": spelling}}}
        assert matches(body, plan.criteria), spelling
    org = rule_to_trigger(Rule("r3", "Lunch", Condition.AGENT_PRESENCE_IS, presence="def-7"))
    assert isinstance(org, TriggerPlan)
    assert org.criteria == (Criterion("presence.presenceDefinition.id", "Equal", "def-7"),)


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (Rule("a", "Waiting", Condition.QUEUE_WAITING_ABOVE, threshold=5), "queue's figures"),
        (Rule("b", "NR", Condition.AGENT_NOT_RESPONDING, for_s=90), "waits 90 seconds"),
        (Rule("c", "Long", Condition.AGENT_PRESENCE_LONGER_THAN, threshold=5), "how long"),
        (Rule("d", "Link", Condition.CHANNEL_NOT_LIVE_FOR, threshold=60), "own connection"),
        (Rule("e", "Lunch", Condition.AGENT_PRESENCE_IS, for_s=600), "10 minutes"),
    ],
)
def test_rules_that_cannot_be_triggers_say_why(rule: Rule, words: str) -> None:
    reason = rule_to_trigger(rule)
    assert isinstance(reason, str) and words in reason


def _entry(kind: str, data: object, subject: str = "u1") -> FeedEntry:
    return FeedEntry(datetime(2026, 1, 1, tzinfo=UTC), kind, subject, "Avery", "moved", "info",
                     data)  # type: ignore[arg-type]  # fmt: skip


def test_journal_rows_become_event_bodies() -> None:
    routing = _entry("routing", RoutingData("stream", "NOT_RESPONDING", "IDLE"))
    presence = _entry("presence", PresenceData("stream", "MEAL", "d-meal"))
    queue = _entry("queue", QueueData("stream", 3, 1), "q1")
    assert event_body(ACTIVITY_TOPIC, routing) == {
        "id": "u1",
        "routingStatus": {"status": "NOT_RESPONDING"},
    }
    assert event_body("v2.users.{id}.presence", presence) == {
        "presenceDefinition": {"id": "d-meal", "systemPresence": "MEAL"}
    }
    assert event_body(ACTIVITY_TOPIC, queue) is None
    assert event_body("v2.detail.events.conversation.{id}.customer.end", routing) is None
    assert journal_kinds(ACTIVITY_TOPIC) == ("presence", "routing")
    criteria = (Criterion("routingStatus.status", "Equal", "NOT_RESPONDING"),)
    hits = would_fire(ACTIVITY_TOPIC, criteria, [routing, presence, queue])
    assert [(h.entry.kind, h.fired) for h in hits] == [("routing", True), ("presence", False)]


def test_flow_instance_runs() -> None:
    body = {
        "flowId": "wf1",
        "startDateTime": "2026-01-01T10:00:00.000Z",
        "invokingContext": {"processAutomation": {"triggerId": "t1", "triggerName": "NR"}},
        "errors": [],
    }
    run = parse_invocation(flow_topic("wf1"), body)
    assert run is not None and run.trigger_id == "t1" and not run.failed
    failed = parse_invocation(
        flow_topic("wf1"), {**body, "errors": [{"reason": "Paging service down"}]}
    )
    assert failed is not None and failed.failed and failed.error == "Paging service down"
    throttled = parse_invocation(
        flow_topic("wf1"), {**body, "flowExitReason": "THROTTLED: invocation limit"}
    )
    assert throttled is not None and throttled.throttled
    assert parse_invocation(flow_topic("wf1"), {"flowId": "wf1"}) is None
    assert parse_invocation("v2.users.u1.activity", body) is None
    now = [run.at + 10]
    log = InvocationLog(clock=lambda: now[0])
    log.add(run)
    log.add(failed)
    assert log.last_hour("t1") == 2 and log.last_error("t1") == "Paging service down"
    now[0] += 3600
    assert log.last_hour("t1") == 0
    assert log.last_error("t2") == ""


def test_trigger_wire_shape_round_trips() -> None:
    trigger = Trigger(
        name="NR",
        topic_name=ACTIVITY_TOPIC,
        target_id="wf1",
        criteria=(
            Criterion("id", "In", values=("u1",)),
            Criterion("routingStatus.status", "Equal", "NOT_RESPONDING"),
        ),
        ttl_s=60,
        id="t1",
        version=3,
    )
    body = trigger.update_body()
    assert body["version"] == 3 and body["target"] == {"id": "wf1", "type": "Workflow"}
    assert body["matchCriteria"][0] == {"jsonPath": "id", "operator": "In", "values": ["u1"]}
    assert "values" not in body["matchCriteria"][1]
    assert "version" not in trigger.create_body()
    assert Trigger.from_json({**body, "id": "t1"}) == trigger
    assert Trigger.from_json({"name": "x"}) is None
    assert problems(trigger) == []
    both = Trigger("x", ACTIVITY_TOPIC, "wf1", ttl_s=60, delay_s=30)
    assert len(problems(both)) == 2


def test_sdk_models_accept_the_bodies() -> None:
    trigger = Trigger("NR", ACTIVITY_TOPIC, "wf1",
                      criteria=(Criterion("a", "Equal", "b"),), ttl_s=20, version=1)  # fmt: skip
    sdk_module = importlib.import_module("PureCloudPlatformClientV2")  # untyped, test-only
    sdk = sdk_module.ApiClient()
    made = sdk._ApiClient__deserialize(trigger.update_body(), "UpdateTriggerRequest")
    assert made.topic_name == ACTIVITY_TOPIC and made.match_criteria[0].operator == "Equal"
