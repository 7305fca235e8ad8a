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
and then look only at the matching users and those they already track. A caller that knows which
subjects the store changed since the last evaluation passes them (``changed``): agent rules then
look at just those and at the timers due, not at 50,000 users several times a second. That gives
the same alerts as a full pass, since an agent rule's verdict moves only with its subject's row
or with a timer the engine keeps (``for_s``, cooldowns, "longer than"); queue rules still look at
every queue (a longest wait grows with the clock alone).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Final

from core.alerts.compiled import CompiledRule, compile_rule
from core.alerts.model import (
    PRESENCE_CONDITIONS,
    QUEUE_CONDITIONS,
    Alert,
    AlertChange,
    AlertState,
    ChangeKind,
    Condition,
    Rule,
    subject_kind,
)
from core.alerts.observation import EPSILON_S, NOT_RESPONDING, Observation, Track, observe
from core.alerts.words import alert_summary
from core.state.store import Store

HISTORY_LIMIT: Final = 500
ENGINE_LIVE: Final = "live"
ENGINE_STOPPED: Final = "stopped"


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
        self._rules: dict[str, CompiledRule] = {}
        self._by_condition: dict[Condition, list[CompiledRule]] = {}
        self._tracks: dict[str, dict[str, Track]] = {}
        self._active: dict[str, Alert] = {}  # alert id → alert, in firing order
        self._history: deque[AlertChange] = deque(maxlen=max(1, history_limit))
        self._due: list[tuple[float, str, str]] = []  # heap of (due, rule id, subject id)
        self._ids = itertools.count(1)
        self._not_live_since: float | None = None
        # What the last evaluation saw, to tell when one over ``changed`` subjects is enough.
        self._seen: tuple[Store, str, int, int] | None = None
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
        new: dict[str, CompiledRule] = {}
        for rule in rules:
            if rule.id in new:
                raise ValueError(f"two rules share the id {rule.id!r}")
            kept = self._rules.get(rule.id)
            new[rule.id] = kept if kept is not None and kept.rule == rule else compile_rule(rule)
        changes: list[AlertChange] = []
        self._seen = None  # new or edited rules: the next evaluation looks at everyone
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

    def evaluate(
        self, store: Store, engine_state: str, changed: Collection[str] | None = None
    ) -> list[AlertChange]:
        """Look at the store as it is now; returns the alerts that fired or resolved.

        Call it after every batch of store changes and about once a second (timers only
        advance when it is called; :meth:`next_deadline` says when the next one is due).

        ``changed``: every user and queue id the store changed since the last evaluation (None:
        not known). Agent rules then look only at those and at due timers; the engine looks at
        everyone anyway when that might not match a full pass: the first time, after the rules
        or the engine state changed, on another store, or when users or queues came or went.
        """
        seen = (store, engine_state, len(store.users), len(store.queues))
        partial = (
            changed is not None
            and self._seen is not None
            and engine_state == ENGINE_LIVE
            and all(a is b or a == b for a, b in zip(seen, self._seen, strict=True))
        )
        out = self._evaluate(store, engine_state, focus=None, changed=changed if partial else None)
        self._seen = seen
        return out

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
        self,
        store: Store,
        engine_state: str,
        focus: Collection[str] | None,
        changed: Collection[str] | None = None,
    ) -> list[AlertChange]:
        """Evaluate every rule (``focus`` None) or only these subjects plus expired timers.

        ``changed`` (with ``focus`` None): queue rules look at every queue, agent rules only at
        these subjects plus expired timers (see :meth:`evaluate`).
        """
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
                elif changed is not None and condition not in QUEUE_CONDITIONS:
                    candidates.update(s for s in changed if not rule.subjects or s in rule.subjects)
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
        while self._due and self._due[0][0] <= now + EPSILON_S:
            due, rule_id, subject_id = heapq.heappop(self._due)
            track = self._tracks.get(rule_id, {}).get(subject_id)
            if track is not None and track.due == due:
                track.due = None
                out.setdefault(rule_id, set()).add(subject_id)
        return out

    def _matches(self, compiled: CompiledRule, store: Store, scans: _Scans) -> Iterable[str]:
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
        compiled: CompiledRule,
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
            track = tracks[subject_id] = Track()
        self.visits += 1
        seen = observe(
            compiled,
            subject_id=subject_id,
            store=store,
            now=now,
            wall=wall,
            track=track,
            not_live_since=self._not_live_since,
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
            if now + EPSILON_S >= fire_at:
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

    # ----------------------------------------------------------------------------- alerts
    def _fire(
        self,
        compiled: CompiledRule,
        *,
        subject_id: str,
        store: Store,
        seen: Observation,
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
            summary=alert_summary(compiled, name, seen.value, seen.label, held_s),
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
