"""The EventBridge faults of the chaos run (tests/chaos/bridge.py): CI-sized in ``make test``,
long in ``make soak`` (SOAK_MINUTES).

A delivery outage, duplicates, reordering, poison messages and SQS unreachable hit one engine
wired as the app wires it with EventBridge on, while its WebSocket drops or stalls now and
then: 0 lost, 0 duplicated, 0 mismatches with the truth, every poison message reported and in
the dead-letter queue. The table (with how soon it caught up after each fault) is printed and
kept in artifacts/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.bridge import KINDS, run_bridge
from tests.chaos.bridge_kit import BridgeReport
from tests.chaos.report import progress, save_table
from tests.integration.bridge_helpers import aws_env

SEED = 20261215
CI_PER_KIND = 3
SOAK_PER_KIND = 10
SOAK_MINUTES = float(os.environ.get("SOAK_MINUTES", "0") or 0)


def _assert_clean(report: BridgeReport, per_kind: int) -> None:
    assert report.problems == [], "\n".join(report.problems[:20])
    assert report.errors_logged == [], report.errors_logged[:10]
    assert report.leaked_tasks == [], report.leaked_tasks
    assert report.lost == 0
    assert report.duplicated == 0
    assert report.bridge_mismatches == 0
    assert report.dead_tasks == 0
    assert report.poison_in_dlq == report.poison_injected == report.poison_reported
    assert report.published > 0 and report.by_eventbridge > 0 and report.recovered > 0
    for kind in KINDS:
        stats = report.bridge[kind]
        assert stats.injected >= per_kind, (kind, stats)
        assert stats.survived == stats.injected, (kind, stats)
    assert report.bridge["sqs_unreachable"].went_down >= per_kind
    assert report.sockets_end <= report.sockets_start + 2, report.sockets_end


@pytest.mark.timeout(300)
async def test_eventbridge_faults_lose_nothing_and_duplicate_nothing(
    recwarn: pytest.WarningsRecorder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    aws_env(monkeypatch)
    report = await run_bridge(
        seed=SEED, per_kind=CI_PER_KIND, journal_dir=tmp_path, progress=progress
    )
    save_table(report.table(), "chaos-bridge-ci.txt")
    assert [str(w.message) for w in recwarn] == []
    _assert_clean(report, CI_PER_KIND)


@pytest.mark.skipif(not SOAK_MINUTES, reason="the soak runs with `make soak` (SOAK_MINUTES)")
@pytest.mark.timeout(int(SOAK_MINUTES * 60 * 2 + 900) if SOAK_MINUTES else 60)
async def test_bridge_soak(
    recwarn: pytest.WarningsRecorder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    aws_env(monkeypatch)
    report = await run_bridge(
        seed=SEED + 1,
        per_kind=SOAK_PER_KIND,
        journal_dir=tmp_path,
        duration_s=SOAK_MINUTES * 60,
        fault_s=(3.0, 20.0),
        progress=progress,
    )
    save_table(report.table(), "chaos-bridge-soak.txt")
    assert [str(w.message) for w in recwarn] == []
    _assert_clean(report, SOAK_PER_KIND)
