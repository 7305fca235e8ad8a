"""P3 recovery: 500 users and 50 queues watched; the sandbox drops every socket.

The sandbox runs in its own process with the simulation on. For each of DROPS drops, each once
the session is healthy (live, and a frame arrived after the last re-sync): the time from the
``/sandbox/faults/drop`` answer to the engine's ``GapRecord("end")`` (back on the socket and
re-synced through REST), minus the wait the engine chose (the retry after a healthy session is
set to come at once here, so the figure is the engine's own work). Then make-before-break:
``socket_closing`` while the org keeps paused; PROBES presence changes are made through the
control API, spread over the second around the switch; events lost = changes made minus those
that arrived as stream events (EventRecord, independent of any re-sync). Then the watched
picture is compared with ``/sandbox/truth``.

Last, drops in a row with the production timings (``ChannelSettings()``, the API client's
``DEFAULT_POLICY``): for each N of IN_A_ROW a fresh engine is dropped N times, each drop once the
session before is healthy, and every drop's recovery (drop → live and re-synced) is printed with
the ratio of the last to the first. A backoff that escalates across healthy sessions shows as a
7th drop costing many times the 1st; the target is that it costs no more.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx

from benchmarks.common import (
    control,
    get_json,
    median,
    sandbox_process,
    save_result,
    wait_until,
    wire_engine,
)
from core.cli.listen import state_snapshot
from core.engine.records import EngineState, EventRecord, GapRecord, Record
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.streaming.events import PresenceChanged
from core.streaming.reconnect import ChannelSettings

USERS = 500
QUEUES = 50
DROPS = 5
CLOSINGS = 3
FIRST_BACKOFF_S = 0.5  # failed attempts (none expected here)
HEALTHY_RETRY_S = 0.0  # the retry after a healthy session: at once, no jitter to subtract
SETTINGS = ChannelSettings(
    healthy_retry_s=HEALTHY_RETRY_S,
    first_backoff_s=FIRST_BACKOFF_S,
    backoff_jitter=0.0,
    overlap_s=2.0,
    kick_window_s=1.0,  # drops 1.5 s apart are drops, not "another client kicked us"
)
PROBES = 60  # presence changes made around each socket_closing switch
IN_A_ROW = (1, 3, 7)  # drops in a row with production timings


class Health:
    """Gap ends and the frames each shard had then: a session is healthy once it is live and
    every shard's socket delivered a frame (a heartbeat or an event) after the last re-sync."""

    def __init__(self) -> None:
        self.gaps: list[tuple[float, GapRecord]] = []
        self.drops: list[float] = []  # when each drop was answered
        self.service: MonitorService | None = None
        self._frames: list[int] = []

    def __call__(self, record: Record) -> None:
        """Note a gap end and the shards' frame counters at that moment."""
        if isinstance(record, GapRecord) and record.phase == "end":
            self.gaps.append((time.perf_counter(), record))
            if self.service is not None:
                self._frames = [s.counters["frames"] for s in self.service.shards]

    def healthy(self) -> bool:
        """Live, re-synced, and a frame on every socket since."""
        service = self.service
        if service is None or service.state is not EngineState.LIVE:
            return False
        frames = [s.counters["frames"] for s in service.shards]
        return len(frames) == len(self._frames) and all(
            now > then for now, then in zip(frames, self._frames, strict=True)
        )

    async def drop(self, http: httpx.AsyncClient) -> float:
        """Once healthy, drop every socket; seconds from the drop's answer to the gap's end."""
        await wait_until(self.healthy, 60)
        seen = len(self.gaps)
        await control(http, "faults/drop")
        dropped_at = time.perf_counter()
        self.drops.append(dropped_at)
        await wait_until(lambda: len(self.gaps) > seen, 300)
        return self.gaps[seen][0] - dropped_at

    def waits(self) -> float:
        """The longest retry wait the shards drew for the last drop (all shards reconnect)."""
        assert self.service is not None
        return max(s.backoff.last_delay_s for s in self.service.shards)


async def drops_in_a_row(
    base_url: str, http: httpx.AsyncClient, selection: Selection, n: int
) -> tuple[list[float], list[float], list[float]]:
    """A fresh engine with production timings, dropped ``n`` times after healthy sessions;
    each drop's recovery, the retry wait the engine drew for it, and the seconds between
    consecutive drops."""
    health = Health()
    engine = await wire_engine(base_url, selection, ChannelSettings(), health)
    health.service = engine.service
    try:
        await engine.service.start()
        recoveries: list[float] = []
        waits: list[float] = []
        for i in range(n):
            recoveries.append(await health.drop(http))
            waits.append(health.waits())
            print(
                f"{n} in a row, drop {i + 1}: live and re-synced after {recoveries[-1]:.2f} s "
                f"(retry wait drawn {waits[-1]:.2f} s)"
            )
    finally:
        await engine.close()
    apart = [later - earlier for earlier, later in itertools.pairwise(health.drops)]
    return recoveries, waits, apart


