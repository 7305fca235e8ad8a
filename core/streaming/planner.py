"""Topic building and the topic budget (genesys-api.md 4.8, 5.0, 8.5, 8.6).

There are no wildcard topics: every user and queue is subscribed explicitly. Users get one
combined topic ``v2.users.<id>?presence&routingStatus`` — one topic toward the 1000 cap that
delivers the two documented, fully-timestamped bodies (5.1, 5.2) we need for newer-wins ordering;
the activity topic would be cheaper still but its partial blocks are unconfirmed (5.3). Queues get
their analytics counters, their conversations and their membership, as separate topics because
combining queue suffixes is unconfirmed (5.0).

The planner packs topics into channels: at most ``shard_at`` per channel (headroom under the hard
1000), at most ``max_channels - reserve`` channels (the reserve keeps room under the 20-channel
pool for make-before-break rollovers), and assignments are stable so a membership change moves
as few topics as possible.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)

USER_SUFFIXES = ("presence", "routingStatus")
MAX_COMBINED_TOPIC_LEN = 200


def user_topic(user_id: str) -> str:
    """The combined presence + routing status topic of one user."""
    return f"v2.users.{user_id}?{'&'.join(USER_SUFFIXES)}"


def queue_topics(queue_id: str, *, analytics: str = "observations") -> tuple[str, ...]:
    """Counters, conversations and membership of one queue."""
    return (
        f"v2.analytics.queues.{queue_id}.{analytics}",
        f"v2.routing.queues.{queue_id}.conversations",
        f"v2.routing.queues.{queue_id}.users",
    )


@dataclass(frozen=True, slots=True)
class Budget:
    """Limits the planner packs topics into."""

    max_topics_per_channel: int = 1000
    shard_at: int = 900
    max_channels: int = 20
    reserve_channels: int = 1

    @property
    def usable_channels(self) -> int:
        """Channels we fill; the reserve stays free for rollovers."""
        return max(1, self.max_channels - self.reserve_channels)

    @property
    def per_channel(self) -> int:
        """Topics we put on one channel."""
        return min(self.shard_at, self.max_topics_per_channel)

    @property
    def capacity(self) -> int:
        """Topics the whole budget can hold."""
        return self.usable_channels * self.per_channel


@dataclass(frozen=True, slots=True)
class Plan:
    """Topics per channel shard, and what did not fit."""

    shards: tuple[tuple[str, ...], ...]
    over_budget: tuple[str, ...]

    @property
    def topic_count(self) -> int:
        """Topics placed on some channel."""
        return sum(len(s) for s in self.shards)

    @property
    def channels(self) -> int:
        """Channels that carry topics (an emptied slot in the middle carries none)."""
        return sum(1 for s in self.shards if s)


def plan_topics(
    wanted: Iterable[str],
    current: Sequence[Sequence[str]] = (),
    budget: Budget = Budget(),
) -> Plan:
    """Pack ``wanted`` topics into shards, keeping each topic where ``current`` had it.

    Topics longer than the combined-topic limit are reported as over budget rather than sent
    (the service would answer 400 for the whole request).
    """
    ordered: list[str] = []
    seen: set[str] = set()
    too_long: list[str] = []
    for topic in wanted:
        if topic in seen:
            continue
        seen.add(topic)
        if "?" in topic and len(topic) > MAX_COMBINED_TOPIC_LEN:
            too_long.append(topic)
        else:
            ordered.append(topic)
    keep = set(ordered)
    shards: list[list[str]] = [[t for t in shard if t in keep] for shard in current]
    placed = {t for shard in shards for t in shard}
    limit = budget.per_channel
    # Shards that shrank below the limit keep their place; overfull ones spill their tail.
    spill: list[str] = []
    for shard in shards:
        if len(shard) > limit:
            spill.extend(shard[limit:])
            del shard[limit:]
    pending = spill + [t for t in ordered if t not in placed]
    over: list[str] = list(too_long)
    for topic in pending:
        target = min((s for s in shards if len(s) < limit), key=len, default=None)
        if target is None:
            if len(shards) < budget.usable_channels:
                target = []
                shards.append(target)
            else:
                over.append(topic)
                continue
        target.append(topic)
    # Emptied shards keep their slot (the service maps plan index to channel slot: closing the
    # gap would move every later shard's topics onto another channel); only a tail goes.
    while shards and not shards[-1]:
        shards.pop()
    if over:
        logger.warning("%d topics do not fit the budget of %d", len(over), budget.capacity)
    return Plan(tuple(tuple(s) for s in shards), tuple(over))
