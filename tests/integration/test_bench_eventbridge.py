"""P7 and P9 at a tiny size: each runs end to end and produces its figures (never its timings).

Each benchmark runs in its own process, as ``make bench`` runs it (P7 sets the AWS variables of
moto, P9 owns a QApplication), on a short stream recorded here from a 200-user sandbox org.
The figures are read from its last line of output; nothing is written to benchmarks/.data.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.common import ROOT
from benchmarks.record_frames import record

pytest.importorskip("moto")


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short stream of the org both benchmarks copy from (200 users, 20 queues, seed 5)."""
    path = tmp_path_factory.mktemp("bench") / "frames.jsonl"
    asyncio.run(record(400, users=200, queues=20, seed=5, path=path))
    return path


def figures_of(code: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter at the repository root; its last line as JSON."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


@pytest.mark.timeout(300)
def test_p7_backlog_drains_every_message_both_ways_and_reports_the_ratio(frames: Path) -> None:
    # The bare loop's pollers poll 1 s, not the consumer's 20 s: the last of them run out on
    # the empty queue before the app's fill (a figure of the size of 40 messages, not a timing).
    code = (
        "import asyncio, json; from pathlib import Path; from benchmarks import p7_backlog; "
        f"r = asyncio.run(p7_backlog.run(40, 200, 20, Path({str(frames)!r}), seed=5, wait_s=1)); "
        "print(json.dumps(r))"
    )
    r = figures_of(code)
    assert r["messages"] == 40
    assert r["app"]["delivered"] == 40  # each message journaled once
    assert r["bare_events_per_s"] > 0 and r["app_events_per_s"] > 0
    assert r["ratio_app_bare"] == pytest.approx(
        r["app_events_per_s"] / r["bare_events_per_s"], rel=0.01
    )
    app = r["app"]
    assert app["deleted"] >= 40 and app["unparsed"] == 0 and r["bare_deleted"] == 40
    assert app["merge"]["received"] + app["duplicates"] >= 40  # every message reached the merge
    assert app["journal_rows"] > 0 and app["feed_lines"] > 0
    assert app["users_in_store"] == 200 and app["queues_in_store"] == 20


@pytest.mark.timeout(300)
def test_p9_scale_feeds_the_board_and_reports_rss_cpu_and_lag(frames: Path) -> None:
    code = (
        "import json; from pathlib import Path; from benchmarks import p9_scale; "
        "r = p9_scale.run(p9_scale.Settings(users=200, queues=20, rate=100, seconds=2, "
        f"warmup_s=0.5, frames=Path({str(frames)!r}))); print(json.dumps(r))"
    )
    r = figures_of(code)
    assert r["users_in_store"] == 200 and r["agents_board_rows"] == 200
    assert r["events"] > 0 and r["unparsed"] == 0
    assert r["merge"]["received"] >= r["events"]
    assert r["journal_rows"] > 0
    assert r["rss_peak_mb"] >= r["rss_end_mb"] > 0
    assert r["cpu_percent"] > 0
    assert r["lag_ticks"] > 0 and r["lag_max_ms"] >= r["lag_p99_ms"] >= r["lag_p50_ms"] >= 0
    assert r["eventbridge_status"] in ("live", "lagging")
