"""What REST says about the watched subjects, applied without undoing what the stream said.

The stream keeps flowing while a read is under way; whatever it said after the read was asked
for is newer (:class:`core.engine.freshness.StreamFreshness`), and subjects retired meanwhile
stay gone (:class:`core.engine.watch.WatchKeeper`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final

from core.engine.freshness import StreamFreshness
from core.engine.selection import Resolution
from core.engine.watch import WatchKeeper, subject_of
from core.errors import ForbiddenError
from core.rest.schema import UserRecord
from core.state.resync import (
    ResyncApi,
    ResyncResult,
    complete_records,
    counters_read,
    read_state,
    user_events,
)
from core.state.store import Change, Store
from core.streaming.events import Event
from core.streaming.planner import user_topic

logger = logging.getLogger(__name__)

# How old the selection's own read of user records may be for the first re-sync to use it.
OFFER_FRESH_S: Final = 300.0


@dataclass(frozen=True, slots=True)
class _Offer:
    """The selection's read of whole user records, and which topics no channel carries."""

    records: dict[str, UserRecord]
    asked_at: float
    unstreamed: Callable[[], Collection[str]]


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
        self._offer: _Offer | None = None
        self.reused = 0  # user records the last re-sync took from the selection's read

    def offer(self, resolution: Resolution, unstreamed: Callable[[], Collection[str]]) -> None:
        """Let the next re-sync use the selection's own read for users no channel carries.

        Resolving "every user" reads the same whole records the first re-sync reads again (at
        50,000 users, 500 calls under the 300-a-minute limit). For a user whose topic is on a
        channel the re-sync must read after the subscription (what changed before it was
        delivered to nobody). A user whose topic is left out (``unstreamed``: the topics over
        the channels' budget, asked at the re-sync) has no stream to catch up with: a read taken
        a moment earlier is as true as one taken now, and the stream-freshness cut-off moves
        back to when it was asked. Taken by the next re-sync only, and only while fresh.
        """
        if resolution.asked_at is None or not resolution.records:
            self._offer = None
            return
        # the selection's clock is time.monotonic: its age, on this re-sync's own clock
        age = max(0.0, time.monotonic() - resolution.asked_at)
        self._offer = _Offer(resolution.records, self.monotonic() - age, unstreamed)

    def _take_offer(self, users: list[str], now: float) -> tuple[list[UserRecord], float]:
        """The offered records the re-sync may use (with their ask time), once."""
        offer, self._offer = self._offer, None
        if offer is None or now - offer.asked_at > OFFER_FRESH_S:
            return [], now
        left_out = set(offer.unstreamed())
        if not left_out:
            return [], now
        taken = [
            record
            for uid in users
            if (record := offer.records.get(uid)) is not None and user_topic(uid) in left_out
        ]
        return taken, offer.asked_at

    async def resync(self, on_change: Callable[[Change], None]) -> tuple[ResyncResult, int]:
        """Read every watched user and queue; returns the read and how many changes it made.

        Raises the API's errors (nothing is applied then); without permission for queue
        observations it re-syncs the users only.
        """
        started_at = self.monotonic()
        users = list(self.watch.current.users)
        queues = list(self.watch.current.queues)
        offered, offered_at = self._take_offer(users, started_at)
        if offered:
            taken = {r.id for r in offered}
            users = [uid for uid in users if uid not in taken]
        try:
            result = await read_state(self.api, users, queues)
        except ForbiddenError:
            logger.warning("queue observations are not permitted; re-syncing users only")
            result = await read_state(self.api, users, [])
        self.reused = len(offered)
        changed = 0
        retired = self.watch.retired
        if offered:
            logger.info(
                "re-sync: %d users no channel carries taken from the selection's read", len(offered)
            )
            changed += self._apply_users(
                [e for r in await complete_records(self.api, offered) for e in user_events(r)],
                offered_at,
                on_change,
            )
            result = dataclasses.replace(result, users_read=result.users_read + len(offered))
        changed += self._apply_users(result.user_events, started_at, on_change)
        for queue_event in result.queue_events:
            if queue_event.queue_id in retired:
                continue
            for change in self.store.apply(self.freshness.fresher_than(queue_event, started_at)):
                changed += 1
                on_change(change)
        return result, changed

    def _apply_users(
        self, events: Collection[Event], asked_at: float, on_change: Callable[[Change], None]
    ) -> int:
        """Apply user events read at ``asked_at`` where the stream has not spoken since."""
        changed = 0
        retired = self.watch.retired
        for event in events:
            if retired and subject_of(event) in retired:
                continue  # unwatched while this re-sync was reading
            if self.freshness.streamed_since(event, asked_at):
                continue
            for change in self.store.apply(event):
                changed += 1
                on_change(change)
        return changed

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
