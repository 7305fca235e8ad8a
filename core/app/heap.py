"""The garbage collector once the store is full: start-up's objects are set aside for good.

At 50,000 users the store, the watch and the boards' rows are millions of long-lived objects
that never become garbage; every full collection walked all of them (P9: pauses of 130-800 ms
on the loop). Once the engine is first LIVE, :class:`HeapSettler` collects once and freezes
what is left (``gc.freeze``: the collector never scans those objects again), so later full
collections cover only what was made since. When the engine stops, the objects are handed back
(``gc.unfreeze``), so an engine replaced by another (a profile switch) can be collected.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

from core.engine.records import EngineState, Record, StateRecord

logger = logging.getLogger(__name__)


class HeapSettler:
    """A service listener: freeze the heap after the first LIVE, unfreeze at STOPPED."""

    def __init__(self) -> None:
        self.frozen = 0  # objects set aside by the last freeze (0: none now)
        self.pause_ms = 0.0  # how long the one collection and freeze held the loop

    def on_record(self, record: Record) -> None:
        """Settle soon after the first LIVE (not inside the engine's emit); undo at STOPPED."""
        if not isinstance(record, StateRecord):
            return
        if record.state is EngineState.LIVE and not self.frozen:
            asyncio.get_running_loop().call_soon(self.settle)
        elif record.state is EngineState.STOPPED and self.frozen:
            gc.unfreeze()
            self.frozen = 0

    def settle(self) -> None:
        """Collect once, then freeze every object that survived (idempotent)."""
        if self.frozen:
            return
        started = time.perf_counter()
        gc.collect()
        gc.freeze()
        self.frozen = gc.get_freeze_count()
        self.pause_ms = (time.perf_counter() - started) * 1000
        logger.info(
            "start-up's %d objects set aside from garbage collection (%.0f ms)",
            self.frozen,
            self.pause_ms,
        )


def settle_heap_once_live(
    add_listener: Callable[[Callable[[Record], None]], object],
) -> HeapSettler:
    """Listen to an engine (its ``add_listener``) and settle its heap once it is live."""
    settler = HeapSettler()
    add_listener(settler.on_record)
    return settler
