"""P4 scale: 5,000 users and 200 queues watched.

The sandbox runs in its own process with the simulation paused (heartbeats only). Measured in
this process: the time from ``MonitorService.start()`` to LIVE (resolved, planned, every channel
subscribed and connected, the first re-sync done), the channels and topics used, the REST calls
the sandbox counted, RSS once steady, and the CPU used over IDLE_S seconds of idle (utime+stime
from /proc/self/stat, all threads).
"""

from __future__ import annotations

import asyncio
import os
import time

from benchmarks.common import (
    cpu_s,
    get_json,
    rss_mb,
    sandbox_process,
    save_result,
    wait_until,
    wire_engine,
)
from core.engine.records import EngineState
from core.engine.selection import Selection
from core.streaming.reconnect import ChannelSettings

USERS = 5_000
QUEUES = 200
HEARTBEAT_S = 10.0
IDLE_S = float(os.environ.get("BENCH_IDLE_S", "60"))


async def main() -> None:
    """Subscribe everything, settle, then sit idle and read /proc."""
    rss_before = rss_mb()
    args = ("--users", str(USERS), "--queues", str(QUEUES), "--seed", "4")
    async with sandbox_process(*args, "--heartbeat", str(HEARTBEAT_S), "--no-simulation") as (
        base_url,
        http,
    ):
        truth = await get_json(http, "/sandbox/truth")
        selection = Selection(queues=tuple(sorted(truth["queues"])), users="all")
        del truth
        engine = await wire_engine(base_url, selection, ChannelSettings())
        service = engine.service
        try:
            calls_before = (await get_json(http, "/sandbox/stats"))["rest_calls"]
            started = time.perf_counter()
            await service.start()
            await wait_until(lambda: service.state is EngineState.LIVE, 120, 0.01)
            subscribe_s = time.perf_counter() - started
            stats = await get_json(http, "/sandbox/stats")
            calls = stats["rest_calls"] - calls_before
            print(f"live after {subscribe_s:.2f} s, {calls} REST calls", flush=True)
            await asyncio.sleep(5.0)
            rss_steady = rss_mb()
            cpu0, wall0 = cpu_s(), time.perf_counter()
            await asyncio.sleep(IDLE_S)
            cpu1, wall1 = cpu_s(), time.perf_counter()
            rss_end = rss_mb()
            budget = service.budget_report()
            state = service.state.value
        finally:
            await engine.close()
    save_result(
        "p4_scale",
        {
            "users_watched": len(service.watch.users),
            "queues_watched": len(service.watch.queues),
            "subscribe_to_live_s": round(subscribe_s, 3),
            "channels": budget.channels,
            "topics": budget.topics,
            "per_channel": budget.per_channel,
            "rest_calls": calls,
            "sandbox_topics": stats["topics"],
            "rss_before_mb": round(rss_before, 1),
            "rss_steady_mb": round(rss_steady, 1),
            "rss_after_idle_mb": round(rss_end, 1),
            "idle_s": IDLE_S,
            "heartbeat_s": HEARTBEAT_S,
            "idle_cpu_percent": round(100 * (cpu1 - cpu0) / (wall1 - wall0), 3),
            "state_after_idle": state,
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
