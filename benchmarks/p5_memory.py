"""P5 memory: 1,000,000 events through the engine, the feed and the journal; RSS growth.

The app's own stack (benchmarks.gui_rig): the real engine on a real WebSocket from
benchmarks.replay_server, here sending EVENTS frames (one event each) as fast as the process
reads them, and :class:`gui.app.GuiApp` on top: bridge → FeedBuilder → the window's feed, agents
and queues models, the demo org's alert rules, and every feed entry appended to a real on-disk
:class:`core.storage.journal.journal.Journal` (its writer thread commits in batches). The window
is hidden once
the app is live, as a tray app spends its day; the models are fed all the same (no repaints).

The replay repeats the recorded org's day (200 users, 20 queues, the same conversation ids on
every pass, timestamps moved forward each time), so a bounded app must level off: the store
holds 200 users and 20 queues, the feed 10,000 rows, the journal lives on disk.

Figures: RSS once WARMUP_EVENTS events are in vs at the end (every event handled, the last batch
flushed to the models and the journal), the growth between them, the peak, RSS along the way,
the journal's backlog at its largest, and throughput.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from benchmarks.common import rss_mb
from benchmarks.gui_rig import Rig, gui_rig, run_gui_benchmark

EVENTS = int(os.environ.get("BENCH_P5_EVENTS", "1000000"))
WARMUP_EVENTS = 50_000
SAMPLE_S = 0.5
STALL_S = 20.0  # no frame for this long: report what arrived instead of waiting forever


def frames_in(rig: Rig) -> int:
    """Frames the engine has taken in: typed events plus the few it could not parse."""
    counters = rig.service.counters
    return int(counters.get("events", 0)) + int(counters.get("unparsed", 0))


def journal_mb(folder: Path) -> float:
    """Size of the journal's files (database, WAL, shared memory) in MB."""
    return sum(p.stat().st_size for p in folder.glob("journal.sqlite3*")) / 1e6


async def measure(qapp: QApplication, workdir: Path) -> dict[str, Any]:
    """Stream EVENTS events into the app, sampling RSS; the figures."""
    async with gui_rig(qapp, workdir, rate=0, total=EVENTS) as rig:
        rig.app.window.hide()
        rss_live = rss_mb()
        started = time.perf_counter()
        samples: list[tuple[int, float]] = []
        rss_warm: float | None = None
        warm_at = 0.0
        backlog_max = 0
        last_seen, last_change = -1, time.perf_counter()
        while (seen := frames_in(rig)) < EVENTS:
            rss = rss_mb()
            samples.append((seen, rss))
            backlog_max = max(backlog_max, rig.journal.stats.pending)
            if rss_warm is None and seen >= WARMUP_EVENTS:
                rss_warm, warm_at = rss, time.perf_counter()
                print(f"warm after {seen:,} events: {rss:.1f} MB", flush=True)
            if seen != last_seen:
                last_seen, last_change = seen, time.perf_counter()
            elif time.perf_counter() - last_change > STALL_S:
                print(f"stalled at {seen:,} events", flush=True)
                break
            if len(samples) % 20 == 0:
                print(f"{seen:,} events, RSS {rss:.1f} MB", flush=True)
            await asyncio.sleep(SAMPLE_S)
        streamed_s = time.perf_counter() - started
        warm_s = time.perf_counter() - warm_at
        seen = frames_in(rig)
        backlog_end = rig.journal.stats.pending
        await asyncio.sleep(0.3)  # the bridge's last tick reaches the models and the journal
        await rig.journal.flush()
        rss_end = rss_mb()
        stats = rig.journal.stats
        store = rig.service.store
        figures: dict[str, Any] = {
            "events": seen,
            "typed_events": int(rig.service.counters.get("events", 0)),
            "events_per_s": round(seen / streamed_s),
            "seconds": round(streamed_s, 1),
            "warmup_events": WARMUP_EVENTS,
            "rss_live_mb": round(rss_live, 1),
            "rss_after_warmup_mb": round(rss_warm or 0.0, 1),
            "rss_end_mb": round(rss_end, 1),
            "rss_growth_mb": round(rss_end - (rss_warm or rss_end), 1),
            "rss_peak_mb": round(max([rss_end, *(r for _, r in samples)]), 1),
            "rss_growth_per_100k_events_mb": round(
                100_000 * (rss_end - (rss_warm or rss_end)) / max(1, seen - WARMUP_EVENTS), 2
            ),
            "seconds_after_warmup": round(warm_s, 1),
            "rss_mb_at_events": {
                str(n): round(r, 1) for n, r in samples[:: max(1, len(samples) // 12)]
            },
            "journal_appended": stats.appended,
            "journal_written": stats.written,
            "journal_dropped": stats.dropped,
            "journal_backlog_max": backlog_max,
            "journal_backlog_at_end_of_stream": backlog_end,
            "journal_mb_on_disk": round(await asyncio.to_thread(journal_mb, workdir), 1),
            "feed_rows": rig.app.window.feed.rowCount(),
            "store_users": len(store.users),
            "store_queues": len(store.queues),
            "store_conversations": sum(len(q.conversations) for q in store.queues.values()),
        }
    return figures


def main() -> None:
    """Record the stream if needed, run the million, save the figures."""
    run_gui_benchmark("p5_memory", measure)


if __name__ == "__main__":
    main()
