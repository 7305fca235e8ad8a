"""Triggers in plain words: criteria a supervisor can read ("routing status is Not Responding").

The API speaks in JSON paths and operator names; the board, the editor and the rule dialog show
these words instead. Stdlib only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from core.triggers.model import Criterion, Trigger

logger = logging.getLogger(__name__)

OPERATOR_WORDS: Final[Mapping[str, str]] = {
    "Equal": "is",
    "NotEqual": "is not",
    "GreaterThan": "is more than",
    "GreaterThanOrEqual": "is at least",
    "LessThan": "is less than",
    "LessThanOrEqual": "is at most",
    "In": "is one of",
    "NotIn": "is none of",
    "Contains": "contains",
    "All": "contains all of",
    "Exists": "is present",
    "Size": "has this many items:",
}
"""Each operator as the editor's picker and the board say it."""

FIELD_WORDS: Final[Mapping[str, str]] = {
    "id": "agent",
    "routingStatus.status": "routing status",
    "presence.presenceDefinition.systemPresence": "presence",
    "presence.presenceDefinition.id": "presence (the org's own)",
    "presenceDefinition.systemPresence": "presence",
    "presenceDefinition.id": "presence (the org's own)",
    "mediaType": "media type",
    "disconnectType": "how it ended",
    "queueId": "queue",
    "outOfOffice.active": "out of office",
}
"""Fields the app's own triggers use, named as a supervisor would."""

TOPIC_WORDS: Final[Mapping[str, str]] = {
    "v2.users.{id}.activity": "An agent's status changes",
    "v2.users.{id}.presence": "An agent's presence changes",
    "v2.users.{id}.routingStatus": "An agent's routing status changes",
    "v2.detail.events.conversation.{id}.customer.start": "A customer conversation starts",
    "v2.detail.events.conversation.{id}.customer.end": "A customer conversation ends",
    "v2.detail.events.conversation.{id}.acd.start": "A conversation enters a queue",
    "v2.detail.events.conversation.{id}.acd.end": "A conversation leaves a queue",
    "v2.detail.events.conversation.{id}.user.start": "An agent picks up a conversation",
    "v2.detail.events.conversation.{id}.user.end": "An agent ends a conversation",
    "v2.detail.events.conversation.{id}.acw": "An agent finishes after-call work",
    "v2.detail.events.conversation.{id}.wrapup": "An agent wraps up a conversation",
}

_CAMEL_RE: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_UPPER_SNAKE_RE: Final = re.compile(r"^[A-Z][A-Z0-9_]*$")
_INDEX_RE: Final = re.compile(r"\[\s*(?:'([^']*)'|\"([^\"]*)\"|(\*|-?\d+))\s*\]")


def _plain_path(path: str) -> str:
    """``$['presence']['presenceDefinition']`` and ``$.presence.presenceDefinition`` alike."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]

    def step(found: re.Match[str]) -> str:
        name = found.group(1) or found.group(2)
        return f".{name}" if name is not None else f"[{found.group(3)}]"

    return _INDEX_RE.sub(step, text).strip(".")


def field_words(path: str) -> str:
    """A JSON path as words: a known field by its name, else its parts ("presence's message")."""
    plain = _plain_path(path)
    known = FIELD_WORDS.get(plain)
    if known is not None:
        return known
    parts = [p for p in re.split(r"[.\[\]]+", plain) if p and p != "*"]
    words = [_CAMEL_RE.sub(" ", p).lower() for p in parts]
    return "'s ".join(words) if words else path


def value_words(value: Any) -> str:
    """A compared value as words: ``NOT_RESPONDING`` → Not Responding, true → yes."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "nothing"
    if isinstance(value, str):
        if _UPPER_SNAKE_RE.match(value) and ("_" in value or len(value) > 2):
            return " ".join(w.capitalize() for w in value.split("_") if w)
        return value
    return str(value)


def _listed(values: Sequence[Any]) -> str:
    shown = list(dict.fromkeys(value_words(v) for v in values))  # "MEAL", "Meal": said once
    if not shown:
        return "(nothing)"
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def criterion_words(criterion: Criterion) -> str:
    """One criterion as a sentence part: "routing status is Not Responding"."""
    subject = field_words(criterion.json_path)
    op = criterion.operator
    if op == "Exists":
        return f"{subject} is {'absent' if criterion.value is False else 'present'}"
    verb = OPERATOR_WORDS.get(op, op)
    if criterion.takes_list:
        distinct = set(dict.fromkeys(value_words(v) for v in criterion.values))
        if len(distinct) == 1 and op in ("In", "NotIn"):  # "is one of Meal" reads oddly
            verb = "is" if op == "In" else "is not"
        return f"{subject} {verb} {_listed(criterion.values)}"
    if op == "Size":
        return f"{subject} has {value_words(criterion.value)} items"
    return f"{subject} {verb} {value_words(criterion.value)}"


def criteria_words(criteria: Sequence[Criterion]) -> str:
    """Every criterion, joined with "and"; none says that every event runs the workflow."""
    if not criteria:
        return "every event (no conditions)"
    return " and ".join(criterion_words(c) for c in criteria)


def topic_words(topic: str) -> str:
    """What a topic's events are, in words; an unknown topic is shown as it is."""
    return TOPIC_WORDS.get(topic, topic)


def seconds_words(seconds: int) -> str:
    """``600`` → "10 min", ``90`` → "90 s"."""
    if seconds >= 120 and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def timing_words(trigger: Trigger) -> str:
    """The trigger's delay or time limit: "runs 10 min later", "skips events older than 2 min"."""
    if trigger.delay_s is not None:
        return f"runs {seconds_words(trigger.delay_s)} later"
    if trigger.ttl_s is not None:
        return f"skips events older than {seconds_words(trigger.ttl_s)}"
    return ""


def trigger_sentence(trigger: Trigger, workflow_name: str) -> str:
    """The whole trigger: "When an agent's status changes and routing status is Not
    Responding, run “Text the lead”."""
    topic = topic_words(trigger.topic_name)
    when = topic[:1].lower() + topic[1:]
    return f"When {when} and {criteria_words(trigger.criteria)}, run “{workflow_name}”."
