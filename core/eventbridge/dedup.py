"""At-least-once made exactly-once for the journal: EventBridge and SQS repeat deliveries.

A repeat arrives with the same envelope id (SQS redelivery, EventBridge retry), or, when Genesys
itself retried, with a new id and the same content. Both are remembered in bounded LRUs. Only
journaled events count as seen: one still in a sink is "in flight", so a repeat of it is neither
passed on nor deleted (if that sink fails, the repeat is what carries the event).
"""

from __future__ import annotations

import enum
import logging
from collections import OrderedDict
from typing import TypeVar

from core.eventbridge.events import BridgedEvent
from core.eventbridge.fingerprint import body_digest

logger = logging.getLogger(__name__)

DEFAULT_CAPACITY = 100_000
_K = TypeVar("_K")


class Verdict(enum.Enum):
    """What to do with one received event."""

    NEW = "new"  # pass it on
    SEEN = "seen"  # journaled before: delete the repeat
    IN_FLIGHT = "in_flight"  # another batch carries it now: leave the repeat in the queue


def content_key(event: BridgedEvent) -> tuple[str, str, str]:
    """(topic, when it happened, body digest): equal for a Genesys retry under a new id."""
    return (event.frame.topic, event.happened.isoformat(), body_digest(event.frame.body))


class _Lru:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: OrderedDict[object, None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        if key in self.items:
            self.items.move_to_end(key)
            return True
        return False

    def add(self, key: object) -> None:
        self.items[key] = None
        self.items.move_to_end(key)
        while len(self.items) > self.capacity:
            self.items.popitem(last=False)


class Deduper:
    """Envelope ids and content keys of journaled events, plus those in a sink right now."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._ids = _Lru(capacity)
        self._contents = _Lru(capacity)
        self._flying_ids: dict[str, int] = {}
        self._flying_contents: dict[tuple[str, str, str], int] = {}

    def check(self, event: BridgedEvent) -> Verdict:
        """Whether ``event`` is new, a repeat of a journaled one, or of one in flight."""
        key = content_key(event)
        if event.envelope_id in self._flying_ids or key in self._flying_contents:
            return Verdict.IN_FLIGHT
        if event.envelope_id in self._ids or key in self._contents:
            return Verdict.SEEN
        return Verdict.NEW

    def take_off(self, event: BridgedEvent) -> None:
        """``event`` goes into a sink now."""
        _bump(self._flying_ids, event.envelope_id, 1)
        _bump(self._flying_contents, content_key(event), 1)

    def land(self, event: BridgedEvent, *, journaled: bool) -> None:
        """The sink returned (``journaled``) or raised; a journaled event is seen from now on."""
        key = content_key(event)
        _bump(self._flying_ids, event.envelope_id, -1)
        _bump(self._flying_contents, key, -1)
        if journaled:
            self._ids.add(event.envelope_id)
            self._contents.add(key)


def _bump(counts: dict[_K, int], key: _K, by: int) -> None:
    value = counts.get(key, 0) + by
    if value > 0:
        counts[key] = value
    else:
        counts.pop(key, None)
