"""After the first LIVE, start-up's objects leave the collector's passes; STOPPED undoes it."""

from __future__ import annotations

import asyncio
import gc
import time

from core.app.heap import HeapSettler, settle_heap_once_live
from core.engine.records import EngineState, Record, StateRecord


def _full_pass_ms() -> float:
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000


async def test_the_first_live_freezes_the_heap_and_the_stop_gives_it_back() -> None:
    listeners: list[object] = []
    settler = settle_heap_once_live(listeners.append)
    assert listeners == [settler.on_record]
    store = [{"id": f"u-{i}", "queues": [i]} for i in range(200_000)]  # a long-lived store
    try:
        before_ms = _full_pass_ms()
        settler.on_record(StateRecord(EngineState.RECONNECTING, "starting"))
        await asyncio.sleep(0)
        assert settler.frozen == 0 and gc.get_freeze_count() == 0
        settler.on_record(StateRecord(EngineState.LIVE, "live"))
        assert settler.frozen == 0  # not inside the engine's emit: on the loop's next turn
        await asyncio.sleep(0)
        assert settler.frozen >= 400_000 and gc.get_freeze_count() >= 400_000
        frozen = settler.frozen
        after_ms = _full_pass_ms()
        assert after_ms < before_ms / 2, (before_ms, after_ms)  # the store is not walked
        settler.on_record(StateRecord(EngineState.LIVE, "live again"))
        await asyncio.sleep(0)
        assert settler.frozen == frozen  # once only
        settler.on_record(StateRecord(EngineState.STOPPED, "stopped"))
        assert settler.frozen == 0 and gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
    assert len(store) == 200_000


def test_other_records_change_nothing() -> None:
    settler = HeapSettler()
    record: Record = StateRecord(EngineState.STOPPED, "stopped")
    settler.on_record(record)  # nothing frozen: nothing to give back
    assert settler.frozen == 0 and gc.get_freeze_count() == 0
