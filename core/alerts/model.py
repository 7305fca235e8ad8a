"""The alert rules' value types: what a rule watches, the rule itself, alerts and their changes.

Leaf values shared by validation, the engine, replay, the settings codec, the feed and the GUI;
they import nothing above :mod:`core.domain`, so any room can use them without a cycle.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from core.domain.media_names import ALL_MEDIA

DEFAULT_HYSTERESIS: Final = 1.0
DEFAULT_COOLDOWN_S: Final = 60.0
ACTIONS: Final = ("notify", "sound")


class Condition(enum.StrEnum):
    """What a rule watches."""

    QUEUE_WAITING_ABOVE = "queue_waiting_above"
    QUEUE_LONGEST_WAIT_ABOVE = "queue_longest_wait_above"
    QUEUE_ON_QUEUE_BELOW = "queue_on_queue_below"
    AGENT_NOT_RESPONDING = "agent_not_responding"
    AGENT_PRESENCE_IS = "agent_presence_is"
    AGENT_PRESENCE_LONGER_THAN = "agent_presence_longer_than"
    CHANNEL_NOT_LIVE_FOR = "channel_not_live_for"


class Severity(enum.StrEnum):
    """How loud an alert (and its notice) is; the members run quietest first.

    The one definition of severity: rules, the settings file, notices and sounds all use it.
    """

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(enum.StrEnum):
    """Where an alert is in its lifecycle."""

    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class ChangeKind(enum.StrEnum):
    """What happened to an alert."""

    FIRED = "fired"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


QUEUE_CONDITIONS: Final = frozenset(
    {
        Condition.QUEUE_WAITING_ABOVE,
        Condition.QUEUE_LONGEST_WAIT_ABOVE,
        Condition.QUEUE_ON_QUEUE_BELOW,
    }
)
AGENT_CONDITIONS: Final = frozenset(
    {
        Condition.AGENT_NOT_RESPONDING,
        Condition.AGENT_PRESENCE_IS,
        Condition.AGENT_PRESENCE_LONGER_THAN,
    }
)
PRESENCE_CONDITIONS: Final = frozenset(
    {Condition.AGENT_PRESENCE_IS, Condition.AGENT_PRESENCE_LONGER_THAN}
)
# Conditions that can watch one media group of a queue (agent counts are queue-wide).
MEDIA_CONDITIONS: Final = frozenset(
    {Condition.QUEUE_WAITING_ABOVE, Condition.QUEUE_LONGEST_WAIT_ABOVE}
)
# Conditions that need a threshold, and the unit the threshold is in (for pickers and text).
THRESHOLD_UNITS: Final[Mapping[Condition, str]] = {
    Condition.QUEUE_WAITING_ABOVE: "conversations",
    Condition.QUEUE_LONGEST_WAIT_ABOVE: "s",
    Condition.QUEUE_ON_QUEUE_BELOW: "agents",
    Condition.AGENT_PRESENCE_LONGER_THAN: "min",
    Condition.CHANNEL_NOT_LIVE_FOR: "s",
}
CONDITION_LABELS: Final[Mapping[Condition, str]] = {
    Condition.QUEUE_WAITING_ABOVE: "Queue: conversations waiting above",
    Condition.QUEUE_LONGEST_WAIT_ABOVE: "Queue: longest wait above (seconds)",
    Condition.QUEUE_ON_QUEUE_BELOW: "Queue: agents on queue below",
    Condition.AGENT_NOT_RESPONDING: "Agent: becomes Not Responding",
    Condition.AGENT_PRESENCE_IS: "Agent: presence is",
    Condition.AGENT_PRESENCE_LONGER_THAN: "Agent: in presence longer than (minutes)",
    Condition.CHANNEL_NOT_LIVE_FOR: "Connection: not live for (seconds)",
}

SubjectKind = Literal["queue", "agent", "connection"]


def subject_kind(condition: Condition) -> SubjectKind:
    """Whether a condition's subjects are queues, agents, or the connection itself."""
    if condition in QUEUE_CONDITIONS:
        return "queue"
    if condition in AGENT_CONDITIONS:
        return "agent"
    return "connection"


@dataclass(frozen=True, slots=True)
class Rule:
    """One alert rule, as the person configured it.

    Attributes:
        id: Stable identifier (the config file's key for this rule).
        name: What people call it ("Calls waiting").
        enabled: Disabled rules are kept but never evaluated.
        condition: What is watched.
        subjects: Queue ids for queue conditions, user ids for agent ones; empty means any.
        threshold: Count, seconds or minutes (see :data:`THRESHOLD_UNITS`); None when unused.
        presence: For presence conditions: an org presence definition id or a system key
            ("MEAL"); a system key matches every definition under it (a custom "Lunch" too).
        for_s: How long the condition must hold before the rule fires.
        cooldown_s: After an alert resolves, the same rule and subject stay quiet this long.
        severity: info, warning or critical.
        actions: What the app does on firing: "notify", "sound".
        hysteresis: Numeric thresholds resolve only once back past threshold ∓ hysteresis.
        media: For waiting and longest-wait conditions: watch one media group ("chat")
            instead of the whole queue; ``""`` watches all media. Ignored elsewhere.
    """

    id: str
    name: str
    condition: Condition
    enabled: bool = True
    subjects: tuple[str, ...] = ()
    threshold: float | None = None
    presence: str | None = None
    for_s: float = 0.0
    cooldown_s: float = DEFAULT_COOLDOWN_S
    severity: Severity = Severity.WARNING
    actions: tuple[str, ...] = ("notify",)
    hysteresis: float = DEFAULT_HYSTERESIS
    media: str = ALL_MEDIA


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One reason a rule cannot be used as it is, for inline display next to ``field``."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class Alert:
    """One firing of one rule for one subject. Replaced (never mutated) as its state moves."""

    id: str
    rule_id: str
    rule_name: str
    subject_id: str  # "" for the connection
    subject_name: str
    severity: Severity
    state: AlertState
    fired_at: datetime
    resolved_at: datetime | None
    value: float | str | None
    summary: str
    condition: Condition
    actions: tuple[str, ...] = ()
    acknowledged_at: datetime | None = None

    @property
    def subject_kind(self) -> SubjectKind:
        """Which board the subject lives on (queue, agent, or the connection)."""
        return subject_kind(self.condition)


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert fired, was acknowledged or resolved; ``alert`` is its state after the change."""

    kind: ChangeKind
    alert: Alert
    at: datetime
