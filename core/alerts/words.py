"""Rules and alerts in plain words: "Conversations waiting on Sales (chat only) above 3 for 10 s".

The rule editor shows a rule's line under the form, so the person reads back what they built
(which queue, which media, which threshold) instead of decoding pickers and numbers; an alert's
one line says what the engine saw, in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.alerts.compiled import CompiledRule
from core.alerts.model import MEDIA_CONDITIONS, Condition, Rule, subject_kind
from core.alerts.validation import finite_number
from core.domain.format import duration_text, status_text, whole_seconds
from core.domain.media_names import media_word, rule_media
from core.domain.presence import normalize_presence


def _subjects(rule: Rule, names: Mapping[str, str]) -> str:
    kind = subject_kind(rule.condition)
    if not rule.subjects:
        return "any queue" if kind == "queue" else "Any agent"
    return ", ".join(names.get(s) or s[:8] for s in rule.subjects)


def describe_rule(
    rule: Rule,
    *,
    queues: Mapping[str, str] | None = None,
    users: Mapping[str, str] | None = None,
    presences: Mapping[str, str] | None = None,
) -> str:
    """The rule as one sentence; the maps give the org's names for ids (ids when unknown)."""
    condition = rule.condition
    kind = subject_kind(condition)
    who = _subjects(rule, (queues if kind == "queue" else users) or {})
    threshold = finite_number(rule.threshold)
    number = "?" if threshold is None else f"{threshold:g}"
    wait = "?" if threshold is None else duration_text(threshold)
    for_s = finite_number(rule.for_s) or 0.0
    held = f" for {duration_text(for_s)}" if for_s > 0 else ""
    media = rule_media(rule.media) if condition in MEDIA_CONDITIONS else ""
    only = f" ({media_word(media)} only)" if media else ""
    if condition is Condition.QUEUE_WAITING_ABOVE:
        return f"Conversations waiting on {who}{only} above {number}{held}"
    if condition is Condition.QUEUE_LONGEST_WAIT_ABOVE:
        return f"Longest wait on {who}{only} above {wait}{held}"
    if condition is Condition.QUEUE_ON_QUEUE_BELOW:
        return f"Agents on queue on {who} below {number}{held}"
    if condition is Condition.AGENT_NOT_RESPONDING:
        return f"{who} becomes Not Responding{held}"
    key = normalize_presence(rule.presence or "")
    presence = (presences or {}).get(key) or status_text(key) or "?"
    if condition is Condition.AGENT_PRESENCE_IS:
        return f"{who} is in {presence}{held}"
    if condition is Condition.AGENT_PRESENCE_LONGER_THAN:
        minutes = "?" if threshold is None else duration_text(threshold * 60)
        return f"{who} in {presence} longer than {minutes}{held}"
    return f"The connection is not live for {wait}{held}"


def _num(value: float) -> str:
    return f"{value:g}"


def alert_summary(
    compiled: CompiledRule, name: str, value: float | str | None, label: str, held_s: float
) -> str:
    """The alert's one line: "Sales EN: 5 waiting (> 3) for 10 s", "... waiting on chat".

    ``value`` is what the engine saw, ``label`` the presence as the org calls it, ``held_s`` how
    long the condition had held when the rule fired.
    """
    condition = compiled.rule.condition
    threshold = compiled.threshold or 0.0
    held = f" for {duration_text(held_s)}" if whole_seconds(held_s) > 0 else ""
    number = value if isinstance(value, int | float) else 0.0
    word = media_word(compiled.media) if compiled.media else ""
    if condition is Condition.QUEUE_WAITING_ABOVE:
        on = f" on {word}" if word else ""
        return f"{name}: {_num(number)} waiting{on} (> {_num(threshold)}){held}"
    if condition is Condition.QUEUE_LONGEST_WAIT_ABOVE:
        wait = f"longest {word} wait" if word else "longest wait"
        return f"{name}: {wait} {duration_text(number)} (> {duration_text(threshold)}){held}"
    if condition is Condition.QUEUE_ON_QUEUE_BELOW:
        return f"{name}: {_num(number)} on queue (< {_num(threshold)}){held}"
    if condition is Condition.AGENT_NOT_RESPONDING:
        return f"{name} is Not Responding{held}"
    if condition is Condition.AGENT_PRESENCE_IS:
        return f"{name} is in {label}{held}"
    if condition is Condition.AGENT_PRESENCE_LONGER_THAN:
        return f"{name} in {label} for {duration_text(number)}"
    return f"Connection not live for {duration_text(number)}"
