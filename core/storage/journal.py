"""The journal: every feed entry kept in SQLite, for search, paging backwards and export.

One dedicated writer thread owns the write connection (WAL, ``synchronous=NORMAL``).
:meth:`Journal.append` only puts the entry on a queue, so the event loop never waits for the
disk; the writer commits a batch every ``flush_interval_s`` (or as soon as ``max_batch`` entries
are waiting) in one transaction. Reads run in worker threads on a separate read connection, so
WAL lets them proceed while a batch is being written.

Faults never stop the app and never lose anything silently. A journal file that is not a
database, fails ``PRAGMA quick_check``, holds someone else's tables, comes from a newer version,
or stays locked by another program beyond the busy timeout is *moved aside* (together with its
``-wal``/``-journal``/``-shm`` companions) to ``<name>.<reason>-YYYYmmdd-HHMMSS`` and a fresh
journal is started; when even that is impossible the journal lives in memory for the session.
Either way :attr:`Journal.problem` says so in words for the person, and it is logged at WARNING.
Moving a *locked* file is safe for its holder: a program with the file open keeps writing to the
same inode (now under the aside name), so its transaction lands there and nothing is lost.

Search is full-text when the SQLite build has FTS5 with the trigram tokenizer (checked at open):
the text is split at whitespace and every term must occur, case-insensitively, as a substring of
the subject or the summary. Without FTS5 the same rule is applied with ``LIKE`` (and a small
Python function for non-ASCII terms), so results do not depend on the build, only speed does.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import json
import logging
import math
import os
import sqlite3
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, TextIO

import orjson
import platformdirs

from core.errors import GenesysTrayError

if (
    TYPE_CHECKING
):  # core.feed.builder imports core.engine.service; import it lazily to stay out of any cycle
    from core.feed.builder import FeedEntry

logger = logging.getLogger(__name__)

APP_DIR_NAME: Final = "genesys-tray"
JOURNAL_FILE_NAME: Final = "journal.sqlite3"
SCHEMA_VERSION: Final = 1

DEFAULT_RETENTION_DAYS: Final = 30.0
DEFAULT_FLUSH_INTERVAL_S: Final = 0.5
DEFAULT_MAX_BATCH: Final = 5000
DEFAULT_MAX_PENDING: Final = 100_000
DEFAULT_BUSY_TIMEOUT_S: Final = 3.0
RETENTION_INTERVAL_S: Final = 3600.0  # measured on the injected clock
IDLE_WAKE_S: Final = 60.0  # an idle writer still wakes this often to look at the retention clock
RETRY_AFTER_FAILURE_S: Final = 5.0
PRUNE_CHUNK_ROWS: Final = 10_000
EXPORT_CHUNK_ROWS: Final = 1000
MIN_FTS_TERM_CHARS: Final = 3  # the trigram index cannot answer shorter terms

EXPORT_COLUMNS: Final = ("at", "kind", "subject_id", "subject", "summary", "severity", "data")
ExportFormat = Literal["csv", "jsonl"]
_FaultKind = Literal["corrupt", "foreign", "locked", "newer", "unavailable"]
_COMPANIONS: Final = ("-wal", "-journal", "-shm")  # moved together with the database file
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"

_COLUMNS = "id, at, kind, subject_id, subject, summary, severity, data"
_INSERT = (
    "INSERT INTO entries (at, kind, subject_id, subject, summary, severity, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# A whole batch in one statement: sqlite3 lets go of the GIL once per step, so executemany
# handed the GIL back and forth with the event loop for every row (benchmarks P1); one step
# over json_each inserts the batch (FTS triggers included) while the loop runs on. Needs the
# ->> operator of SQLite 3.38; older libraries keep executemany.
_INSERT_BATCH = (
    "INSERT INTO entries (at, kind, subject_id, subject, summary, severity, data) "
    "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, "
    "value ->> 6 FROM json_each(?) ORDER BY key"
)
_BATCH_INSERT_OK: Final = sqlite3.sqlite_version_info >= (3, 38, 0)
_PRUNE = "DELETE FROM entries WHERE id IN (SELECT id FROM entries WHERE at < ? LIMIT ?)"
_EXPORT_CHUNK = (
    "SELECT at, kind, subject_id, subject, summary, severity, data, id FROM entries "
    "WHERE at >= ? AND at < ? AND (at > ? OR id > ?) AND id <= ? ORDER BY at, id LIMIT ?"
)
_SCHEMA_V1 = (
    """CREATE TABLE IF NOT EXISTS entries (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        summary TEXT NOT NULL,
        severity TEXT NOT NULL,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS entries_at ON entries (at)",
    "CREATE INDEX IF NOT EXISTS entries_kind_at ON entries (kind, at)",
)
_FTS_TABLE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5("
    "subject, summary, content='entries', content_rowid='id', tokenize='trigram')"
)
_FTS_TRIGGERS = {
    "entries_fts_insert": """CREATE TRIGGER IF NOT EXISTS entries_fts_insert
        AFTER INSERT ON entries BEGIN
            INSERT INTO entries_fts (rowid, subject, summary)
            VALUES (new.id, new.subject, new.summary);
        END""",
    "entries_fts_delete": """CREATE TRIGGER IF NOT EXISTS entries_fts_delete
        AFTER DELETE ON entries BEGIN
            INSERT INTO entries_fts (entries_fts, rowid, subject, summary)
            VALUES ('delete', old.id, old.subject, old.summary);
        END""",
    "entries_fts_update": """CREATE TRIGGER IF NOT EXISTS entries_fts_update
        AFTER UPDATE ON entries BEGIN
            INSERT INTO entries_fts (entries_fts, rowid, subject, summary)
            VALUES ('delete', old.id, old.subject, old.summary);
            INSERT INTO entries_fts (rowid, subject, summary)
            VALUES (new.id, new.subject, new.summary);
        END""",
}

