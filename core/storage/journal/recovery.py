"""Opening the journal file, and what happens when it cannot be used.

A journal file that is not a database, fails ``PRAGMA quick_check``, holds someone else's tables,
comes from a newer version, or stays locked by another program beyond the busy timeout is *moved
aside* (together with its ``-wal``/``-journal``/``-shm`` companions) to
``<name>.<reason>-YYYYmmdd-HHMMSS`` and a fresh journal is started; when even that is impossible
the journal lives in memory for the session. Either way the problem is told in words for the
person, and logged at WARNING. Moving a *locked* file is safe for its holder: a program with the
file open keeps writing to the same inode (now under the aside name), so its transaction lands
there and nothing is lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Literal

from core.domain.files import private_folder
from core.storage.journal.query import register_functions
from core.storage.journal.schema import (
    SCHEMA_V1,
    SCHEMA_VERSION,
    setup_full_text,
    transaction,
    trigram_available,
)

logger = logging.getLogger(__name__)

_FaultKind = Literal["corrupt", "foreign", "locked", "newer", "unavailable"]
_COMPANIONS: Final = ("-wal", "-journal", "-shm")  # moved together with the database file
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"


class _OpenFaultError(Exception):
    """Why a journal file cannot be used (internal; turned into the journal's problem)."""

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


def connect(target: Path | str, busy_timeout_s: float) -> sqlite3.Connection:
    """An autocommit connection usable from any thread, with the journal's SQL functions."""
    conn = sqlite3.connect(
        target, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )
    register_functions(conn)
    return conn


@dataclass(frozen=True, slots=True)
class OpenedStorage:
    """The write connection :class:`StorageOpener` got, and how."""

    conn: sqlite3.Connection
    in_memory: bool  # nothing is saved on disk this session
    full_text: bool  # the FTS5 trigram index is maintained
    problem: str | None  # what went wrong, for the person; None when the file opened cleanly


class StorageOpener:
    """Opens the journal file for writing, or recovers from a fault (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout_s: float,
        want_full_text: bool,
        clock: Callable[[], datetime],
    ) -> None:
        self._path = path
        self._busy_timeout_s = busy_timeout_s
        self._want_full_text = want_full_text
        self._clock = clock
        self._full_text = False

    def open(self) -> OpenedStorage:
        """The write connection: the file, a fresh file, or memory (never raises a file fault)."""
        try:
            conn = self._open_file(self._path)
        except _OpenFaultError as fault:
            return self._recover(fault)
        return OpenedStorage(conn, in_memory=False, full_text=self._full_text, problem=None)

    def _open_file(self, path: Path) -> sqlite3.Connection:
        try:
            # Who was on lunch when is personal data: a folder we create is the user's alone.
            private_folder(path.parent)
        except OSError as exc:
            raise _OpenFaultError(
                "unavailable", f"its folder cannot be created: {exc.strerror or exc}"
            ) from exc
        _check_header(path)
        _user_only(path)
        try:
            conn = connect(path, self._busy_timeout_s)
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
        trigram = self._want_full_text and trigram_available(conn)
        with transaction(conn):  # takes the write lock: a locked file shows here at the latest
            if version < 1:
                for statement in SCHEMA_V1:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._full_text = setup_full_text(conn, trigram)

    def _recover(self, fault: _OpenFaultError) -> OpenedStorage:
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
        problem = (
            f"The journal at {path} {what}; it was moved to {aside} and a new one was started."
        )
        logger.warning("%s", problem)
        return OpenedStorage(conn, in_memory=False, full_text=self._full_text, problem=problem)

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

    def _memory(self, problem: str) -> OpenedStorage:
        conn = connect(":memory:", self._busy_timeout_s)
        self._prepare(conn, in_memory=True)
        logger.warning("%s", problem)
        return OpenedStorage(conn, in_memory=True, full_text=self._full_text, problem=problem)
