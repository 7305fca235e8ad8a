"""The journal: every feed entry kept in SQLite, for search, paging backwards and export.

:class:`Journal` is the one object the app holds. Appends go to its writer thread
(:mod:`core.storage.journal.writer`), so the event loop never waits for the disk; searches and
exports run in worker threads (:mod:`core.storage.journal.query`,
:mod:`core.storage.journal.export`). Faults never stop the app and never lose anything silently:
a file that cannot be used is moved aside, or the journal lives in memory for the session
(:mod:`core.storage.journal.recovery`), and :attr:`Journal.problem` says so in words.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final

import platformdirs

from core.feed.entry import FeedEntry
from core.storage.journal.errors import JournalError
from core.storage.journal.export import ExportFormat, run_export
from core.storage.journal.query import build_filter, count_sql, search_page
from core.storage.journal.reader import JournalReader
from core.storage.journal.rows import Row, to_epoch
from core.storage.journal.writer import JournalStats, JournalWriter, WriteJob

APP_DIR_NAME: Final = "genesys-tray"
JOURNAL_FILE_NAME: Final = "journal.sqlite3"

DEFAULT_RETENTION_DAYS: Final = 30.0
DEFAULT_FLUSH_INTERVAL_S: Final = 0.5
DEFAULT_MAX_BATCH: Final = 5000
DEFAULT_MAX_PENDING: Final = 100_000
DEFAULT_BUSY_TIMEOUT_S: Final = 3.0


def default_journal_path() -> Path:
    """Where the journal lives: the per-user data folder of the app."""
    return Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False)) / JOURNAL_FILE_NAME


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Journal:
    """The SQLite event history. Create it with :meth:`open`; finish with :meth:`close`."""

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
    ) -> None:
        """Use :meth:`open`, which also starts the writer and opens the file."""
        self._path = path
        self._reader = JournalReader(path, busy_timeout_s=busy_timeout_s)
        self._writer = JournalWriter(
            path,
            retention_days=retention_days,
            flush_interval_s=flush_interval_s,
            max_batch=max_batch,
            max_pending=max_pending,
            busy_timeout_s=busy_timeout_s,
            full_text=full_text,
            clock=clock,
            reader=self._reader,
        )
        self._close_task: asyncio.Future[None] | None = None

    # ------------------------------------------------------------------------- lifecycle
    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
        max_batch: int = DEFAULT_MAX_BATCH,
        clock: Callable[[], datetime] = _utc_now,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        full_text: bool = True,
        max_pending: int = DEFAULT_MAX_PENDING,
    ) -> Journal:
        """Open (or create) the journal at ``path`` and start its writer thread.

        Opening never fails because of the file: a broken or locked one is moved aside and a
        fresh journal started, or the journal falls back to memory; :attr:`problem` says which.

        Args:
            path: the SQLite file (its folder is created when missing).
            retention_days: entries older than this are deleted at open and then hourly;
                0 keeps everything.
            flush_interval_s: the longest an appended entry waits before it is committed.
            max_batch: most entries per transaction; reaching it flushes at once.
            clock: the wall clock for retention and the names of moved-aside files.
            busy_timeout_s: how long to wait for another program's lock before giving up.
            full_text: use FTS5 (trigram) when the SQLite build has it; False forces LIKE.
            max_pending: entries kept in memory while writes fail; beyond, the oldest go
                (counted in :attr:`stats` and logged). A healthy writer is never capped.
        """
        journal = cls(
            Path(path),
            retention_days=retention_days,
            flush_interval_s=flush_interval_s,
            max_batch=max_batch,
            max_pending=max_pending,
            busy_timeout_s=busy_timeout_s,
            full_text=full_text,
            clock=clock,
        )
        await journal._writer.start()
        return journal

    async def close(self) -> None:
        """Commit what is pending, stop the writer, close the connections. Idempotent."""
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._writer.stop())
        await asyncio.shield(self._close_task)

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------------ properties
    @property
    def path(self) -> Path:
        """The journal file (even when the journal fell back to memory)."""
        return self._path

    @property
    def problem(self) -> str | None:
        """What went wrong at open, for the person; None when the file opened cleanly."""
        return self._writer.problem

    @property
    def write_error(self) -> str | None:
        """Why entries are not being saved right now (they are kept and retried), or None."""
        return self._writer.write_error

    @property
    def in_memory(self) -> bool:
        """True when nothing is saved on disk this session."""
        return self._writer.in_memory

    @property
    def full_text(self) -> bool:
        """True when search uses the FTS5 trigram index (False: LIKE scans)."""
        return self._writer.full_text

    @property
    def retention_days(self) -> float:
        """Entries older than this many days are deleted (0: kept forever)."""
        return self._writer.retention_days

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._writer.closed

    @property
    def writer_thread_id(self) -> int | None:
        """``threading.get_ident()`` of the writer thread."""
        return self._writer.thread_id

    @property
    def stats(self) -> JournalStats:
        """A snapshot of the writer's counters."""
        return self._writer.stats

    # ---------------------------------------------------------------------------- writing
    def append(self, entry: FeedEntry) -> None:
        """Queue one entry for the writer. Never touches the disk; safe from any thread.

        Raises:
            JournalError: the journal is closed.
        """
        self._writer.append(entry)

    async def flush(self) -> None:
        """Wait until every entry appended so far is committed (and pending upkeep is done).

        Raises:
            JournalError: the entries could not be written (they stay queued and are retried).
        """
        await self._writer.flush()

    def submit(self, job: WriteJob) -> None:
        """Run ``job(connection)`` in the writer thread, in its own transaction (see the writer).

        Raises:
            JournalError: the journal is closed.
        """
        self._writer.submit(job)

    async def select(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Run one SELECT on the read connection in a worker thread (never on the loop).

        Raises:
            JournalError: the journal is closed, or SQLite failed.
        """
        return await asyncio.to_thread(self._reader.read, sql, params)

    def set_retention(self, days: float) -> None:
        """Keep entries for ``days`` from now on (0: forever); old ones go at the next cycle."""
        self._writer.set_retention(days)

    # ---------------------------------------------------------------------------- reading
    async def search(
        self,
        text: str = "",
        kinds: Collection[str] = (),
        before: datetime | None = None,
        limit: int = 200,
    ) -> list[FeedEntry]:
        """Entries matching ``text`` and ``kinds`` older than ``before``, newest first.

        Every whitespace-separated term of ``text`` must occur (case-insensitively) in the
        subject or the summary. A page is ``limit`` entries, but never ends inside a group of
        entries with the same timestamp (it is extended to the whole group), so passing the
        oldest entry's ``at`` as the next ``before`` pages backwards without gaps or repeats.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        clauses, params = build_filter(text, kinds, before, full_text=self._writer.full_text)
        return await asyncio.to_thread(search_page, self._reader.read, clauses, params, limit)

    async def count(
        self,
        text: str = "",
        kinds: Collection[str] = (),
        before: datetime | None = None,
    ) -> int:
        """How many committed entries :meth:`search` would find without a limit."""
        clauses, params = build_filter(text, kinds, before, full_text=self._writer.full_text)
        rows = await asyncio.to_thread(self._reader.read, count_sql(clauses), params)
        return int(rows[0][0])

    # ----------------------------------------------------------------------------- export
    async def export(
        self,
        path: str | os.PathLike[str],
        start: datetime | None,
        end: datetime | None,
        fmt: ExportFormat,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Write the entries with ``start <= at < end`` to ``path``, oldest first.

        Rows are streamed in chunks of
        :data:`~core.storage.journal.export.EXPORT_CHUNK_ROWS` into a temporary file beside
        ``path`` that is renamed into place at the end. ``progress(done, total)`` is called on
        the event loop after every chunk, ending with ``(total, total)``. Cancelling the
        awaiting task stops the export at the next chunk and removes the partial file (a cancel
        that arrives after the final progress call leaves the finished file).

        Args:
            path: the file to write (replaced atomically when it exists).
            start: earliest ``at`` included (None: from the beginning).
            end: ``at`` from which entries are excluded (None: up to now).
            fmt: ``"csv"`` (header row, ``data`` as JSON text) or ``"jsonl"`` (one object per
                line); both carry :data:`~core.storage.journal.export.EXPORT_COLUMNS` with
                ``at`` as ISO-8601 ``Z``.
            progress: optional ``(done, total)`` callback.

        Returns:
            The number of entries written.

        Raises:
            JournalError: the file could not be written or the journal could not be read.
        """
        if fmt not in ("csv", "jsonl"):
            raise ValueError(f"unknown export format {fmt!r} (csv or jsonl)")
        if self._writer.closed:
            raise JournalError("The journal is closed.")
        with contextlib.suppress(JournalError):  # export what is committed even so
            await self.flush()
        return await run_export(
            Path(path),
            low=to_epoch(start) if start is not None else -math.inf,
            high=to_epoch(end) if end is not None else math.inf,
            fmt=fmt,
            progress=progress,
            open_reader=self._reader.export_reader,
        )
