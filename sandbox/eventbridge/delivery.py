"""Delivery into SQS as EventBridge does it: late, at least once, in best-effort order.

Each event is due a random 0.1-2 s (``eventbridge_delay_min_s``..``max_s``, wall clock) after it
happened, in the order events happened, except that:

- with ``eventbridge_reorder_rate`` an event is held back past the longest delay, so events
  that follow it soon overtake it;
- with ``eventbridge_duplicate_rate`` a second copy (the same envelope ``id``) follows later;
- :meth:`DeliveryScheduler.hold` delivers nothing for N seconds and then releases everything
  that fell due, in order (an outage that Genesys retries through, fact sheet 2.4);
- a failed ``SendMessageBatch`` entry is retried after ``eventbridge_retry_s``.

The random choices are made on the caller's thread in event order from a generator seeded by
the org's seed, so a seeded run makes the same choices; a worker thread sends due messages in
batches of at most 10 with botocore (blocking calls never run on the sandbox's loop).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.timefmt import iso

logger = logging.getLogger(__name__)

MAX_BATCH = 10  # SendMessageBatch's limit
SendBatch = Callable[[list[str]], list[int]]  # bodies -> indexes that failed


@dataclass(frozen=True, slots=True)
class Published:
    """One event handed to EventBridge: envelope id, correlation id, concrete topic, event time."""

    id: str
    correlation_id: str
    topic: str
    time: float

    def entity(self) -> dict[str, Any]:
        """``{"id", "correlation_id", "topic", "time"}`` with ``time`` in ISO 8601 UTC."""
        return {
            "id": self.id,
            "correlation_id": self.correlation_id,
            "topic": self.topic,
            "time": iso(self.time),
        }


@dataclass(order=True, slots=True)
class _Due:
    due: float
    seq: int
    body: str = field(compare=False)
    record: Published = field(compare=False)
    copy: bool = field(compare=False, default=False)


class DeliveryScheduler:
    """The queue of envelopes on their way into SQS, and the thread that sends them."""

    def __init__(
        self,
        config: SandboxConfig,
        send: SendBatch,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._send = send
        self._now = monotonic
        self.rng = random.Random(f"eventbridge-{config.seed}")
        self._cond = threading.Condition()
        self._heap: list[_Due] = []
        self._seq = itertools.count()
        self._last_due = 0.0
        self._hold_until = 0.0
        self._in_flight = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._published: list[Published] = []
        self._sent_ids: set[str] = set()
        self.counters = {
            "submitted": 0,
            "duplicated": 0,
            "reordered": 0,
            "messages_sent": 0,
            "send_failures": 0,
            "holds": 0,
        }

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Start the sending thread."""
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(
                target=self._run, name="sandbox-eventbridge", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop sending; what was not delivered yet is dropped with the sandbox."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=35)
            self._thread = None

    # ------------------------------------------------------------------ the caller's side
    def _delay(self) -> float:
        c = self.config
        return self.rng.uniform(c.eventbridge_delay_min_s, c.eventbridge_delay_max_s)

    def submit(self, body: str, record: Published) -> None:
        """Schedule one envelope (call in event order)."""
        c = self.config
        now = self._now()
        due = max(now + self._delay(), self._last_due)
        items: list[tuple[float, bool]] = []
        if self.rng.random() < c.eventbridge_reorder_rate:
            due += c.eventbridge_delay_max_s + self._delay()
            self.counters["reordered"] += 1
        else:
            self._last_due = due
        items.append((due, False))
        if self.rng.random() < c.eventbridge_duplicate_rate:
            items.append((due + self._delay(), True))
            self.counters["duplicated"] += 1
        self.counters["submitted"] += 1
        with self._cond:
            for when, copy in items:
                heapq.heappush(self._heap, _Due(when, next(self._seq), body, record, copy))
            self._cond.notify_all()

    def hold(self, seconds: float) -> None:
        """Deliver nothing for ``seconds``, then everything that fell due meanwhile."""
        with self._cond:
            self._hold_until = max(self._hold_until, self._now() + seconds)
            self.counters["holds"] += 1
            self._cond.notify_all()

    def release(self) -> None:
        """End a hold now."""
        with self._cond:
            self._hold_until = 0.0
            self._cond.notify_all()

    def published(self) -> list[dict[str, Any]]:
        """Every event delivered so far, in delivery order (a duplicate copy is not listed)."""
        with self._cond:
            return [p.entity() for p in self._published]

    def stats(self) -> dict[str, Any]:
        """Counters, what is still on its way and whether a hold is on."""
        with self._cond:
            holding = max(0.0, self._hold_until - self._now())
            return {
                **self.counters,
                "published": len(self._published),
                "pending": len(self._heap) + self._in_flight,
                "holding_s": round(holding, 3),
            }

    # ------------------------------------------------------------------ the sending thread
    def _next_batch(self) -> list[_Due] | None:
        with self._cond:
            while True:
                if self._stopping:
                    return None
                now = self._now()
                wait: float | None = None
                if self._hold_until > now:
                    wait = self._hold_until - now
                elif self._heap and self._heap[0].due <= now:
                    break
                elif self._heap:
                    wait = self._heap[0].due - now
                self._cond.wait(wait)
            batch: list[_Due] = []
            while self._heap and self._heap[0].due <= now and len(batch) < MAX_BATCH:
                batch.append(heapq.heappop(self._heap))
            self._in_flight = len(batch)
            return batch

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                failed = set(self._send([item.body for item in batch]))
            except Exception as exc:  # the server went away: Genesys retries
                logger.warning("EventBridge delivery failed (%s); retrying", type(exc).__name__)
                failed = set(range(len(batch)))
            with self._cond:
                retry_at = self._now() + self.config.eventbridge_retry_s
                for index, item in enumerate(batch):
                    if index in failed:
                        self.counters["send_failures"] += 1
                        item.due = retry_at
                        heapq.heappush(self._heap, item)
                        continue
                    self.counters["messages_sent"] += 1
                    if item.record.id not in self._sent_ids:
                        self._sent_ids.add(item.record.id)
                        self._published.append(item.record)
                self._in_flight = 0