_Row = tuple[Any, ...]
_Reader = Callable[[str, Sequence[object]], list[_Row]]


class JournalError(GenesysTrayError):
    """The journal cannot do what was asked (closed, entries not saved, export failed)."""


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


def default_journal_path() -> Path:
    """Where the journal lives: the per-user data folder of the app."""
    return Path(platformdirs.user_data_dir(APP_DIR_NAME, appauthor=False)) / JOURNAL_FILE_NAME


def _utc_now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------ conversions
def to_epoch(at: datetime) -> float:
    """Epoch seconds of a feed timestamp (a naive datetime is taken to be UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.timestamp()


def from_epoch(value: float) -> datetime:
    """The UTC datetime of stored epoch seconds (exact to the microsecond until 2106)."""
    return datetime.fromtimestamp(value, UTC)


def iso_z(value: float) -> str:
    """ISO-8601 UTC with microseconds and a ``Z``, as written by the export."""
    return from_epoch(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def clean_text(value: object) -> str:
    """Text SQLite can store and index: NUL and lone surrogates become U+FFFD.

    SQLite's tokenizers, LIKE and the FTS query parser stop at NUL, and a lone surrogate cannot be
    encoded as UTF-8 at all; both only ever reach a summary by accident.
    """
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if text.isascii():  # the common case, and much cheaper than the encode below
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text


# As json.dumps(default=str) would: datetimes and dataclasses go through str(), keys may be any.
_ORJSON_OPTIONS: Final = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def data_json(data: object) -> str:
    """The JSON text stored for an entry's ``data`` (never raises).

    orjson first: the writer thread runs this per entry while holding the GIL the event loop
    needs, and orjson takes a fifth of json.dumps' time. It writes NaN and infinities as null
    (strict JSON) and refuses lone surrogates; what it refuses goes the slow way below, which
    keeps them escaped.
    """
    try:
        return orjson.dumps(data, default=str, option=_ORJSON_OPTIONS).decode("utf-8")
    except (TypeError, ValueError):
        pass
    try:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError, RecursionError) as exc:
        logger.warning("journal: entry data is not JSON (%s); storing its repr", exc)
        return json.dumps({"unserializable": repr(data)})
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: escape them, json.loads restores them
        text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), default=str)
    return text


def _row(entry: FeedEntry) -> _Row:
    return (
        to_epoch(entry.at),
        clean_text(entry.kind),
        clean_text(entry.subject_id),
        clean_text(entry.subject),
        clean_text(entry.summary),
        clean_text(entry.severity),
        data_json(entry.data),
    )


def _batch_json(rows: Sequence[_Row]) -> str | None:
    """The rows as one JSON array for ``_INSERT_BATCH``; None when they cannot be (then the
    rows go one by one). Every text was cleaned by ``_row``, so orjson takes them all."""
    try:
        return orjson.dumps(rows).decode("utf-8")
    except (TypeError, ValueError):
        return None


def _entries(rows: Sequence[_Row]) -> list[FeedEntry]:
    from core.feed.builder import FeedEntry  # lazily: see the TYPE_CHECKING import above

    out = []
    for _id, at, kind, subject_id, subject, summary, severity, data in rows:
        try:
            payload = json.loads(data)
        except (TypeError, ValueError):
            payload = {"raw": data}
        if not isinstance(payload, dict):
            payload = {"value": payload}
        out.append(FeedEntry(from_epoch(at), kind, subject_id, subject, summary, severity, payload))
    return out


# ----------------------------------------------------------------------------------- search
def _contains(subject: str | None, summary: str | None, needle: str) -> bool:
    """SQL function for terms the trigram index and LIKE cannot fold (short or non-ASCII)."""
    return needle in (subject or "").casefold() or needle in (summary or "").casefold()


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts_phrase(term: str) -> str:
    """A term as one FTS5 string: whatever it holds (AND, NEAR(, *, :) is literal text."""
    return '"' + term.replace('"', '""') + '"'


def search_terms(text: str) -> list[str]:
    """The terms of a search box: whitespace-separated, each cleaned like stored text."""
    return [clean_text(term) for term in text.split()]


def build_filter(
    text: str,
    kinds: Collection[str],
    before: datetime | None,
    *,
    full_text: bool,
) -> tuple[list[str], list[object]]:
    """SQL conditions (ANDed) and their parameters for a search of the journal."""
    clauses: list[str] = []
    params: list[object] = []
    fts_terms: list[str] = []
    for term in search_terms(text):
        if full_text and len(term) >= MIN_FTS_TERM_CHARS:
            fts_terms.append(term)
        elif term.isascii():  # LIKE folds ASCII case itself, in C
            clauses.append("(subject LIKE ? ESCAPE '\\' OR summary LIKE ? ESCAPE '\\')")
            params += [_like_pattern(term), _like_pattern(term)]
        else:
            clauses.append("journal_contains(subject, summary, ?)")
            params.append(term.casefold())  # casefold has no context rules (final sigma)
    if fts_terms:
        clauses.append("id IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?)")
        params.append(" AND ".join(_fts_phrase(term) for term in fts_terms))
    if isinstance(kinds, str):  # a single kind, not its letters
        kinds = [kinds]
    if kinds:
        kinds = list(kinds)
        clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params += [clean_text(kind) for kind in kinds]
    if before is not None:
        clauses.append("at < ?")
        params.append(to_epoch(before))
    return clauses, params


def _where(clauses: Sequence[str]) -> str:
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


# ------------------------------------------------------------------------------------ faults
class _OpenFaultError(Exception):
    """Why a journal file cannot be used (internal; turned into :attr:`Journal.problem`)."""

    def __init__(self, kind: _FaultKind, reason: str, version: int = 0) -> None:
        super().__init__(reason)
        self.kind: _FaultKind = kind
        self.reason = reason
        self.version = version


def _classify(exc: sqlite3.Error) -> _OpenFaultError:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return _OpenFaultError("locked", str(exc))
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return _OpenFaultError("corrupt", str(exc))
    return _OpenFaultError("unavailable", str(exc))  # CANTOPEN, READONLY, IOERR, FULL, PERM, ...


def _check_header(path: Path) -> None:
    """Refuse a file that is not SQLite before SQLite sees it.

    Probing such a file with SQLite is not harmless: finding a ``-wal`` beside it, SQLite tries
    to use it and deletes it (and the ``-shm``) on close. Checked first, the companions are
    moved aside with the file, untouched. An empty file is a new database, not a broken one.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except OSError:  # missing (a new journal) or unreadable: SQLite says which
        return
    if head and head != _SQLITE_MAGIC:
        raise _OpenFaultError("corrupt", "file is not a database")


def _user_only(path: Path) -> None:
    """Create a new journal file user-only (0600), and close an older one to group and others.

    SQLite gives the ``-wal`` and ``-shm`` files the mode of the database file, so they follow.
    Best effort: whatever fails here, SQLite's own open reports it.
    """
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):
            if companion.is_file() and companion.stat().st_mode & 0o077:
                os.chmod(companion, 0o600)


