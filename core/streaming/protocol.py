"""The Notification Service WebSocket protocol, sans I/O (genesys-api.md section 4).

Decoding and liveness bookkeeping live here as pure code that takes text and timestamps and
returns values, so every rule is unit-testable and no input can crash the engine: a frame that
is not what the document describes becomes :class:`Malformed`, never an exception.
"""

from __future__ import annotations

import enum
import logging
import statistics
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

logger = logging.getLogger(__name__)

PING_FRAME = '{"message":"ping"}'
MAX_FRAME_BYTES = 4 * 1024 * 1024
HEARTBEAT_MESSAGE = "WebSocket Heartbeat"
_EPSILON_S = 1e-6  # a deadline computed by addition must count as reached at that moment


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """``channel.metadata`` heartbeat."""


@dataclass(frozen=True, slots=True)
class Pong:
    """``channel.metadata`` answer to our JSON ping."""


@dataclass(frozen=True, slots=True)
class SocketClosing:
    """``v2.system.socket_closing``: about a minute left to move to a new socket."""


@dataclass(frozen=True, slots=True)
class SystemMessage:
    """Another ``v2.system.*`` message (token revoked, no longer subscribed, ...)."""

    topic: str
    kind: str  # systemTopicType or the topic's second-to-last part
    reason: str
    channel_id: str


@dataclass(frozen=True, slots=True)
class TopicEvent:
    """An event on a subscribed topic, with its body still as JSON (typed by
    core.streaming.events)."""

    topic: str
    body: dict[str, Any]
    version: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class SubscribeReply:
    """Answer to a subscribe/unsubscribe sent over the socket."""

    result: str
    status: str
    correlation_id: str
    message: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """Anything else: kept for diagnostics, never raised."""

    reason: str
    size: int


Frame = Heartbeat | Pong | SocketClosing | SystemMessage | TopicEvent | SubscribeReply | Malformed


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def decode_frame(data: str | bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> Frame:
    """Decode one WebSocket message. Never raises."""
    size = len(data)
    if size > max_bytes:
        return Malformed(f"frame of {size} bytes exceeds {max_bytes}", size)
    try:
        # orjson: strict RFC 8259 (no NaN, no lone surrogates, 1024 levels deep at most), each
        # refusal a JSONDecodeError (a ValueError); a third of json.loads' time on event bodies.
        message = orjson.loads(data)
    except ValueError:
        return Malformed("not JSON", size)
    if not isinstance(message, dict):
        return Malformed(f"JSON {type(message).__name__}, not an object", size)
    topic = message.get("topicName")
    if topic is None and "result" in message:
        return SubscribeReply(
            result=str(message.get("result")),
            status=_text(message.get("status")),
            correlation_id=_text(message.get("correlationId")),
            message=_text(message.get("message")),
        )
    if not isinstance(topic, str) or not topic:
        return Malformed("no topicName", size)
    body = message.get("eventBody")
    if not isinstance(body, dict):
        return Malformed(f"{topic}: eventBody is not an object", size)
    if topic == "channel.metadata":
        text = body.get("message")
        if text == "pong":
            return Pong()
        if text == HEARTBEAT_MESSAGE or isinstance(text, str):
            return Heartbeat()
        return Malformed("channel.metadata without a message", size)
    if topic == "v2.system.socket_closing":
        return SocketClosing()
    if topic.startswith("v2.system."):
        parts = topic.split(".")
        return SystemMessage(
            topic=topic,
            kind=_text(body.get("systemTopicType")) or (parts[2] if len(parts) > 2 else ""),
            reason=_text(body.get("reason")),
            channel_id=_text(body.get("channelId")),
        )
    metadata = message.get("metadata")
    correlation = _text(metadata.get("CorrelationId")) if isinstance(metadata, dict) else ""
    return TopicEvent(
        topic=topic, body=body, version=_text(message.get("version")), correlation_id=correlation
    )


class Liveness(enum.Enum):
    """What the watchdog wants done now."""

    OK = "ok"
    SEND_PING = "send_ping"
    DEAD = "dead"


class Watchdog:
    """Heartbeat watchdog that scales with the interval the server actually keeps.

    Any frame proves the socket alive. After about ``missed_beats`` heartbeat intervals of
    silence it asks for a JSON ping; if nothing at all arrives within the pong timeout the socket
    is dead. A server beating every 2 s is declared dead in about 6 s, one beating every 30 s in
    about 75 s (genesys-api.md 4.3).
    """

    def __init__(
        self,
        *,
        assumed_interval_s: float = 30.0,
        missed_beats: float = 2.2,
        min_pong_timeout_s: float = 2.0,
        max_pong_timeout_s: float = 10.0,
        window: int = 8,
    ) -> None:
        self.assumed_interval_s = assumed_interval_s
        self.missed_beats = missed_beats
        self.min_pong_timeout_s = min_pong_timeout_s
        self.max_pong_timeout_s = max_pong_timeout_s
        self._gaps: deque[float] = deque(maxlen=window)
        self._last_frame = 0.0
        self._last_beat: float | None = None
        self._ping_sent: float | None = None

    @property
    def interval_s(self) -> float:
        """The heartbeat interval: the median of observed gaps, or the assumption."""
        if len(self._gaps) >= 2:
            return statistics.median(self._gaps)
        return self.assumed_interval_s

    @property
    def silence_limit_s(self) -> float:
        """Silence after which we ping."""
        return self.interval_s * self.missed_beats

    @property
    def pong_timeout_s(self) -> float:
        """How long a ping may go unanswered."""
        return min(self.max_pong_timeout_s, max(self.min_pong_timeout_s, self.interval_s / 2))

    @property
    def last_frame_at(self) -> float:
        """Monotonic time of the last frame of any kind."""
        return self._last_frame

    def connected(self, now: float) -> None:
        """A new socket is open; the silence clock starts now."""
        self._last_frame = now
        self._last_beat = None
        self._ping_sent = None

    def frame(self, now: float, *, heartbeat: bool = False) -> None:
        """Any frame arrived; heartbeats also teach the interval."""
        self._last_frame = now
        self._ping_sent = None
        if heartbeat:
            if self._last_beat is not None and now > self._last_beat:
                self._gaps.append(now - self._last_beat)
            self._last_beat = now

    def ping_sent(self, now: float) -> None:
        """We sent ``{"message":"ping"}``."""
        self._ping_sent = now

    def check(self, now: float) -> Liveness:
        """What to do at ``now``."""
        if self._ping_sent is not None:
            overdue = now - self._ping_sent >= self.pong_timeout_s - _EPSILON_S
            return Liveness.DEAD if overdue else Liveness.OK
        if now - self._last_frame >= self.silence_limit_s - _EPSILON_S:
            return Liveness.SEND_PING
        return Liveness.OK

    def next_check_at(self) -> float:
        """When :meth:`check` may next change its answer."""
        if self._ping_sent is not None:
            return self._ping_sent + self.pong_timeout_s
        return self._last_frame + self.silence_limit_s