async def main() -> None:
    """Drops, then socket_closing switches, then the comparison with the truth."""
    args = ("--users", str(USERS), "--queues", str(QUEUES), "--seed", "3", "--heartbeat", "2")
    async with sandbox_process(*args, "--speed", "5") as (base_url, http):
        truth = await get_json(http, "/sandbox/truth")
        selection = Selection(queues=tuple(sorted(truth["queues"])), users="all")
        health = Health()
        gaps = health.gaps
        heard: set[tuple[str, str]] = set()

        def on_record(record: Record) -> None:
            health(record)
            if isinstance(record, EventRecord) and isinstance(record.event, PresenceChanged):
                heard.add((record.event.user_id, record.event.system_presence))

        engine = await wire_engine(base_url, selection, SETTINGS, on_record)
        service = health.service = engine.service
        try:
            await service.start()
            await wait_until(lambda: service.state is EngineState.LIVE, 60)
            watched = (len(service.watch.users), len(service.watch.queues))
            recoveries: list[float] = []
            for _ in range(DROPS):
                recoveries.append(await health.drop(http) - HEALTHY_RETRY_S)
                print(
                    f"drop: live and re-synced after {recoveries[-1] * 1000:.0f} ms beyond the"
                    " retry delay",
                    flush=True,
                )
            await control(http, "simulation/pause")
            lost: list[int] = []
            users = sorted(service.watch.users)
            for n in range(CLOSINGS):
                await asyncio.sleep(1.0)
                seen = len(gaps)
                made: list[tuple[str, str]] = []
                now = await get_json(http, "/sandbox/truth")
                for i, uid in enumerate(users[n * PROBES : (n + 1) * PROBES]):
                    if i == PROBES // 3:
                        await control(http, "faults/socket_closing", grace="5")
                    want = "TRAINING" if now["users"][uid]["presence"] != "TRAINING" else "MEAL"
                    resp = await http.post(
                        f"/sandbox/users/{uid}/presence", json={"presence": want}
                    )
                    resp.raise_for_status()
                    made.append((uid, want))
                    await asyncio.sleep(0.015)
                await wait_until(lambda n=seen: len(gaps) > n, 30)  # type: ignore[misc]
                # A sentinel change after the switch: the channel delivers in order, so once it
                # is heard every probe before it has either arrived or is lost for good (no
                # sleep-and-hope on a busy machine).
                sentinel = users[-1 - n]
                before = (await get_json(http, "/sandbox/truth"))["users"][sentinel]["presence"]
                mark = "AWAY" if before != "AWAY" else "BREAK"
                resp = await http.post(
                    f"/sandbox/users/{sentinel}/presence", json={"presence": mark}
                )
                resp.raise_for_status()
                await wait_until(lambda s=(sentinel, mark): s in heard, 30)  # type: ignore[misc]
                lost.append(sum(1 for change in made if change not in heard))
                print(f"socket_closing: {len(made)} changes made, {lost[-1]} not streamed")
            await asyncio.sleep(1.0)
            await wait_until(lambda: service.state is EngineState.LIVE, 30)
            final = await get_json(http, "/sandbox/truth")
            picture: dict[str, Any] = state_snapshot(
                service.store, service.watch.users, service.watch.queues
            )
            wrong_users = sum(
                1 for u in service.watch.users if picture["users"].get(u) != final["users"][u]
            )
            wrong_queues = sum(
                1 for q in service.watch.queues if picture["queues"].get(q) != final["queues"][q]
            )
            switches = sum(s.counters["socket_switches"] for s in service.shards)
        finally:
            await engine.close()
        await control(http, "simulation/resume")
        series = {n: await drops_in_a_row(base_url, http, selection, n) for n in IN_A_ROW}
    in_a_row = {n: times for n, (times, _, _) in series.items()}
    longest = in_a_row[max(IN_A_ROW)]
    ratio = longest[-1] / longest[0] if longest[0] > 0 else float("inf")
    # The first retry after a healthy session is drawn from 0..healthy_retry_s (full jitter),
    # so single recoveries differ by up to a second either way. The cost that escalation adds
    # is what compares: the 7th's own work (recovery minus the wait drawn) and its wait bound.
    _, waits7, _ = series[max(IN_A_ROW)]
    work = [t - w for t, w in zip(longest, waits7, strict=True)]
    work_ratio = work[-1] / work[0] if work[0] > 0 else float("inf")
    bound = ChannelSettings().healthy_retry_s
    print(
        f"{max(IN_A_ROW)} in a row: waits drawn {', '.join(f'{w:.2f}' for w in waits7)} s "
        f"(first-retry bound {bound:.1f} s); work beyond the wait "
        f"{', '.join(f'{w:.2f}' for w in work)} s; 7th/1st work {work_ratio:.2f} x"
    )
    for n, (times, _, apart) in series.items():
        shown = ", ".join(f"{t:.2f}" for t in times)
        spacing = f", drops {min(apart):.1f}-{max(apart):.1f} s apart" if apart else ""
        print(
            f"{n} drops in a row (production timings): {shown} s; last/first "
            f"{times[-1] / times[0]:.2f} x{spacing}"
        )
    save_result(
        "p3_recovery",
        {
            "users_watched": watched[0],
            "queues_watched": watched[1],
            "channels": len(service.shards),
            "healthy_retry_s": HEALTHY_RETRY_S,
            "drops": DROPS,
            "recovery_minus_backoff_s": [round(r, 3) for r in recoveries],
            "recovery_median_s": round(median(recoveries), 3),
            "socket_closing_switches": switches,
            "socket_closing_probes": PROBES,
            "socket_closing_events_lost": lost,
            "events_lost": sum(lost),
            "final_mismatched_users": wrong_users,
            "final_mismatched_queues": wrong_queues,
            "in_a_row_production_s": {
                str(n): [round(t, 3) for t in times] for n, times in in_a_row.items()
            },
            "in_a_row_ratio_last_first": round(ratio, 2),
            "in_a_row_waits_s": [round(w, 3) for w in waits7],
            "in_a_row_first_retry_bound_s": bound,
            "in_a_row_work_s": [round(w, 3) for w in work],
            "in_a_row_work_ratio_last_first": round(work_ratio, 2),
            "in_a_row_apart_s": {
                str(n): [round(t, 2) for t in apart] for n, (_, _, apart) in series.items()
            },
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
