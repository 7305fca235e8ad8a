"""The rhythm mode of the chaos run (tests/chaos/rhythm.py): CI-sized in ``make test`` and
``make rhythm``, long in ``make soak`` (SOAK_MINUTES).

Faults every 5-10 s on a moving org with production timings; a fault after a healthy session
must leave the engine live and re-synced within 5 s (a stall: 3 heartbeats + 5 s). The table
of staleness per fault kind is printed and kept in artifacts/.
"""

from __future__ import annotations

import os

import pytest

from tests.chaos.report import progress, save_table
from tests.chaos.rhythm import BURSTS, CI_BURSTS, run_rhythm
from tests.chaos.staleness import RhythmReport

SEED = 20241204
SOAK_MINUTES = float(os.environ.get("SOAK_MINUTES", "0") or 0)


def _assert_clean(report: RhythmReport, bursts: tuple[tuple[str, int], ...]) -> None:
    over = report.over_bound()
    assert not over, (
        "\n".join(f"{s.kind} #{s.seq} {s.engine}: {s.staleness_s}" for s in over)
        + "\n"
        + report.table()
    )
    assert report.problems == [], "\n".join(report.problems[:20])
    assert report.errors_logged == [], report.errors_logged[:10]
    assert report.leaked_tasks == [], report.leaked_tasks
    assert report.sockets_end <= report.sockets_start + 2, report.sockets_end
    # Every fault of the schedule was injected, hit an engine and was measured to its end.
    for kind, times in bursts:
        assert report.order.count(kind) >= times, (kind, report.order)
        measured = [s for s in report.samples if s.kind == kind]
        assert measured, kind
        assert all(s.staleness_s is not None for s in measured), kind
    # The bound judged something: most faults came after a healthy session.
    assert sum(s.healthy for s in report.samples) >= len(report.samples) // 2


@pytest.mark.timeout(300)
async def test_rhythm_recovers_within_bounds_after_healthy_sessions(
    recwarn: pytest.WarningsRecorder,
) -> None:
    report = await run_rhythm(seed=SEED, bursts=CI_BURSTS, progress=progress)
    save_table(report.table(), "chaos-rhythm-ci.txt")
    assert [str(w.message) for w in recwarn] == []
    _assert_clean(report, CI_BURSTS)


@pytest.mark.skipif(not SOAK_MINUTES, reason="the soak runs with `make soak` (SOAK_MINUTES)")
@pytest.mark.timeout(int(SOAK_MINUTES * 60 * 2 + 900) if SOAK_MINUTES else 60)
async def test_rhythm_soak(recwarn: pytest.WarningsRecorder) -> None:
    report = await run_rhythm(
        seed=SEED + 1, bursts=BURSTS, duration_s=SOAK_MINUTES * 60, progress=progress
    )
    save_table(report.table(), "chaos-rhythm-soak.txt")
    assert [str(w.message) for w in recwarn] == []
    _assert_clean(report, BURSTS)
