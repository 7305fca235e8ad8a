"""What each kind of feed entry carries: one typed payload per :class:`FeedKind`.

The payload is the contract between the feed builder (which makes it), the journal (which stores
it as JSON) and the rule replay (which rebuilds the watched values from it). Typing it here, in a
leaf, lets all three agree without reading a dict by key. ``to_json`` writes the JSON keys the
journal has always held (camelCase), so files on disk, exports and old rows keep their meaning;
:func:`payload_from_json` reads a row back and never raises: a shape it does not know exactly
(a row written by hand or damaged) becomes :class:`RawData`, which keeps every value. Stdlib only.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final


class FeedKind(enum.StrEnum):
    """Every kind of feed entry, in the order the filters list them (values are stored text)."""

    PRESENCE = "presence"
    ROUTING = "routing"
    QUEUE = "queue"
    MEMBERSHIP = "membership"
    CONNECTION = "connection"
    GAP = "gap"
    BUDGET = "budget"
    ALERT = "alert"
    ACTION = "action"  # a status change the person made (core.app.actions; RawData payload)
    TRIGGER = "trigger"  # a Genesys Cloud trigger's run failed or was throttled (core.triggers)


@dataclass(frozen=True, slots=True)
class PresenceData:
    """An agent's presence moved: the system presence and the org's definition it moved to."""

    source: str  # "stream" | "resync"
    presence: str | None
    definition_id: str | None

    def to_json(self) -> dict[str, Any]:
        """The stored JSON object."""
        return {
            "source": self.source,
            "presence": self.presence,
            "definitionId": self.definition_id,
        }


ROUTINE_STATUSES: Final = frozenset({"IDLE", "INTERACTING", "COMMUNICATING"})
"""Routing statuses an agent moves between all day: a move between them is routine."""


@dataclass(frozen=True, slots=True)
class RoutingData:
    """An agent's routing status moved to ``routing_status``."""

    source: str
    routing_status: str | None
    previous: str | None = None  # the status before, when known (older rows do not say)

    def to_json(self) -> dict[str, Any]:
        """The stored JSON object (``previousStatus`` only when known, as older rows lack it)."""
        out: dict[str, Any] = {"source": self.source, "routingStatus": self.routing_status}
        if self.previous is not None:
            out["previousStatus"] = self.previous
        return out

    @property
    def routine(self) -> bool:
        """An agent moved between Idle and Interacting (or was first seen so): routine, not news.

        The feed leaves these out by default (they flooded it); the journal keeps them.
        """
        if self.routing_status not in ROUTINE_STATUSES:
            return False
        return self.previous is None or self.previous in ROUTINE_STATUSES  # None: first sight


@dataclass(frozen=True, slots=True)
class QueueData:
    """A queue's counters after the change; None is a counter this change did not touch."""

    source: str
    waiting: int | None = None
    interacting: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored JSON object: an untouched counter is left out, not written as null."""
        out: dict[str, Any] = {"source": self.source}
        if self.waiting is not None:
            out["waiting"] = self.waiting
        if self.interacting is not None:
            out["interacting"] = self.interacting
        return out


@dataclass(frozen=True, slots=True)
class MembershipData:
    """An agent joined (or left) the queue that is the entry's subject."""

    user_id: str
    joined: bool

    def to_json(self) -> dict[str, Any]:
        """The stored JSON object."""
        return {"userId": self.user_id, "joined": self.joined}


