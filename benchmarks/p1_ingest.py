"""P1 ingest: one recorded frame stream over loopback into (a) the engine, (b) json.loads, (c) SDK.

(a) The engine end to end, the real code path of the app: a real
``core.streaming.shard.ChannelShard``
    (socket via ``websockets_connector`` → ``decode_frame`` → duplicate check → watchdog) feeding
    a real :class:`core.engine.service.MonitorService` (``parse_event`` → ``Store.apply`` →
    Event/Change
    records) whose listener is the app's :class:`core.app.pipeline.Pipeline` (feed entries
    through :class:`core.feed.builder.FeedBuilder`, each appended to a real on-disk
    :class:`core.storage.journal.journal.Journal` whose writer thread commits them; the demo
    rules run on its asyncio timers, after each batch of store changes and once a second, as in
    the app) with the app's :class:`gui.bridge.EngineBridge` subscribed; every 100 ms (the
    bridge's tick) the bridge flushes its batch. Left out: the channel's REST calls (a stub
    answers them) and Qt views.
(b) A bare ``websockets`` client that only ``json.loads`` each frame: the limit on this machine.
(c) The official SDK deserialising the same bodies into its topic models (subprocess, no socket).

The server (benchmarks.frame_server) runs in its own process and writes pre-framed bytes, so the
client side is what is measured. Events/s = frames carrying one event body each, per second.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

from benchmarks.common import FRAMES, ROOT, FixedChannel, median, save_result
from benchmarks.record_frames import load_frames, record
from core.alerts.presets import demo_rules
from core.auth.tokens import TokenSet
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.storage.journal.journal import Journal
from core.streaming.protocol import TopicEvent
from core.streaming.reconnect import ChannelSettings
from core.streaming.shard import ChannelShard

ROUNDS = 3
PY = sys.executable


class StubApi(FixedChannel):
    """The REST side of a shard: one channel whose URI is the frame server."""

    def __init__(self, uri: str) -> None:
        self.uri = uri


class NoSession:
    """A token source that never changes (the shard never asks for one here)."""

    token: TokenSet | None = None

    async def access_token(self) -> str:
        """Unused."""
        return ""

    async def renew_rejected(self, rejected_token: str) -> str:
        """Unused."""
        return ""

    def add_listener(self, listener: object) -> object:
        """Unused."""
        return lambda: None


class CountingService(MonitorService):
    """The real service, plus a count of frames handled and when the first/last came."""

    total = 0
    seen = 0
    first = 0.0
    last = 0.0
    done: asyncio.Event

    def shard_event(self, slot: int, event: TopicEvent) -> None:
        """The real hot path, then the count."""
        super().shard_event(slot, event)
        self.seen += 1
        if self.seen == 1:
            self.first = time.perf_counter()
        if self.seen == self.total:
            self.last = time.perf_counter()
            self.done.set()


async def run_engine(uri: str, total: int, journal_dir: Path) -> dict[str, float]:
    """(a) one pass of the whole stream through the engine; its figures."""
    from PySide6.QtCore import QCoreApplication

    from core.app.pipeline import Pipeline
    from core.engine.records import EngineState, StateRecord
    from gui.bridge import EngineBridge

    _app = QCoreApplication.instance() or QCoreApplication([])
    api = StubApi(uri)
    service = CountingService(api, NoSession(), Selection(queues="none", users="none"))  # type: ignore[arg-type]
    service.total = total
    service.done = asyncio.Event()
    journal = await Journal.open(journal_dir / f"journal-{time.monotonic_ns()}.sqlite")
    pipeline = Pipeline(service.store, rules=demo_rules(), journal=journal.append)
    service.add_listener(pipeline.on_record)
    bridge = EngineBridge(pipeline)
    pipeline.on_record(StateRecord(EngineState.LIVE, "benchmark"))  # the rules judge a live store
    pipeline.start()
    fired: list[int] = []
    pipeline.add_alert_listener(lambda changes: fired.append(len(changes)))

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.1)
            bridge._on_timer_flush()

    settings = ChannelSettings(assumed_heartbeat_s=30.0)
    shard = ChannelShard(0, ("bench",), api=api, sink=service, settings=settings)
    ticker = asyncio.get_running_loop().create_task(tick())
    shard.start()
    await asyncio.wait_for(service.done.wait(), 600)
    ticker.cancel()
    await shard.stop()
    pipeline.stop()
    bridge._on_timer_flush()
    bridge.stop()
    flush_started = time.perf_counter()
    await journal.flush()
    flush_s = time.perf_counter() - flush_started
    stats = journal.stats
    await journal.close()
    seconds = service.last - service.first
    return {
        "events_per_s": (total - 1) / seconds,
        "seconds": seconds,
        "typed_events": service.counters["events"],
        "unparsed": service.counters["unparsed"],
        "journal_appended": stats.appended,
        "journal_flush_after_s": flush_s,
        "rule_changes": sum(fired),
        "rule_evaluations": pipeline.evaluations,
    }


async def run_bare(uri: str, total: int) -> dict[str, float]:
    """(b) one pass through a bare websockets client doing json.loads only."""
    loads = json.loads
    seen = 0
    first = 0.0
    async with connect(uri, max_size=None, compression=None, ping_interval=None) as ws:
        async for data in ws:
            loads(data)
            seen += 1
            if seen == 1:
                first = time.perf_counter()
            if seen == total:
                break
    seconds = time.perf_counter() - first
    return {"events_per_s": (total - 1) / seconds, "seconds": seconds}


def run_sdk() -> dict[str, float]:
    """(c) the SDK subprocess, with HOME pointed at a temporary folder."""
    with tempfile.TemporaryDirectory() as home:
        out = subprocess.run(
            [PY, "-m", "benchmarks.sdk_ingest"],
            cwd=ROOT,
            env={**os.environ, "HOME": home},
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def main() -> None:
    """All three, (a) and (b) alternating ROUNDS times; best of each."""
    if not FRAMES.exists():
        await record()
    frames = load_frames()
    total = len(frames)
    size_mb = sum(len(f) for f in frames) / 1e6
    del frames
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is timed
        [PY, "-m", "benchmarks.frame_server"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    uri = f"ws://127.0.0.1:{server.stdout.readline().strip()}/"
    engine: list[dict[str, float]] = []
    bare: list[dict[str, float]] = []
    try:
        with tempfile.TemporaryDirectory() as journal_dir:
            for n in range(ROUNDS):
                bare.append(await run_bare(uri, total))
                engine.append(await run_engine(uri, total, Path(journal_dir)))
                print(
                    f"round {n + 1}: engine {engine[-1]['events_per_s']:,.0f}/s, "
                    f"bare {bare[-1]['events_per_s']:,.0f}/s",
                    flush=True,
                )
    finally:
        server.stdin.close()
        server.wait(10)
    sdk = run_sdk()
    a = max(r["events_per_s"] for r in engine)
    b = max(r["events_per_s"] for r in bare)
    c = sdk["events_per_s"]
    save_result(
        "p1_ingest",
        {
            "frames": total,
            "stream_mb": round(size_mb, 1),
            "rounds": ROUNDS,
            "engine_events_per_s": round(a),
            "engine_events_per_s_median": round(median([r["events_per_s"] for r in engine])),
            "bare_events_per_s": round(b),
            "bare_events_per_s_median": round(median([r["events_per_s"] for r in bare])),
            "sdk_events_per_s": round(c),
            "ratio_a_b": round(a / b, 3),
            "ratio_a_c": round(a / c, 1),
            "engine_last_round": engine[-1],
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
