"""EventBridge envelopes out of SQS message bodies, sans I/O (genesys-eventbridge-triggers.md 1).

Tolerant of everything the fact sheet allows (any key order, ``account`` missing as in moto's
template, ``time`` with or without milliseconds, ``detail.timestamp`` missing, ``CorrelationId``
spelled ``correlationId``, any ``detail-type``), and strict about the rest: a body that is not an
envelope becomes :class:`EnvelopeError` with a plain reason, never another exception. JSON is
decoded with orjson as the socket frames are (strict RFC 8259, 1,024 levels at most, 64-bit
integers), under the same size cap.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

import orjson

from core.errors import GenesysTrayError
from core.eventbridge.events import BridgedEvent
from core.streaming.protocol import MAX_FRAME_BYTES, TopicEvent

logger = logging.getLogger(__name__)

# Body fields that say when an event happened, tried in order when the envelope has no time.
BODY_TIME_KEYS = ("eventTime", "timestamp", "dateModified", "modifiedDate", "startTime")
_EPOCH_MS_ABOVE = 100_000_000_000  # a number above this is epoch milliseconds (year 5138 in s)
_MIN_YEAR, _MAX_YEAR = 1970, 9998


class EnvelopeError(GenesysTrayError, ValueError):
    """A queue message that is not an EventBridge envelope carrying a Genesys event."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 string or epoch number (s or ms) as an aware UTC datetime; None otherwise."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, str):
            text = value.strip()
            if not 10 <= len(text) <= 40:
                return None
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            moment = moment.astimezone(UTC)
        elif isinstance(value, int | float):
            if not math.isfinite(value) or value < 0:
                return None
            seconds = value / 1000 if value > _EPOCH_MS_ABOVE else float(value)
            moment = datetime.fromtimestamp(seconds, UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return moment if _MIN_YEAR <= moment.year <= _MAX_YEAR else None


def _happened(envelope: dict[str, Any], detail: dict[str, Any], body: dict[str, Any]) -> datetime:
    for candidate in (detail.get("timestamp"), envelope.get("time")):
        moment = parse_time(candidate)
        if moment is not None:
            return moment
    for key in BODY_TIME_KEYS:
        moment = parse_time(body.get(key))
        if moment is not None:
            return moment
    raise EnvelopeError("the event says nowhere when it happened")


def _correlation(detail: dict[str, Any]) -> str:
    metadata = detail.get("metadata")
    if not isinstance(metadata, dict):
        return ""
    for key in ("CorrelationId", "correlationId"):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def parse_envelope(data: str | bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> BridgedEvent:
    """One SQS message body as a :class:`BridgedEvent`; raises only :class:`EnvelopeError`."""
    size = len(data)
    if size > max_bytes:
        raise EnvelopeError(f"message of {size} bytes is larger than {max_bytes}")
    try:
        envelope = orjson.loads(data)
    except ValueError:
        raise EnvelopeError("message is not JSON") from None
    if not isinstance(envelope, dict):
        raise EnvelopeError(f"message is a JSON {type(envelope).__name__}, not an envelope")
    envelope_id = envelope.get("id")
    if not isinstance(envelope_id, str) or not envelope_id.strip():
        raise EnvelopeError("message has no envelope id")
    detail = envelope.get("detail")
    if not isinstance(detail, dict):
        raise EnvelopeError("envelope has no event in it (no detail object)")
    topic = detail.get("topicName")
    if not isinstance(topic, str) or not topic:
        raise EnvelopeError("event has no topic name")
    body = detail.get("eventBody")
    if not isinstance(body, dict):
        raise EnvelopeError("event body is not an object")
    pattern = envelope.get("detail-type")
    version = detail.get("version")
    frame = TopicEvent(
        topic=topic,
        body=body,
        version=version if isinstance(version, str) else "",
        correlation_id=_correlation(detail),
    )
    return BridgedEvent(
        envelope_id=envelope_id,
        frame=frame,
        happened=_happened(envelope, detail, body),
        pattern=pattern if isinstance(pattern, str) else "",
    )
