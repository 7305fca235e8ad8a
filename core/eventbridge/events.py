"""What the EventBridge source hands to the engine and to the UI: leaf value types, no behaviour.

Kept apart from the SQS consumer so the engine's merge and the GUI read them without importing
aiobotocore, and the consumer is tested without the engine.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from core.streaming.protocol import TopicEvent


@dataclass(frozen=True, slots=True)
class BridgedEvent:
    """One Genesys event as it came out of an EventBridge envelope.

    ``frame`` is the same object the WebSocket would have carried (``detail`` is the WebSocket
    message plus ``timestamp``), so one parser serves both sources.
    """

    envelope_id: str  # EventBridge's id: the same for an at-least-once repeat
    frame: TopicEvent  # topicName, eventBody, version, metadata.CorrelationId
    happened: datetime  # when the event happened (detail.timestamp, else the envelope's time), UTC
    pattern: str = ""  # detail-type: the integration's filter that matched


# The engine's merge: returns once the events are journaled, so the consumer may then delete them
# from the queue (at-least-once: a crash before that leaves them in the queue).
EventSink = Callable[[Sequence[BridgedEvent]], Awaitable[None]]

SourceState = Literal["off", "starting", "live", "lagging", "down"]


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """How the EventBridge source is doing, for the status bar, the tray and ``listen``."""

    state: SourceState
    lag_s: float | None = None  # now minus when the newest received event happened
    backlog: int | None = None  # messages waiting in the queue (approximate, from SQS)
    detail: str = ""  # plain words for the person when something is wrong
