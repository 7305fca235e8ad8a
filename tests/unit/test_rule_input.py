"""Whatever a settings file holds, the rules it loads run on any picture without crashing.

tests/unit/test_config.py checks that any document loads (rules used or kept aside with reasons);
this goes one step further: every rule the loader accepts is given to the alert engine, which then
evaluates pictures and engine states drawn at random, with time moving on, and must only ever
answer with alert changes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.alerts.engine import RuleEngine
from core.alerts.model import Condition, Rule, Severity
from core.alerts.presets import demo_rules
from core.state.store import Store
from core.storage.settings.codec import rule_from_json, rule_to_json
from core.streaming.events import PresenceChanged, QueueObserved, RoutingChanged

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
BASES = [rule_to_json(r) for r in demo_rules(["q1"])]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
NEAR = JSON | st.sampled_from(
    [*Condition, *Severity, "notify", ["notify", "sound"], ["q1"], ["u1"], "AWAY", 0, -1, 1e308]
)


@st.composite
def near_rules(draw: st.DrawFn) -> dict[str, Any]:
    """A saved rule with a few fields bent out of shape (or dropped)."""
    rule = dict(draw(st.sampled_from(BASES)))
    rule["id"] = draw(st.sampled_from(["a", "b", "c"]))
    for key in draw(st.lists(st.sampled_from(sorted(rule)), max_size=4)):
        rule[key] = draw(NEAR)
    for key in draw(st.lists(st.sampled_from(sorted(rule)), max_size=1)):
        rule.pop(key, None)
    return rule


STEP = st.tuples(
    st.one_of(st.none(), st.integers(-5, 50)),  # waiting
    st.one_of(st.none(), st.integers(-5, 10**7)),  # longest wait, ms
    st.sampled_from(["AVAILABLE", "AWAY", "BUSY", "ON_QUEUE", "OFFLINE", "weird"]),
    st.sampled_from(["IDLE", "INTERACTING", "NOT_RESPONDING", "OFF_QUEUE", "?"]),
    st.floats(0, 4000),  # seconds that pass
    st.sampled_from(["live", "reconnecting", "resyncing", "stale", "stopped", "sign_in_needed"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(near_rules() | JSON, max_size=4), st.lists(STEP, max_size=8))
def test_any_loaded_rule_runs_on_any_picture(raws: list[Any], steps: list[Any]) -> None:
    rules: list[Rule] = []
    for raw in raws:
        rule, reasons = rule_from_json(raw)
        assert (rule is None) == bool(reasons)
        if rule is not None and rule.id not in {r.id for r in rules}:
            rules.append(rule)
    now = [0.0]
    engine = RuleEngine(rules, clock=lambda: now[0], wall=lambda: T0 + timedelta(seconds=now[0]))
    store = Store()
    for waiting, longest, presence, routing, passed, state in steps:
        now[0] += passed
        at = T0 + timedelta(seconds=now[0])
        store.apply(QueueObserved("q1", waiting=waiting, longest_wait_ms=longest))
        store.apply(PresenceChanged("u1", presence.lower(), presence, "", at))
        store.apply(RoutingChanged("u1", routing, at))
        for change in engine.evaluate(store, state):
            assert change.alert.rule_id in {r.id for r in rules}
    assert len(engine.active) <= 2 * max(1, len(rules))
