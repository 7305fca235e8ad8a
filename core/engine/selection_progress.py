"""Following a selection change to its end: the changed channels subscribed, then re-synced.

Kept out of the service so the service's hot path stays readable; the waiting itself is plain:
every state recompute wakes ``next_progress`` and the steps are re-counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from core.engine.records import SelectionProgress
from core.engine.shard_pool import OPEN_PHASES
from core.streaming.shard import ChannelShard

logger = logging.getLogger(__name__)


def _subscribed(shard: ChannelShard) -> bool:
    return shard.subscribed == shard.topics and shard.phase in OPEN_PHASES


async def follow_selection(
    changed: Sequence[ChannelShard],
    *,
    stopping: asyncio.Event,
    resync_busy: Callable[[], bool],
    next_progress: Callable[[], Awaitable[None]],
    report: Callable[[SelectionProgress], None],
) -> None:
    """Report "subscribing" until every changed channel holds its topics, then "resyncing"."""
    while not stopping.is_set():
        done = sum(1 for shard in changed if _subscribed(shard))
        report(SelectionProgress("subscribing", done, len(changed)))
        if done == len(changed):
            break
        await next_progress()
    while not stopping.is_set() and resync_busy():
        report(SelectionProgress("resyncing", len(changed), len(changed)))
        await next_progress()
    report(SelectionProgress("done", len(changed), len(changed)))
