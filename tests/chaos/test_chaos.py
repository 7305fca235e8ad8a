"""The CI-sized chaos run (part of ``make test``) and the soak (``make soak``).

Both run :mod:`tests.chaos.driver`: the engine against the sandbox while every fault kind hits it
in an order shuffled with a fixed seed; see the driver for what is checked after every fault.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from tests.chaos.driver import KINDS, run_chaos
from tests.chaos.report import ChaosReport, progress, save_table

SEED = 20240611
# make test: 3 of each of the 16 kinds (48 faults, under a minute); `make chaos` runs 10 of each
# (CHAOS_PER_KIND), the soak 50.
CI_PER_KIND = int(os.environ.get("CHAOS_PER_KIND", "3") or 3)
SOAK_PER_KIND = 50
SOAK_MINUTES = float(os.environ.get("SOAK_MINUTES", "0") or 0)


def _assert_clean(report: ChaosReport, per_kind: int) -> None:
    assert report.problems == [], "\n".join(report.problems[:20])
    assert report.errors_logged == [], report.errors_logged[:10]
    assert report.leaked_tasks == [], report.leaked_tasks
    assert report.mismatches == 0
    assert report.alert_mismatches == 0
    # The alert check has teeth: conditions that began during gaps did fire after re-syncs.
    assert sum(k.alerts_after_gap for k in report.kinds.values()) >= per_kind
    # The app's window showed the truth after every fault.
    assert report.gui_mismatches == 0
    assert report.gui_checks >= report.faults
    for kind in KINDS:
        stats = report.kinds[kind]
        assert stats.injected >= per_kind, (kind, stats)
        assert stats.survived == stats.injected, (kind, stats)
    assert report.sockets_end <= report.sockets_start + 2, report.sockets_end


@pytest.mark.timeout(420)
async def test_survives_every_fault_kind_in_random_order(
    recwarn: pytest.WarningsRecorder, tmp_path: Path, qapp: QApplication
) -> None:
    report = await run_chaos(
        seed=SEED, per_kind=CI_PER_KIND, progress=progress, gui_settings=str(tmp_path / "gui.ini")
    )
    save_table(report.table(), "chaos-ci.txt")
    assert [str(w.message) for w in recwarn] == []
    _assert_clean(report, CI_PER_KIND)


@pytest.mark.skipif(not SOAK_MINUTES, reason="the soak runs with `make soak` (SOAK_MINUTES)")
@pytest.mark.timeout(int(SOAK_MINUTES * 60 * 2 + 900) if SOAK_MINUTES else 60)
async def test_soak(recwarn: pytest.WarningsRecorder, tmp_path: Path, qapp: QApplication) -> None:
    report = await run_chaos(
        gui_settings=str(tmp_path / "gui.ini"),
        seed=SEED + 1,
        per_kind=SOAK_PER_KIND,
        duration_s=SOAK_MINUTES * 60,
        progress=progress,
        live_recovery=os.environ.get("CHAOS_LIVE_RECOVERY") == "1",
    )
    save_table(report.table(), "chaos-soak.txt")
    assert [str(w.message) for w in recwarn] == []
    _assert_clean(report, SOAK_PER_KIND)
