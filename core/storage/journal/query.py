"""Searching the journal: search-box terms to SQL, full-text (FTS5 trigram) or ``LIKE``.

The text is split at whitespace and every term must occur, case-insensitively, as a substring of
the subject or the summary. With the trigram index the terms of three characters or more go to
FTS5; shorter ones, and every term without FTS5, use ``LIKE`` (ASCII) or a small Python function
(non-ASCII), so results do not depend on the SQLite build, only speed does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Final

from core.feed.entry import FeedEntry
from core.storage.journal.rows import Reader, Row, clean_text, to_entries, to_epoch
from core.storage.journal.schema import COLUMNS

MIN_FTS_TERM_CHARS: Final = 3  # the trigram index cannot answer shorter terms


def _contains(subject: str | None, summary: str | None, needle: str) -> bool:
    """SQL function for terms the trigram index and LIKE cannot fold (short or non-ASCII)."""
    return needle in (subject or "").casefold() or needle in (summary or "").casefold()


def register_functions(conn: sqlite3.Connection) -> None:
    """Give a connection the SQL functions :func:`build_filter` may use."""
    conn.create_function("journal_contains", 3, _contains, deterministic=True)


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


def where(clauses: Sequence[str]) -> str:
    """The WHERE part for :func:`build_filter`'s conditions ("" when there are none)."""
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


def count_sql(clauses: Sequence[str]) -> str:
    """The statement that counts the entries matching ``clauses``."""
    return f"SELECT count(*) FROM entries{where(clauses)}"  # noqa: S608 (fixed fragments)


def search_page(
    read: Reader, clauses: list[str], params: list[object], limit: int
) -> list[FeedEntry]:
    """One page of matches, newest first, never ending inside a same-instant group.

    The page is extended to the whole group of entries sharing the last entry's timestamp, so
    passing the oldest ``at`` as the next ``before`` pages backwards without gaps or repeats.
    """
    base = f"SELECT {COLUMNS} FROM entries"  # noqa: S608 (clauses: fixed fragments with ?)
    rows: list[Row] = read(
        f"{base}{where(clauses)} ORDER BY at DESC, id DESC LIMIT ?", [*params, limit]
    )
    if len(rows) == limit:  # finish the same-instant group the page ends in
        last_id, last_at = rows[-1][0], rows[-1][1]
        rows += read(
            f"{base}{where([*clauses, 'at = ?', 'id < ?'])} ORDER BY id DESC",
            [*params, last_at, last_id],
        )
    return to_entries(rows)