def _register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function("journal_contains", 3, _contains, deterministic=True)


def _trigram_available(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.journal_probe USING fts5(x, tokenize='trigram')")
    except sqlite3.Error:
        return False
    conn.execute("DROP TABLE temp.journal_probe")
    return True


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error (autocommit connections)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


# ------------------------------------------------------------------------------------ export
class _ExportCancelledError(Exception):
    """The caller went away; the export thread stops at the next chunk."""


class _ExportControl:
    """Lock-step between the export thread and the coroutine that reports its progress.

    The thread waits after every chunk until the coroutine has delivered that chunk's progress
    on the loop; the file is renamed into place only after the final ``(total, total)`` was
    delivered. So a cancellation seen by the coroutine before then always removes the file.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._go = threading.Event()
        self.cancelled = False

    def proceed(self) -> None:
        self._go.set()

    def cancel(self) -> None:
        self.cancelled = True
        self._go.set()

    def wait(self) -> None:
        while not self._go.wait(1.0):
            if self._loop.is_closed():
                self.cancelled = True
                break
        self._go.clear()
        if self.cancelled:
            raise _ExportCancelledError


def _csv_writer(out: TextIO) -> Callable[[Sequence[_Row]], None]:
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)

    def write(rows: Sequence[_Row]) -> None:
        writer.writerows((iso_z(row[0]), *row[1:7]) for row in rows)

    return write


def _jsonl_writer(out: TextIO) -> Callable[[Sequence[_Row]], None]:
    def write(rows: Sequence[_Row]) -> None:
        for at, kind, subject_id, subject, summary, severity, data, _id in rows:
            fields = (iso_z(at), kind, subject_id, subject, summary, severity)
            head = ",".join(
                f"{json.dumps(key)}:{json.dumps(value, ensure_ascii=False)}"
                for key, value in zip(EXPORT_COLUMNS[:6], fields, strict=True)
            )
            out.write(f'{{{head},"data":{data}}}\n')  # data is JSON text we wrote ourselves

    return write


# ----------------------------------------------------------------------------------- journal
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

        # Reads: a separate connection (file mode) or the writer's (in-memory mode).
        self._read_conn: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()

        self._thread: threading.Thread | None = None
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
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        journal._thread = threading.Thread(
            target=journal._writer_main, args=(opened,), name="journal-writer", daemon=True
        )
        journal._thread.start()
        try:
            await opened
        except BaseException:
            with journal._cond:  # cancelled (or a bug): let the thread finish and go
                journal._closed = journal._stopping = True
                journal._cond.notify()
            raise
        return journal

    async def close(self) -> None:
        """Commit what is pending, stop the writer, close the connections. Idempotent."""
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._close())
        await asyncio.shield(self._close_task)

    async def _close(self) -> None:
        with self._cond:
            self._closed = self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)  # the writer closes both connections

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
        """True when search uses the FTS5 trigram index (False: LIKE scans)."""
        return self._full_text

    @property
    def retention_days(self) -> float:
        """Entries older than this many days are deleted (0: kept forever)."""
        return self._retention_days

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @property
    def writer_thread_id(self) -> int | None:
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

    def set_retention(self, days: float) -> None:
        """Keep entries for ``days`` from now on (0: forever); old ones go at the next cycle."""
        if days < 0:
            raise ValueError("retention days must be >= 0 (0 keeps everything)")
        self._retention_days = float(days)
        with self._cond:
            self._prune_requested = True
            self._cond.notify()

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
        clauses, params = build_filter(text, kinds, before, full_text=self._full_text)
        return await asyncio.to_thread(self._search_sync, clauses, params, limit)

    async def count(
        self,
        text: str = "",
        kinds: Collection[str] = (),
        before: datetime | None = None,
    ) -> int:
        """How many committed entries :meth:`search` would find without a limit."""
        clauses, params = build_filter(text, kinds, before, full_text=self._full_text)
        sql = f"SELECT count(*) FROM entries{_where(clauses)}"  # noqa: S608 (fixed fragments)
        rows = await asyncio.to_thread(self._read_sync, sql, params)
        return int(rows[0][0])

    def _read_sync(self, sql: str, params: Sequence[object]) -> list[_Row]:
        with self._read_lock:
            conn = self._read_conn
            if conn is None:
                raise JournalError("The journal is closed.")
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"The journal could not be searched ({exc}).") from exc

    def _search_sync(self, clauses: list[str], params: list[object], limit: int) -> list[FeedEntry]:
        base = f"SELECT {_COLUMNS} FROM entries"  # noqa: S608 (clauses: fixed fragments with ?)
        rows = self._read_sync(
            f"{base}{_where(clauses)} ORDER BY at DESC, id DESC LIMIT ?", [*params, limit]
        )
        if len(rows) == limit:  # finish the same-instant group the page ends in
            last_id, last_at = rows[-1][0], rows[-1][1]
            rows += self._read_sync(
                f"{base}{_where([*clauses, 'at = ?', 'id < ?'])} ORDER BY id DESC",
                [*params, last_at, last_id],
            )
        return _entries(rows)

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

        Rows are streamed in chunks of :data:`EXPORT_CHUNK_ROWS` into a temporary file beside
        ``path`` that is renamed into place at the end. ``progress(done, total)`` is called on
        the event loop after every chunk, ending with ``(total, total)``. Cancelling the
        awaiting task stops the export at the next chunk and removes the partial file (a cancel
        that arrives after the final progress call leaves the finished file).

        Args:
            path: the file to write (replaced atomically when it exists).
            start: earliest ``at`` included (None: from the beginning).
            end: ``at`` from which entries are excluded (None: up to now).
            fmt: ``"csv"`` (header row, ``data`` as JSON text) or ``"jsonl"`` (one object
                per line); both carry :data:`EXPORT_COLUMNS` with ``at`` as ISO-8601 ``Z``.
            progress: optional ``(done, total)`` callback.

        Returns:
            The number of entries written.

        Raises:
            JournalError: the file could not be written or the journal could not be read.
        """
        if fmt not in ("csv", "jsonl"):
            raise ValueError(f"unknown export format {fmt!r} (csv or jsonl)")
        if self._closed:
            raise JournalError("The journal is closed.")
        with contextlib.suppress(JournalError):  # export what is committed even so
            await self.flush()
        low = to_epoch(start) if start is not None else -math.inf
        high = to_epoch(end) if end is not None else math.inf
        loop = asyncio.get_running_loop()
        messages: asyncio.Queue[tuple[int, int] | None] = asyncio.Queue()
        control = _ExportControl(loop)

        def post(message: tuple[int, int] | None) -> None:
            with contextlib.suppress(RuntimeError):  # loop closed: the thread stops at wait()
                loop.call_soon_threadsafe(messages.put_nowait, message)

        job = loop.run_in_executor(
            None,
            functools.partial(
                self._export_sync,
                Path(path),
                low=low,
                high=high,
                fmt=fmt,
                post=post,
                control=control,
            ),
        )
        try:
            while (message := await messages.get()) is not None:
                if progress is not None:
                    progress(*message)
                control.proceed()
            return await asyncio.shield(job)
        except BaseException:
            control.cancel()
            await asyncio.wait({job})  # the thread removes its partial file before we go on
            if not job.cancelled():
                job.exception()  # retrieved: the original error is the one that propagates
            raise

    def _export_sync(
        self,
        target: Path,
        *,
        low: float,
        high: float,
        fmt: ExportFormat,
        post: Callable[[tuple[int, int] | None], None],
        control: _ExportControl,
    ) -> int:
        temp: Path | None = None
        try:
            with self._export_reader() as read:
                total, last_id = read(
                    "SELECT count(*), coalesce(max(id), 0) FROM entries WHERE at >= ? AND at < ?",
                    (low, high),
                )[0]
                handle, name = tempfile.mkstemp(
                    prefix=f".{target.name}.", suffix=".part", dir=target.parent
                )
                temp = Path(name)
                with open(handle, "w", encoding="utf-8", newline="") as out:
                    write = (_csv_writer if fmt == "csv" else _jsonl_writer)(out)
                    done = 0
                    post((0, total))
                    control.wait()
                    cursor_at, cursor_id = low, -1
                    while rows := read(
                        _EXPORT_CHUNK,
                        (cursor_at, high, cursor_at, cursor_id, last_id, EXPORT_CHUNK_ROWS),
                    ):
                        write(rows)
                        done += len(rows)
                        cursor_at, cursor_id = rows[-1][0], rows[-1][7]
                        total = max(total, done)
                        post((done, total))
                        control.wait()
                    if done != total:  # rows removed meanwhile (in-memory mode only)
                        total = done
                        post((done, total))
                        control.wait()
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(temp, target)
            temp = None
            logger.info("journal: exported %d entries to %s", done, target)
            return int(done)
        except OSError as exc:
            raise JournalError(
                f"The journal could not be exported to {target} ({exc.strerror or exc})."
            ) from exc
        except sqlite3.Error as exc:
            raise JournalError(f"The journal could not be read for the export ({exc}).") from exc
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    temp.unlink()
            post(None)

    @contextlib.contextmanager
    def _export_reader(self) -> Iterator[_Reader]:
        """A reader for one export: its own snapshot connection, or the shared one in memory."""
        if self._in_memory:
            yield self._read_sync
            return
        conn = self._connect(self._path)
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.execute("BEGIN")  # one snapshot for the count and every chunk

            def read(sql: str, params: Sequence[object]) -> list[_Row]:
                return conn.execute(sql, params).fetchall()

            yield read
        finally:
            conn.close()

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
                prune, self._prune_requested = self._prune_requested, False
                stopping = self._stopping
            error: JournalError | None = None
            try:
                if batch:
                    error = self._write(batch)
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
            if self._stopping or self._waiters or self._prune_requested:
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
        rows: list[_Row] = []
        for entry in batch:
            try:
                rows.append(_row(entry))
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
            with self._write_lock, _transaction(conn):
                payload = _batch_json(rows) if _BATCH_INSERT_OK and len(rows) > 1 else None
                if payload is not None:
                    conn.execute(_INSERT_BATCH, (payload,))
                else:
                    conn.executemany(_INSERT, rows)
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
                with self._write_lock, _transaction(conn):
                    deleted = conn.execute(_PRUNE, (cutoff, PRUNE_CHUNK_ROWS)).rowcount
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
        with self._read_lock:  # in memory this is the same lock: taken one after the other
            reader, self._read_conn = self._read_conn, None
            if reader is not None and reader is not conn:
                reader.close()

    # ---------------------------------------------------------------------- opening files
    def _open_storage(self) -> None:
        """Open the file, or recover from a fault; set up the read connection; prune."""
        try:
            conn = self._open_file(self._path)
        except _OpenFaultError as fault:
            conn = self._recover(fault)
        self._write_conn = conn
        if self._in_memory:
            self._read_conn, self._read_lock = conn, self._write_lock
        else:
            try:
                reader = self._connect(self._path)
                reader.execute("PRAGMA query_only = ON")
                self._read_conn = reader
            except sqlite3.Error as exc:  # reads then share the writer's connection
                logger.warning("journal: no separate read connection (%s)", exc)
                self._read_conn, self._read_lock = conn, self._write_lock
        self._prune()
        logger.info(
            "journal: %s (full-text search %s)",
            "in memory" if self._in_memory else f"open at {self._path}",
            "on" if self._full_text else "off: LIKE",
        )

    def _connect(self, target: Path | str) -> sqlite3.Connection:
        conn = sqlite3.connect(
            target, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        _register_functions(conn)
        return conn

    def _open_file(self, path: Path) -> sqlite3.Connection:
        try:
            # Who was on lunch when is personal data: a folder we create is the user's alone.
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise _OpenFaultError(
                "unavailable", f"its folder cannot be created: {exc.strerror or exc}"
            ) from exc
        _check_header(path)
        _user_only(path)
        try:
            conn = self._connect(path)
        except sqlite3.Error as exc:
            raise _classify(exc) from exc
        try:
            self._prepare(conn, in_memory=False)
        except sqlite3.Error as exc:
            conn.close()
            raise _classify(exc) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self, conn: sqlite3.Connection, *, in_memory: bool) -> None:
        """Check the file, switch to WAL, create or migrate the schema, set up search."""
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise _OpenFaultError("newer", f"journal format {version}", version)
        if version == 0:
            tables = sorted(
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
                if not name.startswith("sqlite_")
            )
            if tables:
                raise _OpenFaultError("foreign", f"it holds other tables: {', '.join(tables[:5])}")
        check = conn.execute("PRAGMA quick_check").fetchall()
        if check != [("ok",)]:
            raise _OpenFaultError("corrupt", f"integrity check failed: {check[0][0]}")
        if not in_memory:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                logger.warning("journal: WAL is not available here (journal mode %s)", mode)
            conn.execute("PRAGMA synchronous = NORMAL")
        trigram = self._want_full_text and _trigram_available(conn)
        with _transaction(conn):  # takes the write lock: a locked file shows here at the latest
            if version < 1:
                for statement in _SCHEMA_V1:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._full_text = self._setup_full_text(conn, trigram)

    @staticmethod
    def _setup_full_text(conn: sqlite3.Connection, wanted: bool) -> bool:
        """Keep the FTS index in step with the table, or stop maintaining it.

        The triggers are the marker: present means the index is current. Without FTS5 they are
        dropped (so inserts work); when FTS5 is back, they are recreated and the index rebuilt.
        """
        names = {
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE 'entries_fts_%'"
            )
        }
        if not wanted:
            for name in sorted(names):
                conn.execute(f"DROP TRIGGER IF EXISTS {name}")
            return False
        conn.execute(_FTS_TABLE)
        if names != set(_FTS_TRIGGERS):
            for statement in _FTS_TRIGGERS.values():
                conn.execute(statement)
            conn.execute("INSERT INTO entries_fts (entries_fts) VALUES ('rebuild')")
        return True

    def _recover(self, fault: _OpenFaultError) -> sqlite3.Connection:
        """Move a broken or locked file aside and start afresh, or fall back to memory."""
        path = self._path
        if fault.kind == "unavailable":
            return self._memory(
                f"The journal at {path} could not be opened ({fault.reason}); history is kept "
                "in memory for this session only and will be lost when you quit."
            )
        what = {
            "corrupt": f"could not be read ({fault.reason})",
            "foreign": f"is not a Genesys Tray journal ({fault.reason})",
            "locked": (
                f"was locked by another program for more than {self._busy_timeout_s:g} s "
                f"({fault.reason})"
            ),
            "newer": (
                f"was written by a newer version of Genesys Tray (journal format "
                f"{fault.version}; this version reads up to {SCHEMA_VERSION})"
            ),
        }[fault.kind]
        try:
            aside = self._move_aside(fault.kind)
        except OSError as exc:
            return self._memory(
                f"The journal at {path} {what} and could not be moved aside "
                f"({exc.strerror or exc}); it was left as it is, and history is kept in memory "
                "for this session only."
            )
        try:
            conn = self._open_file(path)
        except _OpenFaultError as again:
            return self._memory(
                f"The journal at {path} {what}; it was moved to {aside}, but a new one could "
                f"not be started ({again.reason}); history is kept in memory for this session "
                "only."
            )
        self._report(
            f"The journal at {path} {what}; it was moved to {aside} and a new one was started."
        )
        return conn

    def _move_aside(self, kind: str) -> Path:
        """Rename the file and its companions to ``<name>.<kind>-YYYYmmdd-HHMMSS[-n]``."""
        path = self._path
        stamp = self._clock().astimezone().strftime("%Y%m%d-%H%M%S")
        base = f"{path.name}.{kind}-{stamp}"
        number = 1
        while True:
            aside = path.with_name(base if number == 1 else f"{base}-{number}")
            if not any(Path(f"{aside}{suffix}").exists() for suffix in ("", *_COMPANIONS)):
                break
            number += 1
        path.rename(aside)
        moved: list[tuple[Path, Path]] = []
        for suffix in _COMPANIONS:
            companion, destination = Path(f"{path}{suffix}"), Path(f"{aside}{suffix}")
            try:
                companion.rename(destination)
                moved.append((destination, companion))
            except FileNotFoundError:
                continue
            except OSError:
                if suffix == "-shm":  # only an index of the WAL; SQLite rebuilds it
                    with contextlib.suppress(OSError):
                        companion.unlink()
                    continue
                # A WAL or rollback journal must stay beside its database: undo, give up.
                for source, back in [*reversed(moved), (aside, path)]:
                    with contextlib.suppress(OSError):
                        source.rename(back)
                raise
        return aside

    def _memory(self, problem: str) -> sqlite3.Connection:
        conn = self._connect(":memory:")
        self._prepare(conn, in_memory=True)
        self._in_memory = True
        self._report(problem)
        return conn

    def _report(self, problem: str) -> None:
        self._problem = problem
        logger.warning("%s", problem)
