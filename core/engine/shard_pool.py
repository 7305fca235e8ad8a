"""The channel shards of one session and the topic plan they carry.

The planner (:mod:`core.streaming.planner`) says which topics go on which channel; this keeps one
:class:`core.streaming.shard.ChannelShard` per planned slot, hands each its topics, parks the
shards left without any (no socket held open for nothing) and reports the budget.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from core.engine.records import BudgetRecord, LinkStats
from core.rest.schema import RejectedTopic
from core.streaming.memory import ChannelMemory
from core.streaming.planner import Budget, Plan, plan_topics
from core.streaming.ports import ChannelApi, Connector, ShardPhase, ShardSink
from core.streaming.reconnect import ChannelSettings
from core.streaming.shard import ChannelShard

OPEN_PHASES = (ShardPhase.LIVE, ShardPhase.STALE)


class ShardPool:
    """Owns the shards: plans topics onto them, starts, parks and stops them."""

    def __init__(
        self,
        *,
        api: ChannelApi,
        sink: ShardSink,
        budget: Budget,
        settings: ChannelSettings,
        connector: Connector,
        memory: ChannelMemory,
        rng: random.Random,
        monotonic: Callable[[], float],
        spawn: Callable[[Coroutine[Any, Any, None], str], None],
    ) -> None:
        self.api = api
        self.sink = sink
        self.budget = budget
        self.settings = settings
        self.connector = connector
        self.memory = memory
        self.rng = rng
        self.monotonic = monotonic
        self.spawn = spawn
        self.shards: list[ChannelShard] = []
        self.plan = Plan((), ())
        self.rejected: dict[int, tuple[RejectedTopic, ...]] = {}

    @property
    def working(self) -> list[ChannelShard]:
        """The shards that carry topics (a parked one is stopped and counts for nothing)."""
        return [s for s in self.shards if s.topics]

    def preview(self, wanted: Sequence[str]) -> Plan:
        """The plan ``wanted`` would get, keeping today's shard assignments."""
        return plan_topics(wanted, [s.topics for s in self.shards], self.budget)

    def preview_report(self, wanted: Sequence[str]) -> BudgetRecord:
        """The budget report ``wanted`` would get, without applying it.

        Topics refused today that are still wanted are reported as rejected.
        """
        plan = self.preview(wanted)
        planned = {t for shard in plan.shards for t in shard}
        return BudgetRecord(
            topics=plan.topic_count,
            channels=len(plan.shards),
            per_channel=tuple(len(s) for s in plan.shards),
            capacity=self.budget.capacity,
            over_budget=plan.over_budget,
            rejected=tuple(r for r in self.budget_report().rejected if r.id in planned),
        )

    def apply(self, wanted: Sequence[str]) -> None:
        """Re-plan onto the shards: topics keep their channel; new slots get new shards."""
        self.plan = self.preview(wanted)
        for slot, topics in enumerate(self.plan.shards):
            if slot < len(self.shards):
                self.shards[slot].set_topics(topics)
            else:
                self.shards.append(
                    ChannelShard(
                        slot,
                        topics,
                        api=self.api,
                        sink=self.sink,
                        connector=self.connector,
                        memory=self.memory,
                        settings=self.settings,
                        rng=self.rng,
                        monotonic=self.monotonic,
                    )
                )
        for shard in self.shards[len(self.plan.shards) :]:
            shard.set_topics(())
        for shard in self.shards:
            if shard.topics:
                shard.start()  # a no-op for a running shard; wakes a parked one
            elif shard.running:
                # A channel with no topics is parked: no socket kept open for nothing.
                self.spawn(shard.stop(), f"park-channel-{shard.slot}")

    def note_rejected(self, slot: int, rejected: tuple[RejectedTopic, ...]) -> bool:
        """Remember a shard's refused topics; True when that changed the budget report."""
        if self.rejected.get(slot, ()) == rejected:
            return False
        self.rejected[slot] = rejected
        return True

    def budget_report(self) -> BudgetRecord:
        """Topics and channels in use, and what was refused or left out."""
        rejected = tuple(r for slot in sorted(self.rejected) for r in self.rejected[slot])
        return BudgetRecord(
            topics=self.plan.topic_count,
            channels=self.plan.channels,
            per_channel=tuple(len(s) for s in self.plan.shards if s),
            capacity=self.budget.capacity,
            over_budget=self.plan.over_budget,
            rejected=rejected,
        )

    def subscribing(self) -> bool:
        """A shard has not yet subscribed its new topics."""
        return any(s.subscribed is not None and s.subscribed != s.topics for s in self.working)

    def all_open(self) -> bool:
        """Every working shard has its socket open."""
        return all(s.phase in OPEN_PHASES for s in self.working)

    def link_stats(self) -> LinkStats:
        """Channels, topics and the age of the last frame."""
        live = [s for s in self.working if s.phase in OPEN_PHASES]
        now = self.monotonic()
        ages = [now - s.watchdog.last_frame_at for s in live]
        return LinkStats(
            channels=len(live),
            topics=sum(len(s.topics) for s in live),
            last_frame_age_s=max(ages) if ages else None,
        )

    def check_now(self) -> None:
        """Health-check every working channel now."""
        for shard in self.working:
            shard.check_now()

    def rollover_all(self) -> None:
        """Move every working channel to a fresh one (a new token), make-before-break."""
        for shard in self.working:
            shard.rollover_now()

    async def stop(self) -> None:
        """Stop every shard, parked ones included."""
        await asyncio.gather(*(s.stop() for s in self.shards))
