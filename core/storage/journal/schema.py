"""The journal's tables, its SQL statements and its transactions.

One place for the SQL text, so the writer, the search and the export agree on the columns.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Final

SCHEMA_VERSION: Final = 1

COLUMNS: Final = "id, at, kind, subject_id, subject, summary, severity, data"
INSERT: Final = (
    "INSERT INTO entries (at, kind, subject_id, subject, summary, severity, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# A whole batch in one statement: sqlite3 lets go of the GIL once per step, so executemany
# handed the GIL back and forth with the event loop for every row (benchmarks P1); one step
# over json_each inserts the batch (FTS triggers included) while the loop runs on. Needs the
# ->> operator of SQLite 3.38; older libraries keep executemany.
INSERT_BATCH: Final = (
    "INSERT INTO entries (at, kind, subject_id, subject, summary, severity, data) "
    "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, "
    "value ->> 6 FROM json_each(?) ORDER BY key"
)
BATCH_INSERT_OK: Final = sqlite3.sqlite_version_info >= (3, 38, 0)
PRUNE: Final = "DELETE FROM entries WHERE id IN (SELECT id FROM entries WHERE at < ? LIMIT ?)"

SCHEMA_V1: Final = (
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
# The last known picture of the boards (core.storage.journal.picture): one row per watched
# subject (kind "user" or "queue") and one "taken" row saying when it was last known true. An
# additive table made on first use with IF NOT EXISTS, so the version stays 1: a bump would make
# an older app move the whole journal aside as "written by a newer version".
PICTURE_TABLE: Final = """CREATE TABLE IF NOT EXISTS picture (
        kind TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        name TEXT NOT NULL,
        data TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (kind, subject_id)
    )"""
PICTURE_UPSERT: Final = (
    "INSERT OR REPLACE INTO picture (kind, subject_id, name, data, at) VALUES (?, ?, ?, ?, ?)"
)
PICTURE_DELETE: Final = "DELETE FROM picture WHERE kind = ? AND subject_id = ?"
PICTURE_CLEAR: Final = "DELETE FROM picture"
PICTURE_EXISTS: Final = (
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'picture'"
)
PICTURE_SELECT: Final = "SELECT kind, subject_id, name, data, at FROM picture"
_FTS_TABLE: Final = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5("
    "subject, summary, content='entries', content_rowid='id', tokenize='trigram')"
)
_FTS_TRIGGERS: Final = {
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


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
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


def trigram_available(conn: sqlite3.Connection) -> bool:
    """True when this SQLite build has FTS5 with the trigram tokenizer."""
    try:
        conn.execute("CREATE VIRTUAL TABLE temp.journal_probe USING fts5(x, tokenize='trigram')")
    except sqlite3.Error:
        return False
    conn.execute("DROP TABLE temp.journal_probe")
    return True


def setup_full_text(conn: sqlite3.Connection, wanted: bool) -> bool:
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
