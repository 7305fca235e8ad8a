"""Dropping the frames a shard's sockets repeat while it switches from one to the next.

During a socket switch (``socket_closing``, rollover) the old socket is read out while the new
one already delivers, so one notification can arrive twice. Within that overlap window a frame
seen before is dropped; outside it nothing is.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable

from core.streaming.protocol import TopicEvent

MAX_REMEMBERED = 8192  # frames remembered in one window at most


class OverlapDedup:
    """Remembers the frames of one switch-over window and says which are repeats."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self.until = 0.0  # the end of the open window (monotonic)
        self._recent: OrderedDict[tuple[str, str], None] = OrderedDict()

    def open_window(self, seconds: float) -> None:
        """A socket switch: drop repeats for ``seconds`` from now.

        A new window remembers only its own frames: one remembered from an earlier window
        (cleared only by a topic event after it) would drop a new frame.
        """
        self._recent.clear()
        self.until = self.monotonic() + seconds

    def close(self) -> None:
        """No socket is left to repeat a frame: nothing the next socket brings is a duplicate."""
        self.until = 0.0
        self._recent.clear()

    def is_duplicate(self, frame: TopicEvent) -> bool:
        """Whether ``frame`` was seen on another socket of this shard in the open window."""
        if self.monotonic() > self.until:
            if self._recent:
                self._recent.clear()
            return False
        # The same notification carries the same CorrelationId on every socket; a body alone is
        # no identity: counters that go 0 → 1 → 0 repeat the first body, and dropping that
        # repeat would leave the store at 1 (found by the chaos soak).
        if frame.correlation_id:
            key = (frame.topic, frame.correlation_id)
        else:
            try:
                key = (frame.topic, json.dumps(frame.body, sort_keys=True, separators=(",", ":")))
            except RecursionError:  # nested past json's reach (a hostile server): not a repeat
                return False
        if key in self._recent:
            return True
        self._recent[key] = None
        if len(self._recent) > MAX_REMEMBERED:
            self._recent.popitem(last=False)
        return False
