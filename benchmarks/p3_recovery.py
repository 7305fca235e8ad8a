"""P3 recovery: 500 users and 50 queues watched; the sandbox drops every socket.

The sandbox runs in its own process with the simulation on. For each of DROPS drops: the time
from the ``/sandbox/faults/drop`` answer to the engine's ``GapRecord("end")`` (back on the socket
and re-synced through REST), minus the configured first backoff delay (jitter off, so the wait
the engine chose is exactly that). Then make-before-break: ``socket_closing`` while the org keeps
paused; PROBES presence changes are made through the control API, spread over the second around
the switch; events lost = changes made minus those that arrived as stream events (EventRecord,
independent of any re-sync). Finally the watched picture is compared with ``/sandbox/truth``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.common import (
    control,
    get_json,
    median,
    sandbox_process,
    save_result,
    wait_until,
    wire_engine,
)
from core.channel import ChannelSettings
from core.events import PresenceChanged
from core.listen import state_snapshot
from core.service import EngineState, EventRecord, GapRecord, Record, Selection

USERS = 500
QUEUES = 50
DROPS = 5
CLOSINGS = 3
FIRST_BACKOFF_S = 0.5
SETTINGS = ChannelSettings(
    first_backoff_s=FIRST_BACKOFF_S,
    backoff_jitter=0.0,
    overlap_s=2.0,
    kick_window_s=1.0,  # drops 1.5 s apart are drops, not "another client kicked us"
)
PROBES = 60  # presence changes made around each socket_closing switch


async def main() -> None:
    """Drops, then socket_closing switches, then the comparison with the truth."""
    args = ("--users", str(USERS), "--queues", str(QUEUES), "--seed", "3", "--heartbeat", "2")
    async with sandbox_process(*args, "--speed", "5") as (base_url, http):
        truth = await get_json(http, "/sandbox/truth")
        selection = Selection(queues=tuple(sorted(truth["queues"])), users="all")
        gaps: list[tuple[float, GapRecord]] = []
        heard: set[tuple[str, str]] = set()

        def on_record(record: Record) -> None:
            if isinstance(record, GapRecord) and record.phase == "end":
                gaps.append((time.perf_counter(), record))
            elif isinstance(record, EventRecord) and isinstance(record.event, PresenceChanged):
                heard.add((record.event.user_id, record.event.system_presence))

        engine = await wire_engine(base_url, selection, SETTINGS, on_record)
        service = engine.service
        try:
            await service.start()
            await wait_until(lambda: service.state is EngineState.LIVE, 60)
            watched = (len(service.watch.users), len(service.watch.queues))
            recoveries: list[float] = []
            for _ in range(DROPS):
                await asyncio.sleep(1.5)  # let the socket become stable (backoff reset)
                seen = len(gaps)
                dropped = await control(http, "faults/drop")
                dropped_at = time.perf_counter()
                await wait_until(lambda n=seen: len(gaps) > n, 30)  # type: ignore[misc]
                took = gaps[seen][0] - dropped_at - FIRST_BACKOFF_S
                recoveries.append(took)
                print(
                    f"drop ({dropped['count']} sockets): live and re-synced after "
                    f"{took * 1000:.0f} ms beyond the backoff",
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
    save_result(
        "p3_recovery",
        {
            "users_watched": watched[0],
            "queues_watched": watched[1],
            "channels": len(service.shards),
            "first_backoff_s": FIRST_BACKOFF_S,
            "drops": DROPS,
            "recovery_minus_backoff_s": [round(r, 3) for r in recoveries],
            "recovery_median_s": round(median(recoveries), 3),
            "socket_closing_switches": switches,
            "socket_closing_probes": PROBES,
            "socket_closing_events_lost": lost,
            "events_lost": sum(lost),
            "final_mismatched_users": wrong_users,
            "final_mismatched_queues": wrong_queues,
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
