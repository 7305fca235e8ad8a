"""From an alert rule to a trigger: the topic and criteria that say the same in Genesys Cloud.

A trigger acts on one event at a time, at once. So a rule about a single agent event (an agent
becomes Not Responding, an agent enters a presence) can run in Genesys Cloud too; a rule that
waits for a state to last, counts a queue's figures, or watches this app's own connection
cannot, and :func:`rule_to_trigger` says why in plain words. The events are the agent's
``v2.users.{id}.activity`` (its ``routingStatus`` and ``presence`` blocks, genesys-api.md 5.3).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Final

from core.alerts.model import QUEUE_CONDITIONS, Condition, Rule
from core.domain.presence import SYSTEM_PRESENCES, normalize_presence
from core.triggers.model import Criterion, Trigger

logger = logging.getLogger(__name__)

ACTIVITY_TOPIC: Final = "v2.users.{id}.activity"
NAME_SUFFIX: Final = " (from Genesys Tray)"


@dataclass(frozen=True, slots=True)
class TriggerPlan:
    """What a rule becomes in Genesys Cloud: a topic and the criteria, and the trigger's name."""

    topic_name: str
    criteria: tuple[Criterion, ...]
    name: str
    enabled: bool

    def trigger(self, workflow_id: str) -> Trigger:
        """A new trigger running ``workflow_id`` (not yet created)."""
        return Trigger(
            name=self.name,
            topic_name=self.topic_name,
            target_id=workflow_id,
            enabled=self.enabled,
            criteria=self.criteria,
        )

    def differs(self, trigger: Trigger) -> bool:
        """Whether ``trigger`` no longer says what the rule says (then it is updated)."""
        return (
            trigger.name != self.name
            or trigger.criteria != self.criteria
            or trigger.enabled != self.enabled
        )

    def applied(self, trigger: Trigger) -> Trigger:
        """``trigger`` brought in step with the rule (its id, version and workflow kept)."""
        return replace(trigger, name=self.name, criteria=self.criteria, enabled=self.enabled)


def presence_spellings(key: str) -> tuple[str, ...]:
    """The ways an event may spell a system presence: ``ON_QUEUE``, ``On Queue``, ``OnQueue``."""
    words = [w.capitalize() for w in key.split("_")]
    return tuple(dict.fromkeys((key, " ".join(words), "".join(words))))


def _presence_criterion(presence: str) -> Criterion:
    key = normalize_presence(presence)
    if key in SYSTEM_PRESENCES:
        return Criterion(
            "presence.presenceDefinition.systemPresence", "In", values=presence_spellings(key)
        )
    return Criterion("presence.presenceDefinition.id", "Equal", presence)


def rule_to_trigger(rule: Rule) -> TriggerPlan | str:
    """The trigger a rule becomes, or the reason it cannot become one (plain words)."""
    if rule.condition in QUEUE_CONDITIONS:
        return (
            "This rule watches a queue's figures. Genesys Cloud triggers act on single events "
            "(an agent's status, a conversation), not on counts, so they cannot run it."
        )
    if rule.condition is Condition.CHANNEL_NOT_LIVE_FOR:
        return "This rule watches this app's own connection, which Genesys Cloud does not see."
    if rule.condition is Condition.AGENT_PRESENCE_LONGER_THAN:
        return (
            "This rule waits for an agent to stay in a presence for a while. Genesys Cloud "
            "triggers act on each event at once and cannot measure how long a state lasts."
        )
    if rule.for_s > 0:
        return (
            f"This rule waits {_duration(rule.for_s)} before it alerts. Genesys Cloud triggers "
            "act on each event at once and cannot wait; set the wait to 0 to run it there."
        )
    if rule.condition is Condition.AGENT_NOT_RESPONDING:
        criteria = [Criterion("routingStatus.status", "Equal", "NOT_RESPONDING")]
    elif rule.condition is Condition.AGENT_PRESENCE_IS:
        if not rule.presence:
            return "Pick the presence first."
        criteria = [_presence_criterion(rule.presence)]
    else:  # a condition added later: say so rather than guess
        return "Genesys Cloud triggers cannot express this kind of rule."
    if rule.subjects:
        criteria.insert(0, Criterion("id", "In", values=tuple(rule.subjects)))
    return TriggerPlan(ACTIVITY_TOPIC, tuple(criteria), trigger_name(rule), rule.enabled)


def trigger_name(rule: Rule) -> str:
    """The trigger's name: the rule's, marked as made here (at most 256 characters)."""
    return (rule.name.strip() or "Alert rule")[: 256 - len(NAME_SUFFIX)] + NAME_SUFFIX


def _duration(seconds: float) -> str:
    if seconds >= 120:
        minutes = seconds / 60
        return f"{minutes:g} minutes"
    return f"{seconds:g} seconds"
