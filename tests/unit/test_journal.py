"""The journal keeps every feed entry in a real SQLite file, off the loop, findable and exportable.

Every test runs against a real database file in ``tmp_path``; nothing waits on a timer: tests
call ``flush()``, which returns once everything appended so far is committed.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import platformdirs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.feed.entry import FeedEntry
from core.feed.payloads import RawData, payload_from_json
from core.storage.journal.errors import JournalError
from core.storage.journal.export import EXPORT_CHUNK_ROWS, EXPORT_COLUMNS
from core.storage.journal.journal import Journal, default_journal_path
from core.storage.journal.query import build_filter
from core.storage.journal.rows import clean_text, from_epoch, to_epoch

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def entry(
    at: datetime,
    summary: str = "Dana Agent: On Queue → Lunch",
    *,
    kind: str = "presence",
    subject: str = "Dana Agent",
    subject_id: str = "u-dana",
    severity: str = "info",
    data: dict[str, Any] | None = None,
) -> FeedEntry:
    """An entry whose payload is ``data`` as it is (RawData: no kind's exact shape)."""
    return FeedEntry(at, kind, subject_id, subject, summary, severity, RawData(data or {}))


def fields(e: FeedEntry) -> tuple[Any, ...]:
    """Everything of an entry, data included (FeedEntry's == leaves data out)."""
    return (e.at, e.kind, e.subject_id, e.subject, e.summary, e.severity, e.data)


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll a condition the journal reaches on its own (bounded; fails loudly)."""
    async with asyncio.timeout(10):
        while not condition():  # noqa: ASYNC110 (the journal gets there on its own timer)
            await asyncio.sleep(0.01)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=[True, False], ids=["fts5", "like"])
async def journal(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> AsyncIterator[Journal]:
    """A journal on a real file; searched with FTS5 and with the LIKE fallback."""
    opened = await Journal.open(tmp_path / "journal.sqlite3", clock=clock, full_text=request.param)
    assert opened.full_text is request.param
    assert opened.problem is None
    try:
        yield opened
    finally:
        await opened.close()


def test_default_path_is_in_the_user_data_folder() -> None:
    path = default_journal_path()
    assert path.name == "journal.sqlite3"
    assert path.parent == Path(platformdirs.user_data_dir("genesys-tray", appauthor=False))


# --------------------------------------------------------------------------------- writing
async def test_twenty_thousand_appends_commit_in_few_batches_on_the_writer_thread(
    tmp_path: Path,
) -> None:
    # A long interval: only max_batch and flush() make the writer commit.
    journal = await Journal.open(tmp_path / "j.sqlite3", flush_interval_s=60, max_batch=5000)
    try:
        for i in range(20_000):
            journal.append(entry(T0 + timedelta(milliseconds=i), f"event {i}"))
        assert journal.stats.appended == 20_000
        await journal.flush()
        stats = journal.stats
        assert (stats.written, stats.pending, stats.dropped) == (20_000, 0, 0)
        assert stats.batches <= 20_000 // 5000 + 2
        assert await journal.count() == 20_000
        assert stats.write_thread_ids == {journal.writer_thread_id}
        assert threading.get_ident() not in stats.write_thread_ids
    finally:
        await journal.close()


async def test_the_interval_commits_without_being_asked(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path / "j.sqlite3", flush_interval_s=0.05)
    try:
        journal.append(entry(T0))
        await wait_until(lambda: journal.stats.written == 1)
        assert journal.stats.batches == 1
    finally:
        await journal.close()


async def test_flush_waits_for_every_batch_beyond_max_batch(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path / "j.sqlite3", flush_interval_s=60, max_batch=10)
    try:
        for i in range(95):
            journal.append(entry(T0 + timedelta(seconds=i)))
        await journal.flush()
        assert journal.stats.written == 95
        assert journal.stats.batches >= 10
    finally:
        await journal.close()


async def test_entries_come_back_field_for_field(journal: Journal) -> None:
    written = [
        entry(
            T0 + timedelta(microseconds=123_457),
            'Zoë "Ω" O\'Brien: Available → Break\nsecond line',
            subject="Zoë O'Brien",
            data={"presence": "BREAK", "nested": {"list": [1, 2.5, None, True]}, "ü": "ß"},
        ),
        entry(
            T0 + timedelta(seconds=1),
            "Sales EN: waiting 1 → 4",
            kind="queue",
            subject="Sales EN",
            subject_id="q-sales",
            severity="warning",
            data={"waiting": 4},
        ),
    ]
    for e in written:
        journal.append(e)
    await journal.flush()
    found = await journal.search()
    assert [fields(e) for e in found] == [fields(e) for e in reversed(written)]
    assert found[0].at.tzinfo is UTC


async def test_values_that_are_not_json_or_not_entries_never_block_the_rest(
    journal: Journal,
) -> None:
    circular: dict[str, Any] = {}
    circular["self"] = circular
    journal.append(entry(T0, "odd data", data={"when": T0, "tags": {"a"}}))
    journal.append(entry(T0 + timedelta(seconds=1), "circular", data=circular))
    journal.append(entry(cast(Any, "yesterday"), "not an entry"))  # a caller's bug
    journal.append(entry(T0 + timedelta(seconds=2), "fine"))
    await journal.flush()
    found = {e.summary: e.data.to_json() for e in await journal.search()}
    assert found["odd data"] == {"when": str(T0), "tags": "{'a'}"}
    assert "unserializable" in found["circular"]
    assert "fine" in found
    assert "not an entry" not in found
    assert journal.stats.dropped == 1


async def test_close_commits_what_is_pending_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = await Journal.open(path, flush_interval_s=60)
    journal.append(entry(T0))
    await journal.close()
    await asyncio.gather(journal.close(), journal.close())
    assert journal.closed
    with pytest.raises(JournalError):
        journal.append(entry(T0))
    with pytest.raises(JournalError):
        await journal.search()
    await journal.flush()  # nothing to wait for
    reopened = await Journal.open(path)
    try:
        assert await reopened.count() == 1
    finally:
        await reopened.close()


async def test_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="retention"):
        await Journal.open(tmp_path / "j.sqlite3", retention_days=-1)
    with pytest.raises(ValueError, match="max_pending"):
        await Journal.open(tmp_path / "j.sqlite3", max_batch=10, max_pending=5)
    async with await Journal.open(tmp_path / "j.sqlite3") as journal:
        with pytest.raises(ValueError):
            journal.set_retention(-1)
        with pytest.raises(ValueError):
            await journal.search(limit=0)
        with pytest.raises(ValueError, match="format"):
            await journal.export(tmp_path / "x", None, None, cast(Any, "xml"))
    assert journal.closed


# ---------------------------------------------------------------------------------- search
SUMMARIES = [
    ("presence", "Dana Agent", "Dana Agent: On Queue → Lunch"),
    ("routing", "Dana Agent", "Dana Agent: Idle → Not Responding"),
    ("queue", "Sales EN", "Sales EN: waiting 1 → 4"),
    ("membership", "Sales EN", "Zoë Ørsted joined Sales EN"),
    ("connection", "Connection", 'Connection reconnecting (server said "AND" NEAR(x))'),
    ("gap", "Connection", "Disconnected 00:42, 100% re-synced user_1"),
]


async def fill(journal: Journal) -> None:
    for i, (kind, subject, summary) in enumerate(SUMMARIES):
        journal.append(entry(T0 + timedelta(seconds=i), summary, kind=kind, subject=subject))
    await journal.flush()


async def summaries(journal: Journal, text: str = "", **kw: Any) -> list[str]:
    return [e.summary for e in await journal.search(text, **kw)]


async def test_search_by_text_every_term_must_match(journal: Journal) -> None:
    await fill(journal)
    assert await summaries(journal, "LUNCH") == ["Dana Agent: On Queue → Lunch"]
    assert await summaries(journal, "dana  responding") == ["Dana Agent: Idle → Not Responding"]
    assert await summaries(journal, "sales") == [
        "Zoë Ørsted joined Sales EN",
        "Sales EN: waiting 1 → 4",
    ]
    assert await summaries(journal, "ørsted ZOË") == ["Zoë Ørsted joined Sales EN"]  # folded
    assert await summaries(journal, "→ 4") == ["Sales EN: waiting 1 → 4"]  # short terms
    assert await summaries(journal, "nobody") == []
    assert len(await summaries(journal)) == len(SUMMARIES)


async def test_search_text_is_literal_never_a_query_language(journal: Journal) -> None:
    await fill(journal)
    reconnecting = ['Connection reconnecting (server said "AND" NEAR(x))']
    assert await summaries(journal, '"AND" NEAR(') == reconnecting
    assert await summaries(journal, 'said "and"') == reconnecting
    assert await summaries(journal, "100%") == ["Disconnected 00:42, 100% re-synced user_1"]
    assert await summaries(journal, "r_1") == ["Disconnected 00:42, 100% re-synced user_1"]
    assert await summaries(journal, "%") == ["Disconnected 00:42, 100% re-synced user_1"]
    assert await summaries(journal, "_") == ["Disconnected 00:42, 100% re-synced user_1"]
    for hostile in ('"', "*", "AND", "OR NOT", "NEAR(", "a:b", "^x", "'", "\\", "\x00"):
        await journal.search(hostile)
        await journal.count(hostile)


async def test_search_by_kinds(journal: Journal) -> None:
    await fill(journal)
    assert await summaries(journal, kinds=["queue", "membership"]) == [
        "Zoë Ørsted joined Sales EN",
        "Sales EN: waiting 1 → 4",
    ]
    assert await summaries(journal, "dana", kinds={"routing"}) == [
        "Dana Agent: Idle → Not Responding"
    ]
    assert await summaries(journal, kinds="gap") == ["Disconnected 00:42, 100% re-synced user_1"]
    assert await journal.count("", kinds=["presence", "routing"]) == 2
    assert await journal.count("sales", kinds=["queue"]) == 1


async def test_paging_backwards_with_before_never_skips_or_repeats(journal: Journal) -> None:
    # Groups of three entries share an instant, so a naive "at < before" page would skip some.
    written = [entry(T0 + timedelta(seconds=i // 3), f"entry {i}") for i in range(20)]
    for e in written:
        journal.append(e)
    await journal.flush()
    pages: list[list[str]] = []
    before = None
    while page := await journal.search(before=before, limit=4):
        pages.append([e.summary for e in page])
        before = page[-1].at
    seen = [summary for page in pages for summary in page]
    assert seen == [f"entry {i}" for i in reversed(range(20))]
    assert all(len(page) >= 4 for page in pages[:-1])
    assert await journal.count(before=T0 + timedelta(seconds=2)) == 6


def test_search_terms_become_quoted_fts_phrases() -> None:
    clauses, params = build_filter('lunch "AND" NEAR( x', ["presence"], T0, full_text=True)
    assert params[-3:] == ['"lunch" AND """AND""" AND "NEAR("', "presence", T0.timestamp()]
    assert params[:2] == ["%x%", "%x%"]  # too short for the trigram index
    assert clauses[-1] == "at < ?"
    _, params = build_filter("50%_off", [], None, full_text=False)
    assert params == ["%50\\%\\_off%", "%50\\%\\_off%"]


# ------------------------------------------------------------------------------- retention
async def test_retention_removes_old_entries_at_open_and_when_changed(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "j.sqlite3"
    ages = {"40 days": 40, "10 days": 10, "1 hour": 1 / 24}
    async with await Journal.open(path, clock=clock, retention_days=0) as journal:
        for name, days in ages.items():
            journal.append(entry(T0 - timedelta(days=days), name))
        await journal.flush()
        assert await journal.count() == 3

    async with await Journal.open(path, clock=clock, retention_days=30) as journal:
        assert await summaries(journal) == ["1 hour", "10 days"]
        journal.set_retention(5)
        await journal.flush()
        assert await summaries(journal) == ["1 hour"]
        journal.set_retention(0)  # keep forever
        clock.advance(days=1000)
        await journal.flush()
        assert await summaries(journal) == ["1 hour"]
        assert journal.retention_days == 0


async def test_retention_runs_about_hourly_on_the_clock(tmp_path: Path, clock: Clock) -> None:
    async with await Journal.open(tmp_path / "j.sqlite3", clock=clock) as journal:
        journal.append(entry(T0 - timedelta(days=30, minutes=-5), "expires in 5 min"))
        journal.append(entry(T0 - timedelta(days=30, minutes=-30), "expires in 30 min"))
        journal.append(entry(T0, "fresh"))
        await journal.flush()
        clock.advance(minutes=10)
        await journal.flush()
        assert await journal.count() == 3  # expired, but the hour is not over yet
        clock.advance(hours=1)
        await journal.flush()
        assert await summaries(journal) == ["fresh"]


# ---------------------------------------------------------------------------------- export
ODD = 'He said "hi", then left;\nnew line, tab\t, comma, → ✓'


async def export_fixture(journal: Journal, count: int) -> list[FeedEntry]:
    """``count`` entries in range, plus one before and one after it (not exported)."""
    journal.append(entry(T0 - timedelta(seconds=1), "before the range"))
    inside = [
        entry(
            T0 + timedelta(seconds=i // 2, microseconds=i),
            f"{ODD} #{i}",
            kind="queue" if i % 2 else "presence",
            severity="warning" if i % 3 == 0 else "info",
            data={"i": i, "text": ODD},
        )
        for i in range(count)
    ]
    for e in inside:
        journal.append(e)
    journal.append(entry(T0 + timedelta(days=1), "at the end: excluded"))
    return inside


def check_progress(calls: list[tuple[int, int]], total: int) -> None:
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(calls) >= -(-total // EXPORT_CHUNK_ROWS) + 1


async def test_export_csv_round_trip(journal: Journal, tmp_path: Path) -> None:
    written = await export_fixture(journal, 2500)
    calls: list[tuple[int, int]] = []
    threads: set[int] = set()

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        threads.add(threading.get_ident())

    target = tmp_path / "out.csv"
    count = await journal.export(target, T0, T0 + timedelta(days=1), "csv", progress)
    assert count == 2500
    check_progress(calls, 2500)
    assert threads == {threading.get_ident()}  # delivered on the loop thread
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert rows[1][0].endswith("Z")
    parsed = [
        (
            datetime.fromisoformat(at),
            kind,
            sid,
            subject,
            summary,
            severity,
            payload_from_json(kind, json.loads(data)),
        )
        for at, kind, sid, subject, summary, severity, data in rows[1:]
    ]
    assert parsed == [fields(e) for e in written]


async def test_export_jsonl_round_trip(journal: Journal, tmp_path: Path) -> None:
    written = await export_fixture(journal, 1200)
    calls: list[tuple[int, int]] = []
    target = tmp_path / "out.jsonl"
    count = await journal.export(
        target, T0, T0 + timedelta(days=1), "jsonl", lambda d, t: calls.append((d, t))
    )
    assert count == 1200
    check_progress(calls, 1200)
    lines = target.read_text(encoding="utf-8").splitlines()
    objects = [json.loads(line) for line in lines]
    assert all(list(obj) == list(EXPORT_COLUMNS) for obj in objects)
    parsed = [
        (
            datetime.fromisoformat(o["at"]),
            *(o[k] for k in EXPORT_COLUMNS[1:-1]),
            payload_from_json(o["kind"], o["data"]),
        )
        for o in objects
    ]
    assert parsed == [fields(e) for e in written]


async def test_export_of_an_empty_range_still_writes_a_file(
    journal: Journal, tmp_path: Path
) -> None:
    calls: list[tuple[int, int]] = []
    target = tmp_path / "empty.csv"
    assert await journal.export(target, T0, T0, "csv", lambda d, t: calls.append((d, t))) == 0
    assert calls == [(0, 0)]
    assert target.read_text(encoding="utf-8").splitlines() == [",".join(EXPORT_COLUMNS)]


async def test_cancelling_an_export_removes_the_partial_file(
    journal: Journal, tmp_path: Path
) -> None:
    await export_fixture(journal, 3000)
    target = tmp_path / "out.csv"
    target.write_text("the previous export\n", encoding="utf-8")
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if done > 0:
            task.cancel()

    task = asyncio.create_task(journal.export(target, None, None, "csv", progress))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls[-1][0] < calls[-1][1]  # stopped part-way
    assert target.read_text(encoding="utf-8") == "the previous export\n"
    names = await asyncio.to_thread(lambda: [p.name for p in tmp_path.iterdir()])
    left = [name for name in names if not name.startswith("journal.sqlite3")]
    assert left == ["out.csv"]  # no partial file beside it


async def test_export_into_a_missing_folder_says_so(journal: Journal, tmp_path: Path) -> None:
    await export_fixture(journal, 10)
    with pytest.raises(JournalError, match="could not be exported to"):
        await journal.export(tmp_path / "missing" / "out.csv", None, None, "csv")
    assert not (tmp_path / "missing").exists()


# -------------------------------------------------------------------------- property tests
def test_timestamps_survive_the_epoch_column_to_the_microsecond() -> None:
    @given(st.datetimes(datetime(1970, 1, 2), datetime(2100, 1, 1), timezones=st.just(UTC)))
    def check(at: datetime) -> None:
        assert from_epoch(to_epoch(at)) == at

    check()


SPECIAL = [
    '"AND"',
    "NEAR(",
    "OR",
    "NOT",
    "*",
    '"',
    "'",
    "%",
    "_",
    "\\",
    ":",
    "^",
    "-",
    "(",
    "\x00",
    "\ud800",
    "Σ",
    "ς",
    "ß",
    "İ",
    " ",
    "\u2028",
    "→",
    "👩‍💻",
]
TEXT = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(SPECIAL)), max_size=6).map("".join)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)


@pytest.mark.parametrize("full_text", [True, False], ids=["fts5", "like"])
def test_any_text_is_stored_and_found_by_any_piece_of_it(tmp_path: Path, full_text: bool) -> None:
    """Unicode, quotes, NUL, lone surrogates, FTS operators: never a crash, always found."""
    with asyncio.Runner() as runner:
        journal = runner.run(
            Journal.open(tmp_path / "j.sqlite3", full_text=full_text, flush_interval_s=60)
        )
        seconds = itertools.count()

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(
            summary=TEXT,
            subject=TEXT,
            data=st.dictionaries(TEXT, JSON, max_size=4),
            query=TEXT,
            cut=st.tuples(st.integers(0, 60), st.integers(0, 60)),
        )
        def check(
            summary: str, subject: str, data: dict[str, Any], query: str, cut: tuple[int, int]
        ) -> None:
            at = T0 + timedelta(seconds=next(seconds))
            journal.append(entry(at, summary, subject=subject, data=data))
            runner.run(journal.flush())
            runner.run(journal.search(query, kinds=[query]))
            runner.run(journal.count(query, before=at))
            piece = summary[min(cut) : max(cut)]
            found = runner.run(journal.search(piece, before=at + timedelta(microseconds=1)))
            assert found, f"{piece!r} did not find {summary!r}"
            assert fields(found[0]) == fields(
                entry(at, clean_text(summary), subject=clean_text(subject), data=data)
            )

        try:
            check()
        finally:
            runner.run(journal.close())
