"""The alert engine: rules over the store's current picture, alerts with a lifecycle.

Pure and synchronous: no I/O, no asyncio, no Qt. Time comes from two injected clocks: ``clock``
(monotonic seconds, for every timer) and ``wall`` (an aware datetime, for the timestamps people
read and for the ages the store records as datetimes).

Evaluation is *level based*. :meth:`RuleEngine.evaluate` looks at the store as it is now, so a
condition that became true while the connection was down fires after the re-sync, not never.
While the engine is not ``live`` (starting, stale, reconnecting, resyncing, ...) the store may be
out of date, so store-based rules are frozen: nothing fires and nothing resolves until the
picture is live again; only ``channel_not_live_for`` keeps counting.

Per (rule, subject) the engine keeps a small tracker:

* **for-duration**: the condition must hold for ``for_s`` seconds from when it first held. For
  agent conditions that moment is the store's own timestamp (``routing_since`` /
  ``presence_since``) when known, so "Not Responding for 30 s" measures the agent's real time in
  that status, also across a gap; otherwise it is when the engine first saw it hold. The pending
  timer needs the strict condition: a value that drops back to the threshold restarts it.
* **hysteresis** (numeric thresholds): ``queue_*_above`` fires at ``value > threshold`` and
  resolves only at ``value <= threshold - hysteresis`` (never below 0); ``queue_on_queue_below``
  fires at ``value < threshold`` and resolves at ``value >= threshold + hysteresis``. A queue
  flapping 3, 4, 3, 4 around a threshold of 3 fires once.
* **cooldown**: after an alert resolves, the same rule and subject do not fire again within
  ``cooldown_s``; if the condition still holds when the cooldown ends, it fires then.
* **lifecycle**: firing → acknowledged (:meth:`RuleEngine.acknowledge`) → resolved.

Cost: rules are indexed by condition and only subjects are visited: rules naming subjects look
at just those; "any agent" rules share one pass over the users per evaluation (not one per rule)
and then look only at the matching users and those they already track.
"""

from __future__ import annotations

import enum
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final, Literal, cast

from core.domain.media import WHOLE_QUEUE, MediaCounts
from core.domain.media_names import ALL_MEDIA, KNOWN_MEDIA, media_word, rule_media
from core.state.store import QueueState, Store

HISTORY_LIMIT: Final = 500
ENGINE_LIVE: Final = "live"
ENGINE_STOPPED: Final = "stopped"
NOT_RESPONDING: Final = "NOT_RESPONDING"
DEFAULT_HYSTERESIS: Final = 1.0
DEFAULT_COOLDOWN_S: Final = 60.0
ACTIONS: Final = ("notify", "sound")
# Normalised Genesys system presences (core.streaming.events upper-snakes them once at the
# boundary).
SYSTEM_PRESENCES: Final = (
    "AVAILABLE",
    "AWAY",
    "BUSY",
    "BREAK",
    "MEAL",
    "MEETING",
    "TRAINING",
    "ON_QUEUE",
    "IDLE",
    "OFFLINE",
)
_EPSILON_S: Final = 1e-6  # float slack for "exactly at" the deadline


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
    """How loud an alert is."""

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


def normalize_presence(presence: str) -> str:
    """``"Meal"`` / ``"meal"`` → ``"MEAL"`` for system keys; definition ids are left alone."""
    key = presence.strip().upper().replace(" ", "_")
    if key == "ONQUEUE":
        key = "ON_QUEUE"
    return key if key in SYSTEM_PRESENCES else presence


# ------------------------------------------------------------------------------------ values
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


# -------------------------------------------------------------------------------- validation
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


