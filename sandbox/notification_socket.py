"""The streaming WebSocket of a channel: heartbeats, ping/pong, subscribe over the socket.

One socket per channel (a second one kicks the first, genesys-api.md 4.8); a writer task per
socket interleaves queued frames with heartbeats at the configured interval.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from sandbox.channels import (
    CLOSE_NORMAL,
    HEARTBEAT_FRAME,
    PONG_FRAME,
    Channel,
    Socket,
    close_ws,
)
from sandbox.errors import ApiError
from sandbox.notifications import StreamingHub

logger = logging.getLogger(__name__)


class NotificationSocket:
    """``GET /channels/{id}`` upgraded to the streaming WebSocket of a channel."""

    def __init__(self, hub: StreamingHub) -> None:
        self.hub = hub

    async def connect(self, request: web.Request) -> web.StreamResponse:
        """``GET /channels/{id}`` upgraded to a WebSocket. No auth: the id is the credential."""
        self.hub.reap()
        channel = self.hub.channels.get(request.match_info["channel_id"])
        if channel is None:
            raise ApiError(404, "not.found", "channel not found")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        if channel.socket is not None:
            old = channel.socket
            logger.info("channel %s: a second socket kicks the first", channel.id)
            channel.socket = None
            old.queue.put_nowait(None)
            self.hub.spawn(close_ws(old.ws, CLOSE_NORMAL, "Replaced by a new connection"))
        if channel.id not in self.hub.channels:  # expired while we were upgrading
            await ws.close(code=CLOSE_NORMAL, message=b"Channel expired")
            return ws
        sock = Socket(ws, request, channel.id)
        channel.socket = sock
        channel.last_used = self.hub.org.clock()
        writer = asyncio.get_running_loop().create_task(self._writer(sock))
        sock.writer = writer
        self.hub.adopt_writer(writer)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_client_message(channel, sock, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            if channel.socket is sock:
                channel.socket = None
            sock.queue.put_nowait(None)
        return ws

    async def _writer(self, sock: Socket) -> None:
        loop = asyncio.get_running_loop()
        interval = self.hub.config.heartbeat_s
        next_beat = loop.time() + interval
        while True:
            if sock.queue.empty():
                try:
                    frame = await asyncio.wait_for(
                        sock.queue.get(), timeout=max(0.0, next_beat - loop.time())
                    )
                except TimeoutError:
                    frame = HEARTBEAT_FRAME
                    next_beat += interval
            else:
                frame = sock.queue.get_nowait()
            if frame is None:
                return
            if sock.stalled:
                continue
            try:
                await sock.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return
            sock.sent += 1

    def _on_client_message(self, channel: Channel, sock: Socket, data: str) -> None:
        if sock.stalled:
            return
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self._reply(channel, {"result": "400", "status": "failure", "message": "Invalid JSON"})
            return
        kind = message.get("message")
        correlation = message.get("correlationId")
        channel.last_used = self.hub.org.clock()
        if kind == "ping":
            self.hub.enqueue(channel, PONG_FRAME)
        elif kind in ("subscribe", "unsubscribe"):
            self._ws_subscribe(channel, kind, message.get("topics"), correlation)
        else:
            self._reply(
                channel,
                {
                    "result": "400",
                    "status": "failure",
                    "message": f"Unknown message {kind!r}",
                    "correlationId": correlation,
                },
            )

    def _ws_subscribe(self, channel: Channel, kind: str, topics: Any, correlation: Any) -> None:
        token = self.hub.auth.tokens.get(channel.token)
        if token is None or not token.live(self.hub.org.clock()):
            self._reply(
                channel,
                {"result": "404", "message": "Channel not found", "correlationId": correlation},
            )
            return
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            self._reply(
                channel,
                {
                    "result": "400",
                    "status": "failure",
                    "message": "topics must be a list of strings",
                    "correlationId": correlation,
                },
            )
            return
        try:
            if kind == "subscribe":
                self.hub.subscribe(channel, token, topics, replace=False, ignore=True)
                status = "subscribed"
            else:
                self.hub.unsubscribe(channel, topics)
                status = "unsubscribed"
        except ApiError as exc:
            self._reply(
                channel,
                {
                    "result": str(exc.status),
                    "status": "failure",
                    "message": exc.message,
                    "correlationId": correlation,
                },
            )
            return
        self._reply(channel, {"result": "200", "status": status, "correlationId": correlation})

    def _reply(self, channel: Channel, body: dict[str, Any]) -> None:
        self.hub.enqueue(channel, json.dumps(body))
