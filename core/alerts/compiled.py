"""A rule as the engine runs it: its numbers sanitised once, so evaluation never meets NaN.

Kept out of the engine so the engine is only the evaluation loop; a rule is compiled when it is
set and kept as long as it is unchanged (its timers and alerts go with it).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.alerts.model import MEDIA_CONDITIONS, Condition, Rule
from core.alerts.validation import finite_number
from core.domain.media_names import ALL_MEDIA, rule_media
from core.domain.presence import normalize_presence


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its numbers sanitised once, so evaluation never meets NaN or None."""

    rule: Rule
    threshold: float | None  # None: the rule needs one and has none → never holds
    resolve_level: float | None  # numeric conditions: back past this → resolved
    limit_s: float  # longer-than conditions: the duration the threshold stands for
    for_s: float
    cooldown_s: float
    presence: str | None
    media: str  # one media group, "" for the whole queue


def compile_rule(rule: Rule) -> CompiledRule:
    """Sanitise a rule's numbers once: a missing threshold never holds, bad durations are 0."""
    threshold = finite_number(rule.threshold)
    hysteresis = max(0.0, finite_number(rule.hysteresis) or 0.0)
    resolve_level: float | None = None
    limit_s = 0.0
    if threshold is not None:
        if rule.condition in (
            Condition.QUEUE_WAITING_ABOVE,
            Condition.QUEUE_LONGEST_WAIT_ABOVE,
        ):
            resolve_level = max(0.0, threshold - hysteresis)
        elif rule.condition is Condition.QUEUE_ON_QUEUE_BELOW:
            resolve_level = threshold + hysteresis
        elif rule.condition is Condition.AGENT_PRESENCE_LONGER_THAN:
            limit_s = threshold * 60
        elif rule.condition is Condition.CHANNEL_NOT_LIVE_FOR:
            limit_s = threshold
    presence = rule.presence if isinstance(rule.presence, str) and rule.presence else None
    media = rule_media(rule.media) if rule.condition in MEDIA_CONDITIONS else ALL_MEDIA
    return CompiledRule(
        rule,
        threshold,
        resolve_level,
        limit_s,
        max(0.0, finite_number(rule.for_s) or 0.0),
        max(0.0, finite_number(rule.cooldown_s) or 0.0),
        normalize_presence(presence) if presence else None,
        ALL_MEDIA if media is None else media,
    )
