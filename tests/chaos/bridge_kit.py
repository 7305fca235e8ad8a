"""What the EventBridge chaos run (tests/chaos/bridge.py) measures, and the ledger it counts with.

:class:`Emissions` listens to the engine and remembers, per correlation id, which transport
emitted the event and which typed events it carried: an id emitted by both transports, or the
same typed event twice, is a duplicate. :class:`BridgeReport` holds the per-kind figures and
prints the table kept in ``artifacts/``; :class:`PoisonCount` counts the consumer's reports of
unreadable messages; :func:`told` puts a record in a few words when a check fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from core.engine.records import ChangeRecord, EventRecord, GapRecord, Record
from core.streaming.events import Event
from tests.chaos.report import ChaosReport, percentile


@dataclass
class BridgeStats:
    """Figures of one EventBridge fault kind."""

    injected: int = 0
    survived: int = 0
    lost: int = 0  # published events the engine never emitted
    duplicated: int = 0  # correlation ids emitted twice
    mismatches: int = 0  # checks where the store differed from the truth
    socket_faults: int = 0  # WebSocket drops and stalls during the fault (gaps to fill)
    events: int = 0  # published events checked after the faults of this kind
    went_down: int = 0  # SQS unreachable: outages the consumer saw (it went down)
    unnoticed: int = 0  # outages over before the consumer next asked the queue for messages
    caught_up_s: list[float] = field(default_factory=list)  # fault end -> live, lag low
    max_lag_s: float = 0.0  # the consumer's lag, most seen from the fault's start to its check


@dataclass
class BridgeReport(ChaosReport):
    """The run's figures; :attr:`problems` must be empty."""

    bridge: dict[str, BridgeStats] = field(default_factory=dict)
    published: int = 0
    by_websocket: int = 0
    by_eventbridge: int = 0
    recovered: int = 0
    poison_injected: int = 0
    poison_reported: int = 0
    poison_in_dlq: int = 0
    consumer_duplicates: int = 0  # repeats the consumer dropped (same envelope id or content)
    merge_duplicates: int = 0  # EventBridge copies of events the socket brought first
    socket_duplicates: int = 0  # socket frames EventBridge had brought first
    max_lag_s: float = 0.0
    dead_tasks: int = 0

    @property
    def lost(self) -> int:
        """Published events never emitted, all kinds."""
        return sum(s.lost for s in self.bridge.values())

    @property
    def duplicated(self) -> int:
        """Correlation ids emitted twice, all kinds."""
        return sum(s.duplicated for s in self.bridge.values())

    @property
    def bridge_mismatches(self) -> int:
        """Checks where the store differed from the truth, all kinds."""
        return sum(s.mismatches for s in self.bridge.values())

    def table(self) -> str:
        """One line per fault kind, the totals, then the shared footer."""
        head = (
            f"{'fault':<18}{'injected':>9}{'survived':>9}{'lost':>6}{'dup':>5}{'mismatch':>9}"
            f"{'ws faults':>10}{'caught up p50':>15}{'max':>9}{'max lag':>9}"
        )
        lines = [head, "-" * len(head)]
        for kind, s in self.bridge.items():
            lines.append(
                f"{kind:<18}{s.injected:>9}{s.survived:>9}{s.lost:>6}{s.duplicated:>5}"
                f"{s.mismatches:>9}{s.socket_faults:>10}"
                f"{percentile(s.caught_up_s, 0.5):>13.2f} s"
                f"{max(s.caught_up_s, default=0.0):>7.2f} s"
                f"{s.max_lag_s:>7.1f} s"
            )
        stats = list(self.bridge.values())
        lines.append("-" * len(head))
        every = [v for s in stats for v in s.caught_up_s]
        lines.append(
            f"{'all':<18}{sum(s.injected for s in stats):>9}{sum(s.survived for s in stats):>9}"
            f"{self.lost:>6}{self.duplicated:>5}{self.bridge_mismatches:>9}"
            f"{sum(s.socket_faults for s in stats):>10}"
            f"{percentile(every, 0.5):>13.2f} s{max(every, default=0.0):>7.2f} s"
            f"{self.max_lag_s:>7.1f} s"
        )
        sqs = self.bridge.get("sqs_unreachable", BridgeStats())
        lines += [
            "",
            "caught up: from the end of a fault until every event published before it was"
            " emitted, the queue consumer live and its lag under 3 s",
            f"events published to EventBridge: {self.published}, each emitted exactly once;"
            f" the engine emitted {self.by_websocket} events from the WebSocket (EventBridge's"
            f" topics and others) and {self.by_eventbridge} from EventBridge ({self.recovered}"
            f" recovered from gaps)",
            f"repeats dropped: {self.consumer_duplicates} by the consumer (same envelope),"
            f" {self.merge_duplicates} EventBridge copies of socket events,"
            f" {self.socket_duplicates} socket copies of EventBridge events",
            f"SQS unreachable: the consumer went down in {sqs.went_down} of {sqs.injected}"
            f" outages (the others were over before it next asked the queue for messages)",
            f"poison messages: {self.poison_injected} injected, {self.poison_reported} reported,"
            f" {self.poison_in_dlq} in the dead-letter queue, none deleted;"
            f" dead tasks: {self.dead_tasks}",
        ]
        return "\n".join(lines + self.footer())


class Emissions:
    """Every event the engine emitted, by correlation id and transport (a service listener)."""

    def __init__(self) -> None:
        self.by_id: dict[str, tuple[str, list[Event]]] = {}
        self.duplicated: list[str] = []
        self.sources = {"websocket": 0, "eventbridge": 0}
        self.recovered = 0

    def __call__(self, record: Record) -> None:
        if not isinstance(record, EventRecord) or not record.correlation_id:
            return
        seen = self.by_id.get(record.correlation_id)
        if seen is None:
            self.by_id[record.correlation_id] = (record.source, [record.event])
            self.sources[record.source] += 1
            self.recovered += record.recovered
            return
        source, events = seen
        if source != record.source or record.event in events:
            self.duplicated.append(f"{record.correlation_id} ({source}, then {record.source})")
        else:
            events.append(record.event)  # one frame, several typed events

    def missing(self, wanted: set[str]) -> set[str]:
        """The correlation ids of ``wanted`` not emitted yet."""
        return {cid for cid in wanted if cid not in self.by_id}


class PoisonCount(logging.Handler):
    """Counts the consumer's reports of messages it could not read (one per message)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reported = 0

    def emit(self, record: logging.LogRecord) -> None:
        """One report."""
        if "could not be read" in record.getMessage():
            self.reported += 1


def told(record: Record) -> str:
    """One record in a few words (the diagnosis of a mismatch)."""
    if isinstance(record, EventRecord):
        at = record.happened.strftime("%H:%M:%S.%f") if record.happened else "-"
        return f"{record.source} {record.event} happened {at} rec={record.recovered}"
    if isinstance(record, ChangeRecord):
        return f"change {record.source} {record.change}"
    return type(record).__name__ + (f" {record.phase}" if isinstance(record, GapRecord) else "")
