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
from typing import Any, Protocol

from sandbox.auth import AuthServer, Token
from sandbox.catalog import expand_combined, is_system_topic, match_topic
from sandbox.channels import (
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    CLOSE_TRY_AGAIN,
    Channel,
    Socket,
    TopicCheck,
)
from sandbox.config import SandboxConfig
from sandbox.errors import (
    bad_request,
    missing_permissions,
    not_found,
)
from sandbox.observations import ObservationPublisher
from sandbox.org import Org
from sandbox.timefmt import iso
from sandbox.variations import Variations

logger = logging.getLogger(__name__)

_ALPHABET = string.ascii_lowercase + string.digits


class EventTap(Protocol):
    """A second transport for published events (the EventBridge source)."""

    def wants(self, topic: str) -> bool:
        """Whether ``topic``'s events go to this transport."""

    def deliver(self, topic: str, message: dict[str, Any]) -> None:
        """Take one event's message (``topicName``, ``version``, ``eventBody``, ``metadata``)."""


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
        self.tap: EventTap | None = None
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
        """Deliver one event to every socket whose channel subscribed to ``topic``.

        The tap (EventBridge) gets the very message the sockets get, CorrelationId included.
        """
        subscribers = self.index.get(topic)
        tapped = self.tap is not None and self.tap.wants(topic)
        if not subscribers and not tapped:
            return
        message = self.variations.decorate(
            {
                "topicName": topic,
                "version": "2",
                "eventBody": body,
                "metadata": {"CorrelationId": str(uuid.uuid4())},
            }
        )
        if self.tap is not None and tapped:
            self.tap.deliver(topic, message)
        if not subscribers:
            return
        frame = json.dumps(message, separators=(",", ":"))
        for channel_id in subscribers:
            channel = self.channels.get(channel_id)
            if channel and channel.socket:
                self.enqueue(channel, frame)
        self.published += 1

    def send_raw(self, frame: str, channel_id: str | None = None) -> int:
        """Push an arbitrary frame (fault injection); returns the number of sockets reached."""
        count = 0
        for channel in self.channels.values():
            if channel.socket and channel_id in (None, channel.id):
                self.enqueue(channel, frame)
                count += 1
        return count

    def enqueue(self, channel: Channel, frame: str) -> None:
        sock = channel.socket
        if sock is None:
            return
        if sock.queue.qsize() >= self.config.max_socket_queue:
            logger.warning("channel %s: slow consumer, closing its socket", channel.id)
            self.spawn(self._close_socket(channel, CLOSE_TRY_AGAIN, "Slow consumer"))
            return
        sock.queue.put_nowait(frame)

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def adopt_writer(self, task: asyncio.Task[None]) -> None:
        """Keep a socket's writer task until it ends, so :meth:`stop` can cancel it."""
        self._writers.add(task)
        task.add_done_callback(self._writers.discard)

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

    def reap(self) -> None:
        """Drop dead channels now, so no request sees one the periodic sweep has not reached."""
        now = self.org.clock()
        for channel in list(self.channels.values()):
            token = self.auth.tokens.get(channel.token)
            if channel.expires <= now or token is None or not token.live(now):
                del self.channels[channel.id]
                self._unindex(channel)
                reason = "Channel expired" if channel.expires <= now else "Token expired"
                self.spawn(self._close_socket(channel, CLOSE_NORMAL, reason))

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
        self.enqueue(channel, json.dumps(frame))

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
            self.spawn(self._remove(channel, CLOSE_NORMAL, "Token revoked"))

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
                self.enqueue(channel, frame)
                warned.append((channel, channel.socket))
        self.spawn(self._close_after(warned, grace))
        return len(warned)

    async def _close_after(self, warned: list[tuple[Channel, Socket]], grace: float) -> None:
        await asyncio.sleep(grace)
        for channel, sock in warned:
            if channel.socket is sock:
                await self._close_socket(channel, CLOSE_GOING_AWAY, "Closing for maintenance")

    # ------------------------------------------------------------------ REST: channels
    def owned(self, token: Token, channel_id: str) -> Channel:
        self.reap()
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
        self.reap()
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
            self.spawn(self._close_socket(victim, CLOSE_NORMAL, "Channel was replaced"))
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

    # ------------------------------------------------------------------ subscriptions

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
            if not template.websocket:
                raise bad_request(f"The topic {name} is not available over WebSocket.")
            if template.current_user_or_permission and entity_id == token.user_id:
                continue
            missing.update(p for p in template.permissions if p not in token.permissions)
        return TopicCheck(topic, expanded, sorted(missing))

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
