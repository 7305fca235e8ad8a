"""Rules and alerts in plain words: "Conversations waiting on Sales (chat only) above 3 for 10 s".

The rule editor shows a rule's line under the form, so the person reads back what they built
(which queue, which media, which threshold) instead of decoding pickers and numbers; an alert's
one line says what the engine saw, in the same words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from core.alerts.compiled import CompiledRule
from core.alerts.model import (
    AGENT_CONDITIONS,
    MEDIA_CONDITIONS,
    QUEUE_CONDITIONS,
    Alert,
    Condition,
    Rule,
    subject_kind,
)
from core.alerts.validation import finite_number
from core.domain.format import clock_text, duration_text, status_text, whole_seconds
from core.domain.media_names import media_word, rule_media
from core.domain.presence import normalize_presence
from core.state.store import Store


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


def _for_s(rule: Rule | None) -> float:
    """How long the condition held before the rule fired (0 without the rule)."""
    held = finite_number(rule.for_s) if rule is not None else None
    return max(0.0, held or 0.0)


def _queue_names(store: Store, queue_ids: Sequence[str]) -> str:
    """The queues by name: "Support", "Support, Sales", "A, B and 3 more"."""
    names = [store.queues[q].name or q[:8] if q in store.queues else q[:8] for q in queue_ids]
    if len(names) > 2:
        return f"{names[0]}, {names[1]} and {len(names) - 2} more"
    return ", ".join(names)


def _agent_now(store: Store, user_id: str) -> str:
    """What an agent is now, in the board's words: "Idle", "Interacting", or their presence."""
    user = store.users.get(user_id)
    if user is None:
        return ""
    routing = user.routing_status
    if routing and routing != "OFF_QUEUE":
        return status_text(routing)
    return store.presence_label(user_id) or status_text(user.system_presence) or "Off Queue"


def notice_title(alert: Alert, store: Store, now: datetime, rule: Rule | None = None) -> str:
    """A notification's title with its context, from the store as it is now.

    "Support: 8 waiting for 2 min, longest 3:10", "Avery Ito: Not Responding for 45 s, on
    Support". How long counts from when the condition began (the rule's ``for_s`` before it
    fired); the counts are the ones now, not the ones that fired the rule.
    """
    name = alert.subject_name or alert.subject_id or "Connection"
    began = alert.fired_at - timedelta(seconds=_for_s(rule))
    held = max(0.0, (now - began).total_seconds())
    lasting = f" for {duration_text(held)}" if whole_seconds(held) > 0 else ""
    condition = alert.condition
    if condition in QUEUE_CONDITIONS:
        queue = store.queues.get(alert.subject_id)
        if queue is None:
            return alert.summary
        longest = store.longest_wait_s(alert.subject_id, now)
        wait = f", longest {clock_text(longest)}" if longest else ""
        if condition is Condition.QUEUE_ON_QUEUE_BELOW:
            on = "?" if queue.on_queue is None else str(queue.on_queue)
            return f"{name}: {on} on queue{lasting}, {queue.waiting or 0} waiting"
        waiting = "?" if queue.waiting is None else str(queue.waiting)
        return f"{name}: {waiting} waiting{lasting}{wait}"
    if condition is Condition.AGENT_NOT_RESPONDING:
        user = store.users.get(alert.subject_id)
        if user is not None and user.routing_since is not None:
            held = max(held, (now - user.routing_since).total_seconds())
            lasting = f" for {duration_text(held)}" if whole_seconds(held) > 0 else ""
        queues = _queue_names(store, store.active_queues(alert.subject_id))
        on = f", on {queues}" if queues else ""
        return f"{name}: Not Responding{lasting}{on}"
    return alert.summary


def notice_body(alert: Alert, rule: Rule | None, store: Store) -> str:
    """The notification's second line: which rule, in words ("Calls waiting: more than 3 ...")."""
    if rule is None:
        return f"Rule “{alert.rule_name}”"
    queues = {qid: q.name for qid, q in store.queues.items() if q.name}
    users = {uid: u.name for uid, u in store.users.items() if uid in rule.subjects and u.name}
    said = describe_rule(rule, queues=queues, users=users, presences=dict(store.presence_labels))
    return f"Rule “{alert.rule_name}”: {said}"


def resolved_summary(alert: Alert, store: Store, rule: Rule | None = None) -> str:
    """What is true now that an alert resolved, never what was true when it fired.

    "Avery Ito is no longer Not Responding (now Idle, after 1 min 10 s)", "Sales: back to 1
    waiting (rule: above 3), after 2 min". The span counts from when the condition began (the
    rule's ``for_s`` before it fired) to the resolution.
    """
    name = alert.subject_name or alert.subject_id or "Connection"
    ended = alert.resolved_at or alert.fired_at
    span = (ended - alert.fired_at).total_seconds() + _for_s(rule)
    after = f"after {duration_text(span)}"
    condition = alert.condition
    if condition in AGENT_CONDITIONS:
        now = _agent_now(store, alert.subject_id)
        if condition is Condition.AGENT_NOT_RESPONDING:
            what = "Not Responding"
        else:
            key = normalize_presence(rule.presence or "") if rule is not None else ""
            label = store.presence_labels.get(key) or status_text(key)
            what = f"in {label}" if label else "in that presence"
        state = f"now {now}, {after}" if now else after
        return f"{name} is no longer {what} ({state})"
    if condition in QUEUE_CONDITIONS:
        queue = store.queues.get(alert.subject_id)
        if condition is Condition.QUEUE_WAITING_ABOVE:
            count = "?" if queue is None or queue.waiting is None else str(queue.waiting)
            return f"{name}: back to {count} waiting, {after}"
        if condition is Condition.QUEUE_LONGEST_WAIT_ABOVE:
            longest = store.longest_wait_s(alert.subject_id, ended)
            wait = clock_text(longest) if longest is not None else "none"
            return f"{name}: longest wait back to {wait}, {after}"
        on = "?" if queue is None or queue.on_queue is None else str(queue.on_queue)
        return f"{name}: {on} on queue again, {after}"
    return f"Connection live again, {after}"
