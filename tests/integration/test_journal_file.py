"""The journal file meets the real world: restarts, damage, other versions, other programs' locks.

Faults are made for real: garbage bytes, overwritten pages, a file from a newer version, another
process holding ``BEGIN EXCLUSIVE`` (a separate Python process, so the lock is an OS file lock),
a folder that cannot exist. Nothing is ever lost silently: what was there is moved aside, byte
for byte, and ``problem`` says where it went.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.feed.entry import FeedEntry
from core.feed.payloads import PresenceData
from core.storage.journal.errors import JournalError
from core.storage.journal.journal import Journal
from core.storage.journal.schema import SCHEMA_VERSION

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
STAMP = T0.astimezone().strftime("%Y%m%d-%H%M%S")  # moved-aside names use local time


def clock() -> datetime:
    return T0


def entry(i: int, summary: str = "") -> FeedEntry:
    return FeedEntry(
        T0 - timedelta(hours=1) + timedelta(seconds=i),
        "presence",
        f"u{i}",
        f"Agent {i}",
        summary or f"Agent {i}: On Queue → Lunch",
        data=PresenceData("stream", "MEAL", f"lunch-{i}"),
    )


async def write_journal(path: Path, count: int, **kw: Any) -> None:
    async with await Journal.open(path, clock=clock, **kw) as journal:
        for i in range(count):
            journal.append(entry(i))
        await journal.flush()


def rows(path: Path, sql: str = "SELECT count(*) FROM entries") -> Any:
    """Read a database file directly (not through the journal)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def write_error(journal: Journal) -> str | None:
    """Read afresh (so the type checker does not keep an earlier assert's narrowing)."""
    return journal.write_error


async def assert_works(journal: Journal) -> None:
    journal.append(entry(999, "after the fault"))
    await journal.flush()
    assert [e.summary for e in await journal.search("fault")] == ["after the fault"]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


# ---------------------------------------------------------------------------------- restart
async def test_a_new_data_folder_is_private(tmp_path: Path) -> None:
    folder = tmp_path / "genesys-tray"
    async with await Journal.open(folder / "journal.sqlite3", clock=clock):
        pass
    assert folder.stat().st_mode & 0o777 == 0o700


async def test_entries_survive_a_restart(path: Path) -> None:
    await write_journal(path, 50)
    async with await Journal.open(path, clock=clock) as journal:
        assert journal.problem is None
        assert await journal.count() == 50
        [latest] = await journal.search("Agent 49")
        assert (latest.at, latest.data) == (entry(49).at, entry(49).data)
    assert rows(path, "PRAGMA user_version") == SCHEMA_VERSION
    assert rows(path, "PRAGMA journal_mode") == "wal"


async def test_the_search_index_catches_up_after_a_session_without_it(path: Path) -> None:
    await write_journal(path, 3)
    async with await Journal.open(path, clock=clock, full_text=False) as journal:
        assert not journal.full_text
        journal.append(entry(10, "written while full-text search was off"))
        await journal.flush()
    async with await Journal.open(path, clock=clock) as journal:
        assert journal.full_text
        assert [e.summary for e in await journal.search("while full-text")] == [
            "written while full-text search was off"
        ]
        assert await journal.count("Lunch") == 3


