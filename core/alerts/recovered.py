"""Alerts for conditions that began and ended while the app was disconnected.

The live rules look at the store as it is now, so a Not Responding that came and went inside a
gap never fires live. When EventBridge brings the gap's events back, the real
:class:`core.alerts.engine.RuleEngine` runs over them on a clock that follows the events (as the
journal replay does), against a store of their own, never the live one. What fired and resolved
inside that timeline becomes a history-only alert: a feed line and a journal row, never a live
notification. What still holds at the end is left to the live rules, which see it in the store.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.alerts.engine import ENGINE_LIVE, RuleEngine
from core.alerts.model import Alert, ChangeKind, Condition, Rule
from core.state.store import Store
from core.streaming.events import Event

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecoveredAlert:
    """An alert that fired and resolved inside a stretch the app did not see live."""

    alert: Alert  # as it fired (summary, value, subject)
    began: datetime
    ended: datetime


def recovered_alerts(
    rules: Iterable[Rule],
    events: Sequence[tuple[datetime, Event]],
    *,
    names: Callable[[str], str] | None = None,
) -> list[RecoveredAlert]:
    """The alerts ``rules`` would have raised and resolved over ``events`` (happened, event).

    ``events`` need not be sorted. ``names`` gives a subject's name for the alert's words. The
    connection rule ("not live for") is left out: the gap itself is what the feed reports.
    """
    wanted = [
        replace(rule, cooldown_s=0.0)
        for rule in rules
        if rule.enabled and rule.condition is not Condition.CHANNEL_NOT_LIVE_FOR
    ]
    ordered = sorted(events, key=lambda item: item[0])
    if not wanted or not ordered:
        return []
    start = ordered[0][0]
    clock = [0.0]
    engine = RuleEngine(
        wanted,
        clock=lambda: clock[0],
        wall=lambda: start + timedelta(seconds=clock[0]),
    )
    store = Store()
    fired: dict[str, Alert] = {}
    out: list[RecoveredAlert] = []

    def run(at: float, focus: Iterable[str]) -> None:
        clock[0] = max(at, clock[0])
        for change in engine._evaluate(store, ENGINE_LIVE, set(focus)):
            alert = change.alert
            if change.kind is ChangeKind.FIRED:
                fired[alert.id] = alert
            elif change.kind is ChangeKind.RESOLVED and alert.id in fired:
                began = fired.pop(alert.id)
                out.append(RecoveredAlert(began, began.fired_at, change.at))

    def until(at: float) -> None:
        last = -math.inf
        while (deadline := engine.next_deadline()) is not None and deadline <= at:
            if deadline <= last:  # a timer that does not move on: never spin on it
                break
            last = deadline
            run(deadline, ())

    for happened, event in ordered:
        at = (happened - start).total_seconds()
        until(at)
        queue_id = getattr(event, "queue_id", None)  # as the watch says: a queue's first
        subject = str(queue_id if queue_id is not None else getattr(event, "user_id", ""))
        if names is not None and subject:
            _name(store, event, subject, names)
        store.apply(event)
        run(at, (subject,))
    return out


def _name(store: Store, event: Event, subject: str, names: Callable[[str], str]) -> None:
    """Give the history store's row its name, so the alert says who."""
    row = store.queue(subject) if hasattr(event, "queue_id") else store.user(subject)
    if not row.name:
        row.name = names(subject)
