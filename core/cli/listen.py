"""Headless ``listen``: the engine's records as JSON lines, and the final state as a file.

The robust successor of ``gc notifications channels listen``: one JSON object per line on stdout
for each event, store change, gap marker, state change and budget report, and for each alert that
fires, is acknowledged or resolves (from the same pipeline the app runs), so scripts (and our own
acceptance checks) can follow the engine without Qt.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import json
import logging
import queue
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

from core.alerts.model import AlertChange, Rule
from core.alerts.presets import demo_rules
from core.app.pipeline import JournalSink, Pipeline
from core.engine.records import (
    BudgetRecord,
    ChangeRecord,
    EventRecord,
    GapRecord,
    Record,
    StateRecord,
    WatchRecord,
)
from core.engine.service import MonitorService
from core.eventbridge.events import SourceStatus
from core.state.store import Store, queue_snapshot
from core.storage.settings.file import config_path, load_config

logger = logging.getLogger(__name__)

MAX_PENDING: Final = 10_000  # lines waiting for a slow reader; beyond this they are dropped
CLOSE_TIMEOUT_S: Final = 5.0  # at exit, how long to wait for a reader to take what is left

_KIND = {
    StateRecord: "state",
    EventRecord: "event",
    ChangeRecord: "change",
    GapRecord: "gap",
    BudgetRecord: "budget",
    WatchRecord: "watch",
}


def _plain(value: Any) -> Any:
    """JSON-ready form of dataclasses, enums, datetimes, sets and tuples."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        out["type"] = type(value).__name__
        return out
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    return value


def record_to_json(record: Record) -> dict[str, Any]:
    """One record as the JSON object ``listen`` prints."""
    body = _plain(record)
    body.pop("type", None)
    return {"kind": _KIND[type(record)], **body}


def alert_to_json(change: AlertChange) -> dict[str, Any]:
    """One alert change as the JSON object ``listen`` prints: ``change`` says what happened."""
    alert = _plain(change.alert)
    alert.pop("type", None)
    return {"kind": "alert", "change": change.kind.value, "at": _plain(change.at), "alert": alert}


def source_to_json(status: SourceStatus) -> dict[str, Any]:
    """The EventBridge source's status as the JSON object ``listen`` prints (kind ``source``)."""
    return {
        "kind": "source",
        "source": "eventbridge",
        "state": status.state,
        "lag_s": None if status.lag_s is None else round(status.lag_s, 3),
        "backlog": status.backlog,
        "detail": status.detail,
    }


class JsonLinesWriter:
    """A record and alert listener that prints each one as one JSON line, off the event loop.

    A reader that is slow or gone (a full pipe) must not stall the loop, and with it the
    stream's watchdog and the token keeper: lines go into a bounded queue that a writer thread
    drains, writing what has piled up in one go and flushing once per batch. When the queue is
    full a line is dropped whole and counted (with a warning), never cut or reordered.

    Attributes:
        lines: lines accepted for writing.
        dropped: lines dropped because the reader did not keep up.
    """

    def __init__(
        self,
        stream: IO[str],
        *,
        kinds: frozenset[str] | None = None,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.stream = stream
        self.kinds = kinds
        self.lines = 0
        self.dropped = 0
        self._dropping = 0  # drops since the last line that got through (one warning per run)
        self._pending: queue.Queue[str | None] = queue.Queue(max_pending)
        self._thread: threading.Thread | None = None
        self._closed = False

    def __call__(self, record: Record) -> None:
        """Write ``record`` unless its kind is filtered out."""
        self._write(record_to_json(record))

    def write_alerts(self, changes: list[AlertChange]) -> None:
        """Write each alert change (kind ``alert``) unless alerts are filtered out."""
        for change in changes:
            self._write(alert_to_json(change))

    def write_source(self, status: SourceStatus) -> None:
        """Write a status of the EventBridge source (kind ``source``) unless filtered out."""
        self._write(source_to_json(status))

    def _write(self, data: dict[str, Any]) -> None:
        if self.kinds is not None and data["kind"] not in self.kinds:
            return
        if self._closed:
            self.dropped += 1
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name="listen-stdout", daemon=True)
            self._thread.start()
        try:
            self._pending.put_nowait(json.dumps(data, separators=(",", ":")) + "\n")
        except queue.Full:
            self.dropped += 1
            self._dropping += 1
            if self._dropping == 1:
                logger.warning("listen: the output is not being read; dropping lines")
            return
        self.lines += 1
        if self._dropping:
            logger.warning("listen: %d lines dropped while the output was not read", self._dropping)
            self._dropping = 0

    def _drain(self) -> None:
        """The writer thread: write whatever is queued in one go, flush, wait for more."""
        while True:
            line = self._pending.get()
            batch: list[str] = []
            while line is not None:
                batch.append(line)
                try:
                    line = self._pending.get_nowait()
                except queue.Empty:
                    break
            if batch and not self._emit("".join(batch)):
                return
            if line is None:  # close() asked us to end, after everything before it
                return

    def _emit(self, text: str) -> bool:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError) as exc:  # the reader went away or the stream was closed
            logger.warning("listen: cannot write the output any more (%s)", type(exc).__name__)
            self._closed = True
            return False
        return True

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Write what is queued and stop the thread (blocking, up to ``timeout`` seconds)."""
        self._closed = True
        thread, self._thread = self._thread, None
        if thread is None or not thread.is_alive():  # never started, or the output broke
            return
        deadline = time.monotonic() + timeout
        with contextlib.suppress(queue.Full):  # the reader is stuck: the thread cannot end
            self._pending.put(None, timeout=timeout)
            thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            logger.warning("listen: the output was not read; its last lines may be lost")

    async def aclose(self) -> None:
        """:meth:`close` off the loop, for the end of ``listen``."""
        await asyncio.to_thread(self.close)


def state_snapshot(
    store: Store, users: Mapping[str, str], queues: Mapping[str, str]
) -> dict[str, Any]:
    """The ``--state-out`` document for the watched users and queues.

    A queue whose KPIs were read has ``today``: ``offered``, ``answered``, ``abandoned``,
    ``serviceLevel`` (the ``oServiceLevel`` ratio 0..1, null without traffic), ``asa`` and ``aht``
    (seconds), the shape of the sandbox truth's ``today``.
    """
    snap = store.snapshot()
    out: dict[str, Any] = {}
    for qid in queues:
        out[qid] = queue_snapshot(store.queues.get(qid))
        kpis = store.kpis.get(qid)
        if kpis is not None:
            out[qid]["today"] = kpis.today.as_json()
    return {
        "users": {uid: snap["users"][uid] for uid in users if uid in snap["users"]},
        "queues": out,
    }


def write_state(path: Path, document: dict[str, Any]) -> None:
    """Write the state file atomically (a watcher never reads half of it)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)


def listen_rules(demo: bool) -> list[Rule]:
    """The rules ``listen`` runs: the demo org's examples, or the settings file's (blocking)."""
    return demo_rules() if demo else load_config(config_path()).config.rules


def listen_pipeline(
    service: MonitorService,
    writer: JsonLinesWriter,
    *,
    rules: list[Rule],
    journal: JournalSink | None = None,
) -> Pipeline:
    """The app's pipeline over ``service``, printing its records and alert changes."""
    pipeline = Pipeline(service.store, rules=rules, journal=journal)
    service.add_listener(pipeline.on_record)
    pipeline.add_record_listener(writer)
    pipeline.add_alert_listener(writer.write_alerts)
    return pipeline
