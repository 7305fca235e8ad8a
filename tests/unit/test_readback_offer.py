"""The first re-sync takes the selection's read for users no channel carries, once, while fresh."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from core.engine.freshness import StreamFreshness
from core.engine.readback import OFFER_FRESH_S, ReadBack
from core.engine.selection import Selection, read_selection
from core.engine.watch import WatchKeeper
from core.rest.observations import QueueObservation
from core.rest.schema import PresenceRecord, QueueMember, QueueRecord, RoutingRecord, UserRecord
from core.state.store import Store
from core.streaming.events import PresenceChanged
from core.streaming.planner import user_topic

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
IDS = [f"u-{i}" for i in range(10)]
OVER = IDS[6:]  # users whose topics are over the channels' budget


class Org:
    """Users whose presence a test moves; every users() call and the ids it asked for."""

    def __init__(self) -> None:
        self.presence = dict.fromkeys(IDS, "AVAILABLE")
        self.asked: list[list[str] | None] = []

    def record(self, uid: str) -> UserRecord:
        presence = PresenceRecord("def", self.presence[uid], "", T0)
        return UserRecord(uid, uid.upper(), presence, RoutingRecord("IDLE", T0))

    async def users(self, ids: Iterable[str] | None = None) -> list[UserRecord]:
        wanted = list(ids) if ids is not None else None
        self.asked.append(wanted)
        return [self.record(uid) for uid in (wanted if wanted is not None else IDS)]

    async def queues(
        self, name: str | None = None, ids: Iterable[str] | None = None
    ) -> list[QueueRecord]:
        return []

    async def my_queues(self) -> list[QueueRecord]:
        return []

    async def queue_members(self, queue_id: str) -> list[QueueMember]:
        return []

    async def queue_observations(self, queue_ids: Iterable[str]) -> dict[str, QueueObservation]:
        return {}

    async def presences(self, ids: Iterable[str]) -> dict[str, PresenceRecord]:
        return {}

    async def routing_status(self, user_id: str) -> RoutingRecord | None:
        return None


async def _started(clock: list[float]) -> tuple[Org, Store, ReadBack, StreamFreshness]:
    org, store, freshness = Org(), Store(), StreamFreshness()
    watch = WatchKeeper(store, freshness)
    readback = ReadBack(org, store, watch, freshness, monotonic=lambda: clock[0])
    resolution = await read_selection(org, Selection(queues="none", users="all"))
    watch.adopt(resolution)
    readback.offer(resolution, lambda: [user_topic(uid) for uid in OVER])
    return org, store, readback, freshness


async def test_users_on_a_channel_are_read_again_the_others_taken_from_the_selection() -> None:
    clock = [100.0]
    org, store, readback, _ = await _started(clock)
    org.presence["u-1"] = "BUSY"  # moved after the selection's read: the re-sync must see it
    result, _ = await readback.resync(lambda _c: None)
    assert org.asked[1] == IDS[:6]  # only the users a channel carries
    assert readback.reused == len(OVER) and result.users_read == len(IDS)
    assert store.users["u-1"].system_presence == "BUSY"
    assert all(store.users[uid].system_presence == "AVAILABLE" for uid in OVER)

    await readback.resync(lambda _c: None)  # the offer is used once
    assert org.asked[2] == IDS and readback.reused == 0


async def test_a_stale_offer_is_not_used() -> None:
    clock = [100.0]
    org, _, readback, _ = await _started(clock)
    clock[0] += OFFER_FRESH_S + 1
    await readback.resync(lambda _c: None)
    assert org.asked[1] == IDS and readback.reused == 0


async def test_what_the_stream_said_after_the_selection_was_asked_is_kept() -> None:
    clock = [100.0]
    _, store, readback, freshness = await _started(clock)
    # stamped before the REST record: only the cut-off at the selection's ask time keeps it
    said = PresenceChanged("u-8", "def", "AWAY", "", T0 - timedelta(seconds=5))
    clock[0] += 1
    freshness.note(said, clock[0])  # heard (say, through EventBridge) after the read was asked
    store.apply(said)
    clock[0] += 1
    await readback.resync(lambda _c: None)
    assert store.users["u-8"].system_presence == "AWAY"


async def test_the_selection_keeps_its_records_and_when_they_were_asked() -> None:
    org = Org()
    before = time.monotonic()
    resolution = await read_selection(org, Selection(queues="none", users="all"))
    assert set(resolution.records) == set(IDS)
    assert resolution.asked_at is not None and before <= resolution.asked_at <= time.monotonic()
