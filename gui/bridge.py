"""The one door from the engine into Qt: the pipeline's subscriber.

The Qt-free :class:`core.app.pipeline.Pipeline` builds the feed, writes the journal and runs the
rules; it hands this bridge every record, the new feed entries and the alert changes, on the loop
thread (with qasync that is the Qt thread). State changes and alert changes go out at once: the
tray must tell the truth quickly.
Everything else is coalesced and emitted as one batch per tick (125 ms by default, on a precise
timer: a coarse one may fire up to 5 % early), so a storm of thousands of events per second costs
the views at most eight updates per second, safely under the ten a person can follow.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from core.alerts.model import AlertChange
from core.app.pipeline import Pipeline
from core.engine.records import (
    BudgetRecord,
    ChangeRecord,
    GapRecord,
    Record,
    StateRecord,
    WatchRecord,
)
from core.feed.entry import FeedEntry

logger = logging.getLogger(__name__)

CLOCK_TICK_S = 1.0


@dataclass(frozen=True, slots=True)
class LinkHealth:
    """What the status bar shows about the link, polled once a second."""

    channels: int = 0
    topics: int = 0
    last_frame_age_s: float | None = None
    events_per_s: float = 0.0


class EngineBridge(QObject):
    """Qt signals for the engine's records, coalesced per tick.

    Signals:
        state_changed(EngineState, str): the engine state and its detail, emitted immediately.
        users_changed(list[str]): ids of users whose state changed since the last tick.
        queues_changed(list[str]): ids of queues whose state changed since the last tick.
        feed_appended(list[FeedEntry]): new feed entries (alerts' included), oldest first.
        alerts_changed(list[AlertChange]): alerts fired, acknowledged or resolved, at once.
        budget_changed(object): the latest BudgetRecord.
        watch_changed(object): the latest WatchRecord (who and what is watched).
        health_changed(object): a LinkHealth, once a second.
        clock_ticked(): about once a second, right after a tick's batch (for clock-driven
            columns, so their repaint shares the batch's).
    """

    state_changed = Signal(object, str)
    users_changed = Signal(list)
    queues_changed = Signal(list)
    feed_appended = Signal(list)
    budget_changed = Signal(object)
    watch_changed = Signal(object)
    health_changed = Signal(object)
    clock_ticked = Signal()
    alerts_changed = Signal(list)

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        health: Callable[[], LinkHealth] | None = None,
        interval_ms: int = 125,
        parent: QObject | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self._monotonic = monotonic
        self._clock_at = monotonic()
        self.pipeline = pipeline
        self._health = health
        self._users: set[str] = set()
        self._queues: set[str] = set()
        self._entries: list[FeedEntry] = []
        self._budget: BudgetRecord | None = None
        self._watch: WatchRecord | None = None
        # (when, pipeline.events) once a second: the events/s without touching each event
        self._event_samples: deque[tuple[float, int]] = deque([(self._clock_at, pipeline.events)])
        self.batches = 0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_flush)
        self._timer.start()
        self._health_timer = QTimer(self)
        self._health_timer.setInterval(1000)
        self._health_timer.timeout.connect(self._on_timer_health)
        self._health_timer.start()
        pipeline.add_record_listener(self.on_record, events=False)
        pipeline.add_entry_listener(self.on_entries)
        pipeline.add_alert_listener(self.on_alerts)

    def stop(self) -> None:
        """Stop the timers (part of the staged shutdown)."""
        self._timer.stop()
        self._health_timer.stop()

    # ------------------------------------------------------------------ from the pipeline
    def on_record(self, record: Record) -> None:
        """Route one record (cheap; the work happens once per tick). Events never come here."""
        if isinstance(record, ChangeRecord):
            target = self._users if record.change.kind == "user" else self._queues
            target.add(record.change.id)
        elif isinstance(record, StateRecord):
            self.state_changed.emit(record.state, record.detail)
        elif isinstance(record, BudgetRecord):
            self._budget = record
        elif isinstance(record, WatchRecord):
            self._watch = record
        elif isinstance(record, GapRecord):
            self._on_timer_flush()  # a gap marker (its entry came first) should not wait

    def on_entries(self, entries: list[FeedEntry]) -> None:
        """New feed entries: shown with the next tick's batch."""
        self._entries.extend(entries)

    def on_alerts(self, changes: list[AlertChange]) -> None:
        """Alert changes go out at once (the notices and the tray badge must not lag)."""
        self.alerts_changed.emit(changes)

    # ------------------------------------------------------------------ to Qt
    def _on_timer_flush(self) -> None:
        """Emit what accumulated since the last tick, one signal per kind."""
        if self._watch is not None:
            watch, self._watch = self._watch, None
            self.watch_changed.emit(watch)
        if self._budget is not None:
            budget, self._budget = self._budget, None
            self.budget_changed.emit(budget)
        if self._users:
            users, self._users = sorted(self._users), set()
            self.users_changed.emit(users)
        if self._queues:
            queues, self._queues = sorted(self._queues), set()
            self.queues_changed.emit(queues)
        if self._entries:
            entries, self._entries = self._entries, []
            self.feed_appended.emit(entries)
            self.batches += 1
        now = self._monotonic()
        if now - self._clock_at >= CLOCK_TICK_S:
            # Clock-driven repaints (time in state, the sparkline sample) ride on a batch the
            # views repaint for anyway: a separate 1 s timer added an 11th repaint per second
            # whenever it fell between two batches (benchmarks P2).
            self._clock_at = now
            self.clock_ticked.emit()

    def events_per_s(self, window_s: float = 5.0) -> float:
        """Events per second over about the last ``window_s`` seconds (sampled once a second)."""
        now, count = self._monotonic(), self.pipeline.events
        samples = self._event_samples
        samples.append((now, count))
        while len(samples) > 1 and samples[1][0] <= now - window_s:
            samples.popleft()  # the oldest kept sample is the last one at or before the window
        return (count - samples[0][1]) / window_s

    def _on_timer_health(self) -> None:
        base = self._health() if self._health is not None else LinkHealth()
        self.health_changed.emit(
            LinkHealth(base.channels, base.topics, base.last_frame_age_s, self.events_per_s())
        )
