"""The journal's read connection: searches and exports run beside the writer, not behind it.

On a file the reader has its own connection, so WAL lets a search proceed while a batch is being
written. In memory (or when a second connection cannot be opened) there is only the writer's
connection, and reads share it under the writer's lock.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from core.storage.journal.errors import JournalError
from core.storage.journal.export import snapshot_reader
from core.storage.journal.recovery import connect
from core.storage.journal.rows import Reader, Row

logger = logging.getLogger(__name__)


class JournalReader:
    """Runs the journal's SELECTs from worker threads; opened and closed by the writer thread."""

    def __init__(self, path: Path, *, busy_timeout_s: float) -> None:
        self._path = path
        self._busy_timeout_s = busy_timeout_s
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._in_memory = False

    def open(
        self, writer: sqlite3.Connection, writer_lock: threading.Lock, *, in_memory: bool
    ) -> None:
        """Open the read connection, or share the writer's (in memory, or when that fails)."""
        self._in_memory = in_memory
        if in_memory:
            self._conn, self._lock = writer, writer_lock
            return
        try:
            reader = connect(self._path, self._busy_timeout_s)
            reader.execute("PRAGMA query_only = ON")
            self._conn = reader
        except sqlite3.Error as exc:  # reads then share the writer's connection
            logger.warning("journal: no separate read connection (%s)", exc)
            self._conn, self._lock = writer, writer_lock

    def close(self, writer: sqlite3.Connection | None) -> None:
        """Close the read connection once no read is running (never the writer's)."""
        with self._lock:  # in memory this is the writer's lock, no longer held by the writer
            reader, self._conn = self._conn, None
            if reader is not None and reader is not writer:
                reader.close()

    def read(self, sql: str, params: Sequence[object]) -> list[Row]:
        """Run one SELECT and return all its rows (from a worker thread).

        Raises:
            JournalError: the journal is closed, or SQLite failed.
        """
        with self._lock:
            conn = self._conn
            if conn is None:
                raise JournalError("The journal is closed.")
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(f"The journal could not be searched ({exc}).") from exc

    def export_reader(self) -> contextlib.AbstractContextManager[Reader]:
        """A reader for one export: its own snapshot connection, or the shared one in memory."""
        if self._in_memory:
            return contextlib.nullcontext(self.read)
        return snapshot_reader(lambda: connect(self._path, self._busy_timeout_s))
