"""The one Qt-free pipeline: engine records → feed entries → journal → alert rules → changes out.

The app and ``listen`` run the same one, so both journal the same rows and fire the same alerts.
It is a service listener (:meth:`Pipeline.on_record`) and a small publisher: record, entry and
alert listeners subscribe to it (the GUI's bridge; ``listen``'s JSON lines writer).

The socket's hot path is no longer than it was in the bridge: an event record is counted and
handed on untouched (only to the listeners that asked for events), a store change builds its feed
entries and appends them to the journal's queue (its writer thread commits them in batches), and
the rules run at most once per batch interval after store changes (and once a second for their
timers), on the asyncio loop's timers, never per record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Final, TypeVar

from core.alerts.engine import RuleEngine
from core.alerts.model import Alert, AlertChange, ChangeKind, Rule
from core.alerts.words import resolved_summary
from core.engine.records import (
    ChangeRecord,
    EngineState,
    EventRecord,
    GapRecord,
    Record,
    StateRecord,
)
from core.feed.builder import FeedBuilder, alert_entry
from core.feed.entry import FeedEntry
from core.state.store import Store
from core.storage.journal.picture import PictureKeeper

logger = logging.getLogger(__name__)

BATCH_S: Final = 0.125  # rules run this long after the first store change of a batch
TICK_S: Final = 1.0  # and this often for their timers ("for 10 s", cooldowns)

RecordListener = Callable[[Record], None]
EntryListener = Callable[[list[FeedEntry]], None]
AlertListener = Callable[[list[AlertChange]], None]
JournalSink = Callable[[FeedEntry], None]

T = TypeVar("T")


def _remover(listeners: list[T], listener: T) -> Callable[[], None]:
    def remove() -> None:
        if listener in listeners:
            listeners.remove(listener)

    return remove


class Pipeline:
    """Turns the engine's records into feed entries, journal rows and alert changes.

    Attributes:
        feed: the feed builder (names and presence labels read from the store).
        rule_engine: the rule engine; its alerts are :attr:`active`.
        state: the engine state, as the last state record said.
        events: how many event records went through (the GUI samples it for its events/s).
        evaluations: how many times the rules ran (a cost figure for tests and benchmarks).
    """

    def __init__(
        self,
        store: Store,
        *,
        rules: Iterable[Rule] | RuleEngine = (),
        journal: JournalSink | None = None,
        feed: FeedBuilder | None = None,
        batch_s: float = BATCH_S,
        tick_s: float = TICK_S,
        picture: PictureKeeper | None = None,
    ) -> None:
        self.store = store
        self.feed = feed or FeedBuilder(store)
        self.rule_engine = rules if isinstance(rules, RuleEngine) else RuleEngine(rules)
        self.state = EngineState.STOPPED
        self.evaluations = 0
        self.events = 0
        self._journal = journal
        self._picture = picture  # the journal's last known picture, saved while live
        self._batch_s = batch_s
        self._tick_s = tick_s
        self._record_listeners: list[RecordListener] = []
        self._event_listeners: list[RecordListener] = []
        self._entry_listeners: list[EntryListener] = []
        self._alert_listeners: list[AlertListener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._batch: asyncio.TimerHandle | None = None
        self._tick: asyncio.TimerHandle | None = None
        self._changed: set[str] = set()  # subjects changed since the rules last ran

    # ------------------------------------------------------------------ subscribers
    def add_record_listener(
        self, listener: RecordListener, *, events: bool = True
    ) -> Callable[[], None]:
        """Hand records on to ``listener`` (after their feed entries); returns the remover.

        ``events=False`` leaves the event records out: the bulk of the stream, which a listener
        that only follows changes (the GUI's bridge) need not be called for.
        """
        self._record_listeners.append(listener)
        if events:
            self._event_listeners.append(listener)
        remove_record = _remover(self._record_listeners, listener)
        remove_event = _remover(self._event_listeners, listener)

        def remove() -> None:
            remove_record()
            remove_event()

        return remove

    def add_entry_listener(self, listener: EntryListener) -> Callable[[], None]:
        """Hand new feed entries (already journaled) to ``listener``; returns the remover."""
        self._entry_listeners.append(listener)
        return _remover(self._entry_listeners, listener)

    def add_alert_listener(self, listener: AlertListener) -> Callable[[], None]:
        """Hand alert changes (fired, acknowledged, resolved) to ``listener``; returns a remover."""
        self._alert_listeners.append(listener)
        return _remover(self._alert_listeners, listener)

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        """Run the rules on the running loop's timers from now on (idempotent)."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._tick = self._loop.call_later(self._tick_s, self._on_tick)
        if self._picture is not None:
            self._picture.start()

    def stop(self) -> None:
        """Stop the timers; records are still turned into entries (the engine's last ones)."""
        for handle in (self._batch, self._tick):
            if handle is not None:
                handle.cancel()
        self._batch = self._tick = None
        self._loop = None
        if self._picture is not None:
            self._picture.stop()  # the final save, before the journal closes

    # ------------------------------------------------------------------ from the engine
    def on_record(self, record: Record) -> None:
        """Service listener: entries and journal rows now, the rules after the batch."""
        if type(record) is EventRecord:  # the hot path: nothing to build
            self.events += 1
            for listener in self._event_listeners:
                listener(record)
            return
        entries = self.feed.entries(record)
        if entries:
            self._publish_entries(entries)
        if isinstance(record, StateRecord):
            self.state = record.state
        if self._picture is not None:
            self._picture.on_record(record)
        for listener in self._record_listeners:
            listener(record)
        if isinstance(record, ChangeRecord):
            self._changed.add(record.change.id)
            self._schedule_batch()
        elif isinstance(record, StateRecord) or (
            isinstance(record, GapRecord) and record.phase == "end"
        ):
            self.evaluate()  # the connection changed, or a re-sync restored the store

    def publish_entries(self, entries: list[FeedEntry]) -> None:
        """Journal and hand on entries built beside the records (the EventBridge merge's)."""
        if entries:
            self._publish_entries(entries)

    # ------------------------------------------------------------------ alerts
    @property
    def rules(self) -> list[Rule]:
        """The rules in use, in the order they were given."""
        return self.rule_engine.rules

    @property
    def active(self) -> list[Alert]:
        """Firing and acknowledged alerts, oldest first."""
        return self.rule_engine.active

    def evaluate(self, *, changed_only: bool = False) -> list[AlertChange]:
        """Run the rules over the store now and publish what changed (``changed_only``: the
        batch and tick timers, where the rules look at the changed subjects, see RuleEngine)."""
        if self._batch is not None:
            self._batch.cancel()
            self._batch = None
        self.evaluations += 1
        changed, self._changed = self._changed, set()
        changes = self.rule_engine.evaluate(
            self.store, self.state, changed if changed_only else None
        )
        self._publish_alerts(changes)
        return changes

    def set_rules(self, rules: Iterable[Rule]) -> list[AlertChange]:
        """Use new rules; the alerts of rules removed or edited resolve (and are published)."""
        changes = self.rule_engine.set_rules(rules)
        self._publish_alerts(changes)
        return changes

    def acknowledge(self, alert_id: str) -> AlertChange | None:
        """Mark a firing alert as seen (published); None when it is unknown or already seen."""
        change = self.rule_engine.acknowledge(alert_id)
        if change is not None:
            self._publish_alerts([change])
        return change

    # ------------------------------------------------------------------ inside
    def _schedule_batch(self) -> None:
        if self._batch is None and self._loop is not None:
            self._batch = self._loop.call_later(self._batch_s, self._on_batch)

    def _on_batch(self) -> None:
        self._batch = None
        self.evaluate(changed_only=True)

    def _on_tick(self) -> None:
        if self._loop is None:
            return
        self._tick = self._loop.call_later(self._tick_s, self._on_tick)
        self.evaluate(changed_only=True)

    def _publish_entries(self, entries: list[FeedEntry]) -> None:
        journal = self._journal
        if journal is not None:
            for entry in entries:
                journal(entry)
        for listener in self._entry_listeners:
            listener(entries)

    def _ended(self, change: AlertChange) -> str:
        """A resolution's words: what is true now, never what fired (empty for the others)."""
        if change.kind is not ChangeKind.RESOLVED:
            return ""
        rule = next((r for r in self.rules if r.id == change.alert.rule_id), None)
        return resolved_summary(change.alert, self.store, rule)

    def _publish_alerts(self, changes: list[AlertChange]) -> None:
        if not changes:
            return
        self._publish_entries([alert_entry(change, self._ended(change)) for change in changes])
        for listener in self._alert_listeners:
            try:
                listener(changes)
            except Exception:
                logger.exception("an alert listener failed")
