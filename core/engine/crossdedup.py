"""Each event once, whichever transport brings it first: the WebSocket or EventBridge.

The same Genesys event reaches us on both transports when EventBridge is on, and two different
events can look exactly alike (a presence going Available, Away, Available without a
``modifiedDate``; a queue conversation back in the same state). The fact sheet
(genesys-eventbridge-triggers.md) leaves ``metadata.CorrelationId`` unconfirmed: it may be
absent, differ between the transports, or not be unique per event. So a copy is matched only
to an unmatched event of the other transport with the same content, one to one, and:

* **content** is the topic plus the whole body (:func:`core.eventbridge.fingerprint.content_hash`,
  key order ignored; EventBridge's ``detail`` is the WebSocket message itself), not what the body
  parses into: two events whose bodies differ in a field we do not read are two events;
* **the correlation id** picks the twin when both carry the same one (and the content agrees, so
  an id reused across events never merges them). Once one copy has met its twin that way, the
  transports are known to share the ids, and two copies that both carry ids that differ are
  never matched, however alike;
* **time** rules out the rest when EventBridge's copy says when its event happened: a socket
  frame cannot have arrived before its event happened (``early_s`` allows for this computer's
  clock being behind Genesys' and for a timestamp cut to the second). An event that happened in
  a gap is therefore never taken for the socket's copy of an alike event from before the gap.
  Among the candidates the one closest in time is taken.

What stays ambiguous while the ids are not known shared: alike events less than ``early_s``
apart on both sides of a gap, and an event of a gap alike one the socket brought after it (a
socket frame carries no time of its own, and may come late). A clock behind Genesys' by more
than ``early_s`` makes content matches fail, so events are told twice rather than lost.

The socket's hot path keys only the frames of kinds EventBridge carries (presence, routing
status, queue conversations): about 1 µs for a presence frame, about 7 µs for a large queue
conversation (the body serialised with sorted keys). Memory is bounded by time and count; an
EventBridge copy that comes later than the window (a delivery outage longer than 15 minutes) is
taken as new (the store still ignores it as older). Everything remembered is plain strings,
floats, ints and tuples of them, which the garbage collector does not have to walk.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Final

from core.eventbridge.fingerprint import content_hash
from core.streaming.events import Event
from core.streaming.protocol import TopicEvent

logger = logging.getLogger(__name__)

WINDOW_S: Final = 900.0  # how long a socket event is remembered for its EventBridge copy
CAPACITY: Final = 200_000  # and how many at most
DEFAULT_KINDS: Final = ("presence", "routingStatus", "conversations")  # the app's filters
TWIN_S: Final = 120.0  # an EventBridge copy that came first waits this long for the socket's
EARLY_S: Final = 5.0  # a socket frame may seem this much older than its event (clock, rounding)

# One remembered copy: (monotonic arrival, correlation id, content hash, topic, event time).
# The event time (epoch seconds) is the socket frame's arrival by the wall clock, or what
# EventBridge says; None when unknown.
_Entry = tuple[float, str, int, str, float | None]
_AT: Final = 0
_ID: Final = 1
_KEY: Final = 2
_TOPIC: Final = 3
_WHEN: Final = 4


def content_key(frame: TopicEvent) -> int:
    """The topic and the whole body, as one hash: equal for the same event either way."""
    return content_hash(frame.topic, frame.body)


class _Side:
    """What one transport emitted that the other has not matched yet."""

    def __init__(self) -> None:
        self.ids: dict[str, _Entry] = {}  # correlation id -> its unmatched entry
        # content hash -> its unmatched entries, oldest first (one alone is kept bare)
        self.keys: dict[int, _Entry | list[_Entry]] = {}
        self.order: deque[_Entry] = deque()  # every entry, matched or not, oldest first

    def add(self, entry: _Entry) -> None:
        if entry[_ID]:
            self.ids[entry[_ID]] = entry
        key = entry[_KEY]
        held = self.keys.get(key)
        if held is None:
            self.keys[key] = entry
        elif isinstance(held, list):
            held.append(entry)
        else:
            self.keys[key] = [held, entry]
        self.order.append(entry)

    def candidates(self, key: int) -> Sequence[_Entry]:
        held = self.keys.get(key)
        if held is None:
            return ()
        return held if isinstance(held, list) else (held,)

    def by_id(self, correlation_id: str, key: int) -> _Entry | None:
        """The unmatched entry with this id, if its content is the same too."""
        entry = self.ids.get(correlation_id) if correlation_id else None
        return entry if entry is not None and entry[_KEY] == key else None

    def remove(self, entry: _Entry) -> None:
        """``entry`` is matched (it stays in ``order`` until it expires)."""
        if entry[_ID] and self.ids.get(entry[_ID]) is entry:
            del self.ids[entry[_ID]]
        key = entry[_KEY]
        held = self.keys[key]
        if not isinstance(held, list):
            del self.keys[key]
            return
        for index, other in enumerate(held):
            if other is entry:
                del held[index]
                break
        if len(held) == 1:
            self.keys[key] = held[0]

    def unmatched(self, entry: _Entry) -> bool:
        """Whether the oldest remembered ``entry`` of its key is still unmatched."""
        held = self.keys.get(entry[_KEY])
        return held is entry or (isinstance(held, list) and held[0] is entry)

    def expire(self, until: float, capacity: int, on_gone: Callable[[str], None]) -> None:
        """Forget entries that arrived before ``until`` (and the oldest beyond ``capacity``)."""
        order = self.order
        while order and (order[0][_AT] < until or len(order) > capacity):
            entry = order.popleft()
            if self.unmatched(entry):
                self.remove(entry)
                on_gone(entry[_TOPIC])


class CrossDedup:
    """Remembers what each transport emitted; says whether a copy from the other one is new."""

    def __init__(
        self,
        *,
        window_s: float = WINDOW_S,
        capacity: int = CAPACITY,
        twin_s: float = TWIN_S,
        early_s: float = EARLY_S,
        kinds: Iterable[str] = DEFAULT_KINDS,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """``kinds``: the topics' last parts EventBridge delivers ("presence", "routingStatus",
        "conversations"), when known from its filters; learnt from its events anyway."""
        self.window_s = window_s
        self.capacity = capacity
        self.twin_s = min(twin_s, window_s)
        self.early_s = early_s
        self.monotonic = monotonic
        self.wall = wall
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
    def websocket(self, frame: TopicEvent, events: Sequence[Event] = ()) -> bool:
        """True when ``frame`` is new; False when EventBridge already brought the same event.

        ``events`` (the frame's typed events) are not needed: content is the whole body.
        """
        topic = frame.topic
        if topic[topic.rfind(".") + 1 :] not in self.kinds:
            return True
        now = self.monotonic()
        key = content_key(frame)
        arrived = self.wall()
        correlation_id = frame.correlation_id
        if self._bridge.order and self._bridge_first(correlation_id, key, topic, arrived, now):
            return False
        side = self._socket
        side.add((now, correlation_id, key, "", arrived))
        order = side.order
        if order[0][_AT] < now - self.window_s or len(order) > self.capacity:
            side.expire(now - self.window_s, self.capacity, _nothing)
        return True

    def _bridge_first(
        self, correlation_id: str, key: int, topic: str, arrived: float, now: float
    ) -> bool:
        """Whether EventBridge brought this event first (then it is matched and dropped)."""
        bridge = self._bridge
        bridge.expire(now - self.twin_s, self.capacity, self._topic_gone)
        entry = bridge.by_id(correlation_id, key)
        if entry is not None:
            self.ids_shared = True
        else:  # the one that happened last before this frame came: the closest in time
            best: _Entry | None = None
            for candidate in bridge.candidates(key):
                if not self._fits(correlation_id, arrived, candidate[_ID], candidate[_WHEN]):
                    continue
                if best is None or (candidate[_WHEN] or 0.0) > (best[_WHEN] or 0.0):
                    best = candidate
            entry = best
        if entry is None:
            return False
        bridge.remove(entry)
        self._topic_gone(topic)
        self.duplicates["websocket"] += 1
        return True

    # ------------------------------------------------------------------ EventBridge
    def bridged(
        self, frame: TopicEvent, events: Sequence[Event] = (), happened: datetime | None = None
    ) -> bool:
        """True when ``frame`` (from EventBridge) is new; False when the socket brought it.

        ``happened``: when the event happened (the envelope's ``detail.timestamp``); without
        it, time rules nothing out.
        """
        now = self.monotonic()
        self._socket.expire(now - self.window_s, self.capacity, _nothing)
        self._bridge.expire(now - self.twin_s, self.capacity, self._topic_gone)
        topic = frame.topic
        self.kinds.add(topic[topic.rfind(".") + 1 :])
        key = content_key(frame)
        correlation_id = frame.correlation_id
        when = happened.timestamp() if happened is not None else None
        socket = self._socket
        entry = socket.by_id(correlation_id, key)
        if entry is not None:
            self.ids_shared = True
        else:  # the first to arrive after the event happened: the closest in time
            entry = next(
                (
                    candidate
                    for candidate in socket.candidates(key)
                    if self._fits(candidate[_ID], candidate[_WHEN], correlation_id, when)
                ),
                None,
            )
        if entry is not None:
            socket.remove(entry)
            self.duplicates["eventbridge"] += 1
            return False
        self._bridge.add((now, correlation_id, key, topic, when))
        self._bridged_topics[topic] = self._bridged_topics.get(topic, 0) + 1
        return True

    def _fits(
        self,
        socket_id: str,
        arrived: float | None,
        bridge_id: str,
        happened: float | None,
    ) -> bool:
        """Whether a socket frame and an EventBridge copy of alike content can be one event."""
        if self.ids_shared and socket_id and bridge_id and socket_id != bridge_id:
            return False  # the transports share ids: different ids, different events
        if arrived is None or happened is None:
            return True
        return arrived - happened >= -self.early_s

    def _topic_gone(self, topic: str) -> None:
        left = self._bridged_topics.get(topic, 0) - 1
        if left > 0:
            self._bridged_topics[topic] = left
        else:
            self._bridged_topics.pop(topic, None)


def _nothing(_topic: str) -> None:
    """The socket's entries keep no topic count."""