# ----------------------------------------------------------------------- damaged or foreign
async def test_a_file_that_is_not_a_database_is_moved_aside(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    garbage = b"these are not the bytes you are looking for\n" * 200
    await asyncio.to_thread(path.write_bytes, garbage)
    stale_wal = b"a stale WAL that must not meet the new journal"
    await asyncio.to_thread(Path(f"{path}-wal").write_bytes, stale_wal)
    with caplog.at_level(logging.WARNING, logger="core.storage.journal.recovery"):
        journal = await Journal.open(path, clock=clock)
    try:
        aside = path.with_name(f"journal.sqlite3.corrupt-{STAMP}")
        assert journal.problem == (
            f"The journal at {path} could not be read (file is not a database); "
            f"it was moved to {aside} and a new one was started."
        )
        assert journal.problem in caplog.messages
        assert await asyncio.to_thread(aside.read_bytes) == garbage
        assert await asyncio.to_thread(Path(f"{aside}-wal").read_bytes) == stale_wal
        assert not journal.in_memory
        await assert_works(journal)
    finally:
        await journal.close()
    assert rows(path) == 1


async def test_damaged_pages_fail_the_check_and_are_moved_aside(path: Path) -> None:
    await write_journal(path, 3000)
    damaged = bytearray(await asyncio.to_thread(path.read_bytes))
    page = 4096
    assert len(damaged) > 12 * page
    damaged[5 * page : 10 * page] = b"\xa5" * (5 * page)  # header intact, b-tree pages not
    await asyncio.to_thread(path.write_bytes, bytes(damaged))
    async with await Journal.open(path, clock=clock) as journal:
        aside = path.with_name(f"journal.sqlite3.corrupt-{STAMP}")
        assert journal.problem is not None
        assert journal.problem.startswith(f"The journal at {path} could not be read (")
        assert f"moved to {aside}" in journal.problem
        assert await asyncio.to_thread(aside.read_bytes) == bytes(damaged)
        await assert_works(journal)


async def test_another_programs_database_is_not_touched(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.commit()
    conn.close()
    async with await Journal.open(path, clock=clock) as journal:
        aside = path.with_name(f"journal.sqlite3.foreign-{STAMP}")
        assert journal.problem is not None
        assert "is not a Genesys Tray journal (it holds other tables: invoices)" in journal.problem
        await assert_works(journal)
    assert rows(aside, "SELECT total FROM invoices") == 12.5


async def test_a_journal_from_a_newer_version_is_moved_aside_not_overwritten(path: Path) -> None:
    await write_journal(path, 5)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.execute("CREATE TABLE added_by_version_99 (x)")
    conn.commit()
    conn.close()
    async with await Journal.open(path, clock=clock) as journal:
        aside = path.with_name(f"journal.sqlite3.newer-{STAMP}")
        assert journal.problem == (
            f"The journal at {path} was written by a newer version of Genesys Tray (journal "
            f"format 99; this version reads up to {SCHEMA_VERSION}); it was moved to {aside} "
            "and a new one was started."
        )
        assert await journal.count() == 0
        await assert_works(journal)
    assert rows(aside, "PRAGMA user_version") == 99
    assert rows(aside) == 5


async def test_moving_aside_twice_in_one_second_keeps_both(path: Path) -> None:
    for _ in range(2):
        await asyncio.to_thread(path.write_bytes, b"garbage" * 100)
        async with await Journal.open(path, clock=clock) as journal:
            assert journal.problem is not None
    assert path.with_name(f"journal.sqlite3.corrupt-{STAMP}").exists()
    assert path.with_name(f"journal.sqlite3.corrupt-{STAMP}-2").exists()


# ------------------------------------------------------------------------ another program
HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
conn.execute(
    "INSERT INTO entries (at, kind, subject_id, subject, summary, severity, data) "
    "VALUES (0, 'gap', '', 'Holder', 'written by the other program', 'info', '{}')"
)
print("locked", flush=True)
sys.stdin.readline()
try:
    conn.execute("COMMIT")
    print("committed", flush=True)
except sqlite3.Error as exc:
    print(f"commit failed: {exc}", flush=True)
conn.close()
"""


class LockHolder:
    """Another process that holds the journal's write lock until told to commit."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> str:
        """Commit, close and exit; what the holder said about its commit."""
        out, _ = self.process.communicate("\n", timeout=30)
        return out.strip()


@pytest.fixture
def holders() -> Iterator[list[LockHolder]]:
    started: list[LockHolder] = []
    yield started
    for holder in started:
        if holder.process.poll() is None:
            holder.process.kill()
            holder.process.wait()


async def hold(path: Path, holders: list[LockHolder]) -> LockHolder:
    holder = await asyncio.to_thread(LockHolder, path)
    holders.append(holder)
    return holder


async def test_a_file_locked_beyond_the_busy_timeout_is_moved_aside(
    path: Path, holders: list[LockHolder]
) -> None:
    await write_journal(path, 20)
    holder = await hold(path, holders)
    async with await Journal.open(path, clock=clock, busy_timeout_s=0.2) as journal:
        aside = path.with_name(f"journal.sqlite3.locked-{STAMP}")
        assert journal.problem is not None
        assert journal.problem.startswith(
            f"The journal at {path} was locked by another program for more than 0.2 s"
        )
        assert journal.problem.endswith(f"it was moved to {aside} and a new one was started.")
        await assert_works(journal)
        # The other program finishes its transaction in the file it opened: now the aside one.
        assert await asyncio.to_thread(holder.release) == "committed"
        assert await journal.count() == 1
    assert rows(aside) == 21
    assert rows(aside, "SELECT summary FROM entries ORDER BY id DESC") == (
        "written by the other program"
    )
    assert rows(path) == 1


async def test_writes_blocked_by_another_program_are_kept_and_retried(
    path: Path, holders: list[LockHolder]
) -> None:
    async with await Journal.open(path, clock=clock, busy_timeout_s=0.2) as journal:
        holder = await hold(path, holders)
        journal.append(entry(1, "while locked"))
        with pytest.raises(JournalError, match="could not be saved"):
            await journal.flush()
        assert "database is locked" in (write_error(journal) or "")
        assert journal.stats.pending == 1
        assert await asyncio.to_thread(holder.release) == "committed"
        await journal.flush()
        assert write_error(journal) is None
        assert journal.stats.pending == 0
        assert await journal.count() == 2  # the holder's row and ours
        assert journal.stats.dropped == 0


async def test_while_writes_fail_the_queue_is_bounded_and_drops_are_counted(
    path: Path, holders: list[LockHolder], caplog: pytest.LogCaptureFixture
) -> None:
    async with await Journal.open(
        path, clock=clock, busy_timeout_s=0.2, max_batch=2, max_pending=3
    ) as journal:
        holder = await hold(path, holders)
        journal.append(entry(0))
        with pytest.raises(JournalError):
            await journal.flush()
        for i in range(1, 6):
            journal.append(entry(i))
        assert (journal.stats.pending, journal.stats.dropped) == (3, 3)
        assert await asyncio.to_thread(holder.release) == "committed"
        with caplog.at_level(logging.WARNING, logger="core.storage.journal.writer"):
            await journal.flush()
        assert "journal: 3 entries were given up" in caplog.text
        assert [e.subject_id for e in await journal.search("Lunch")] == ["u5", "u4", "u3"]


# -------------------------------------------------------------------------- no file at all
async def test_a_folder_that_cannot_exist_falls_back_to_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    path = blocker / "journal.sqlite3"
    async with await Journal.open(path, clock=clock) as journal:
        assert journal.in_memory
        assert journal.problem is not None
        assert journal.problem.startswith(f"The journal at {path} could not be opened (")
        assert "kept in memory for this session only" in journal.problem
        await assert_works(journal)
        out = tmp_path / "export.jsonl"
        assert await journal.export(out, None, None, "jsonl") == 1
        assert "after the fault" in out.read_text(encoding="utf-8")
    assert blocker.read_text() == "a file where the data folder should be"


async def test_a_folder_in_place_of_the_file_is_left_alone(path: Path) -> None:
    await asyncio.to_thread(path.mkdir)
    await asyncio.to_thread((path / "keep.txt").write_text, "mine")
    async with await Journal.open(path, clock=clock) as journal:
        assert journal.in_memory
        assert journal.problem is not None
        assert "unable to open database file" in journal.problem
        await assert_works(journal)
    assert (path / "keep.txt").read_text() == "mine"
