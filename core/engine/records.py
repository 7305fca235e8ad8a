"""What the engine tells its consumers: leaf value types, no behaviour.

The GUI bridge, the ``listen`` CLI, the feed builder and the timeline all read these; keeping
them apart from :class:`core.engine.service.MonitorService` lets them do so without importing
the engine itself.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from core.rest.schema import RejectedTopic
from core.state.store import Change
from core.streaming.events import Event


class EngineState(enum.StrEnum):
    """What the tray shows about the connection."""

    STARTING = "starting"
    OFFLINE = "offline"  # the org cannot be reached yet; retrying with backoff
    LIVE = "live"
    STALE = "stale"
    RECONNECTING = "reconnecting"
    RESYNCING = "resyncing"
    SIGN_IN_NEEDED = "sign_in_needed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class StateRecord:
    """The engine's state changed."""

    state: EngineState
    detail: str


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A typed event from the stream, or from the EventBridge backlog.

    ``recovered`` marks one that arrived only through EventBridge (the WebSocket never delivered
    it); ``happened`` is when it happened, where the source says (EventBridge does).
    """

    topic: str
    event: Event
    source: Literal["websocket", "eventbridge"] = "websocket"
    correlation_id: str = ""
    recovered: bool = False
    happened: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """The store changed; ``source`` says whether the stream, a re-sync or EventBridge told us.

    ``at`` is when it happened when that is not now (an EventBridge event), and ``recovered``
    marks one the WebSocket never delivered (its feed line says so).
    """

    change: Change
    source: Literal["stream", "resync", "eventbridge"]
    at: datetime | None = None
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class GapRecord:
    """A gap in the stream began, or ended with a re-sync."""

    phase: Literal["start", "end"]
    reason: str
    started: datetime
    ended: datetime | None = None
    users_resynced: int = 0
    queues_resynced: int = 0
    changed: int = 0


@dataclass(frozen=True, slots=True)
class BudgetRecord:
    """Topics and channels in use, and every topic refused or left out."""

    topics: int
    channels: int
    per_channel: tuple[int, ...]
    capacity: int
    over_budget: tuple[str, ...]
    rejected: tuple[RejectedTopic, ...]


@dataclass(frozen=True, slots=True)
class WatchRecord:
    """The resolved selection: which users and queues are watched (with names)."""

    users: dict[str, str]
    queues: dict[str, str]


Record = StateRecord | EventRecord | ChangeRecord | GapRecord | BudgetRecord | WatchRecord
Listener = Callable[[Record], None]


@dataclass(frozen=True, slots=True)
class SelectionProgress:
    """How far :meth:`core.engine.service.MonitorService.set_selection` has come.

    ``step`` runs resolving → planning → subscribing (``done`` of ``total`` channels) →
    resyncing → done, for a progress bar.
    """

    step: Literal["resolving", "planning", "subscribing", "resyncing", "done"]
    done: int = 0
    total: int = 0


@dataclass(frozen=True, slots=True)
class SelectionPreview:
    """What a selection would watch and how it would fit, before it is applied."""

    users: dict[str, str]
    queues: dict[str, str]
    budget: BudgetRecord


@dataclass(frozen=True, slots=True)
class LinkStats:
    """The link at a glance: channels open, topics subscribed, silence on the quietest socket."""

    channels: int
    topics: int
    last_frame_age_s: float | None
