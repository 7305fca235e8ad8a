"""The content fingerprint of one Genesys event, shared by every dedup that compares content.

The same event can reach us twice under different ids: EventBridge repeats a delivery under a new
envelope id when Genesys retries, and the WebSocket carries it with no envelope at all. The
consumer and the engine's cross-transport merge must agree on what "the same content" means, so
both use :func:`content_fingerprint` from this leaf module; the merge, which keeps hundreds of
thousands of them in memory, uses its in-process form :func:`content_hash`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import orjson

from core.streaming.protocol import TopicEvent

logger = logging.getLogger(__name__)


def canonical_json(value: Any) -> bytes:
    """``value`` as JSON with sorted keys and no spaces: equal content, equal bytes."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not from orjson.loads (e.g. a 65-bit int built in code): the slow path
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        ).encode("utf-8", "surrogatepass")


def body_digest(body: Any) -> str:
    """The SHA-256 (hex) of an event body's canonical JSON."""
    return hashlib.sha256(canonical_json(body)).hexdigest()


def content_fingerprint(event: TopicEvent) -> str:
    """Topic plus the SHA-256 of the canonical body: equal for the same event on either source.

    The correlation id and the version are left out on purpose: the research could not confirm
    that both transports carry the same CorrelationId, so content alone must match.
    """
    return f"{event.topic}#{body_digest(event.body)}"


def content_hash(topic: str, body: Any) -> int:
    """:func:`content_fingerprint` as a 64-bit in-process hash (an int, cheap to keep by the
    hundred thousand): equal for equal content in any key order, within one process only."""
    return hash((topic, canonical_json(body)))
