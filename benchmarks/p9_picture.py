"""How long the last known picture's save holds the loop, at P9's sizes (P9's lag, one cause).

A store of ``users`` users with presence and routing (as after a re-sync) and 200 queues, a
journal file, a :class:`core.storage.journal.picture.PictureKeeper` live on it. Measured on the
loop: the whole-store save (:meth:`PictureKeeper.save`, what the timer ran before) and the timer's
save in slices (:meth:`PictureKeeper.save_in_slices`), each the first save of a session (every
row written) and a later one with 2 % of the users changed. The figure is the longest stretch
the loop could not run anything else: a ticker task notes the gaps between its turns.

``python -m benchmarks.p9_picture [users ...]`` (default 20000 50000) prints the figures as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.engine.records import EngineState, StateRecord, WatchRecord
from core.state.store import Store
from core.storage.journal.journal import Journal
from core.storage.journal.picture import PictureKeeper
from core.streaming.events import PresenceChanged, QueueObserved, RoutingChanged

QUEUES = 200
T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def org(users: int) -> tuple[Store, WatchRecord]:
    """A store as a re-sync leaves it, and its watch."""
    store = Store()
    store.presence_labels.update({"def-avail": "Available", "def-busy": "Busy"})
    watch = WatchRecord(
        {f"u-{i:05d}": f"Agent {i:05d}" for i in range(users)},
        {f"q-{i:03d}": f"Queue {i:03d}" for i in range(QUEUES)},
    )
    for i, (user_id, name) in enumerate(watch.users.items()):
        store.user(user_id).name = name
        since = T0 - timedelta(seconds=i % 3600)
        busy = i % 3 == 0
        store.apply(
            PresenceChanged(
                user_id,
                "def-busy" if busy else "def-avail",
                "BUSY" if busy else "AVAILABLE",
                "",
                since,
            )
        )
        store.apply(RoutingChanged(user_id, "IDLE" if i % 2 else "INTERACTING", since))
    for queue_id, name in watch.queues.items():
        store.queue(queue_id).name = name
        store.apply(QueueObserved(queue_id, waiting=3, interacting=5, on_queue=9, off_queue=2))
    return store, watch


async def longest_hold_ms(work: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """(the longest stretch the loop was held while ``work`` ran, its whole duration) in ms."""
    gaps: list[float] = []
    done = False

    async def ticker() -> None:
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.get_running_loop().create_task(ticker())
    await asyncio.sleep(0)
    started = time.perf_counter()
    await work()
    whole = time.perf_counter() - started
    done = True
    await ticking
    return max(gaps, default=whole) * 1000, whole * 1000


async def sync_save(keeper: PictureKeeper) -> int:
    """The whole-store save, as an awaitable for :func:`longest_hold_ms`."""
    return keeper.save()


async def measure(users: int, workdir: Path) -> dict[str, Any]:
    """The four figures of one size."""
    store, watch = org(users)
    out: dict[str, Any] = {"users": users}
    for step, mode in enumerate(("whole", "slices"), 1):
        journal = await Journal.open(workdir / f"{mode}-{users}.sqlite3")
        try:
            keeper = PictureKeeper(store, journal)
            keeper.on_record(watch)
            keeper.on_record(StateRecord(EngineState.LIVE, "live"))
            for phase in ("first", "later"):
                if phase == "later":
                    for i in range(0, users, 50):  # 2 % of the users move
                        moved = T0 + timedelta(minutes=step)
                        status = ("OFF_QUEUE", "NOT_RESPONDING")[step - 1]
                        store.apply(RoutingChanged(f"u-{i:05d}", status, moved))
                save = keeper.save_in_slices if mode == "slices" else lambda k=keeper: sync_save(k)
                hold, whole = await longest_hold_ms(save)
                out[f"{mode}_{phase}_hold_ms"] = round(hold, 1)
                out[f"{mode}_{phase}_duration_ms"] = round(whole, 1)
                await journal.flush()
        finally:
            await journal.close()
    return out


async def main(sizes: list[int]) -> list[dict[str, Any]]:
    """Every size's figures."""
    with tempfile.TemporaryDirectory() as workdir:
        return [await measure(users, Path(workdir)) for users in sizes]


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main([int(a) for a in sys.argv[1:]] or [20000, 50000])), indent=1))
