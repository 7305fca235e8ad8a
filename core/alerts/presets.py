"""Ready-made rules: the demo org's examples, and the starter set a real org is offered.

Both are ordinary rules: once saved, the person edits or turns them off in Filters & alerts.
A Not Responding agent is worth a look, not an alarm: warning, no sound, and only after the
agent has stayed Not Responding for :data:`NOT_RESPONDING_FOR_S` (a ring-out that the agent
answers on the next call is not news).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from core.alerts.model import DEFAULT_COOLDOWN_S, Condition, Rule, Severity

NOT_RESPONDING_FOR_S: Final = 30.0
# The demo org's day runs faster (speed 2 by default), and its agents leave Not Responding by
# themselves after 15-60 simulated s: 10 s of wall time still shows the rule at work.
DEMO_NOT_RESPONDING_FOR_S: Final = 10.0
STARTER_WAITING_ABOVE: Final = 5
STARTER_LONGEST_WAIT_S: Final = 120.0
STARTER_FOR_S: Final = 30.0
STARTER_IDS: Final = ("starter-calls-waiting", "starter-longest-wait", "starter-not-responding")


def not_responding_rule(rule_id: str, for_s: float = NOT_RESPONDING_FOR_S) -> Rule:
    """An agent Not Responding for ``for_s`` (30 s): a warning, shown without a sound."""
    return Rule(
        id=rule_id,
        name="Not responding",
        condition=Condition.AGENT_NOT_RESPONDING,
        for_s=for_s,
        cooldown_s=DEFAULT_COOLDOWN_S,
        severity=Severity.WARNING,
        actions=("notify",),
    )


def demo_rules(queue_ids: Sequence[str] = ()) -> list[Rule]:
    """The two example rules the demo org ships enabled.

    "Calls waiting" watches ``queue_ids`` (empty: any queue) for more than 3 waiting for 10 s;
    "Not responding" watches every agent (10 s of the demo's faster day, a warning).
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
        not_responding_rule("demo-not-responding", DEMO_NOT_RESPONDING_FOR_S),
    ]


def starter_rules() -> list[Rule]:
    """The small set a real org starts with when the welcome flow's box is ticked.

    Any queue with more than 5 waiting for 30 s, any queue whose longest wait passes 2 min,
    and any agent Not Responding for 30 s; all warnings, none with a sound.
    """
    waiting_id, longest_id, not_responding_id = STARTER_IDS
    return [
        Rule(
            id=waiting_id,
            name="Calls waiting",
            condition=Condition.QUEUE_WAITING_ABOVE,
            threshold=STARTER_WAITING_ABOVE,
            for_s=STARTER_FOR_S,
            severity=Severity.WARNING,
            actions=("notify",),
        ),
        Rule(
            id=longest_id,
            name="Long wait",
            condition=Condition.QUEUE_LONGEST_WAIT_ABOVE,
            threshold=STARTER_LONGEST_WAIT_S,
            severity=Severity.WARNING,
            actions=("notify",),
        ),
        not_responding_rule(not_responding_id),
    ]
