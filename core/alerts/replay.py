"""Test a rule against the journal: how often it would have fired over a stretch of time.

The values a rule watches are rebuilt from the journal's entries and the real
:class:`core.alerts.engine.RuleEngine` runs over them on a clock that follows the entries, so
"would have fired" counts exactly as live would have. Kept apart from the engine: it is the engine's
one consumer that reads history, and it needs the feed's entry type.

A replay of many entries takes a while (about a second per 100,000), so the app runs it in a
worker thread: ``progress`` reports how far it got and ``stop`` ends it early (the caller was
cancelled), and :func:`cap_note` says in words when only the newest entries were read.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from core.alerts.engine import ENGINE_LIVE, RuleEngine
from core.alerts.model import MEDIA_CONDITIONS, ChangeKind, Condition, Rule
from core.alerts.validation import finite_number
from core.feed.entry import FeedEntry
from core.feed.payloads import ConnectionData, PresenceData, QueueData, RoutingData
from core.state.store import Store

REPLAY_LIMIT: Final = 100_000  # the newest entries a test against the journal reads at most
PROGRESS_EVERY: Final = 5_000  # entries between two progress reports (and stop checks)


class ReplayStoppedError(Exception):
    """The replay was asked to stop (its caller went away); there is no result."""


def cap_note(checked: int, total: int, span: str) -> str | None:
    """Plain words for a test that read only the newest ``checked`` of ``total`` entries.

    ``span`` names the stretch tested ("the last day"); None when nothing was left out.
    """
    if total <= checked:
        return None
    return (
        f"Checked the latest {checked:,} of {total:,} entries in {span}; "
        "the older ones were not checked."
    )


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """How often a rule would have fired over a stretch of the journal.

    ``note`` explains when the journal cannot answer (it does not record the rule's value).
    """

    fired: int
    first: datetime | None
    subjects: dict[str, int]
    note: str | None = None


_NOT_IN_JOURNAL: Final[Mapping[Condition, str]] = {
    Condition.QUEUE_LONGEST_WAIT_ABOVE: "The journal does not record waiting times, so this "
    "rule cannot be tested against it.",
    Condition.QUEUE_ON_QUEUE_BELOW: "The journal does not record how many agents are on "
    "queue, so this rule cannot be tested against it.",
}
_NO_MEDIA_IN_JOURNAL: Final = (
    "The journal records queue totals, not the split by media, so a rule on one media type "
    "cannot be tested against it."
)


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = finite_number(value)
    return None if number is None else int(number)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def replay(
    rule: Rule,
    entries: Iterable[FeedEntry],
    start: datetime,
    end: datetime,
    *,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> ReplayResult:
    """How often ``rule`` would have fired from ``start`` to ``end``: "test against the journal".

    The values the rule watches are rebuilt from the journal's entries (presence, routing, queue
    counts, connection states) and the real :class:`RuleEngine` runs over them on a clock that
    follows the entries, with every timer expiring at its exact time, so for-duration,
    hysteresis and cooldown count exactly as they would have live. Entries before ``start``
    only set the scene; fires are counted from ``start`` to ``end``. The rule is tested even
    when it is disabled. Entries with data of the wrong shape are skipped.

    Safe in a worker thread (it touches nothing shared). ``progress(done, total)`` is called
    every :data:`PROGRESS_EVERY` entries, from the thread the replay runs in.

    Raises:
        ReplayStoppedError: ``stop`` was set (checked as often as progress is reported).
    """
    start, end = _aware(start), _aware(end)
    note = _NOT_IN_JOURNAL.get(rule.condition)
    if note is None and rule.condition in MEDIA_CONDITIONS and rule.media:
        note = _NO_MEDIA_IN_JOURNAL
    if note is not None:
        return ReplayResult(0, None, {}, note)
    clock = [0.0]
    engine = RuleEngine(
        [replace(rule, enabled=True)],
        clock=lambda: clock[0],
        wall=lambda: start + timedelta(seconds=clock[0]),
    )
    store = Store()
    state = ENGINE_LIVE
    dirty: set[str] = set()  # subjects that changed while the picture was frozen
    fired = 0
    first: datetime | None = None
    subjects: dict[str, int] = {}

    def run(at: float, focus: Collection[str]) -> None:
        nonlocal fired, first
        clock[0] = at
        for change in engine._evaluate(store, state, focus):
            alert = change.alert
            if change.kind is ChangeKind.FIRED and start <= alert.fired_at <= end:
                fired += 1
                first = first or alert.fired_at
                subjects[alert.subject_id] = subjects.get(alert.subject_id, 0) + 1

    def until(at: float) -> None:
        last = -math.inf
        while (deadline := engine.next_deadline()) is not None and deadline <= at:
            if deadline <= last:  # a timer that does not move on: never spin on it
                break
            last = deadline
            run(deadline, ())

    horizon = (end - start).total_seconds()
    ordered = sorted((e for e in entries if isinstance(e.at, datetime)), key=lambda e: _aware(e.at))
    for done, entry in enumerate(ordered):
        if done % PROGRESS_EVERY == 0:
            if stop is not None and stop.is_set():
                raise ReplayStoppedError
            if progress is not None and done:
                progress(done, len(ordered))
        at = (_aware(entry.at) - start).total_seconds()
        if at > horizon:
            break
        until(at)
        touched = _apply(store, entry)
        if isinstance(entry.data, ConnectionData):
            state = entry.data.state
            if state == ENGINE_LIVE:  # everything that changed while frozen gets a look
                touched = dirty | {s for t in engine._tracks.values() for s in t}
                dirty = set()
        elif state != ENGINE_LIVE:
            dirty.update(touched)
        run(max(at, clock[0]), touched)
    until(horizon)
    return ReplayResult(fired, first, subjects)


def _apply(store: Store, entry: FeedEntry) -> set[str]:
    """Put one journal entry's values into the replay store; returns the subjects it touched.

    The payload's type says what the entry holds (a row of no known shape is RawData: skipped).
    """
    data = entry.data
    subject = entry.subject_id if isinstance(entry.subject_id, str) else ""
    if not subject or not isinstance(data, QueueData | RoutingData | PresenceData):
        return set()
    name = entry.subject if isinstance(entry.subject, str) else ""
    at = _aware(entry.at)
    if isinstance(data, QueueData):
        queue = store.queue(subject)
        queue.name = queue.name or name
        for key, value in (("waiting", data.waiting), ("interacting", data.interacting)):
            number = _count(value)
            if number is not None:
                setattr(queue, key, number)
        return {subject}
    user = store.user(subject)
    user.name = user.name or name
    if isinstance(data, RoutingData):
        status = data.routing_status
        if status is not None and status != user.routing_status:
            user.routing_status, user.routing_since = status, at
        return {subject}
    system, definition = data.presence, data.definition_id
    if (system, definition) != (user.system_presence, user.definition_id):
        user.system_presence, user.definition_id, user.presence_since = system, definition, at
    return {subject}
