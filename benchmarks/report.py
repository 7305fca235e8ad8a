"""Turn benchmarks/.data/results/*.json into benchmarks/RESULTS.md (figures, ratios, PASS/MISS)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, machine

CLOSINGS = 3  # socket_closing switches per run (benchmarks.p3_recovery)
OUT = Path(__file__).resolve().parent / "RESULTS.md"
Json = dict[str, Any]

# (benchmark, target text, figure shown, met?)
TARGETS: list[tuple[str, str, Callable[[Json], str], Callable[[Json], bool]]] = [
    (
        "p1_ingest",
        "P1 (a) ≥ 0.5 x (b)",
        lambda r: (
            f"{r['engine_events_per_s']:,} vs {r['bare_events_per_s']:,} ev/s = "
            f"{r['ratio_a_b']:.2f} x"
        ),
        lambda r: bool(r["ratio_a_b"] >= 0.5),
    ),
    (
        "p1_ingest",
        "P1 (a) ≥ 20 x (c)",
        lambda r: (
            f"{r['engine_events_per_s']:,} vs {r['sdk_events_per_s']:,} ev/s = "
            f"{r['ratio_a_c']:.1f} x"
        ),
        lambda r: bool(r["ratio_a_c"] >= 20),
    ),
    (
        "p3_recovery",
        "P3 drop → live + re-synced, minus first backoff < 2 s",
        lambda r: f"median {r['recovery_median_s'] * 1000:.0f} ms of {r['drops']} drops",
        lambda r: bool(r["recovery_median_s"] < 2.0),
    ),
    (
        "p3_recovery",
        "P3 socket_closing: events lost = 0",
        lambda r: f"{r['events_lost']} lost of {r['socket_closing_probes'] * CLOSINGS}",
        lambda r: r["events_lost"] == 0,
    ),
    (
        "p4_scale",
        "P4 subscribe everything < 5 s",
        lambda r: (
            f"{r['subscribe_to_live_s']:.2f} s ({r['channels']} channels, "
            f"{r['topics']} topics, {r['rest_calls']} REST calls)"
        ),
        lambda r: bool(r["subscribe_to_live_s"] < 5.0),
    ),
    (
        "p4_scale",
        "P4 RSS once steady < 250 MB",
        lambda r: f"{r['rss_steady_mb']:.0f} MB",
        lambda r: bool(r["rss_steady_mb"] < 250),
    ),
    (
        "p4_scale",
        "P4 CPU idle < 1 %",
        lambda r: f"{r['idle_cpu_percent']:.2f} % over {r['idle_s']:.0f} s",
        lambda r: bool(r["idle_cpu_percent"] < 1.0),
    ),
]
NOT_YET = ["p2_ui", "p5_memory", "p6_startup"]


def main() -> None:
    """Write RESULTS.md from whatever results exist."""
    results: dict[str, Json] = {
        p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))
    }
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}. Written by `make bench`; figures of the last run only.",
        "",
        "| Target | Figure | Verdict |",
        "|---|---|---|",
    ]
    for name, target, figure, met in TARGETS:
        result = results.get(name)
        if result is None:
            lines.append(f"| {target} | not run | — |")
        else:
            lines.append(f"| {target} | {figure(result)} | {'PASS' if met(result) else 'MISS'} |")
    for name in NOT_YET:
        if name not in results:
            lines.append(f"| {name} | not implemented yet | — |")
    lines += ["", "## Figures", ""]
    for name, result in results.items():
        lines += [f"### {name}", "", "```json", json.dumps(result, indent=2), "```", ""]
    OUT.write_text("\n".join(lines))
    print("\n".join(lines[:20]))


if __name__ == "__main__":
    main()
