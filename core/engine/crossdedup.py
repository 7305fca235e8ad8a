"""Each event once, whichever transport brings it first: the WebSocket or EventBridge.

The same Genesys event reaches us on both transports when EventBridge is on. It is matched by
``metadata.CorrelationId`` and, because equal ids on both transports are an unconfirmed
assumption (genesys-eventbridge-triggers.md), also by its content: the topic plus the typed
events its body parses into (:func:`content_key`), kept as a 64-bit hash.

Why the typed events and not a digest of the canonical body JSON
(:func:`core.eventbridge.fingerprint.content_fingerprint`): the socket's frames are already
parsed on the hot path, while serialising every body again with sorted keys and hashing it
costs microseconds per frame on large queue bodies, more than the hot path can spare. Two bodies
that parse alike are the same to everything downstream (store, feed, journal, rules), so
matching them is safe; and the matching is one to one, a socket event cancelling at most one
EventBridge copy and the other way round, so a body that legitimately repeats (a queue counter
going 3, 4, 3) is never swallowed. Once one copy has matched its twin by CorrelationId, the
transports are known to share the ids and a copy that carries one is matched by it alone: by
content it could take the twin of an earlier identical event, and drop one the socket missed.

The socket's hot path keys only the frames of kinds EventBridge carries (presence, routing
status, queue conversations), about 1.5 µs each. Memory is bounded by time and count; an
EventBridge copy that comes later than the window (a delivery outage longer than 15 minutes) is
taken as new (the store still ignores it as older). Everything remembered is plain strings, ints
and tuples of them, which the garbage collector does not have to walk.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from core.streaming.events import Event
from core.streaming.protocol import TopicEvent

logger = logging.getLogger(__name__)

WINDOW_S: Final = 900.0  # how long a socket event is remembered for its EventBridge copy
CAPACITY: Final = 200_000  # and how many at most
DEFAULT_KINDS: Final = ("presence", "routingStatus", "conversations")  # the app's filters
TWIN_S: Final = 120.0  # an EventBridge copy that came first waits this long for the socket's


def content_key(topic: str, events: Sequence[Event]) -> int:
    """The topic and what its body says, as one hash: equal for the same event either way."""
    return hash((topic, *events))


class _Side:
    """What one transport emitted that the other has not matched yet (multisets by key)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}  # correlation id -> content key
        self.keys: dict[int, int] = {}  # content key -> unmatched count
        self.matched: dict[int, int] = {}  # content key -> matched ones not yet expired
        self.order: deque[tuple[float, str, int, str]] = deque()  # (at, id, key, topic)

    def add(self, at: float, correlation_id: str, key: int, topic: str) -> None:
        if correlation_id:
            self.ids[correlation_id] = key
        self.keys[key] = self.keys.get(key, 0) + 1
        self.order.append((at, correlation_id, key, topic))

    def take(self, correlation_id: str, key: int | None, *, ids_shared: bool = False) -> bool:
        """Match one unmatched entry by id, else by content key; False when there is none.

        Once the transports are known to share correlation ids (``ids_shared``), a copy that
        carries one is matched by it only: by content it could take the entry of an earlier
        event with the same content, whose own copy then takes it again, and the event is lost.
        """
        if correlation_id and correlation_id in self.ids:
            key = self.ids.pop(correlation_id)
        elif key is None or key not in self.keys or (ids_shared and correlation_id):
            return False
        _less(self.keys, key)
        self.matched[key] = self.matched.get(key, 0) + 1
        return True

    def expire(self, until: float, capacity: int, on_gone: Callable[[str], None]) -> None:
        """Forget entries that arrived before ``until`` (and the oldest beyond ``capacity``).

        Matches take the oldest entry of a key first, so an expiring entry of a key with matched
        ones is one of those.
        """
        order = self.order
        while order and (order[0][0] < until or len(order) > capacity):
            _, correlation_id, key, topic = order.popleft()
            if correlation_id and self.ids.get(correlation_id) == key:
                del self.ids[correlation_id]
            if key in self.matched:
                _less(self.matched, key)
            else:
                _less(self.keys, key)
                on_gone(topic)


