"""What a channel shard talks to: its socket, the channel REST calls, and its owner.

These are the shard's ports, kept apart from :class:`core.streaming.shard.ChannelShard` so that
the engine (its owner) and the tests (their fakes) can name them without importing the shard.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from core.rest.schema import ChannelInfo, ListedChannel, RejectedTopic, SubscriptionResult
from core.streaming.protocol import Malformed, TopicEvent


class ShardPhase(enum.StrEnum):
    """Where one channel is in its life."""

    CONNECTING = "connecting"
    LIVE = "live"
    STALE = "stale"
    RECONNECTING = "reconnecting"
    SIGN_IN_NEEDED = "sign_in_needed"
    BLOCKED = "blocked"
    STOPPED = "stopped"


class Socket(Protocol):
    """The part of a WebSocket connection the shard uses (websockets' ClientConnection)."""

    async def send(self, message: str) -> None:
        """Send one text frame."""

    async def recv(self) -> str | bytes:
        """The next message; raises when the connection is closed."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection."""


Connector = Callable[[str], Awaitable[Socket]]


class ChannelApi(Protocol):
    """The REST calls a shard needs (``core.rest.client.ApiClient`` provides them)."""

    async def create_channel(self) -> ChannelInfo:
        """POST a new channel."""

    async def channel_exists(self, channel_id: str) -> bool:
        """HEAD a channel."""

    async def put_subscriptions(
        self, channel_id: str, topics: Sequence[str], *, ignore_errors: bool = True
    ) -> SubscriptionResult:
        """Replace a channel's topics."""

    async def delete_subscriptions(self, channel_id: str) -> None:
        """Remove a channel's topics."""

    async def list_channels(self, include: str = "token") -> list[ListedChannel]:
        """Channels of this token or (``oauthclient``) of this user + OAuth client."""


class ShardSink(Protocol):
    """What a shard reports to its owner."""

    def shard_event(self, slot: int, event: TopicEvent) -> None:
        """A topic event arrived (duplicates from socket overlaps already dropped)."""

    def shard_phase(self, slot: int, phase: ShardPhase, detail: str) -> None:
        """The shard's phase changed."""

    def shard_live(self, slot: int, *, gap: bool, reason: str) -> None:
        """A socket is live and subscribed; ``gap`` when events may have been missed."""

    def shard_rejected(self, slot: int, rejected: tuple[RejectedTopic, ...]) -> None:
        """Topics the server refused on this shard's last subscribe."""

    def shard_malformed(self, slot: int, frame: Malformed) -> None:
        """A frame we could not read (counted, never fatal)."""

    async def shard_token_lost(self, slot: int) -> bool:
        """The token behind the channel died; True when a new one is available."""
