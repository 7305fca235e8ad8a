"""P8 the steady cost at a large org's rate: what the app costs the machine all day.

5,000 users and 200 queues (every one watched, so the engine shards over several channels) and
RATE events/s for DURATION_S seconds, replayed from the recorded stream copied onto that org
(benchmarks.large_stream; the replay's first channel carries it, the others only heartbeats).
The app is the real stack in this process (benchmarks.gui_rig): engine, journal on disk, the
demo org's alert rules, the bridge and the window, offscreen. Measured side by side in one run:

- bare: a websockets client doing ``json.loads`` per frame on the same paced stream;
- hidden: the app with its window hidden (tray only, how it runs most of the day);
- shown: the app with its window shown.

Each figure is this process's CPU seconds per wall second over its phase (user + system, all
threads, from /proc), so 1.0 is one core; the ratios to the bare client are the targets
(hidden ≤ 3x, shown ≤ 8x). Absolute figures depend on the machine; the ratios much less.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication
from websockets.asyncio.client import connect

from benchmarks.common import DATA, cpu_s, rss_mb
from benchmarks.gui_rig import ensure_frames, gui_rig, replay_server, run_gui_benchmark
from benchmarks.large_stream import SEED, write_large_stream

RATE = float(os.environ.get("BENCH_P8_RATE", "300"))
DURATION_S = float(os.environ.get("BENCH_P8_S", "60"))
WARMUP_S = 5.0
USERS, QUEUES = 5000, 200
ORG = ("--users", str(USERS), "--queues", str(QUEUES), "--seed", str(SEED))
FRAMES_P8 = DATA / f"frames-{USERS}u-{QUEUES}q.jsonl"
STREAM_FRAMES = 60_000


async def bare_phase(uri: str, seconds: float) -> dict[str, float]:
    """The bare client on the paced stream: events taken and CPU seconds per second.

    As lean as a client can be: one ``async for`` over the socket and ``json.loads`` per frame
    (the stream never pauses at this rate, so the loop notices its deadline within a frame).
    """
    loads = json.loads
    seen = 0
    warm_until = time.perf_counter() + WARMUP_S
    cpu0 = wall0 = end = 0.0
    async with connect(uri, max_size=None, compression=None, ping_interval=None) as ws:
        async for data in ws:
            loads(data)
            now = time.perf_counter()
            if not wall0:
                if now >= warm_until:
                    cpu0, wall0, end = cpu_s(), now, now + seconds
                continue
            seen += 1
            if now >= end:
                break
    wall = time.perf_counter() - wall0
    cpu = cpu_s() - cpu0
    return {"events_per_s": seen / wall, "cpu_s_per_s": cpu / wall, "seconds": wall}


async def app_phase(rig_events: Any, seconds: float) -> dict[str, float]:
    """CPU seconds per second of this process (the whole app) over ``seconds``."""
    events0 = rig_events()
    cpu0, wall0 = cpu_s(), time.perf_counter()
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - wall0
    cpu = cpu_s() - cpu0
    return {
        "events_per_s": (rig_events() - events0) / wall,
        "cpu_s_per_s": cpu / wall,
        "seconds": wall,
    }


async def measure(qapp: QApplication, workdir: Path) -> dict[str, Any]:
    """Bare, then the app hidden, then shown: the figures of one run."""
    async with replay_server(RATE, 0, FRAMES_P8) as uri:
        bare = await bare_phase(uri, DURATION_S)
    async with gui_rig(qapp, workdir, rate=RATE, org=ORG, frames=FRAMES_P8) as rig:
        window = rig.app.window
        channels = len(rig.service.plan.shards)
        window.hide()
        await asyncio.sleep(WARMUP_S)
        hidden = await app_phase(lambda: rig.events, DURATION_S)
        window.show()
        await asyncio.sleep(WARMUP_S)
        shown = await app_phase(lambda: rig.events, DURATION_S)
        rss = rss_mb()
        journaled = rig.journal.stats.written
    base = bare["cpu_s_per_s"] or 1e-9
    return {
        "org": f"{USERS} users, {QUEUES} queues, all watched",
        "channels": channels,
        "rate_asked_per_s": RATE,
        "phase_s": DURATION_S,
        "bare_events_per_s": round(bare["events_per_s"], 1),
        "hidden_events_per_s": round(hidden["events_per_s"], 1),
        "shown_events_per_s": round(shown["events_per_s"], 1),
        "bare_cpu_s_per_s": round(bare["cpu_s_per_s"], 4),
        "hidden_cpu_s_per_s": round(hidden["cpu_s_per_s"], 4),
        "shown_cpu_s_per_s": round(shown["cpu_s_per_s"], 4),
        "hidden_core_percent": round(100 * hidden["cpu_s_per_s"], 1),
        "shown_core_percent": round(100 * shown["cpu_s_per_s"], 1),
        "ratio_hidden_bare": round(hidden["cpu_s_per_s"] / base, 2),
        "ratio_shown_bare": round(shown["cpu_s_per_s"] / base, 2),
        "journal_rows": journaled,
        "rss_mb": round(rss, 1),
    }


def prepare() -> None:
    """Record the stream once, and copy it onto the large org once."""
    ensure_frames()
    if not FRAMES_P8.exists():
        count = write_large_stream(FRAMES_P8, users=USERS, queues=QUEUES, frames=STREAM_FRAMES)
        print(f"wrote {count} frames of the {USERS}-user org to {FRAMES_P8.name}")


def main() -> None:
    """Run P8 and save its figures."""
    run_gui_benchmark("p8_steady", measure, prepare=prepare)


if __name__ == "__main__":
    main()
