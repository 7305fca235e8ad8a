"""What REST says about the watched subjects, applied without undoing what the stream said.

The stream keeps flowing while a read is under way; whatever it said after the read was asked
for is newer (:class:`core.engine.freshness.StreamFreshness`), and subjects retired meanwhile
stay gone (:class:`core.engine.watch.WatchKeeper`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from core.engine.freshness import StreamFreshness
from core.engine.watch import WatchKeeper, subject_of
from core.errors import ForbiddenError
from core.state.resync import ResyncApi, ResyncResult, counters_read, read_state
from core.state.store import Change, Store

logger = logging.getLogger(__name__)


class ReadBack:
    """Reads the watched state through REST and applies it where the stream is not newer."""

    def __init__(
        self,
        api: ResyncApi,
        store: Store,
        watch: WatchKeeper,
        freshness: StreamFreshness,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.store = store
        self.watch = watch
        self.freshness = freshness
        self.monotonic = monotonic

    async def resync(self, on_change: Callable[[Change], None]) -> tuple[ResyncResult, int]:
        """Read every watched user and queue; returns the read and how many changes it made.

        Raises the API's errors (nothing is applied then); without permission for queue
        observations it re-syncs the users only.
        """
        started_at = self.monotonic()
        users = list(self.watch.current.users)
        queues = list(self.watch.current.queues)
        try:
            result = await read_state(self.api, users, queues)
        except ForbiddenError:
            logger.warning("queue observations are not permitted; re-syncing users only")
            result = await read_state(self.api, users, [])
        changed = 0
        retired = self.watch.retired
        for event in result.user_events:
            if retired and subject_of(event) in retired:
                continue  # unwatched while this re-sync was reading
            if self.freshness.streamed_since(event, started_at):
                continue
            for change in self.store.apply(event):
                changed += 1
                on_change(change)
        for queue_event in result.queue_events:
            if queue_event.queue_id in retired:
                continue
            for change in self.store.apply(self.freshness.fresher_than(queue_event, started_at)):
                changed += 1
                on_change(change)
        return result, changed

    async def confirm_counters(self, on_change: Callable[[Change], None]) -> None:
        """Read the watched queues' counters once more; raises the API's errors.

        Counters have no timestamps, and the service publishes them only on change (4.8), so a
        new subscriber is never told the current value. Between the re-sync's read and the
        moment every channel carries the topics again, a change can fall through (published to
        nobody of ours), or an older counter still in flight can outrank the read. Both leave a
        count wrong until the queue next changes; a second read once the stream is back closes
        that window (the chaos run with a moving org found it about once in 400 faults).
        """
        started_at = self.monotonic()
        observations = await self.api.queue_observations(list(self.watch.current.queues))
        for queue_id, observation in observations.items():
            if queue_id not in self.watch.current.queues:
                continue
            read = self.freshness.fresher_than(counters_read(observation), started_at)
            for change in self.store.apply(read):
                on_change(change)
