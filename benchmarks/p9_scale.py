"""P9 scale past one user's ceiling: 50,000 users' presence and routing through EventBridge.

The org: a sandbox org of BENCH_P9_USERS (50,000) users and 200 queues in its own process, with
its EventBridge source on (``--eventbridge``: moto's SQS on loopback), simulation paused, and
one fixed shape of every REST answer (``--no-variations``). The users exist for the engine the
honest way: it resolves "every user, every queue" over REST and re-syncs them into its store as
it always does; the WebSocket takes what fits in 20 channels of 1,000 topics (the rest is
reported over budget) and stays quiet. That start takes minutes at 50,000 users (500 pages of
users for the selection, then the re-sync of the 16,500 on a channel: the other 33,500 come from
the selection's read; some 670 REST calls under the sandbox's 300-a-minute client limit); it is
reported, not judged. As the app does, start-up's heap is frozen out of garbage collection once
live (:mod:`core.app.heap`; ``BENCH_P9_SETTLE_HEAP=0`` leaves it, to compare).

The app is the real stack in this process, as P2 and P8 run it: the engine, a journal file, the
demo rules, :class:`gui.app.GuiApp` with its window shown on the agents board (offscreen), and
the EventBridge side: an :class:`core.eventbridge.consumer.SqsConsumer` polling the org's queue
(the status bar and tray show it) whose sink is :class:`core.app.bridge_merge.BridgeMerge`.

The events: ``rate`` envelopes a second (benchmarks.eb_stream in its own process: the recorded
stream copied onto the large org, wrapped by the sandbox's envelope builder, timestamps now) for
``seconds``. They reach the merge through the consumer's own steps (``parse_envelope``,
the envelope-id and content dedup, event-time order, batches of ten, up to four in the sink at
once as the consumer's pollers while a backlog drains) from a pipe, not through moto: moto
drains a few tens of messages a second on this machine (P7's bare loop: every call scans the
whole queue), far from 1,000 events a second, and the transport itself costs the app little
(P7's CPU per event). Measured after the warm-up: RSS (end and peak) and CPU of this
process, and the board's responsiveness with P2's lag probe (p99 of the event loop's lateness).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from benchmarks.common import (
    FRAMES,
    ROOT,
    cpu_s,
    median,
    percentile,
    rss_mb,
    save_result,
    wait_until,
    wire_engine,
)
from benchmarks.eb_feed import eventbridge_org, moto_environment
from benchmarks.gui_rig import ensure_frames
from benchmarks.large_stream import SEED
from benchmarks.p2_ui import LagProbe
from core.app.bridge_merge import BridgeMerge
from core.app.heap import settle_heap_once_live
from core.engine.records import EngineState
from core.engine.selection import Selection
from core.eventbridge.consumer import ConsumerSettings, SqsConsumer
from core.eventbridge.dedup import Deduper, Verdict
from core.eventbridge.envelope import EnvelopeError, parse_envelope
from core.eventbridge.events import BridgedEvent
from core.storage.journal.journal import Journal
from core.storage.settings.model import default_config
from core.streaming.reconnect import ChannelSettings
from gui.app import GuiApp
from gui.options import GuiOptions, create_qapp, run_qasync

BATCH = 10  # one ReceiveMessage's worth
POLLERS = ConsumerSettings().max_pollers  # the consumer's pollers while a backlog drains


@dataclass(frozen=True)
class Settings:
    """The size of a run (the environment's BENCH_P9_* for ``make bench``; tests go small)."""

    users: int = int(os.environ.get("BENCH_P9_USERS", "50000"))  # a multiple of 200
    queues: int = int(os.environ.get("BENCH_P9_QUEUES", "200"))  # a multiple of 20
    rate: float = float(os.environ.get("BENCH_P9_RATE", "1000"))
    seconds: float = float(os.environ.get("BENCH_P9_S", "60"))
    warmup_s: float = 5.0
    settle_heap: bool = os.environ.get("BENCH_P9_SETTLE_HEAP", "1") != "0"  # as the app does
    frames: Path = FRAMES  # recorded from the 200-user, 20-queue org of seed 5


class Feed:
    """The consumer's steps between a received body and the sink, fed from the stream's pipe."""

    def __init__(self, merge: BridgeMerge) -> None:
        self.merge = merge
        self.dedup = Deduper()
        self.events = 0
        self.unparsed = 0
        self.duplicates = 0

    async def batch(self, bodies: Sequence[bytes]) -> None:
        """Parse, drop repeats, order by event time, hand to the merge, then count as seen."""
        fresh: list[BridgedEvent] = []
        for body in bodies:
            try:
                event = parse_envelope(body)
            except EnvelopeError:
                self.unparsed += 1
                continue
            if self.dedup.check(event) is Verdict.NEW:
                fresh.append(event)
                self.dedup.take_off(event)
            else:
                self.duplicates += 1
        fresh.sort(key=lambda e: e.happened)
        try:
            await self.merge(fresh)
        finally:
            for event in fresh:
                self.dedup.land(event, journaled=True)
        self.events += len(fresh)

    async def run(self, stream: asyncio.StreamReader, pollers: int = POLLERS) -> None:
        """Until the stream ends: batches of up to ten of the lines that have arrived.

        Up to ``pollers`` batches are in the sink at once, as the consumer runs that many
        pollers while its queue holds a backlog: each waits for the journal's commit of its own
        batch while the next one is merged.
        """
        await stream.readline()  # "ready"
        slots = asyncio.Semaphore(pollers)
        running: set[asyncio.Task[None]] = set()

        async def poller(bodies: list[bytes]) -> None:
            try:
                await self.batch(bodies)
            finally:
                slots.release()

        rest = b""
        while True:
            chunk = await stream.read(1 << 16)
            if not chunk:
                break
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for start in range(0, len(lines), BATCH):
                await slots.acquire()
                task = asyncio.get_running_loop().create_task(poller(lines[start : start + BATCH]))
                running.add(task)
                task.add_done_callback(running.discard)
        await asyncio.gather(*running)


async def measure(qapp: QApplication, workdir: Path, size: Settings) -> dict[str, Any]:
    """The org, the app on it, the paced stream; the figures of one run."""
    moto_environment()
    org_args = ("--users", str(size.users), "--queues", str(size.queues), "--seed", str(SEED))
    rss_start = rss_mb()
    # One fixed shape of every answer: with the sandbox's variations, REST leaves out some users'
    # routing status, which the re-sync then reads one user at a time (thousands of calls at
    # 50,000 users under the client's 300-a-minute limit): a cost of the start, not of P9.
    async with eventbridge_org(*org_args, "--no-simulation", "--no-variations") as org:
        engine = await wire_engine(
            org.base_url, Selection(queues="all", users="all"), ChannelSettings()
        )
        service = engine.service
        journal = await Journal.open(workdir / "journal.sqlite3")
        merges: list[BridgeMerge] = []

        async def sink(events: Sequence[BridgedEvent]) -> None:
            await merges[0](events)

        consumer = SqsConsumer(org.queue_url, sink)

        async def stop_bridge() -> None:
            await consumer.stop()
            for merge in merges:
                merge.close()

        options = GuiOptions(
            journal=journal,
            settings=QSettings(str(workdir / "gui.ini"), QSettings.Format.IniFormat),
            config=default_config(demo=True),
            watch_network=False,
            eventbridge=consumer,
            eventbridge_stop=stop_bridge,
        )
        app = GuiApp(qapp, service, options)
        settler = settle_heap_once_live(service.add_listener) if size.settle_heap else None
        merge = BridgeMerge(service, app.pipeline, flush=journal.flush)
        merges.append(merge)
        consumer.add_status_listener(merge.on_status)
        started = time.perf_counter()
        running = asyncio.get_running_loop().create_task(app.run())
        feeder: asyncio.subprocess.Process | None = None
        feeding: asyncio.Task[None] | None = None
        probe = LagProbe()
        try:
            await wait_until(lambda: service.state is EngineState.LIVE, 2400, 0.1)
            live_s = time.perf_counter() - started
            rss_live = rss_mb()
            print(f"live after {live_s:.1f} s, {len(service.store.users):,} users", flush=True)
            consumer.start()
            window = app.window
            window.show()
            window.tabs.setCurrentIndex(0)  # the agents board
            feeder = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "benchmarks.eb_stream",
                "--users",
                str(size.users),
                "--queues",
                str(size.queues),
                "--rate",
                str(size.rate),
                "--frames",
                str(size.frames),
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=1 << 20,
            )
            assert feeder.stdout is not None
            feed = Feed(merge)
            feeding = asyncio.get_running_loop().create_task(feed.run(feeder.stdout))
            await wait_until(lambda: feed.events > 0, 120, 0.05)
            await asyncio.sleep(size.warmup_s)
            probe.start()
            await asyncio.sleep(0.1)
            probe.recording = True
            events0, cpu0, wall0 = feed.events, cpu_s(), time.perf_counter()
            rss_peak = 0.0
            while time.perf_counter() - wall0 < size.seconds:
                await asyncio.sleep(1.0)
                rss_peak = max(rss_peak, rss_mb())
            wall, cpu = time.perf_counter() - wall0, cpu_s() - cpu0
            probe.recording = False
            fed = feed.events - events0
            rss_end = rss_mb()
            plan = service.plan
            figures: dict[str, Any] = {
                "org": f"{size.users:,} users, {size.queues} queues, all watched",
                "users_in_store": len(service.store.users),
                "agents_board_rows": window.agents.rowCount(),
                "websocket_channels": plan.channels,
                "websocket_topics": plan.topic_count,
                "topics_over_websocket_budget": len(plan.over_budget),
                "live_after_s": round(live_s, 1),
                "rate_asked_per_s": size.rate,
                "duration_s": round(wall, 1),
                "events": fed,
                "events_per_s": round(fed / wall, 1),
                "unparsed": feed.unparsed,
                "duplicates": feed.duplicates,
                "merge": dict(merge.counters),
                "journal_rows": journal.stats.written,
                "cpu_percent": round(100 * cpu / wall, 1),
                "rss_start_mb": round(rss_start, 1),
                "rss_live_mb": round(rss_live, 1),
                "rss_end_mb": round(rss_end, 1),
                "rss_peak_mb": round(max(rss_peak, rss_end), 1),
                "eventbridge_status": consumer.status.state,
                "heap_frozen_objects": settler.frozen if settler is not None else 0,
                "heap_settle_ms": round(settler.pause_ms, 1) if settler is not None else None,
                # other processes on the machine: this run's CPU share and lag depend on them
                "load_average_1m_end": round(os.getloadavg()[0], 2),
            }
        finally:
            probe.stop()
            if feeder is not None:
                if feeder.stdin is not None:
                    feeder.stdin.close()
                with contextlib.suppress(ProcessLookupError):
                    feeder.terminate()
                await feeder.wait()
            if feeding is not None:
                feeding.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await feeding
            app.stop_requested.set()
            await running
            await journal.close()
            await engine.api.aclose()
            await engine.auth.aclose()
    lags = probe.lags_ms
    figures.update(
        {
            "lag_ticks": len(lags),
            "lag_p50_ms": round(median(lags), 2),
            "lag_p99_ms": round(percentile(lags, 0.99), 2),
            "lag_max_ms": round(max(lags, default=0.0), 2),
        }
    )
    print(
        f"{figures['events_per_s']:,} ev/s to {figures['users_in_store']:,} users: RSS "
        f"{figures['rss_end_mb']} MB (peak {figures['rss_peak_mb']}), CPU "
        f"{figures['cpu_percent']} %, lag p99 {figures['lag_p99_ms']} ms",
        flush=True,
    )
    return figures


def run(size: Settings) -> dict[str, Any]:
    """One run on qasync (offscreen) in a scratch folder; its figures."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    qapp = create_qapp()
    figures: dict[str, Any] = {}

    async def go() -> int:
        with tempfile.TemporaryDirectory() as workdir:
            figures.update(await measure(qapp, Path(workdir), size))
        return 0

    run_qasync(qapp, go)
    return figures


def main() -> None:
    """Run P9 at the BENCH_P9_* size and save its figures."""
    ensure_frames()
    save_result("p9_scale", run(Settings()))


if __name__ == "__main__":
    main()
