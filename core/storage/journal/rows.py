"""How a feed entry becomes a journal row and back: epoch times, clean text, JSON data.

Stored text must be something SQLite can store and index, and ``data`` must always be JSON, so
every conversion here is total: it never raises on what a feed entry may hold. The payload goes
out through its ``to_json`` and comes back through :func:`core.feed.payloads.payload_from_json`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from core.feed.entry import FeedEntry
from core.feed.payloads import payload_from_json

logger = logging.getLogger(__name__)

Row = tuple[Any, ...]
"""One row of ``entries``, in the column order of the query that read or will write it."""

Reader = Callable[[str, Sequence[object]], list[Row]]
"""Runs one SELECT with its parameters and returns all its rows."""

# As json.dumps(default=str) would: datetimes and dataclasses go through str(), keys may be any.
_ORJSON_OPTIONS: Final = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


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


def to_row(entry: FeedEntry) -> Row:
    """The row written for ``entry``: ``at, kind, subject_id, subject, summary, severity, data``."""
    return (
        to_epoch(entry.at),
        clean_text(entry.kind),
        clean_text(entry.subject_id),
        clean_text(entry.subject),
        clean_text(entry.summary),
        clean_text(entry.severity),
        data_json(entry.data.to_json()),
    )


def batch_json(rows: Sequence[Row]) -> str | None:
    """The rows as one JSON array for the one-statement batch insert; None when they cannot be
    (then the rows go one by one). Every text was cleaned by :func:`to_row`, so orjson takes
    them all."""
    try:
        return orjson.dumps(rows).decode("utf-8")
    except (TypeError, ValueError):
        return None


def to_entries(rows: Sequence[Row]) -> list[FeedEntry]:
    """Feed entries of rows read as ``id, at, kind, subject_id, subject, summary, severity, data``.

    A ``data`` of no known shape (written by hand, by another build, or damaged) is kept as
    :class:`~core.feed.payloads.RawData`, not dropped: text that is not JSON as ``{"raw": text}``.
    """
    out = []
    for _id, at, kind, subject_id, subject, summary, severity, data in rows:
        try:
            obj = json.loads(data)
        except (TypeError, ValueError):
            obj = {"raw": data}
        payload = payload_from_json(kind, obj)
        out.append(FeedEntry(from_epoch(at), kind, subject_id, subject, summary, severity, payload))
    return out