# --------------------------------------------------------------------------------- the engine
def duration_text(seconds: float) -> str:
    """``42 s``, ``1 min 30 s``, ``32 min``, ``1 h 5 min``: how long, the way people say it."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    if total < 3600:
        minutes, rest = divmod(total, 60)
        return f"{minutes} min" if rest == 0 or minutes >= 10 else f"{minutes} min {rest} s"
    hours, rest = divmod(total, 3600)
    minutes = rest // 60
    return f"{hours} h" if minutes == 0 else f"{hours} h {minutes} min"


def _num(value: float) -> str:
    return f"{value:g}"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A rule with its numbers sanitised once, so evaluation never meets NaN or None."""

    rule: Rule
    threshold: float | None  # None: the rule needs one and has none → never holds
    resolve_level: float | None  # numeric conditions: back past this → resolved
    limit_s: float  # longer-than conditions: the duration the threshold stands for
    for_s: float
    cooldown_s: float
    presence: str | None
    media: str  # one media group, "" for the whole queue

    @staticmethod
    def of(rule: Rule) -> _Compiled:
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
        return _Compiled(
            rule,
            threshold,
            resolve_level,
            limit_s,
            max(0.0, finite_number(rule.for_s) or 0.0),
            max(0.0, finite_number(rule.cooldown_s) or 0.0),
            normalize_presence(presence) if presence else None,
            ALL_MEDIA if media is None else media,
        )


@dataclass(slots=True)
class _Track:
    """The engine's memory of one (rule, subject)."""

    since: float | None = None  # longer-than conditions: when the underlying state began
    onset: float | None = None  # when the condition began to hold (pending timer)
    alert_id: str | None = None
    cooldown_until: float = -math.inf
    due: float | None = None  # when this tracker next changes without any store change


@dataclass(frozen=True, slots=True)
class _Observation:
    holds: bool
    clear: bool  # an active alert resolves
    value: float | str | None
    onset: float | None = None  # when the condition began to hold, if known
    starts_at: float | None = None  # longer-than: when it will begin to hold
    label: str = ""  # presence conditions: the presence as the org calls it ("Lunch")


_NOTHING: Final = _Observation(holds=False, clear=True, value=None)


@dataclass(slots=True)
class _Scans:
    """Passes over all users shared by the "any agent" rules of one evaluation."""

    not_responding: list[str] | None = None
    presence: dict[str, list[str]] | None = None  # presence key → users in it


