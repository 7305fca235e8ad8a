"""The example rules the demo org ships enabled (and `listen --demo` evaluates)."""

from __future__ import annotations

from collections.abc import Sequence

from core.alerts.model import DEFAULT_COOLDOWN_S, Condition, Rule, Severity


def demo_rules(queue_ids: Sequence[str] = ()) -> list[Rule]:
    """The two example rules the demo org ships enabled.

    "Calls waiting" watches ``queue_ids`` (empty: any queue) for more than 3 waiting for 10 s;
    "Not responding" watches every agent.
    """
    return [
        Rule(
            id="demo-calls-waiting",
            name="Calls waiting",
            condition=Condition.QUEUE_WAITING_ABOVE,
            subjects=tuple(queue_ids),
            threshold=3,
            for_s=10,
            cooldown_s=DEFAULT_COOLDOWN_S,
            severity=Severity.WARNING,
            actions=("notify",),
        ),
        Rule(
            id="demo-not-responding",
            name="Not responding",
            condition=Condition.AGENT_NOT_RESPONDING,
            cooldown_s=DEFAULT_COOLDOWN_S,
            severity=Severity.CRITICAL,
            actions=("notify", "sound"),
        ),
    ]
