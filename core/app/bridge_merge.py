"""The EventBridge backlog merged into the engine's records, the feed, the journal and alerts.

:class:`BridgeMerge` is the consumer's :data:`core.eventbridge.events.EventSink`. For each batch:

* events the WebSocket already brought are dropped (:class:`core.engine.crossdedup.CrossDedup`,
  which the socket's hot path consults too, so each event goes out once whichever comes first);
* the rest, in the order they happened, go out as :class:`EventRecord` (source "eventbridge";
  ``recovered`` when the socket missed it: in a gap, or too old to be racing the socket) and are
  applied to the live store only where they are newer than what it holds, by each event's own
  timestamps: the live picture is never rolled back;
* every one of them gets its feed line and journal row, in event-time order and at the time it
  happened, from a history picture of their own (so an event too old for the live store is
  still told, "Dana: Idle → Not Responding (recovered from EventBridge)");
* the call returns once the journal has committed them (the consumer then deletes them).

After a gap, once its backlog has come in (a quiet spell with no more of its events, or the
consumer saying the queue is empty), one feed line says what came back: "Disconnected 00:42,
37 events recovered from EventBridge, re-synced 120 users and 4 queues" (a new gap entry, phase
"recovered", its ``changed`` counting the events; the gap's own end line stays as it was). The
same moment, alerts that began and ended inside the gap are added to the feed as history
(:mod:`core.alerts.recovered`), never notified. A recovered event that the live store takes
(newer than what it held) goes through the live rules like any other change.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

from core.alerts.recovered import RecoveredAlert, recovered_alerts
from core.app.pipeline import Pipeline
from core.domain.format import clock_text
from core.engine.crossdedup import CrossDedup
from core.engine.records import ChangeRecord, EventRecord, GapRecord, Record
from core.engine.service import MonitorService
from core.eventbridge.events import BridgedEvent, SourceStatus
from core.feed.builder import FeedBuilder
from core.feed.entry import FeedEntry
from core.feed.payloads import AlertData, FeedKind, GapData
from core.state.store import QueueState, Store, UserState
from core.streaming.events import (
    Event,
    PresenceChanged,
    QueueMembershipChanged,
    RoutingChanged,
    parse_event,
)

logger = logging.getLogger(__name__)
_Row = TypeVar("_Row", UserState, QueueState)

QUIET_S: Final = 10.0  # a gap's backlog is in once none of its events came for this long
BEFORE_GAP_S: Final = 60.0  # a socket may have been silently dead this long before the drop
AFTER_GAP_S: Final = 5.0  # and the re-sync's read may have been this much before its end
KEEP_GAPS: Final = 16
RECENT_S: Final = 30.0  # an event this fresh outside any gap may have beaten the socket
MAX_GAP_EVENTS: Final = 100_000  # events of one gap kept for its alerts (a 4-day backlog is more)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Gap:
    """One gap and the recovered events that happened in it."""

    started: datetime
    reason: str
    ended: datetime | None = None
    users: int = 0
    queues: int = 0
    events: list[tuple[datetime, Event]] = field(default_factory=list)  # typed, for the rules
    count: int = 0  # EventBridge events of watched subjects that happened in it
    reported: int = 0  # events counted in the last line about it
    alerts: set[tuple[str, str, datetime]] = field(default_factory=set)  # already in the feed
    last_event_at: float = 0.0  # loop time of the last event that came for it

    def covers(self, happened: datetime) -> bool:
        if happened < self.started - timedelta(seconds=BEFORE_GAP_S):
            return False
        return self.ended is None or happened <= self.ended + timedelta(seconds=AFTER_GAP_S)


class BridgeMerge:
    """The sink the EventBridge consumer hands its batches to (see the module docstring).

    ``flush`` waits until every journal entry appended so far is committed (``Journal.flush``);
    without one the sink returns once the entries are handed on. Constructing it turns the
    cross-transport dedup on in ``service``; :meth:`close` turns it off again.
    """

    def __init__(
        self,
        service: MonitorService,
        pipeline: Pipeline,
        *,
        flush: Callable[[], Awaitable[None]] | None = None,
        dedup: CrossDedup | None = None,
        quiet_s: float = QUIET_S,
        wall: Callable[[], datetime] = _now,
    ) -> None:
        self.service = service
        self.pipeline = pipeline
        self.dedup = dedup or CrossDedup()
        self.quiet_s = quiet_s
        self.wall = wall
        self._flush = flush
        self.history = Store()  # the recovered events' own picture, never the live one
        self.history.presence_labels = service.store.presence_labels
        self._feed = FeedBuilder(self.history)
        self._gaps: list[_Gap] = []
        self._recent: deque[tuple[datetime, list[Event]]] = deque()  # watched, in no gap yet
        self._resynced_at: datetime | None = None  # when the last gap's re-sync ended
        self._quiet: asyncio.TimerHandle | None = None
        self.counters = dict.fromkeys(
            ("received", "duplicates", "recovered", "received_live", "applied", "old"), 0
        )
        service.crossdedup = self.dedup
        self._remove = service.add_listener(self._on_record)

    def close(self) -> None:
        """Stop merging: the socket no longer consults the dedup; a pending gap line goes out."""
        if self.service.crossdedup is self.dedup:
            self.service.crossdedup = None
        self._remove()
        self.backlog_empty()

    # ------------------------------------------------------------------ the sink
    async def __call__(self, events: Sequence[BridgedEvent]) -> None:
        """Merge one batch; returns once the journal holds it."""
        self.counters["received"] += len(events)
        fresh: list[tuple[BridgedEvent, list[Event]]] = []
        for bridged in events:
            typed = parse_event(bridged.frame)
            if typed is None:
                logger.debug("an EventBridge event of a kind not read: %s", bridged.pattern)
            elif self.dedup.bridged(bridged.frame, typed, bridged.happened):
                fresh.append((bridged, typed))
            else:
                self.counters["duplicates"] += 1
        fresh.sort(key=lambda pair: pair[0].happened)
        entries: list[FeedEntry] = []
        for bridged, typed in fresh:
            self._merge(bridged, typed, entries)
        self.pipeline.publish_entries(entries)  # every line, from the history picture
        if self._flush is not None:
            await self._flush()

    def on_status(self, status: SourceStatus) -> None:
        """The consumer's status: an empty queue means every gap's backlog is in."""
        if status.state == "live" and status.backlog == 0:
            self.backlog_empty()

    def backlog_empty(self) -> None:
        """The consumer found the queue empty: report every closed gap whose events came."""
        for gap in self._gaps:
            if gap.ended is not None and gap.count > gap.reported:
                self._report(gap)

    # ------------------------------------------------------------------ inside
    def _merge(
        self, bridged: BridgedEvent, typed_events: list[Event], lines: list[FeedEntry]
    ) -> None:
        service, frame, happened = self.service, bridged.frame, bridged.happened
        gap = next((g for g in reversed(self._gaps) if g.covers(happened)), None)
        # Not recovered: one that simply beat the live socket, or of a topic only EventBridge
        # carries. Recovered: one the socket missed (in a gap, or too long ago to be racing).
        recovered = gap is not None or (self.wall() - happened).total_seconds() > RECENT_S
        counted = False
        watched: list[Event] = []
        for typed in typed_events:
            self.counters["recovered" if recovered else "received_live"] += 1
            service.publish(
                EventRecord(
                    frame.topic, typed, "eventbridge", frame.correlation_id, recovered, happened
                )
            )
            if not self._watched(typed):
                continue
            watched.append(typed)
            if gap is not None:
                if len(gap.events) < MAX_GAP_EVENTS:  # the rules look at the first ones only
                    gap.events.append((happened, typed))
                gap.count += 0 if counted else 1
                counted = True
            applicable = self._applicable(typed, happened)
            if applicable:  # the history takes up the live row, so the line says what it was
                self._sync_history(typed)
            else:
                self._name_history(typed)
            lines.extend(self._history_lines(typed, happened, recovered))
            changes = service.store.apply(typed) if applicable else []
            self.counters["applied" if changes else "old"] += 1
            for change in changes:  # the boards and the live rules; the line is the history's
                service.publish(ChangeRecord(change, "eventbridge", happened, recovered))
            if changes and isinstance(typed, QueueMembershipChanged):
                service.note_membership(typed)
        if counted and gap is not None:
            self._gap_event(gap)
        elif watched:  # a gap announced later (a socket silently dead) may claim it
            self._recent.append((happened, watched))
            edge = self.wall() - timedelta(seconds=BEFORE_GAP_S)
            while self._recent and self._recent[0][0] < edge:
                self._recent.popleft()

    def _watched(self, event: Event) -> bool:
        watch = self.service.watch
        queue_id = getattr(event, "queue_id", None)
        if queue_id is not None:
            return queue_id in watch.queues
        return getattr(event, "user_id", None) in watch.users

    def _applicable(self, event: Event, happened: datetime) -> bool:
        """Whether ``event`` is newer than the live picture (it must never roll it back).

        Presence and routing carry their own times: compared with the store's. An event without
        a time the store can compare (queue counters, membership, conversations) is newer only
        if it happened after the last re-sync's read, which already holds what came before.
        """
        store = self.service.store
        resynced = self._resynced_at
        if isinstance(event, PresenceChanged | RoutingChanged):
            user = store.users.get(event.user_id)
            known: datetime | None = None
            value: str | None = None
            if isinstance(event, PresenceChanged):
                own = event.modified
                if user is not None:
                    known, value = user.presence_since, user.system_presence
            else:
                own = event.since
                if user is not None:
                    known, value = user.routing_since, user.routing_status
            if known is not None:
                # Later only: two changes in the same millisecond (Idle, then Interacting) carry
                # equal times, and the one held is then the later of them or a re-sync's read.
                return own is not None and own > known
            if value is None:
                return True
            return resynced is None or (own or happened) >= resynced
        return resynced is None or happened >= resynced

    def _history_lines(self, event: Event, happened: datetime, recovered: bool) -> list[FeedEntry]:
        """The feed lines of an event, from the history picture (never the live one)."""
        stale = self.history.ignored_stale
        changes = self.history.apply(event)
        if not changes and self.history.ignored_stale > stale:
            scratch = Store()  # older than the history too (delivered out of order): "? → x"
            scratch.presence_labels = self.history.presence_labels
            changes = scratch.apply(event)
        out: list[FeedEntry] = []
        for change in changes:
            record = ChangeRecord(change, "eventbridge", happened, recovered)
            out.extend(self._feed.change_entries(record))
        return out

    def _sync_history(self, event: Event) -> None:
        """Start the history's row from the live one (the event is newer than both)."""
        live = self.service.store
        queue_id = getattr(event, "queue_id", None)
        if queue_id is not None:
            queue = live.queues.get(queue_id)
            if queue is not None:
                self.history.queues[queue_id] = _own_row(queue)
            return
        user_id = str(getattr(event, "user_id", ""))
        user = live.users.get(user_id)
        if user is not None:
            self.history.users[user_id] = _own_row(user)

    def _name_history(self, event: Event) -> None:
        live = self.service.store
        queue_id = getattr(event, "queue_id", None)
        if queue_id is not None:
            queue, seen = self.history.queue(queue_id), live.queues.get(queue_id)
            if not queue.name and seen is not None and seen.name:
                queue.name = seen.name
            return
        user_id = str(getattr(event, "user_id", ""))
        user, known = self.history.user(user_id), live.users.get(user_id)
        if not user.name and known is not None and known.name:
            user.name = known.name

    # ------------------------------------------------------------------ gaps
    def _on_record(self, record: Record) -> None:
        if not isinstance(record, GapRecord):
            return
        if record.phase == "start":
            self._open_gap(record)
            return
        gap = next((g for g in reversed(self._gaps) if g.started == record.started), None)
        if gap is None:  # a silent gap (a socket that came up late): it starts now
            gap = self._open_gap(record)
        gap.ended = record.ended or self.wall()
        gap.users, gap.queues = record.users_resynced, record.queues_resynced
        self._resynced_at = gap.ended
        self._gap_event(gap)

    def _open_gap(self, record: GapRecord) -> _Gap:
        """A new gap; it claims what EventBridge brought from it before it was noticed."""
        gap = _Gap(record.started, record.reason)
        self._gaps.append(gap)
        del self._gaps[:-KEEP_GAPS]
        for happened, typed_events in self._recent:
            if gap.covers(happened):
                gap.count += 1
                gap.events.extend((happened, typed) for typed in typed_events)
        self._recent.clear()
        return gap

    def _gap_event(self, gap: _Gap) -> None:
        """An event came for ``gap`` (or it ended): its line waits for a quiet spell."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        gap.last_event_at = loop.time()
        if self._quiet is None:
            self._quiet = loop.call_later(self.quiet_s, self._on_quiet)

    def _on_quiet(self) -> None:
        self._quiet = None
        loop = asyncio.get_running_loop()
        waiting = False
        for gap in self._gaps:
            if gap.ended is None or gap.count <= gap.reported:
                continue
            left = gap.last_event_at + self.quiet_s - loop.time()
            if left > 0:
                waiting = True
            else:
                self._report(gap)
        if waiting:
            self._quiet = loop.call_later(self.quiet_s / 2, self._on_quiet)

    def _report(self, gap: _Gap) -> None:
        """The gap's line, and the alerts that began and ended inside it."""
        assert gap.ended is not None
        seconds = (gap.ended - gap.started).total_seconds()
        count, fresh = gap.count, gap.count - gap.reported
        more = " more" if gap.reported else ""
        text = (
            f"Disconnected {clock_text(seconds)}, {fresh}{more} "
            f"event{'s' if fresh != 1 else ''} recovered from EventBridge, "
            f"re-synced {gap.users} users and {gap.queues} queues"
        )
        entries = [
            FeedEntry(
                self.wall(),
                FeedKind.GAP,
                "",
                "Connection",
                text,
                data=GapData("recovered", gap.reason, seconds, gap.users, gap.queues, count),
            )
        ]
        gap.reported = count
        for found in recovered_alerts(self.pipeline.rules, gap.events, names=self._name_of):
            key = (found.alert.rule_id, found.alert.subject_id, found.began)
            if key not in gap.alerts and found.began >= gap.started:
                gap.alerts.add(key)
                entries.append(_alert_line(found))
        self.pipeline.publish_entries(entries)

    def _name_of(self, subject_id: str) -> str:
        store = self.service.store
        user = store.users.get(subject_id)
        if user is not None and user.name:
            return user.name
        queue = store.queues.get(subject_id)
        return queue.name if queue is not None and queue.name else subject_id[:8]


def _own_row(row: _Row) -> _Row:
    """A copy of a store row that shares no container with it (its sets, dicts, lists).

    What the containers hold is immutable (ids, frozen media counters, tuples), so copying
    them is a whole copy: ``deepcopy`` cost a few milliseconds per queue event (hundreds of
    member ids), a tenth of the loop's time at 1,000 events a second (P9).
    """
    clone = copy.copy(row)
    for spec in fields(row):
        value = getattr(row, spec.name)
        if isinstance(value, dict | set | list):
            setattr(clone, spec.name, copy.copy(value))
    return clone


def _alert_line(found: RecoveredAlert) -> FeedEntry:
    """A history-only alert line: it fired and resolved while the app was disconnected."""
    alert = found.alert
    began, ended = found.began.astimezone(), found.ended.astimezone()
    span = f"{began:%H:%M:%S}-{ended:%H:%M:%S}"
    return FeedEntry(
        found.began,
        FeedKind.ALERT,
        alert.subject_id,
        alert.subject_name,
        f"{alert.rule_name} fired: {alert.summary} (recovered: {span}, while disconnected)",
        severity="info",
        data=AlertData(alert.id, alert.rule_id, "recovered", str(alert.severity), alert.value),
    )
