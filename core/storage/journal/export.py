"""Exporting the journal to CSV or JSON Lines, with progress and cancellation.

The rows are streamed in chunks by a worker thread into a temporary file beside the target,
which is renamed into place at the end. The thread and the coroutine that reports progress go in
lock-step, so a cancellation the caller sees before the final progress always removes the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import json
import logging
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Final, Literal, TextIO

from core.storage.journal.errors import JournalError
from core.storage.journal.rows import Reader, Row, iso_z

logger = logging.getLogger(__name__)

EXPORT_CHUNK_ROWS: Final = 1000
EXPORT_COLUMNS: Final = ("at", "kind", "subject_id", "subject", "summary", "severity", "data")
ExportFormat = Literal["csv", "jsonl"]

_EXPORT_CHUNK: Final = (
    "SELECT at, kind, subject_id, subject, summary, severity, data, id FROM entries "
    "WHERE at >= ? AND at < ? AND (at > ? OR id > ?) AND id <= ? ORDER BY at, id LIMIT ?"
)

OpenReader = Callable[[], contextlib.AbstractContextManager[Reader]]
"""Opens the reader of one export: one snapshot for the count and every chunk."""


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


@contextlib.contextmanager
def snapshot_reader(connect: Callable[[], sqlite3.Connection]) -> Iterator[Reader]:
    """A reader on its own read-only connection, inside one transaction (one snapshot)."""
    conn = connect()
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("BEGIN")  # one snapshot for the count and every chunk

        def read(sql: str, params: Sequence[object]) -> list[Row]:
            return conn.execute(sql, params).fetchall()

        yield read
    finally:
        conn.close()


_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading quote.

    Names and summaries come from the org's server; ``=HYPERLINK(...)`` written raw would be a
    live formula when the file is opened (OWASP's CSV injection advice).
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_writer(out: TextIO) -> Callable[[Sequence[Row]], None]:
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)

    def write(rows: Sequence[Row]) -> None:
        # data (row[6]) is JSON we wrote ourselves: an object, or at worst a plain number
        writer.writerows((iso_z(row[0]), *map(csv_cell, row[1:6]), row[6]) for row in rows)

    return write


def _jsonl_writer(out: TextIO) -> Callable[[Sequence[Row]], None]:
    def write(rows: Sequence[Row]) -> None:
        for at, kind, subject_id, subject, summary, severity, data, _id in rows:
            fields = (iso_z(at), kind, subject_id, subject, summary, severity)
            head = ",".join(
                f"{json.dumps(key)}:{json.dumps(value, ensure_ascii=False)}"
                for key, value in zip(EXPORT_COLUMNS[:6], fields, strict=True)
            )
            out.write(f'{{{head},"data":{data}}}\n')  # data is JSON text we wrote ourselves

    return write


async def run_export(
    target: Path,
    *,
    low: float,
    high: float,
    fmt: ExportFormat,
    progress: Callable[[int, int], None] | None,
    open_reader: OpenReader,
) -> int:
    """Export the entries with ``low <= at < high`` to ``target`` in a worker thread.

    ``progress(done, total)`` is called on the event loop after every chunk. Cancelling the
    awaiting task stops the thread at the next chunk and removes the partial file. Returns the
    number of entries written; see :meth:`core.storage.journal.writer.Journal.export`.
    """
    loop = asyncio.get_running_loop()
    messages: asyncio.Queue[tuple[int, int] | None] = asyncio.Queue()
    control = _ExportControl(loop)

    def post(message: tuple[int, int] | None) -> None:
        with contextlib.suppress(RuntimeError):  # loop closed: the thread stops at wait()
            loop.call_soon_threadsafe(messages.put_nowait, message)

    job = loop.run_in_executor(
        None,
        functools.partial(
            _export_sync,
            target,
            low=low,
            high=high,
            fmt=fmt,
            post=post,
            control=control,
            open_reader=open_reader,
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
    target: Path,
    *,
    low: float,
    high: float,
    fmt: ExportFormat,
    post: Callable[[tuple[int, int] | None], None],
    control: _ExportControl,
    open_reader: OpenReader,
) -> int:
    temp: Path | None = None
    try:
        with open_reader() as read:
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
