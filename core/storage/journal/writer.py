"""The journal's writer thread: the queue of entries, batched commits, retention.

One dedicated writer thread owns the write connection (WAL, ``synchronous=NORMAL``).
:meth:`JournalWriter.append` only puts the entry on a queue, so the event loop never waits for
the disk; the writer commits a batch every ``flush_interval_s`` (or as soon as ``max_batch``
entries are waiting) in one transaction, and deletes entries older than the retention. The
writer also opens (:mod:`core.storage.journal.recovery`) and closes the read connection, so reads
run in worker threads beside it: WAL lets them proceed while a batch is being written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from core.feed.entry import FeedEntry
from core.storage.journal.errors import JournalError
from core.storage.journal.reader import JournalReader
from core.storage.journal.recovery import StorageOpener
from core.storage.journal.rows import Row, batch_json, to_epoch, to_row
from core.storage.journal.schema import BATCH_INSERT_OK, INSERT, INSERT_BATCH, PRUNE, transaction

logger = logging.getLogger(__name__)

RETENTION_INTERVAL_S: Final = 3600.0  # measured on the injected clock
IDLE_WAKE_S: Final = 60.0  # an idle writer still wakes this often to look at the retention clock
RETRY_AFTER_FAILURE_S: Final = 5.0
PRUNE_CHUNK_ROWS: Final = 10_000

WriteJob = Callable[[sqlite3.Connection], None]
"""A write beside the entries (the last known picture): in the writer thread, one transaction."""


@dataclass(frozen=True, slots=True)
class JournalStats:
    """Counters of the writer, read as one consistent snapshot."""

    appended: int  # entries accepted by append()
    written: int  # entries committed to the database
    batches: int  # transactions that committed entries
    last_flush_ms: float  # how long the last committed batch took
    pending: int  # entries waiting for the writer
    dropped: int  # entries given up on (each one logged): poison values, overflow, failed close
    write_thread_ids: frozenset[int]  # threading.get_ident() of every thread that wrote a batch


@dataclass(slots=True)
class _Waiter:
    target: int  # appended count when flush() was called
    future: asyncio.Future[None]


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def _settle_threadsafe(future: asyncio.Future[None], error: BaseException | None) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting any more
        future.get_loop().call_soon_threadsafe(_settle, future, error)


class JournalWriter:
    """The writer thread of a :class:`~core.storage.journal.journal.Journal` and its connections.

    Everything under the condition's lock is shared between the event loop and the thread; the
    connections belong to the thread once it runs (reads take the read connection's lock).
    """

    def __init__(
        self,
        path: Path,
        *,
        retention_days: float,
        flush_interval_s: float,
        max_batch: int,
        max_pending: int,
        busy_timeout_s: float,
        full_text: bool,
        clock: Callable[[], datetime],
        reader: JournalReader,
    ) -> None:
        """Check the settings; :meth:`start` starts the thread, which opens the file."""
        if retention_days < 0:
            raise ValueError("retention_days must be >= 0 (0 keeps everything)")
        if flush_interval_s <= 0 or max_batch < 1 or busy_timeout_s < 0:
            raise ValueError("flush_interval_s and max_batch must be positive")
        if max_pending < max_batch:
            raise ValueError("max_pending must be at least max_batch")
        self._path = path
        self._retention_days = float(retention_days)
        self._flush_interval_s = flush_interval_s
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._busy_timeout_s = busy_timeout_s
        self._want_full_text = full_text
        self._clock = clock

        # Everything below the condition's lock is shared between the loop and the writer.
        self._cond = threading.Condition()
        self._pending: deque[FeedEntry] = deque()
        self._first_pending_at: float | None = None
        self._waiters: list[_Waiter] = []
        self._jobs: list[WriteJob] = []
        self._prune_requested = False
        self._stopping = False
        self._closed = False
        self._appended = 0
        self._written = 0
        self._batches = 0
        self._dropped = 0
        self._dropped_logged = 0
        self._last_flush_ms = 0.0
        self._write_threads: set[int] = set()
        self._retry_at = 0.0
        self._idle_wake_at = 0.0

        # Owned by the writer thread once it runs.
        self._write_conn: sqlite3.Connection | None = None
        self._write_lock = threading.Lock()
        self._last_prune = clock()
        self._in_memory = False
        self._full_text = False
        self._problem: str | None = None
        self._write_error: str | None = None

        self._reader = reader  # opened and closed by the writer thread

        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Start the thread and wait until it opened the file (or fell back to memory)."""
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._thread = threading.Thread(
            target=self._writer_main, args=(opened,), name="journal-writer", daemon=True
        )
        self._thread.start()
        try:
            await opened
        except BaseException:
            with self._cond:  # cancelled (or a bug): let the thread finish and go
                self._closed = self._stopping = True
                self._cond.notify()
            raise

    async def stop(self) -> None:
        """Commit what is pending, then end the thread (which closes both connections)."""
        with self._cond:
            self._closed = self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    # ------------------------------------------------------------------------ properties
    @property
    def problem(self) -> str | None:
        """What went wrong at open, for the person; None when the file opened cleanly."""
        return self._problem

    @property
    def write_error(self) -> str | None:
        """Why entries are not being saved right now (they are kept and retried), or None."""
        return self._write_error

    @property
    def in_memory(self) -> bool:
        """True when nothing is saved on disk this session."""
        return self._in_memory

    @property
    def full_text(self) -> bool:
        """True when the FTS5 trigram index is maintained (False: search uses LIKE)."""
        return self._full_text

    @property
    def retention_days(self) -> float:
        """Entries older than this many days are deleted (0: kept forever)."""
        return self._retention_days

    @property
    def closed(self) -> bool:
        """True once :meth:`stop` was called (or :meth:`start` failed)."""
        return self._closed

    @property
    def thread_id(self) -> int | None:
        """``threading.get_ident()`` of the writer thread."""
        return self._thread.ident if self._thread is not None else None

    @property
    def stats(self) -> JournalStats:
        """A snapshot of the writer's counters."""
        with self._cond:
            return JournalStats(
                appended=self._appended,
                written=self._written,
                batches=self._batches,
                last_flush_ms=self._last_flush_ms,
                pending=len(self._pending),
                dropped=self._dropped,
                write_thread_ids=frozenset(self._write_threads),
            )

    # ---------------------------------------------------------------------------- writing
    def append(self, entry: FeedEntry) -> None:
        """Queue one entry for the writer. Never touches the disk; safe from any thread.

        Raises:
            JournalError: the journal is closed.
        """
        with self._cond:
            if self._closed:
                raise JournalError("The journal is closed; the entry was not recorded.")
            pending = self._pending
            if self._write_error is not None and len(pending) >= self._max_pending:
                pending.popleft()  # writes are failing: bound the memory, oldest go first
                self._dropped += 1
            pending.append(entry)
            self._appended += 1
            size = len(pending)
            if size == 1:
                self._first_pending_at = time.monotonic()
                self._cond.notify()
            elif size == self._max_batch:
                self._cond.notify()

    async def flush(self) -> None:
        """Wait until every entry appended so far is committed (and pending upkeep is done).

        Raises:
            JournalError: the entries could not be written (they stay queued and are retried).
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._cond:
            if self._stopping:
                return
            self._waiters.append(_Waiter(self._appended, future))
            self._cond.notify()
        await future

    def submit(self, job: WriteJob) -> None:
        """Run ``job`` in the writer thread soon, in a transaction of its own (never on the loop).

        Raises:
            JournalError: the journal is closed.
        """
        with self._cond:
            if self._closed:
                raise JournalError("The journal is closed; the write was not done.")
            self._jobs.append(job)
            self._cond.notify()

    def set_retention(self, days: float) -> None:
        """Keep entries for ``days`` from now on (0: forever); old ones go at the next cycle."""
        if days < 0:
            raise ValueError("retention days must be >= 0 (0 keeps everything)")
        self._retention_days = float(days)
        with self._cond:
            self._prune_requested = True
            self._cond.notify()

    # ------------------------------------------------------------------------ the writer
    def _writer_main(self, opened: asyncio.Future[None]) -> None:
        try:
            self._open_storage()
        except BaseException as exc:  # a bug: file faults are all handled inside
            logger.exception("journal: the writer could not start")
            self._finish_writer()
            _settle_threadsafe(opened, exc)
            return
        _settle_threadsafe(opened, None)
        try:
            self._write_loop()
        except BaseException:  # pragma: no cover - a bug; keep the thread's death visible
            logger.exception("journal: the writer stopped unexpectedly")
            raise
        finally:
            self._finish_writer()

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                self._wait_for_work()
                count = min(len(self._pending), self._max_batch)
                batch = [self._pending.popleft() for _ in range(count)]
                self._first_pending_at = time.monotonic() if self._pending else None
                waiters, self._waiters = self._waiters, []
                jobs, self._jobs = self._jobs, []
                prune, self._prune_requested = self._prune_requested, False
                stopping = self._stopping
            error: JournalError | None = None
            try:
                if batch:
                    error = self._write(batch)
                self._run_jobs(jobs)
                if prune or self._prune_due():
                    self._prune()
            except Exception as exc:  # a bug: keep the entries' fate visible, keep running
                logger.exception("journal: writer cycle failed")
                error = JournalError(f"The journal writer failed ({exc}).")
            self._log_drops()
            self._settle(waiters, error)
            self._idle_wake_at = time.monotonic() + IDLE_WAKE_S
            if stopping:
                with self._cond:
                    left = len(self._pending)
                    if left and error is None:
                        continue  # write the rest before stopping
                    self._dropped += left
                    self._pending.clear()
                    rest, self._waiters = self._waiters, []
                if left:
                    logger.error(
                        "journal: %d entries could not be saved before closing (%s)", left, error
                    )
                self._settle(rest, JournalError("The journal was closed."))
                return

    def _wait_for_work(self) -> None:
        """Block (lock held) until there is something to do; see the module docstring."""
        while True:
            now = time.monotonic()
            if self._stopping or self._waiters or self._prune_requested or self._jobs:
                return
            if self._pending:
                due = self._retry_at
                if len(self._pending) < self._max_batch:
                    started = self._first_pending_at if self._first_pending_at else now
                    due = max(due, started + self._flush_interval_s)
            else:
                due = self._idle_wake_at
            if due <= now:
                return
            self._cond.wait(due - now)

    def _write(self, batch: list[FeedEntry]) -> JournalError | None:
        kept: list[FeedEntry] = []
        rows: list[Row] = []
        for entry in batch:
            try:
                rows.append(to_row(entry))
            except Exception:  # not a FeedEntry, a broken datetime, ...: never block the rest
                logger.exception("journal: an entry could not be stored and was skipped")
                with self._cond:
                    self._dropped += 1
                continue
            kept.append(entry)
        if not rows:
            return None
        conn = self._write_conn
        assert conn is not None
        started = time.perf_counter()
        try:
            with self._write_lock, transaction(conn):
                payload = batch_json(rows) if BATCH_INSERT_OK and len(rows) > 1 else None
                if payload is not None:
                    conn.execute(INSERT_BATCH, (payload,))
                else:
                    conn.executemany(INSERT, rows)
        except sqlite3.Error as exc:
            with self._cond:  # keep them, oldest first, and try again later
                self._pending.extendleft(reversed(kept))
                while len(self._pending) > self._max_pending:
                    self._pending.popleft()
                    self._dropped += 1
                now = time.monotonic()
                self._first_pending_at = self._first_pending_at or now
                self._retry_at = now + RETRY_AFTER_FAILURE_S
            message = (
                f"Journal entries could not be saved to {self._path} ({exc}); "
                "they are kept and retried."
            )
            if self._write_error is None:
                logger.warning("%s", message)
            self._write_error = message
            return JournalError(message)
        elapsed_ms = (time.perf_counter() - started) * 1000
        with self._cond:
            self._written += len(rows)
            self._batches += 1
            self._last_flush_ms = elapsed_ms
            self._write_threads.add(threading.get_ident())
            self._retry_at = 0.0
        if self._write_error is not None:
            logger.warning("journal: entries are being saved again")
            self._write_error = None
        return None

    def _run_jobs(self, jobs: list[WriteJob]) -> None:
        conn = self._write_conn
        for job in jobs:
            assert conn is not None  # the thread holds it from open to finish
            try:
                with self._write_lock, transaction(conn):
                    job(conn)
            except sqlite3.Error as exc:  # the entries go on; the job's owner tries again later
                logger.warning("journal: a write beside the entries failed (%s)", exc)

    def _settle(self, waiters: list[_Waiter], error: JournalError | None) -> None:
        keep: list[_Waiter] = []
        with self._cond:
            done = self._written + self._dropped
        for waiter in waiters:
            if waiter.target <= done:
                _settle_threadsafe(waiter.future, None)
            elif error is not None:
                _settle_threadsafe(waiter.future, error)
            else:
                keep.append(waiter)  # more batches to go: next cycle
        if keep:
            with self._cond:
                self._waiters[:0] = keep

    def _log_drops(self) -> None:
        with self._cond:
            dropped, self._dropped_logged = self._dropped - self._dropped_logged, self._dropped
        if dropped > 0:
            logger.warning(
                "journal: %d entries were given up (%s)",
                dropped,
                self._write_error or "they could not be stored",
            )

    def _prune_due(self) -> bool:
        return abs((self._clock() - self._last_prune).total_seconds()) >= RETENTION_INTERVAL_S

    def _prune(self) -> int:
        """Delete entries older than the retention (in chunks, so batches are not held up)."""
        self._last_prune = self._clock()
        days = self._retention_days
        conn = self._write_conn
        if days <= 0 or conn is None:
            return 0
        cutoff = to_epoch(self._last_prune - timedelta(days=days))
        removed = 0
        try:
            while True:
                with self._write_lock, transaction(conn):
                    deleted = conn.execute(PRUNE, (cutoff, PRUNE_CHUNK_ROWS)).rowcount
                removed += deleted
                if deleted < PRUNE_CHUNK_ROWS:
                    break
        except sqlite3.Error as exc:
            logger.warning("journal: old entries could not be removed (%s); trying later", exc)
        if removed:
            logger.info("journal: removed %d entries older than %g days", removed, days)
        return removed

    def _finish_writer(self) -> None:
        """Close both connections (the reader once no read is running)."""
        conn, self._write_conn = self._write_conn, None
        if conn is not None:
            with self._write_lock:
                if not self._in_memory:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("PRAGMA optimize")
                conn.close()
        self._reader.close(conn)  # in memory it shares the write lock: taken one after the other

    # ---------------------------------------------------------------------- opening files
    def _open_storage(self) -> None:
        """Open the file, or recover from a fault; set up the read connection; prune."""
        opened = StorageOpener(
            self._path,
            busy_timeout_s=self._busy_timeout_s,
            want_full_text=self._want_full_text,
            clock=self._clock,
        ).open()
        conn = opened.conn
        self._write_conn = conn
        self._in_memory, self._full_text = opened.in_memory, opened.full_text
        self._problem = opened.problem
        self._reader.open(conn, self._write_lock, in_memory=self._in_memory)
        self._prune()
        logger.info(
            "journal: %s (full-text search %s)",
            "in memory" if self._in_memory else f"open at {self._path}",
            "on" if self._full_text else "off: LIKE",
        )
