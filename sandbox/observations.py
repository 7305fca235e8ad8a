"""When the queue analytics topics publish (genesys-api.md 4.8, 5.9, 5.10).

The real service publishes an analytics topic at most once per second and only on change; the
``.observations`` topic is split by ``{queueId, mediaType}`` group, so the limit and the change
test apply per group: a queue with voice, chat and email traffic sends one event per group and a
burst within the interval coalesces to the group's last value. A group whose counts drop to zero
publishes the zeros once (that is a change). The ``.activity`` topic carries one ``results[]``
block per media; an event carries all blocks or only the changed ones (a variation).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from sandbox import analytics
from sandbox.config import SandboxConfig
from sandbox.entities import Queue
from sandbox.org import Org
from sandbox.timefmt import interval_30min
from sandbox.variations import Variations

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
PublishFn = Callable[[str, JsonDict], None]
_ACTIVITY = "*"  # the activity topic is throttled as one group


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class ObservationPublisher:
    """Per-group throttled, change-only publishing of the queue analytics topics."""

    def __init__(
        self,
        config: SandboxConfig,
        org: Org,
        variations: Variations,
        publish: PublishFn,
        subscribed: Callable[[str], bool],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.org = org
        self.variations = variations
        self._publish = publish
        self._subscribed = subscribed
        self._clock = clock
        self.dirty: set[str] = set()
        self._last: dict[tuple[str, str], str] = {}  # (topic, group) → last published value
        self._sent_at: dict[tuple[str, str], float] = {}

    def mark(self, queue_id: str) -> None:
        """A queue's state changed; its analytics are looked at on the next flush."""
        self.dirty.add(queue_id)

    # ------------------------------------------------------------------ subscription life
    def baseline(self, topic: str) -> None:
        """Remember a newly watched topic's current values, so only later changes publish."""
        parsed = self._parse(topic)
        if parsed is None:
            return
        queue, suffix = parsed
        for group, value in self._values(queue, suffix).items():
            self._last.setdefault((topic, group), _key(value))

    def forget(self, topic: str) -> None:
        """Nobody watches the topic any more: the next subscriber starts from its own baseline."""
        for key in [k for k in self._last if k[0] == topic]:
            del self._last[key]
            self._sent_at.pop(key, None)

    def _parse(self, topic: str) -> tuple[Queue, str] | None:
        parts = topic.split(".", 4)
        if len(parts) != 5 or parts[:3] != ["v2", "analytics", "queues"]:
            return None
        queue = self.org.queues.get(parts[3])
        if queue is None or parts[4] not in ("observations", "activity"):
            return None
        return queue, parts[4]

    def _values(self, queue: Queue, suffix: str) -> dict[str, JsonDict]:
        if suffix == "observations":
            grouping = self.variations.user_metrics_grouping(queue.id)
            return analytics.observation_groups(self.org, queue, grouping)
        return analytics.activity_blocks(self.org, queue)

    # ------------------------------------------------------------------ flushing
    def flush(self) -> None:
        """Publish every due group that changed; changes not yet due stay pending."""
        now = self._clock()
        dirty, self.dirty = self.dirty, set()
        for queue_id in dirty:
            queue = self.org.queues.get(queue_id)
            if queue is None:
                continue
            pending = False
            for suffix in ("observations", "activity"):
                topic = f"v2.analytics.queues.{queue_id}.{suffix}"
                if not self._subscribed(topic):
                    continue
                values = self._values(queue, suffix)
                if suffix == "observations":
                    pending |= self._flush_observations(topic, values, now)
                else:
                    pending |= self._flush_activity(topic, values, now)
            if pending:
                self.dirty.add(queue_id)

    def _due(self, key: tuple[str, str], now: float) -> bool:
        last = self._sent_at.get(key)
        return last is None or now - last >= self.config.observation_min_interval_s

    def _flush_observations(self, topic: str, groups: dict[str, JsonDict], now: float) -> bool:
        pending = False
        interval = interval_30min(self.org.clock())
        for group, value in groups.items():
            key, text = (topic, group), _key(value)
            if self._last.get(key) == text:
                continue
            if not self._due(key, now):
                pending = True
                continue
            self._last[key], self._sent_at[key] = text, now
            body = {
                "group": dict(value["group"]),
                "data": [{"interval": interval, "metrics": value["metrics"]}],
            }
            self._publish(topic, body)
        return pending

    def _flush_activity(self, topic: str, blocks: dict[str, JsonDict], now: float) -> bool:
        changed = [m for m, block in blocks.items() if self._last.get((topic, m)) != _key(block)]
        if not changed:
            return False
        key = (topic, _ACTIVITY)
        if not self._due(key, now):
            return True
        self._sent_at[key] = now
        for media in changed:
            self._last[(topic, media)] = _key(blocks[media])
        chosen = changed if self.variations.partial_activity() else list(blocks)
        self._publish(topic, {"results": [blocks[m] for m in chosen]})
        return False
