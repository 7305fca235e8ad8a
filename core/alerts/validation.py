"""Is a rule usable as it is? Every problem in words for the person editing it.

Kept apart from the engine: the settings codec and the rule dialog check rules long before any
engine runs them, and the engine only needs :func:`finite_number` to sanitise numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

from core.alerts.model import (
    ACTIONS,
    MEDIA_CONDITIONS,
    PRESENCE_CONDITIONS,
    QUEUE_CONDITIONS,
    THRESHOLD_UNITS,
    Condition,
    Rule,
    RuleProblem,
    Severity,
    subject_kind,
)
from core.domain.media_names import KNOWN_MEDIA, rule_media
from core.domain.presence import SYSTEM_PRESENCES, normalize_presence


def finite_number(value: Any) -> float | None:
    """The value as a finite float, or None (bools, strings, NaN and infinities are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def validate_rule(
    rule: Rule,
    *,
    queues: Mapping[str, str] | None,
    users: Mapping[str, str] | None,
    presences: Mapping[str, str] | None,
) -> list[RuleProblem]:
    """Everything wrong with a rule, in words for the person editing it (empty when fine).

    ``queues``, ``users`` and ``presences`` map the org's ids to names. Pass None for what is
    not known (no live data yet, e.g. when loading the config file): those checks are skipped.
    System presence keys ("MEAL") always exist.

    Decisions: thresholds are never negative (counts and durations cannot be, so "waiting above
    -1" would only mean "always" and is refused with "0 or more"); a threshold on a condition
    that has none is ignored, not an error; ``queue_on_queue_below`` needs a threshold above 0,
    since no queue ever has fewer than 0 agents on queue.
    """
    problems: list[RuleProblem] = []

    def problem(field_name: str, message: str) -> None:
        problems.append(RuleProblem(field_name, message))

    # Typed fields are checked anyway: a dialog or a hand-edited file may put anything there.
    rule_id, name, condition, severity = (
        cast(Any, value) for value in (rule.id, rule.name, rule.condition, rule.severity)
    )
    if not isinstance(rule_id, str) or not rule_id.strip():
        problem("id", "The rule has no id.")
    if not isinstance(name, str) or not name.strip():
        problem("name", "Give the rule a name.")
    if not isinstance(condition, Condition):
        problem("condition", "Choose what the rule watches.")
        return problems
    if not isinstance(severity, Severity):
        problem("severity", "Choose a severity: info, warning or critical.")
    if not isinstance(rule.actions, tuple) or any(a not in ACTIONS for a in rule.actions):
        problem("actions", "Actions can only be: notify, sound.")

    for name, label in (("for_s", "The duration"), ("cooldown_s", "The cooldown")):
        value: Any = getattr(rule, name)
        number = finite_number(value)
        if number is None:
            problem(name, f"{label} is not a number.")
        elif number < 0:
            problem(name, f"{label} cannot be negative.")

    unit = THRESHOLD_UNITS.get(condition)
    if unit is not None:
        threshold = finite_number(rule.threshold)
        if rule.threshold is None:
            problem("threshold", "Enter a threshold.")
        elif threshold is None:
            problem("threshold", "The threshold is not a number.")
        elif threshold < 0:
            problem("threshold", "The threshold must be 0 or more.")
        elif condition is Condition.QUEUE_ON_QUEUE_BELOW and threshold <= 0:
            problem(
                "threshold",
                "This rule can never fire: a queue never has fewer than 0 agents on queue. "
                "Use a threshold of 1 or more.",
            )
        if condition in QUEUE_CONDITIONS:
            hysteresis = finite_number(rule.hysteresis)
            if hysteresis is None:
                problem("hysteresis", "The hysteresis is not a number.")
            elif hysteresis < 0:
                problem("hysteresis", "The hysteresis cannot be negative.")

    if condition in MEDIA_CONDITIONS and rule_media(rule.media) is None:
        choices = ", ".join(sorted(KNOWN_MEDIA))
        problem("media", f"Unknown media type {rule.media!r}: choose one of {choices}.")

    if condition in PRESENCE_CONDITIONS:
        if not isinstance(rule.presence, str) or not rule.presence.strip():
            problem("presence", "Choose a presence.")
        else:
            key = normalize_presence(rule.presence)
            known = key in SYSTEM_PRESENCES or presences is None or key in presences
            if not known:
                problem(
                    "presence",
                    f"The presence {rule.presence!r} does not exist in this org "
                    "(it may have been deleted).",
                )

    kind = subject_kind(condition)
    if not isinstance(rule.subjects, tuple) or not all(isinstance(s, str) for s in rule.subjects):
        problem("subjects", "The subjects are not a list of ids.")
    elif kind == "connection":
        if rule.subjects:
            problem("subjects", "A connection rule has no queues or agents to choose.")
    else:
        own, other = (queues, users) if kind == "queue" else (users, queues)
        wrong_kind = [s for s in rule.subjects if other is not None and s in other]
        unknown = [
            s
            for s in rule.subjects
            if own is not None and s not in own and (other is None or s not in other)
        ]
        if wrong_kind:
            what, should = ("agent", "queues") if kind == "queue" else ("queue", "agents")
            names = ", ".join((other or {}).get(s, s) for s in wrong_kind)
            problem("subjects", f"{names}: {what}, but this rule watches {should}.")
        if unknown:
            problem(
                "subjects",
                f"Unknown {'queues' if kind == 'queue' else 'agents'}: {', '.join(unknown)} "
                "(removed, or not watched).",
            )
    return problems
