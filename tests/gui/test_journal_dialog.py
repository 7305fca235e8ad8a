"""The journal window against a real SQLite journal: page back in time, search, export."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.feed.entry import FeedEntry
from core.storage.journal.journal import Journal
from gui.dialogs.journal_dialog import PAGE, JournalDialog

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    opened = await Journal.open(tmp_path / "journal.sqlite3", retention_days=0)
    for n in range(500):
        presence = "Lunch" if n % 5 == 0 else "On Queue"
        opened.append(
            FeedEntry(
                T0 + timedelta(seconds=n),
                "presence",
                f"u{n % 7}",
                f"Agent {n % 7}",
                f"Agent {n % 7}: Available → {presence}",
            )
        )
    await opened.flush()
    yield opened
    await opened.close()


async def test_pages_back_in_time_until_nothing_is_older(qtbot: QtBot, journal: Journal) -> None:
    dialog = JournalDialog(journal)
    qtbot.addWidget(dialog)
    await dialog.load(reset=True)
    assert dialog.model.rowCount() == PAGE
    newest = dialog.model.entry(0).at
    assert newest == T0 + timedelta(seconds=499)
    await dialog.load(reset=False)
    await dialog.load(reset=False)
    assert dialog.model.rowCount() == 500
    assert "no older entries" in dialog.status.text()
    times = [dialog.model.entry(r).at for r in range(500)]
    assert times == sorted(times, reverse=True)


async def test_search_finds_only_matching_entries(qtbot: QtBot, journal: Journal) -> None:
    dialog = JournalDialog(journal)
    qtbot.addWidget(dialog)
    dialog.search.setText("lunch")
    await dialog.load(reset=True)
    assert dialog.model.rowCount() == 100
    assert all("Lunch" in dialog.model.entry(r).summary for r in range(100))


async def test_export_writes_the_range_with_progress(
    qtbot: QtBot, journal: Journal, tmp_path: Path
) -> None:
    dialog = JournalDialog(journal)
    qtbot.addWidget(dialog)
    finished: list[tuple[str, int]] = []
    dialog.export_finished.connect(lambda path, count: finished.append((path, count)))
    target = tmp_path / "out.csv"
    count = await dialog.export(
        target, T0 + timedelta(seconds=100), T0 + timedelta(seconds=200), "csv"
    )
    assert count == 100
    with target.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 100 and rows[0]["kind"] == "presence"
    assert finished == [(str(target), 100)]
    assert "Exported 100 entries" in dialog.status.text()
