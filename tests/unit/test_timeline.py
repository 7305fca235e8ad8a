"""The connection timeline and the diagnostics bundle: bounded, timestamped, never a secret."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.app.diagnostics import DiagnosticsError, redact_lines, write_diagnostics
from core.auth.tokens import TokenSet
from core.engine.records import BudgetRecord, EngineState, GapRecord, StateRecord
from core.engine.timeline import ConnectionTimeline

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
TOKEN = "tok-0123456789abcdef0123456789abcdef"
REFRESH = "ref-fedcba9876543210fedcba9876543210"


def _timeline(size: int = 100) -> ConnectionTimeline:
    ticks = iter(T0 + timedelta(seconds=n) for n in range(10_000))
    return ConnectionTimeline(size, now=lambda: next(ticks), clock=lambda: 1_000.0)


def test_states_gaps_resyncs_and_tokens_are_recorded_in_order() -> None:
    timeline = _timeline()
    timeline.on_token(TokenSet(TOKEN, 4_600.0, REFRESH, "pkce", 1_000.0))
    timeline.on_record(StateRecord(EngineState.LIVE, "live"))
    timeline.on_record(StateRecord(EngineState.RECONNECTING, "channel 0: close 1006"))
    timeline.on_record(GapRecord("start", "close 1006", T0))
    timeline.on_record(GapRecord("end", "close 1006", T0, T0 + timedelta(seconds=4), 3, 2, 5))
    timeline.on_token(TokenSet(TOKEN + "2", 4_600.0, None, "pkce", 1_000.0))
    timeline.on_token(None)
    entries = timeline.to_json()
    assert [e["kind"] for e in entries] == [
        "token",
        "state",
        "state",
        "gap",
        "resync",
        "token",
        "token",
    ]
    assert entries[0]["detail"] == "pkce token obtained" and entries[0]["good_for_s"] == 3600
    assert entries[5]["detail"] == "pkce token renewed"
    assert entries[2]["state"] == "reconnecting" and "1006" in entries[2]["detail"]
    assert entries[4]["gap_s"] == 4.0 and entries[4]["changed"] == 5
    assert entries[0]["at"] == "2026-11-27T09:00:00.000+00:00"
    text = json.dumps(entries)
    assert TOKEN not in text and REFRESH not in text


def test_unchanged_budgets_are_recorded_once() -> None:
    timeline = _timeline()
    budget = BudgetRecord(10, 1, (10,), 1000, (), ())
    for _ in range(5):
        timeline.on_record(budget)
    timeline.on_record(BudgetRecord(12, 1, (12,), 1000, (), ()))
    assert [e.detail for e in timeline.entries()] == [
        "10 topics on 1 channels",
        "12 topics on 1 channels",
    ]


def test_the_timeline_is_bounded() -> None:
    timeline = _timeline(size=3)
    for n in range(10):
        timeline.note(f"note {n}")
    assert [e.detail for e in timeline.entries()] == ["note 7", "note 8", "note 9"]
    with pytest.raises(ValueError, match="at least one"):
        ConnectionTimeline(0)


def test_every_line_is_redacted() -> None:
    text = f"a Authorization: Bearer {TOKEN}\nb access_token={TOKEN}&x=1\nc fine\n"
    cleaned = redact_lines(text)
    assert TOKEN not in cleaned and cleaned.endswith("c fine\n") and cleaned.count("\n") == 3


def test_the_bundle_holds_logs_timeline_settings_and_says_what_was_missing(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    log.write_text(f"x refresh_token={REFRESH}\n")
    target = write_diagnostics(
        tmp_path / "out" / "d.zip",
        log_files=[log, tmp_path / "gone.log"],
        timeline=[{"kind": "note", "detail": f"Bearer {TOKEN}"}],
        settings={"version": 1},
        about={"state": "live"},
        now=T0,
    )
    with zipfile.ZipFile(target) as bundle:
        assert sorted(bundle.namelist()) == [
            "about.json",
            "logs/app.log",
            "settings.json",
            "timeline.json",
        ]
        about = json.loads(bundle.read("about.json"))
        assert about["missing_logs"] == ["gone.log"] and about["state"] == "live"
        everything = b"".join(bundle.read(n) for n in bundle.namelist()).decode()
    assert TOKEN not in everything and REFRESH not in everything


def test_an_unwritable_target_is_a_diagnostics_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DiagnosticsError, match="could not be saved"):
        write_diagnostics(blocker / "d.zip", log_files=[], timeline=[], settings={})
