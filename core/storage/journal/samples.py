"""Queue samples in the journal, so the intraday charts survive a restart.

What the journal already holds: every change of a queue's waiting count, as a feed entry of
kind ``queue`` with ``{"waiting": n}`` in its data. What it did not hold: the service level,
which is a figure of the day, not a change. So the GUI's sampler also writes one row per queue
a minute into a ``queue_samples`` table (made on first use, like the picture's, so the schema
version stays 1), pruned to :data:`KEEP_S`.

:func:`load_samples` reads both back in a worker thread and merges them per queue: the waiting
changes from the feed (exact moments, and present in journals older than this table) and the
periodic rows (the service level, and proof the app was watching through a quiet stretch).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Final, Protocol

from core.state.intraday import QueueSample
from core.storage.journal.errors import JournalError
from core.storage.journal.rows import Row, to_epoch

logger = logging.getLogger(__name__)

KEEP_S: Final = 2 * 86_400.0  # today, whatever the time zone, and yesterday's evening
RECORD_INTERVAL_S: Final = 60.0

SAMPLES_TABLE: Final = """CREATE TABLE IF NOT EXISTS queue_samples (
        queue_id TEXT NOT NULL,
        at REAL NOT NULL,
        waiting INTEGER,
        service_level REAL,
        PRIMARY KEY (queue_id, at)
    )"""
SAMPLES_INSERT: Final = (
    "INSERT OR REPLACE INTO queue_samples (queue_id, at, waiting, service_level) "
    "VALUES (?, ?, ?, ?)"
)
SAMPLES_PRUNE: Final = "DELETE FROM queue_samples WHERE at < ?"
SAMPLES_EXISTS: Final = (
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'queue_samples'"
)
_SELECT_SAMPLES: Final = (
    "SELECT queue_id, at, waiting, service_level FROM queue_samples "
    "WHERE at >= ? AND queue_id IN ({marks}) ORDER BY at"
)
# The feed's waiting changes since ``since``, and each queue's last one before it (so the line
# starts at the window's left edge with the value it had then). SQLite returns the bare
# columns of the row holding max(at).
_SELECT_CHANGES: Final = (
    "SELECT subject_id, at, json_extract(data, '$.waiting') FROM entries "
    "WHERE kind = 'queue' AND at >= ? AND subject_id IN ({marks}) "
    "AND json_extract(data, '$.waiting') IS NOT NULL ORDER BY at"
)
_SELECT_BEFORE: Final = (
    "SELECT subject_id, max(at), json_extract(data, '$.waiting') FROM entries "
    "WHERE kind = 'queue' AND at < ? AND at >= ? AND subject_id IN ({marks}) "
    "AND json_extract(data, '$.waiting') IS NOT NULL GROUP BY subject_id"
)


class SamplesJournal(Protocol):
    """The two doors of the journal the samples need (a Journal has both)."""

    def submit(self, job: Callable[[sqlite3.Connection], None]) -> None: ...

    async def select(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...


def record_samples(
    journal: SamplesJournal,
    samples: Mapping[str, QueueSample],
    *,
    now: datetime,
    keep_s: float = KEEP_S,
) -> bool:
    """Hand one sample per queue to the journal's writer thread; False when it is closed.

    Rows older than ``keep_s`` go in the same transaction: the table stays a couple of days.
    """
    rows = [
        (queue_id, s.at, s.waiting, s.service_level)
        for queue_id, s in samples.items()
        if s.waiting is not None or s.service_level is not None
    ]
    cutoff = to_epoch(now) - keep_s

    def write(conn: sqlite3.Connection) -> None:
        conn.execute(SAMPLES_TABLE)  # older journals have no such table
        conn.executemany(SAMPLES_INSERT, rows)
        conn.execute(SAMPLES_PRUNE, (cutoff,))

    try:
        journal.submit(write)
    except JournalError as exc:
        logger.info("queue samples not saved (%s)", exc)
        return False
    return True


def _count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def _fraction(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0.0 <= value <= 1.0 else None


async def load_samples(
    journal: SamplesJournal,
    queue_ids: Iterable[str],
    since: datetime,
    *,
    lookback_s: float = KEEP_S,
) -> dict[str, list[QueueSample]]:
    """Each queue's samples from ``since`` on, oldest first, read in a worker thread.

    The last waiting change before ``since`` (within ``lookback_s``) is included, at its own
    moment, so the chart knows the value its window starts with. A journal that cannot be
    read gives what was read so far (the charts then start from live samples).
    """
    ids = list(dict.fromkeys(queue_ids))
    found: dict[str, list[QueueSample]] = {queue_id: [] for queue_id in ids}
    if not ids:
        return found
    marks = ", ".join("?" * len(ids))
    start = to_epoch(since)
    try:
        before = await journal.select(
            _SELECT_BEFORE.format(marks=marks), (start, start - lookback_s, *ids)
        )
        changes = await journal.select(_SELECT_CHANGES.format(marks=marks), (start, *ids))
        for queue_id, at, waiting in (*before, *changes):
            count = _count(waiting)
            if queue_id in found and count is not None:
                found[queue_id].append(QueueSample(float(at), count, None))
        if (await journal.select(SAMPLES_EXISTS))[0][0]:
            rows = await journal.select(_SELECT_SAMPLES.format(marks=marks), (start, *ids))
            for queue_id, at, waiting, level in rows:
                if queue_id in found:
                    found[queue_id].append(
                        QueueSample(float(at), _count(waiting), _fraction(level))
                    )
    except JournalError as exc:
        logger.warning("queue history could not be read from the journal (%s)", exc)
    for series in found.values():
        series.sort(key=lambda s: s.at)
    return found
