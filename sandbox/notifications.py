"""The Notification Service: channels, subscriptions and the streaming WebSocket.

Every limit of genesys-api.md 4.8 is enforced here: 1000 topics per channel (400 beyond), 20
channels per user + OAuth client (a 21st evicts an idle one first, else the least recently
used), one socket per channel (a second one kicks the first), channel expiry (extended by
resubscribing), combined topics of at most 200 characters delivered under their expanded names,
heartbeats, ``{"message":"ping"}`` → pong, and ``v2.system.socket_closing`` before a maintenance
close. Channels die with the token that made them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import string
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from sandbox.auth import AuthServer, Token
from sandbox.catalog import TOPICS, expand_combined, is_system_topic, match_topic
from sandbox.config import SandboxConfig
from sandbox.errors import (
    ApiError,
    bad_request,
    missing_permissions,
    not_found,
    query_bool,
    query_list,
    read_json,
)
from sandbox.observations import ObservationPublisher
from sandbox.org import Org
from sandbox.timefmt import iso
from sandbox.variations import Variations

logger = logging.getLogger(__name__)

HEARTBEAT_FRAME = json.dumps(
    {"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}}
)
PONG_FRAME = json.dumps({"topicName": "channel.metadata", "eventBody": {"message": "pong"}})
_ALPHABET = string.ascii_lowercase + string.digits
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


class StreamingHub:
    """Owns channels and sockets and fans org events out to subscribers."""

    def __init__(
        self,
        config: SandboxConfig,
        org: Org,
        auth: AuthServer,
        variations: Variations | None = None,
    ) -> None:
        self.config = config
        self.org = org
        self.auth = auth
        self.variations = variations or org.variations
        self.channels: dict[str, Channel] = {}
        self.index: dict[str, set[str]] = {}
        self.observations = ObservationPublisher(
            config, org, self.variations, self.publish, self.index.__contains__
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.Task[None]] = set()
        self.published = 0
        self.evictions = 0
        org.emit = self.publish
        org.queue_changed = self.observations.mark
        auth.on_revoked = self._on_token_revoked

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Start the expiry sweep and the analytics flusher."""
        for coro in (self._sweep_loop(), self._observation_loop()):
            task = asyncio.get_running_loop().create_task(coro)
            self._tasks.add(task)

    async def stop(self) -> None:
        """Close every socket and stop background work."""
        tasks = list(self._tasks)  # spawned tasks discard themselves from the set when done
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for channel in list(self.channels.values()):
            await self._close_socket(channel, CLOSE_GOING_AWAY, "Server shutting down")
        for task in list(self._writers):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------------ publishing
    def publish(self, topic: str, body: dict[str, Any]) -> None:
        """Deliver one event to every socket whose channel subscribed to ``topic``."""
        subscribers = self.index.get(topic)
        if not subscribers:
            return
        frame = self.variations.dumps(
            {
                "topicName": topic,
                "version": "2",
                "eventBody": body,
                "metadata": {"CorrelationId": str(uuid.uuid4())},
            }
        )
        for channel_id in subscribers:
            channel = self.channels.get(channel_id)
            if channel and channel.socket:
                self._enqueue(channel, frame)
        self.published += 1

    def send_raw(self, frame: str, channel_id: str | None = None) -> int:
        """Push an arbitrary frame (fault injection); returns the number of sockets reached."""
        count = 0
        for channel in self.channels.values():
            if channel.socket and channel_id in (None, channel.id):
                self._enqueue(channel, frame)
                count += 1
        return count

    def _enqueue(self, channel: Channel, frame: str) -> None:
        sock = channel.socket
        if sock is None:
            return
        if sock.queue.qsize() >= self.config.max_socket_queue:
            logger.warning("channel %s: slow consumer, closing its socket", channel.id)
            self._spawn(self._close_socket(channel, CLOSE_TRY_AGAIN, "Slow consumer"))
            return
        sock.queue.put_nowait(frame)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _observation_loop(self) -> None:
        """Analytics topics: at most one notification per second per group, only on change."""
        tick = max(0.01, self.config.observation_min_interval_s / 4)
        while True:
            await asyncio.sleep(tick)
            self.flush_observations()

    def flush_observations(self) -> None:
        """Publish the analytics groups that changed and are due (see sandbox.observations)."""
        self.observations.flush()

    # ------------------------------------------------------------------ expiry and tokens
    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.config.channel_ttl_s / 4))
            await self.sweep()

    async def sweep(self) -> None:
        """Remove channels that expired or whose token died."""
        now = self.org.clock()
        for channel in list(self.channels.values()):
            token = self.auth.tokens.get(channel.token)
            if channel.expires <= now:
                await self._remove(channel, CLOSE_NORMAL, "Channel expired")
            elif token is None or not token.live(now):
                await self._remove(channel, CLOSE_NORMAL, "Token expired")

    def _reap(self) -> None:
        """Drop dead channels now, so no request sees one the periodic sweep has not reached."""
        now = self.org.clock()
        for channel in list(self.channels.values()):
            token = self.auth.tokens.get(channel.token)
            if channel.expires <= now or token is None or not token.live(now):
                del self.channels[channel.id]
                self._unindex(channel)
                reason = "Channel expired" if channel.expires <= now else "Token expired"
                self._spawn(self._close_socket(channel, CLOSE_NORMAL, reason))

    def _system_message(self, channel: Channel, kind: str, reason: str, message: str) -> None:
        """Queue a ``v2.system.<kind>.<channel id>`` frame (SystemMessageSystemMessage, 4.7)."""
        if not channel.socket:
            return
        body = {
            "channelId": channel.id,
            "systemTopicType": kind,
            "correlationId": str(uuid.uuid4()),
            "organizationId": self.org.id,
            "userId": channel.user_id,
            "oauthClientId": channel.client_id,
            "reason": reason,
            "message": message,
        }
        frame = {
            "topicName": f"v2.system.{kind}.{channel.id}",
            "version": "2",
            "eventBody": body,
            "metadata": {"CorrelationId": body["correlationId"]},
        }
        self._enqueue(channel, json.dumps(frame))

    def _on_token_revoked(self, token: Token) -> None:
        for channel in list(self.channels.values()):
            if channel.token != token.value:
                continue
            self._system_message(
                channel,
                "token_revoked",
                "user_tokens_revoked",
                "The tokens of this user were revoked",
            )
            self._spawn(self._remove(channel, CLOSE_NORMAL, "Token revoked"))

    def no_longer_subscribed(self, channel_id: str | None = None) -> int:
        """Drop every subscription of one channel (or of all) and tell its socket (fault).

        genesys-api.md 4.7 lists ``v2.system.no_longer_subscribed.{id}`` with the reason
        ``another_channel_subscribed``; what exactly triggers it is unconfirmed, so the sandbox
        offers it as a fault: the channel and its socket stay, its topics are gone.
        """
        count = 0
        for channel in list(self.channels.values()):
            if channel_id not in (None, channel.id) or not channel.topics:
                continue
            self.unsubscribe(channel, list(channel.topics))
            self._system_message(
                channel,
                "no_longer_subscribed",
                "another_channel_subscribed",
                "The subscriptions of this channel were removed",
            )
            count += 1
        return count

    async def expire(self, channel_id: str | None = None) -> int:
        """Expire one channel, or all of them, now (fault injection)."""
        victims = [c for c in self.channels.values() if channel_id in (None, c.id)]
        for channel in victims:
            await self._remove(channel, CLOSE_NORMAL, "Channel expired")
        return len(victims)

    async def _remove(self, channel: Channel, code: int, reason: str) -> None:
        if self.channels.pop(channel.id, None) is None:
            return
        self._unindex(channel)
        await self._close_socket(channel, code, reason)

    async def _close_socket(self, channel: Channel, code: int, reason: str) -> None:
        sock, channel.socket = channel.socket, None
        if sock is None:
            return
        sock.queue.put_nowait(None)
        if sock.writer is not None:
            # Frames queued before the close (e.g. v2.system.token_revoked) go out first.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(sock.writer), timeout=1.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sock.ws.close(code=code, message=reason.encode()), timeout=2.0)

    # ------------------------------------------------------------------ faults
    def drop_all(self) -> int:
        """Abort every socket's TCP connection without a close frame (network loss)."""
        count = 0
        for channel in self.channels.values():
            sock, channel.socket = channel.socket, None
            if sock is None:
                continue
            sock.queue.put_nowait(None)
            transport = sock.request.transport
            if transport is not None:
                transport.abort()
            count += 1
        return count

    def stall_all(self) -> int:
        """Keep every current socket open but send nothing on it any more (half-open link)."""
        count = 0
        for channel in self.channels.values():
            if channel.socket and not channel.socket.stalled:
                channel.socket.stalled = True
                count += 1
        return count

    def socket_closing(self, grace_s: float | None = None) -> int:
        """Warn every socket of maintenance, then close the ones still open after the grace."""
        grace = self.config.socket_closing_grace_s if grace_s is None else grace_s
        frame = json.dumps(
            {
                "topicName": "v2.system.socket_closing",
                "version": "2",
                "eventBody": {"message": "WebSocket is closing for maintenance"},
            }
        )
        warned: list[tuple[Channel, Socket]] = []
        for channel in self.channels.values():
            if channel.socket and not channel.socket.closing_warned:
                channel.socket.closing_warned = True
                self._enqueue(channel, frame)
                warned.append((channel, channel.socket))
        self._spawn(self._close_after(warned, grace))
        return len(warned)

    async def _close_after(self, warned: list[tuple[Channel, Socket]], grace: float) -> None:
        await asyncio.sleep(grace)
        for channel, sock in warned:
            if channel.socket is sock:
                await self._close_socket(channel, CLOSE_GOING_AWAY, "Closing for maintenance")

    # ------------------------------------------------------------------ REST: channels
    def _owned(self, token: Token, channel_id: str) -> Channel:
        self._reap()
        channel = self.channels.get(channel_id)
        if (
            channel is None
            or channel.subject != token.subject
            or (channel.client_id != token.client_id)
        ):
            raise not_found("channel not found")
        return channel

    def _new_channel_id(self) -> str:
        shard = secrets.randbelow(9) + 1
        return f"streaming-{shard}-" + "".join(secrets.choice(_ALPHABET) for _ in range(26))

    def create_channel(self, token: Token) -> Channel:
        """Create a channel, evicting one when the user + client already hold the maximum."""
        self._reap()
        now = self.org.clock()
        mine = [
            c
            for c in self.channels.values()
            if c.subject == token.subject and c.client_id == token.client_id
        ]
        if len(mine) >= self.config.max_channels:
            idle = [c for c in mine if c.socket is None]
            victim = min(idle or mine, key=lambda c: c.last_used)
            self.evictions += 1
            logger.info("evicting channel %s (idle=%s)", victim.id, victim.socket is None)
            del self.channels[victim.id]
            self._unindex(victim)
            self._spawn(self._close_socket(victim, CLOSE_NORMAL, "Channel was replaced"))
        channel = Channel(
            id=self._new_channel_id(),
            subject=token.subject,
            client_id=token.client_id,
            token=token.value,
            user_id=token.user_id,
            created=now,
            expires=now + self.config.channel_ttl_s,
            last_used=now,
        )
        self.channels[channel.id] = channel
        return channel

    async def post_channels(self, request: web.Request, token: Token) -> web.Response:
        """``POST /api/v2/notifications/channels`` (no body, or the literal ``null``)."""
        raw = (await request.read()).strip()
        if raw not in (b"", b"null", b"{}"):
            try:
                json.loads(raw)
            except ValueError:
                raise bad_request("The request body could not be parsed as JSON.") from None
        channel = self.create_channel(token)
        return web.json_response(channel.entity(request.host))

    async def get_channels(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/notifications/channels?includechannels=token|oauthclient``."""
        scope = request.query.get("includechannels", "token")
        if scope not in ("token", "oauthclient"):
            raise bad_request("includechannels must be one of: token, oauthclient.")
        self._reap()
        entities: list[dict[str, Any]] = []
        for channel in self.channels.values():
            if channel.subject != token.subject or channel.client_id != token.client_id:
                continue
            if channel.token == token.value:
                entities.append(channel.entity(request.host))
            elif scope == "oauthclient":
                entities.append({"expires": iso(channel.expires)})
        return web.json_response({"entities": entities})

    async def head_channel(self, request: web.Request, token: Token) -> web.Response:
        """``HEAD /api/v2/notifications/channels/{channelId}``: 200 exists, 404 gone."""
        self._owned(token, request.match_info["channel_id"])
        return web.Response(status=200)

    # ------------------------------------------------------------------ REST: subscriptions
    def _listing(self, channel: Channel, rejected: list[TopicCheck]) -> dict[str, Any]:
        self_uri = f"/api/v2/notifications/channels/{channel.id}/subscriptions"
        entities: list[dict[str, Any]] = [
            {"id": topic, "state": "Permitted", "selfUri": self_uri} for topic in channel.topics
        ]
        entities.extend(
            {
                "id": check.id,
                "state": "Rejected",
                "rejectionReason": "missing permissions",
                "missingPermissions": check.missing,
            }
            for check in rejected
        )
        return {"entities": entities}

    def check_topic(self, token: Token, topic: Any) -> TopicCheck:
        """Validate one requested topic; a malformed one raises 400."""
        if not isinstance(topic, str) or not topic:
            raise bad_request("A topic id must be a non-empty string.")
        if is_system_topic(topic):
            raise bad_request(f"The topic {topic} cannot be subscribed.")
        if "?" in topic:
            if len(topic) > self.config.max_combined_topic_len:
                raise bad_request(
                    f"The combined topic {topic[:60]}... is longer than "
                    f"{self.config.max_combined_topic_len} characters."
                )
            expanded = expand_combined(topic)
            if expanded is None:
                raise bad_request(f"The combined topic {topic} is malformed.")
        else:
            expanded = [topic]
        missing: set[str] = set()
        for name in expanded:
            found = match_topic(name)
            if found is None:
                raise bad_request(f"The topic {name} is not a valid topic.")
            template, entity_id = found
            if template.current_user_or_permission and entity_id == token.user_id:
                continue
            missing.update(p for p in template.permissions if p not in token.permissions)
        return TopicCheck(topic, expanded, sorted(missing))

    def _topics_from_body(self, body: Any) -> list[Any]:
        if not isinstance(body, list):
            raise bad_request("The body must be a JSON array of topics.")
        topics: list[Any] = []
        for item in body:
            if not isinstance(item, dict) or "id" not in item:
                raise bad_request("Each topic must be an object with an id.")
            topics.append(item["id"])
        return topics

    def subscribe(
        self, channel: Channel, token: Token, topics: list[Any], *, replace: bool, ignore: bool
    ) -> list[TopicCheck]:
        """Apply a PUT (replace) or POST (append); returns the rejected topics."""
        checks = [self.check_topic(token, t) for t in topics]
        rejected = [c for c in checks if c.missing]
        if rejected and not ignore:
            first = rejected[0]
            raise missing_permissions(f"Missing permission(s) for topic {first.id}", first.missing)
        new_topics: dict[str, list[str]] = {} if replace else dict(channel.topics)
        for check in checks:
            if not check.missing:
                new_topics[check.id] = check.expanded
        if len(new_topics) > self.config.max_topics:
            raise bad_request(
                f"The number of topics exceeds the maximum of {self.config.max_topics}"
            )
        self._unindex(channel)
        channel.topics = new_topics
        self._index(channel)
        now = self.org.clock()
        channel.expires = now + self.config.channel_ttl_s
        channel.last_used = now
        return rejected

    def unsubscribe(self, channel: Channel, topics: list[str]) -> None:
        """Drop the listed topics from a channel."""
        self._unindex(channel)
        for topic in topics:
            channel.topics.pop(topic, None)
        self._index(channel)

    def _index(self, channel: Channel) -> None:
        for expanded in channel.topics.values():
            for name in expanded:
                self.index.setdefault(name, set()).add(channel.id)
                if name.startswith("v2.analytics.queues."):
                    self.observations.baseline(name)

    def _unindex(self, channel: Channel) -> None:
        for expanded in channel.topics.values():
            for name in expanded:
                holders = self.index.get(name)
                if holders is not None:
                    holders.discard(channel.id)
                    if not holders:
                        del self.index[name]
                        # "Only on change" is judged per subscriber's view: with nobody left,
                        # the next subscriber starts from the value at its own subscribe.
                        self.observations.forget(name)

    async def get_subscriptions(self, request: web.Request, token: Token) -> web.Response:
        """``GET .../subscriptions``."""
        channel = self._owned(token, request.match_info["channel_id"])
        return web.json_response(self._listing(channel, []))

    async def change_subscriptions(self, request: web.Request, token: Token) -> web.Response:
        """``PUT`` (replace) or ``POST`` (append) ``.../subscriptions?ignoreErrors=bool``."""
        channel = self._owned(token, request.match_info["channel_id"])
        ignore = query_bool(request, "ignoreErrors", False)
        topics = self._topics_from_body(await read_json(request))
        rejected = self.subscribe(
            channel, token, topics, replace=request.method == "PUT", ignore=ignore
        )
        return web.json_response(self._listing(channel, rejected))

    async def delete_subscriptions(self, request: web.Request, token: Token) -> web.Response:
        """``DELETE .../subscriptions``: remove all."""
        channel = self._owned(token, request.match_info["channel_id"])
        self.unsubscribe(channel, list(channel.topics))
        return web.Response(status=204)

    async def available_topics(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/notifications/availabletopics?expand=...&includePreview=bool``."""
        expand = set(query_list(request, "expand"))
        include_preview = query_bool(request, "includePreview", True)
        entities: list[dict[str, Any]] = []
        for t in TOPICS:
            if t.visibility == "Preview" and not include_preview:
                continue
            entity: dict[str, Any] = {"id": t.template}
            param = "queueId" if ".queues." in t.template else "userId"
            fields: dict[str, Any] = {
                "description": t.description,
                "enforced": True,
                "visibility": t.visibility,
                "transports": ["All"],
                "publicApiTemplateUriPaths": list(t.api_paths),
                "requiresPermissions": list(t.permissions),
                "topicParameters": [param],
                "schema": {"id": f"urn:jsonschema:sandbox:v2:{t.template}", "type": "object"},
                "permissionDetails": [
                    {
                        "type": "requiresPermissions",
                        "permissions": list(t.permissions),
                        "allowsCurrentUser": t.current_user_or_permission,
                        "enforced": True,
                    }
                ],
            }
            for key, value in fields.items():
                if key in expand:
                    entity[key] = value
            if "requiresPermissions" in expand:
                entity["requiresCurrentUserOrPermission"] = t.current_user_or_permission
                entity["requiresCurrentUser"] = False
                entity["requiresDivisionPermissions"] = False
                entity["requiresAnyValidator"] = False
            entities.append(entity)
        return web.json_response({"entities": entities})

    # ------------------------------------------------------------------ the WebSocket
    async def connect(self, request: web.Request) -> web.StreamResponse:
        """``GET /channels/{id}`` upgraded to a WebSocket. No auth: the id is the credential."""
        self._reap()
        channel = self.channels.get(request.match_info["channel_id"])
        if channel is None:
            raise ApiError(404, "not.found", "channel not found")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        if channel.socket is not None:
            old = channel.socket
            logger.info("channel %s: a second socket kicks the first", channel.id)
            channel.socket = None
            old.queue.put_nowait(None)
            self._spawn(_close_ws(old.ws, CLOSE_NORMAL, "Replaced by a new connection"))
        if channel.id not in self.channels:  # expired while we were upgrading
            await ws.close(code=CLOSE_NORMAL, message=b"Channel expired")
            return ws
        sock = Socket(ws, request, channel.id)
        channel.socket = sock
        channel.last_used = self.org.clock()
        writer = asyncio.get_running_loop().create_task(self._writer(sock))
        sock.writer = writer
        self._writers.add(writer)
        writer.add_done_callback(self._writers.discard)
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
        interval = self.config.heartbeat_s
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
        channel.last_used = self.org.clock()
        if kind == "ping":
            self._enqueue(channel, PONG_FRAME)
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
        token = self.auth.tokens.get(channel.token)
        if token is None or not token.live(self.org.clock()):
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
                self.subscribe(channel, token, topics, replace=False, ignore=True)
                status = "subscribed"
            else:
                self.unsubscribe(channel, topics)
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
        self._enqueue(channel, json.dumps(body))

    def stats(self) -> dict[str, Any]:
        """Counters for tests and benchmarks."""
        return {
            "channels": len(self.channels),
            "sockets": sum(1 for c in self.channels.values() if c.socket),
            "topics": sum(len(c.topics) for c in self.channels.values()),
            "published": self.published,
            "evictions": self.evictions,
            "by_channel": {
                c.id: {
                    "topics": len(c.topics),
                    "connected": c.socket is not None,
                    "stalled": bool(c.socket and c.socket.stalled),
                    "subject": c.subject,
                    "expires": iso(c.expires),
                }
                for c in self.channels.values()
            },
        }


async def _close_ws(ws: web.WebSocketResponse, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(code=code, message=reason.encode()), timeout=2.0)