@dataclass(frozen=True, slots=True)
class ConnectionData:
    """The engine's state (an ``EngineState`` value) and the words that came with it."""

    state: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        """The stored JSON object."""
        return {"state": self.state, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class GapData:
    """A disconnection began (``phase`` "start") or ended and was re-synced ("end").

    Only an end knows how long it took and what the re-sync found; a start leaves those None.
    """

    phase: str  # "start" | "end"
    reason: str
    seconds: float | None = None
    users: int | None = None
    queues: int | None = None
    changed: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored JSON object (a start holds only its phase and reason)."""
        out: dict[str, Any] = {"phase": self.phase, "reason": self.reason}
        for key in _GAP_END:
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


_GAP_END: Final = ("seconds", "users", "queues", "changed")


@dataclass(frozen=True, slots=True)
class BudgetData:
    """Topics the server rejected (their ids) and the permissions that would let them in."""

    rejected: tuple[str, ...]
    missing: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The stored JSON object."""
        return {"rejected": list(self.rejected), "missing": list(self.missing)}


@dataclass(frozen=True, slots=True)
class AlertData:
    """An alert fired, was acknowledged or resolved (``change``), with the value it saw."""

    alert_id: str
    rule_id: str
    change: str  # "fired" | "acknowledged" | "resolved"
    severity: str  # a Severity value
    value: float | str | None

    def to_json(self) -> dict[str, Any]:
        """The stored JSON object."""
        return {
            "alertId": self.alert_id,
            "ruleId": self.rule_id,
            "change": self.change,
            "severity": self.severity,
            "value": self.value,
        }


@dataclass(frozen=True, slots=True)
class RawData:
    """A payload of no known shape (a row written by hand, by another build, or damaged).

    Kept whole, so the journal shows and exports what was there; the replay skips it.
    """

    values: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The stored JSON object: the values as they are."""
        return self.values


FeedData = (
    PresenceData
    | RoutingData
    | QueueData
    | MembershipData
    | ConnectionData
    | GapData
    | BudgetData
    | AlertData
    | RawData
)
"""The payload of a feed entry: the kind's own type, or :class:`RawData`."""


# ------------------------------------------------------------------------------------ reading
# Each reader returns the typed payload only when it writes back exactly what it read (same keys,
# values of the stored types); anything else is None and becomes RawData.


def _text(value: object) -> bool:
    return isinstance(value, str)


def _text_or_none(value: object) -> bool:
    return value is None or isinstance(value, str)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _texts(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


_PRESENCE_KEYS: Final = frozenset({"source", "presence", "definitionId"})
_QUEUE_KEYS: Final = frozenset({"source", "waiting", "interacting"})
_ROUTING_KEYS: Final = frozenset({"source", "routingStatus", "previousStatus"})


def _presence(obj: Mapping[str, Any]) -> PresenceData | None:
    if obj.keys() != _PRESENCE_KEYS or not _text(obj["source"]):
        return None
    if not (_text_or_none(obj["presence"]) and _text_or_none(obj["definitionId"])):
        return None
    return PresenceData(obj["source"], obj["presence"], obj["definitionId"])


def _routing(obj: Mapping[str, Any]) -> RoutingData | None:
    if not {"source", "routingStatus"} <= obj.keys() <= _ROUTING_KEYS:
        return None
    if not _text(obj["source"]) or not _text_or_none(obj["routingStatus"]):
        return None
    previous = obj.get("previousStatus")
    if previous is not None and not _text(previous):
        return None
    return RoutingData(obj["source"], obj["routingStatus"], previous)


def _queue(obj: Mapping[str, Any]) -> QueueData | None:
    if "source" not in obj or not obj.keys() <= _QUEUE_KEYS or not _text(obj["source"]):
        return None
    waiting, interacting = obj.get("waiting"), obj.get("interacting")
    if ("waiting" in obj and not _count(waiting)) or (
        "interacting" in obj and not _count(interacting)
    ):
        return None
    return QueueData(obj["source"], waiting, interacting)


def _membership(obj: Mapping[str, Any]) -> MembershipData | None:
    if obj.keys() != {"userId", "joined"} or not _text(obj["userId"]):
        return None
    if not isinstance(obj["joined"], bool):
        return None
    return MembershipData(obj["userId"], obj["joined"])


def _connection(obj: Mapping[str, Any]) -> ConnectionData | None:
    if obj.keys() != {"state", "detail"} or not (_text(obj["state"]) and _text(obj["detail"])):
        return None
    return ConnectionData(obj["state"], obj["detail"])


def _gap(obj: Mapping[str, Any]) -> GapData | None:
    phase, reason = obj.get("phase"), obj.get("reason")
    if not (isinstance(phase, str) and isinstance(reason, str)):
        return None
    if obj.keys() == {"phase", "reason"}:
        return GapData(phase, reason)
    if obj.keys() != {"phase", "reason", *_GAP_END} or not _number(obj["seconds"]):
        return None
    if not (_count(obj["users"]) and _count(obj["queues"]) and _count(obj["changed"])):
        return None
    return GapData(phase, reason, obj["seconds"], obj["users"], obj["queues"], obj["changed"])


def _budget(obj: Mapping[str, Any]) -> BudgetData | None:
    if obj.keys() != {"rejected", "missing"}:
        return None
    if not (_texts(obj["rejected"]) and _texts(obj["missing"])):
        return None
    return BudgetData(tuple(obj["rejected"]), tuple(obj["missing"]))


_ALERT_KEYS: Final = frozenset({"alertId", "ruleId", "change", "severity", "value"})


def _alert(obj: Mapping[str, Any]) -> AlertData | None:
    if obj.keys() != _ALERT_KEYS:
        return None
    texts = (obj["alertId"], obj["ruleId"], obj["change"], obj["severity"])
    value = obj["value"]
    if not all(_text(item) for item in texts):
        return None
    if not (value is None or _text(value) or _number(value)):
        return None
    return AlertData(obj["alertId"], obj["ruleId"], obj["change"], obj["severity"], value)


_READERS: Final[Mapping[str, Callable[[Mapping[str, Any]], FeedData | None]]] = {
    FeedKind.PRESENCE: _presence,
    FeedKind.ROUTING: _routing,
    FeedKind.QUEUE: _queue,
    FeedKind.MEMBERSHIP: _membership,
    FeedKind.CONNECTION: _connection,
    FeedKind.GAP: _gap,
    FeedKind.BUDGET: _budget,
    FeedKind.ALERT: _alert,
}


def payload_from_json(kind: str, obj: object) -> FeedData:
    """The payload of a journal row of ``kind`` whose data decoded to ``obj`` (never raises).

    The kind's own type when ``obj`` has exactly its shape; otherwise :class:`RawData` holding
    ``obj`` (wrapped as ``{"value": obj}`` when it is not a JSON object), so nothing is lost.
    """
    if not isinstance(obj, dict):
        return RawData({"value": obj})
    reader = _READERS.get(kind) if isinstance(kind, str) else None
    typed = reader(obj) if reader is not None else None
    return typed if typed is not None else RawData(obj)
