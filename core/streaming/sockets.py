"""A shard's sockets: opening one with ``websockets``, and ending them without losing a
cancellation. Kept apart from :class:`core.streaming.shard.ChannelShard`, whose job is the
channel's life, not the socket plumbing."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from core.streaming.ports import Socket
from core.streaming.protocol import MAX_FRAME_BYTES

logger = logging.getLogger(__name__)


async def websockets_connector(uri: str) -> Socket:
    """Open a socket with the ``websockets`` library; liveness is our JSON watchdog's job."""
    from websockets.asyncio.client import connect

    connection = await connect(
        uri,
        max_size=MAX_FRAME_BYTES,
        ping_interval=None,
        open_timeout=15,
        close_timeout=3,
        user_agent_header="genesys-tray",
    )
    return connection


@dataclass(slots=True)
class Live:
    """A socket and the task that reads it."""

    socket: Socket
    reader: asyncio.Task[None]


async def close_quietly(*lives: Live) -> None:
    """End sockets and their readers: their failures are expected and swallowed, but a
    cancellation of the caller propagates (else a stopped task runs on as if never asked)."""
    for live in lives:
        live.reader.cancel()  # all first: a cancellation midway leaves none of them reading
    for live in lives:
        try:
            await asyncio.wait_for(live.socket.close(), timeout=3)
        except Exception as exc:  # TimeoutError, ConnectionClosed, OSError: it is gone anyway
            logger.debug("closing a socket failed: %s", type(exc).__name__)
        await asyncio.wait([live.reader])  # raises only when *this* task is cancelled