class RuleEngine:
    """Evaluates rules against the store and keeps the alerts they raise.

    Attributes:
        visits: How many queue/user states the last :meth:`evaluate` looked at (a cost
            figure for tests and benchmarks: it grows with subjects, never with users times rules).
    """

    def __init__(
        self,
        rules: Iterable[Rule] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _utc_now,
        history_limit: int = HISTORY_LIMIT,
    ) -> None:
        self._clock = clock
        self._wall = wall
        self._rules: dict[str, _Compiled] = {}
        self._by_condition: dict[Condition, list[_Compiled]] = {}
        self._tracks: dict[str, dict[str, _Track]] = {}
        self._active: dict[str, Alert] = {}  # alert id → alert, in firing order
        self._history: deque[AlertChange] = deque(maxlen=max(1, history_limit))
        self._due: list[tuple[float, str, str]] = []  # heap of (due, rule id, subject id)
        self._ids = itertools.count(1)
        self._not_live_since: float | None = None
        self.visits = 0
        self.set_rules(rules)

    # ------------------------------------------------------------------------ public API
    @property
    def rules(self) -> list[Rule]:
        """The rules in the order they were given."""
        return [compiled.rule for compiled in self._rules.values()]

    @property
    def active(self) -> list[Alert]:
        """Firing and acknowledged alerts, oldest first."""
        return list(self._active.values())

    @property
    def history(self) -> list[AlertChange]:
        """The last changes (fired, acknowledged, resolved), oldest first, bounded."""
        return list(self._history)

    def set_rules(self, rules: Iterable[Rule]) -> list[AlertChange]:
        """Replace the rules. Unchanged rules keep their timers, cooldowns and alerts.

        A rule that was removed, edited or disabled starts afresh: its active alerts resolve
        (returned as changes) and its timers and cooldowns are forgotten.

        Raises:
            ValueError: two rules share an id.
        """
        new: dict[str, _Compiled] = {}
        for rule in rules:
            if rule.id in new:
                raise ValueError(f"two rules share the id {rule.id!r}")
            kept = self._rules.get(rule.id)
            new[rule.id] = kept if kept is not None and kept.rule == rule else _Compiled.of(rule)
        changes: list[AlertChange] = []
        for rule_id, old in self._rules.items():
            fresh = new.get(rule_id)
            if fresh is None or fresh is not old or not old.rule.enabled:
                for track in self._tracks.pop(rule_id, {}).values():
                    if track.alert_id is not None:
                        changes.append(self._resolve(track.alert_id))
        self._rules = new
        self._by_condition = {}
        for compiled in new.values():
            if compiled.rule.enabled:
                self._by_condition.setdefault(compiled.rule.condition, []).append(compiled)
        return changes

    def evaluate(self, store: Store, engine_state: str) -> list[AlertChange]:
        """Look at the store as it is now; returns the alerts that fired or resolved.

        Call it after every batch of store changes and about once a second (timers only
        advance when it is called; :meth:`next_deadline` says when the next one is due).
        """
        return self._evaluate(store, engine_state, focus=None)

    def acknowledge(self, alert_id: str) -> AlertChange | None:
        """Mark a firing alert as seen; None when it is unknown, resolved or already seen."""
        alert = self._active.get(alert_id)
        if alert is None or alert.state is not AlertState.FIRING:
            return None
        now = self._wall()
        alert = replace(alert, state=AlertState.ACKNOWLEDGED, acknowledged_at=now)
        self._active[alert_id] = alert
        return self._record(ChangeKind.ACKNOWLEDGED, alert, now)

    def next_deadline(self) -> float | None:
        """The clock time at which a pending timer next expires (None: nothing pending)."""
        while self._due:
            due, rule_id, subject_id = self._due[0]
            track = self._tracks.get(rule_id, {}).get(subject_id)
            if track is not None and track.due == due:
                return due
            heapq.heappop(self._due)
        return None

    # -------------------------------------------------------------------------- evaluation
    def _evaluate(
        self, store: Store, engine_state: str, focus: Collection[str] | None
    ) -> list[AlertChange]:
        """Evaluate every rule (``focus`` None) or only these subjects plus expired timers."""
        now = self._clock()
        wall = self._wall()
        self.visits = 0
        changes: list[AlertChange] = []
        live = engine_state == ENGINE_LIVE
        if live or engine_state == ENGINE_STOPPED:  # a deliberate stop is not an outage
            self._not_live_since = None
        elif self._not_live_since is None:
            self._not_live_since = now
        due = self._expired(now)
        for compiled in self._by_condition.get(Condition.CHANNEL_NOT_LIVE_FOR, ()):
            self._step(compiled, subject_id="", store=store, now=now, wall=wall, changes=changes)
        if not live:
            return changes  # the store may be out of date: freeze store-based rules
        scans = _Scans()
        for condition, group in self._by_condition.items():
            if condition is Condition.CHANNEL_NOT_LIVE_FOR:
                continue
            for compiled in group:
                rule = compiled.rule
                tracked = self._tracks.get(rule.id, {})
                candidates: set[str] = set(due.get(rule.id, ()))
                if focus is not None:
                    candidates.update(s for s in focus if not rule.subjects or s in rule.subjects)
                else:
                    candidates.update(rule.subjects or self._matches(compiled, store, scans))
                    candidates.update(tracked)
                for subject_id in sorted(candidates):
                    self._step(
                        compiled,
                        subject_id=subject_id,
                        store=store,
                        now=now,
                        wall=wall,
                        changes=changes,
                    )
        return changes

    def _expired(self, now: float) -> dict[str, set[str]]:
        """Take the timers that expire by ``now`` off the heap: rule id → subject ids.

        Their trackers forget the deadline; the step that looks at them sets the next one (a
        frozen rule's trackers get theirs back at the first live evaluation).
        """
        out: dict[str, set[str]] = {}
        while self._due and self._due[0][0] <= now + _EPSILON_S:
            due, rule_id, subject_id = heapq.heappop(self._due)
            track = self._tracks.get(rule_id, {}).get(subject_id)
            if track is not None and track.due == due:
                track.due = None
                out.setdefault(rule_id, set()).add(subject_id)
        return out

    def _matches(self, compiled: _Compiled, store: Store, scans: _Scans) -> Iterable[str]:
        """The subjects an "any" rule may hold for, from one shared pass per condition kind."""
        condition = compiled.rule.condition
        if condition in QUEUE_CONDITIONS:
            self.visits += len(store.queues)
            return store.queues.keys()
        if condition is Condition.AGENT_NOT_RESPONDING:
            if scans.not_responding is None:
                self.visits += len(store.users)
                scans.not_responding = [
                    u.id for u in store.users.values() if u.routing_status == NOT_RESPONDING
                ]
            return scans.not_responding
        # presence conditions: one pass indexes the users by every presence any rule asks for
        if scans.presence is None:
            index: dict[str, list[str]] = {
                c.presence: []
                for kind in PRESENCE_CONDITIONS
                for c in self._by_condition.get(kind, ())
                if not c.rule.subjects and c.presence
            }
            self.visits += len(store.users)
            for user in store.users.values():
                if user.definition_id in index:
                    index[user.definition_id].append(user.id)
                if user.system_presence in index and user.system_presence != user.definition_id:
                    index[user.system_presence].append(user.id)
            scans.presence = index
        return scans.presence.get(compiled.presence or "", ())

    def _step(
        self,
        compiled: _Compiled,
        *,
        subject_id: str,
        store: Store,
        now: float,
        wall: datetime,
        changes: list[AlertChange],
    ) -> None:
        """Advance one (rule, subject): start/stop the pending timer, fire, or resolve."""
        rule = compiled.rule
        tracks = self._tracks.setdefault(rule.id, {})
        track = tracks.get(subject_id)
        if track is None:
            track = tracks[subject_id] = _Track()
        self.visits += 1
        seen = self._observe(
            compiled, subject_id=subject_id, store=store, now=now, wall=wall, track=track
        )
        due: float | None = None
        if track.alert_id is not None:
            if seen.clear:
                changes.append(self._resolve(track.alert_id, wall))
                track.alert_id = None
                track.onset = None
                track.cooldown_until = now + compiled.cooldown_s
                # a longer-than condition restarts only when its state begins again
        elif seen.holds:
            if track.onset is None:
                track.onset = min(now, seen.onset) if seen.onset is not None else now
            fire_at = max(track.onset + compiled.for_s, track.cooldown_until)
            if now + _EPSILON_S >= fire_at:
                alert = self._fire(
                    compiled,
                    subject_id=subject_id,
                    store=store,
                    seen=seen,
                    held_s=now - track.onset,
                    wall=wall,
                )
                track.alert_id = alert.id
                changes.append(self._record(ChangeKind.FIRED, alert, wall))
            else:
                due = fire_at
        else:
            track.onset = None
            due = seen.starts_at
        if due != track.due:
            track.due = due
            if due is not None:
                heapq.heappush(self._due, (due, rule.id, subject_id))
        if (
            track.alert_id is None
            and track.onset is None
            and track.since is None
            and track.due is None
            and track.cooldown_until <= now
        ):
            del tracks[subject_id]

    def _observe(
        self,
        compiled: _Compiled,
        *,
        subject_id: str,
        store: Store,
        now: float,
        wall: datetime,
        track: _Track,
    ) -> _Observation:
        """Whether the condition holds for this subject now, and the value it saw."""
        condition = compiled.rule.condition
        threshold = compiled.threshold
        if condition is Condition.CHANNEL_NOT_LIVE_FOR:
            if threshold is None or self._not_live_since is None:
                track.since = None
                return _NOTHING
            return self._longer(track, self._not_live_since, compiled.limit_s, now)

        if condition in QUEUE_CONDITIONS:
            queue = store.queues.get(subject_id)
            if queue is None or threshold is None or compiled.resolve_level is None:
                return _NOTHING
            value: float | None
            group = _media_group(queue, compiled.media) if compiled.media else None
            if condition is Condition.QUEUE_ON_QUEUE_BELOW:
                value = queue.on_queue
            elif not compiled.media:
                waiting = condition is Condition.QUEUE_WAITING_ABOVE
                value = queue.waiting if waiting else store.longest_wait_s(subject_id, wall)
            elif group is None:
                value = None
            elif condition is Condition.QUEUE_WAITING_ABOVE:
                value = group.waiting
            else:  # the group's own figure: conversations do not say their media
                ms = group.longest_wait_ms
                value = None if ms is None else ms / 1000
            if value is None:  # unknown never holds
                return _NOTHING
            if condition is Condition.QUEUE_ON_QUEUE_BELOW:
                return _Observation(value < threshold, value >= compiled.resolve_level, value)
            return _Observation(value > threshold, value <= compiled.resolve_level, value)

        user = store.users.get(subject_id)
        if user is None:  # the store knows nothing about this user
            track.since = None
            return _NOTHING
        if condition is Condition.AGENT_NOT_RESPONDING:
            if user.routing_status != NOT_RESPONDING:
                return _NOTHING
            onset = self._mono(user.routing_since, now, wall)
            return _Observation(True, False, NOT_RESPONDING, onset=onset)
        presence = compiled.presence
        if presence is None or presence not in (user.definition_id, user.system_presence):
            track.since = None
            return _NOTHING
        label = store.presence_label(subject_id) or presence.replace("_", " ").title()
        onset = self._mono(user.presence_since, now, wall)
        if condition is Condition.AGENT_PRESENCE_IS:
            return _Observation(True, False, label, onset=onset, label=label)
        if threshold is None:
            return _NOTHING
        if track.since is None:  # anchored once: a message change must not restart the clock
            track.since = onset if onset is not None else now
        return replace(self._longer(track, track.since, compiled.limit_s, now), label=label)

    @staticmethod
    def _longer(track: _Track, since: float, limit_s: float, now: float) -> _Observation:
        """A "for longer than" condition: holds from ``since + limit_s`` on."""
        track.since = since
        starts_at = since + limit_s
        elapsed = now - since
        if now + _EPSILON_S >= starts_at:
            return _Observation(True, False, elapsed, onset=starts_at)
        return _Observation(False, False, elapsed, starts_at=starts_at)

    @staticmethod
    def _mono(at: datetime | None, now: float, wall: datetime) -> float | None:
        """A store timestamp on the monotonic clock (never in the future)."""
        if at is None:
            return None
        try:
            age = (wall - at).total_seconds()
        except TypeError:  # naive vs aware: not comparable, treat as unknown
            return None
        return now - max(0.0, age)

    # ----------------------------------------------------------------------------- alerts
    def _fire(
        self,
        compiled: _Compiled,
        *,
        subject_id: str,
        store: Store,
        seen: _Observation,
        held_s: float,
        wall: datetime,
    ) -> Alert:
        rule = compiled.rule
        condition = rule.condition
        kind = subject_kind(condition)
        if kind == "queue":
            queue = store.queues.get(subject_id)
            name = queue.name if queue is not None and queue.name else subject_id
        elif kind == "agent":
            user = store.users.get(subject_id)
            name = user.name if user is not None and user.name else subject_id
        else:
            name = "Connection"
        alert = Alert(
            id=f"{rule.id}:{subject_id}:{next(self._ids)}",
            rule_id=rule.id,
            rule_name=rule.name,
            subject_id=subject_id,
            subject_name=name,
            severity=rule.severity,
            state=AlertState.FIRING,
            fired_at=wall,
            resolved_at=None,
            value=seen.value,
            summary=_summary(compiled, name, seen, held_s),
            condition=condition,
            actions=rule.actions,
        )
        self._active[alert.id] = alert
        return alert

    def _resolve(self, alert_id: str, wall: datetime | None = None) -> AlertChange:
        at = wall or self._wall()
        alert = replace(self._active.pop(alert_id), state=AlertState.RESOLVED, resolved_at=at)
        return self._record(ChangeKind.RESOLVED, alert, at)

    def _record(self, kind: ChangeKind, alert: Alert, at: datetime) -> AlertChange:
        change = AlertChange(kind, alert, at)
        self._history.append(change)
        return change


def _media_group(queue: QueueState, media: str) -> MediaCounts | None:
    """One media group's counters; None while unknown (never counted, or not split by media)."""
    if queue.waiting is None or WHOLE_QUEUE in queue.media:
        return None
    return queue.media.get(media, MediaCounts())  # an absent group is an idle one


def _summary(compiled: _Compiled, name: str, seen: _Observation, held_s: float) -> str:
    """The alert's one line: "Sales EN: 5 waiting (> 3) for 10 s", "... waiting on chat"."""
    value, label = seen.value, seen.label
    condition = compiled.rule.condition
    threshold = compiled.threshold or 0.0
    held = f" for {duration_text(held_s)}" if round(held_s) > 0 else ""
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


# ------------------------------------------------------------------------------- demo rules
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
