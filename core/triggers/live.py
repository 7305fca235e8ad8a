"""Live runs of the org's triggers, from the workflows' ``v2.flows.instances.flow.{id}`` topic.

Each run of a workflow publishes its execution history there; one started by a trigger carries
``invokingContext.processAutomation {triggerId, triggerName}`` and, when it failed, ``errors[]``
(fact sheet 5.4). :class:`InvocationLog` keeps per trigger the runs of the last hour and the last
error; :class:`InvocationWatch` subscribes the topics of the triggers' workflows on one channel
of its own (the engine's channels carry the board's agents and queues and are planned apart),
through the streaming layer's :class:`~core.streaming.shard.ChannelShard`, and hands each run
to a callback. A throttled run (over the org's invocation limits) counts as a failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from core.rest.schema import RejectedTopic, parse_datetime
from core.streaming.memory import MemoryChannelMemory
from core.streaming.ports import ChannelApi, Connector, ShardPhase
from core.streaming.protocol import Malformed, TopicEvent
from core.streaming.reconnect import ChannelSettings
from core.streaming.shard import ChannelShard
from core.triggers.model import Invocation, TriggerStats

logger = logging.getLogger(__name__)

FLOW_TOPIC: Final = "v2.flows.instances.flow.{id}"
FLOW_TOPIC_PREFIX: Final = "v2.flows.instances.flow."
WINDOW_S: Final = 3600.0  # the board shows runs of the last hour
SLOT: Final = 90  # a slot number apart from the engine's shards (logs, channel memory)
_THROTTLE_WORDS: Final = ("throttl", "rate limit", "too many")


def flow_topic(workflow_id: str) -> str:
    """The execution-history topic of one workflow."""
    return FLOW_TOPIC_PREFIX + workflow_id


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_invocation(
    topic: str, body: Mapping[str, Any], arrived: float | None = None
) -> Invocation | None:
    """The trigger run a flow-instance event reports; None for a run no trigger started."""
    if not topic.startswith(FLOW_TOPIC_PREFIX):
        return None
    context = body.get("invokingContext")
    automation = context.get("processAutomation") if isinstance(context, dict) else None
    if not isinstance(automation, dict):
        return None
    trigger_id = _text(automation.get("triggerId"))
    if not trigger_id:
        return None
    reasons = [_text(e.get("reason")) for e in body.get("errors") or [] if isinstance(e, dict)]
    reasons = [r for r in reasons if r]
    exit_reason = _text(body.get("flowExitReason"))
    said = " ".join([*reasons, exit_reason]).lower()
    throttled = any(word in said for word in _THROTTLE_WORDS)
    started: datetime | None = parse_datetime(body.get("startDateTime"))
    at = started.timestamp() if started is not None else (arrived or time.time())
    error = reasons[0] if reasons else (exit_reason if throttled else "")
    return Invocation(
        trigger_id=trigger_id,
        trigger_name=_text(automation.get("triggerName")),
        flow_id=_text(body.get("flowId")) or topic[len(FLOW_TOPIC_PREFIX) :],
        at=at,
        error=error,
        throttled=throttled,
        exit_reason=exit_reason,
    )


class InvocationLog:
    """Per trigger: the runs of the last hour and the last error."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.stats: dict[str, TriggerStats] = {}

    def add(self, run: Invocation) -> None:
        """Count one run (and its error, if it failed)."""
        stats = self.stats.setdefault(run.trigger_id, TriggerStats())
        stats.runs.append(run.at)
        if run.failed:
            stats.last_error = ("Throttled: " if run.throttled else "") + (
                run.error or "over the org's limit"
            )
            stats.last_error_at = run.at
        self._prune(stats)

    def _prune(self, stats: TriggerStats) -> None:
        since = self.clock() - WINDOW_S
        stats.runs = sorted(at for at in stats.runs if at >= since)

    def last_hour(self, trigger_id: str) -> int:
        """Runs of ``trigger_id`` in the last hour."""
        stats = self.stats.get(trigger_id)
        return stats.runs_since(self.clock() - WINDOW_S) if stats is not None else 0

    def last_error(self, trigger_id: str) -> str:
        """The last error of ``trigger_id`` (empty: none seen)."""
        stats = self.stats.get(trigger_id)
        return stats.last_error if stats is not None else ""


class InvocationWatch:
    """One channel on the flow-instance topics of the given workflows; runs go to ``on_run``.

    It is a :class:`~core.streaming.ports.ShardSink`: the shard reconnects, re-subscribes and
    drops duplicates as for the engine; a lost token goes to ``token_lost`` (the engine's token
    keeper, so one renewal serves every channel).
    """

    def __init__(
        self,
        api: ChannelApi,
        on_run: Callable[[Invocation], None],
        *,
        token_lost: Callable[[], Awaitable[bool]],
        connector: Connector | None = None,
        settings: ChannelSettings | None = None,
        on_rejected: Callable[[tuple[str, ...]], None] | None = None,
    ) -> None:
        self.api = api
        self.on_run = on_run
        self._token_lost = token_lost
        self._connector = connector
        self._settings = settings
        self._on_rejected = on_rejected
        self.shard: ChannelShard | None = None
        self.phase = ShardPhase.STOPPED
        self.topics: tuple[str, ...] = ()

    def watch(self, workflow_ids: Iterable[str]) -> None:
        """Subscribe exactly these workflows' topics (a channel is opened on first need)."""
        topics = tuple(sorted({flow_topic(w) for w in workflow_ids if w}))
        self.topics = topics
        if not topics:
            return  # an open channel keeps its last topics until stop (harmless, few)
        if self.shard is None:
            kwargs: dict[str, Any] = {"memory": MemoryChannelMemory()}
            if self._connector is not None:
                kwargs["connector"] = self._connector
            if self._settings is not None:
                kwargs["settings"] = self._settings
            self.shard = ChannelShard(SLOT, topics, api=self.api, sink=self, **kwargs)
            self.shard.start()
        else:
            self.shard.set_topics(topics)

    async def stop(self) -> None:
        """Close the channel."""
        if self.shard is not None:
            await self.shard.stop()
            self.shard = None

    # ------------------------------------------------------------------ ShardSink
    def shard_event(self, slot: int, event: TopicEvent) -> None:
        """A flow-instance event: a run of a trigger, or another run (ignored)."""
        run = parse_invocation(event.topic, event.body)
        if run is not None:
            self.on_run(run)

    def shard_phase(self, slot: int, phase: ShardPhase, detail: str) -> None:
        """Remembered for the board's status line."""
        self.phase = phase

    def shard_live(self, slot: int, *, gap: bool, reason: str) -> None:
        """Nothing to re-read: runs missed while away are not recoverable from here."""

    def shard_rejected(self, slot: int, rejected: tuple[RejectedTopic, ...]) -> None:
        """Topics refused (a permission, or the org does not offer them)."""
        if rejected:
            logger.warning("trigger runs: %d topics refused", len(rejected))
        if self._on_rejected is not None:
            self._on_rejected(tuple(r.id for r in rejected))

    def shard_malformed(self, slot: int, frame: Malformed) -> None:
        """Unreadable frames are counted by the shard; nothing more to do."""

    async def shard_token_lost(self, slot: int) -> bool:
        """One renewal for every channel (the engine's token keeper)."""
        return await self._token_lost()