def _less(counts: dict[int, int], key: int) -> None:
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)


class CrossDedup:
    """Remembers what each transport emitted; says whether a copy from the other one is new."""

    def __init__(
        self,
        *,
        window_s: float = WINDOW_S,
        capacity: int = CAPACITY,
        twin_s: float = TWIN_S,
        kinds: Iterable[str] = DEFAULT_KINDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``kinds``: the topics' last parts EventBridge delivers ("presence", "routingStatus",
        "conversations"), when known from its filters; learnt from its events anyway."""
        self.window_s = window_s
        self.capacity = capacity
        self.twin_s = min(twin_s, window_s)
        self.monotonic = monotonic
        self.duplicates = {"websocket": 0, "eventbridge": 0}  # copies dropped, by the later one
        self._socket = _Side()
        self._bridge = _Side()  # EventBridge copies that came first, waiting for the socket's
        self._bridged_topics: dict[str, int] = {}  # their topics, for the socket's quick look
        # Socket frames of other kinds (observations, activity) never have an EventBridge copy:
        # the hot path remembers nothing of them.
        self.kinds: set[str] = set(kinds)
        self.ids_shared = False  # learnt: a copy matched its twin by correlation id

    def __len__(self) -> int:
        return len(self._socket.order) + len(self._bridge.order)

    # ------------------------------------------------------------------ the socket (hot path)
    def websocket(self, frame: TopicEvent, events: Sequence[Event]) -> bool:
        """True when ``frame`` is new; False when EventBridge already brought the same event.

        ``events`` are the frame's typed events (the hot path has parsed them already).
        """
        topic = frame.topic
        if topic[topic.rfind(".") + 1 :] not in self.kinds:
            return True
        now = self.monotonic()
        key = hash((topic, *events))
        if self._bridge.order and self._bridge_first(frame, key, now):
            return False
        side = self._socket
        correlation_id = frame.correlation_id
        if correlation_id:
            side.ids[correlation_id] = key
        keys = side.keys
        keys[key] = keys.get(key, 0) + 1
        order = side.order
        order.append((now, correlation_id, key, ""))
        if order[0][0] < now - self.window_s or len(order) > self.capacity:
            side.expire(now - self.window_s, self.capacity, _nothing)
        return True

    def _bridge_first(self, frame: TopicEvent, key: int, now: float) -> bool:
        """Whether EventBridge brought this event first (then it is matched and dropped)."""
        self._bridge.expire(now - self.twin_s, self.capacity, self._topic_gone)
        if not self._take(self._bridge, frame.correlation_id, key):
            return False
        self._topic_gone(frame.topic)
        self.duplicates["websocket"] += 1
        return True

    # ------------------------------------------------------------------ EventBridge
    def bridged(self, frame: TopicEvent, events: Sequence[Event]) -> bool:
        """True when ``frame`` (from EventBridge) is new; False when the socket brought it."""
        now = self.monotonic()
        self._socket.expire(now - self.window_s, self.capacity, _nothing)
        self._bridge.expire(now - self.twin_s, self.capacity, self._topic_gone)
        topic = frame.topic
        self.kinds.add(topic[topic.rfind(".") + 1 :])
        key = content_key(topic, events)
        if self._take(self._socket, frame.correlation_id, key):
            self.duplicates["eventbridge"] += 1
            return False
        self._bridge.add(now, frame.correlation_id, key, frame.topic)
        self._bridged_topics[frame.topic] = self._bridged_topics.get(frame.topic, 0) + 1
        return True

    def _take(self, side: _Side, correlation_id: str, key: int) -> bool:
        """Match on ``side``; the first match by id shows the transports share the ids."""
        by_id = bool(correlation_id) and correlation_id in side.ids
        taken = side.take(correlation_id, key, ids_shared=self.ids_shared)
        self.ids_shared = self.ids_shared or (taken and by_id)
        return taken

    def _topic_gone(self, topic: str) -> None:
        left = self._bridged_topics.get(topic, 0) - 1
        if left > 0:
            self._bridged_topics[topic] = left
        else:
            self._bridged_topics.pop(topic, None)


def _nothing(_topic: str) -> None:
    """The socket's entries keep no topic count."""
