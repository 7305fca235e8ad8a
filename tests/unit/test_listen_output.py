"""``listen``'s JSON lines never block the event loop, even on a pipe nobody reads.

A blocking write to a full pipe stalled the whole loop: the stream, the watchdog and the token
keeper waited for whoever read our stdout. These tests hold a real pipe unread while the loop
runs a timer, then read it and check every line arrived whole and in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from datetime import UTC, datetime
from typing import IO

import pytest

from core.cli.listen import JsonLinesWriter
from core.engine.records import GapRecord

STARTED = datetime(2025, 3, 29, 12, 0, tzinfo=UTC)
PADDING = "x" * 200  # ~300 bytes a line: a few hundred lines fill a pipe (64 KiB on Linux)
TIMER_S = 0.2
LATE_S = 2.0  # a timer this late means the loop was blocked, not busy
READER_FALLBACK_S = 6.0  # a blocking writer waits for the reader: it then fails, not hangs


def _record(n: int) -> GapRecord:
    return GapRecord(phase="start", reason=f"{n:06d}{PADDING}", started=STARTED)


class _LateReader:
    """Reads the pipe to its end, but only once ``go`` is set (or after a fallback delay)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.go = threading.Event()
        self.data = bytearray()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.go.wait(READER_FALLBACK_S)
        while chunk := os.read(self.fd, 65536):
            self.data += chunk
        os.close(self.fd)

    def numbers(self) -> list[int]:
        """The record numbers in the lines read, in order; each line must be whole JSON."""
        text = self.data.decode("utf-8")
        assert text.endswith("\n"), "the last line was cut"
        out = []
        for line in text.splitlines():
            body = json.loads(line)
            assert body["kind"] == "gap" and body["reason"].endswith(PADDING)
            out.append(int(body["reason"][:6]))
        return out


async def _write_while_unread(writer: JsonLinesWriter, count: int) -> float:
    """Write ``count`` records with the pipe unread; how late (s) a timer set before fired."""
    loop = asyncio.get_running_loop()
    fired = loop.create_future()
    start = loop.time()
    loop.call_later(TIMER_S, lambda: fired.set_result(loop.time()))
    for n in range(count):
        writer(_record(n))
        if n % 100 == 0:
            await asyncio.sleep(0)  # the loop goes on with its other work between records
    fired_at: float = await asyncio.wait_for(fired, READER_FALLBACK_S * 2)
    return fired_at - start - TIMER_S


def _pipe() -> tuple[_LateReader, IO[str]]:
    read_fd, write_fd = os.pipe()
    return _LateReader(read_fd), os.fdopen(write_fd, "w", encoding="utf-8")


async def test_an_unread_pipe_does_not_stall_the_loop_and_loses_nothing() -> None:
    reader, out = _pipe()
    writer = JsonLinesWriter(out)
    count = 2000  # ~600 KB: ten times what the pipe holds
    try:
        late = await _write_while_unread(writer, count)
        assert late < LATE_S, f"the loop was blocked for {late:.1f}s by a full pipe"
    finally:
        reader.go.set()
        await writer.aclose()
        out.close()
    await asyncio.to_thread(reader.thread.join, 10)
    assert reader.numbers() == list(range(count))
    assert writer.dropped == 0 and writer.lines == count


async def test_an_overflow_drops_whole_lines_in_order_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reader, out = _pipe()
    writer = JsonLinesWriter(out, max_pending=50)
    count = 3000
    try:
        with caplog.at_level(logging.WARNING, logger="core.cli.listen"):
            late = await _write_while_unread(writer, count)
        assert late < LATE_S, f"the loop was blocked for {late:.1f}s by a full pipe"
    finally:
        reader.go.set()
        await writer.aclose()
        out.close()
    await asyncio.to_thread(reader.thread.join, 10)
    got = reader.numbers()
    assert got == sorted(set(got)), "lines out of order or repeated"
    assert writer.dropped > 0 and len(got) + writer.dropped == count
    assert any("dropping lines" in r.getMessage() for r in caplog.records)  # said at once


async def test_a_reader_that_goes_away_ends_the_output_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    read_fd, write_fd = os.pipe()
    os.close(read_fd)  # nobody will ever read: writes fail with a broken pipe
    out = os.fdopen(write_fd, "w", encoding="utf-8")
    writer = JsonLinesWriter(out)
    with caplog.at_level(logging.WARNING, logger="core.cli.listen"):
        writer(_record(0))
        await writer.aclose()
        writer(_record(1))  # after the end: counted, not raised
    assert writer.dropped == 1
    assert any("cannot write the output" in r.getMessage() for r in caplog.records)
    with contextlib.suppress(BrokenPipeError):  # what is left in its buffer cannot go out
        out.close()
