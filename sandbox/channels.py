"""A notification channel and its socket as the sandbox keeps them, and the frames it sends.

Leaf records shared by the hub (which owns channels), the channels REST API and the socket
server, so none of them imports another for a type.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.timefmt import iso

HEARTBEAT_FRAME = json.dumps(
    {"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}}
)
PONG_FRAME = json.dumps({"topicName": "channel.metadata", "eventBody": {"message": "pong"}})
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN = 1013


@dataclass(eq=False, slots=True)
class Socket:
    """One open WebSocket of a channel."""

    ws: web.WebSocketResponse
    request: web.Request
    channel_id: str
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    stalled: bool = False
    closing_warned: bool = False
    sent: int = 0
    writer: asyncio.Task[None] | None = None


@dataclass(eq=False, slots=True)
class Channel:
    """A notification channel owned by a user (or service client) + OAuth client."""

    id: str
    subject: str
    client_id: str
    token: str
    user_id: str | None
    created: float
    expires: float
    last_used: float
    topics: dict[str, list[str]] = field(default_factory=dict)  # subscribed id -> expanded
    socket: Socket | None = None

    def entity(self, host: str) -> dict[str, Any]:
        """The ``Channel`` body."""
        return {
            "connectUri": f"ws://{host}/channels/{self.id}",
            "id": self.id,
            "expires": iso(self.expires),
        }


@dataclass(slots=True)
class TopicCheck:
    """The verdict on one requested topic."""

    id: str
    expanded: list[str]
    missing: list[str]


async def close_ws(ws: web.WebSocketResponse, code: int, reason: str) -> None:
    """Close a WebSocket with a code and reason, giving up after 2 s (the peer may be gone)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(code=code, message=reason.encode()), timeout=2.0)
