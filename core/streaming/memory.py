"""Where channel ids survive a restart, so a restart reuses its channels (HEAD first) instead of
burning the 20-channel pool.

The id is the socket's only credential (genesys-api.md 4.1), so the stored kind keeps it in the
credential store (the OS keyring when one is available), never in a plain file.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Protocol

from core.auth.credentials import CredentialStore
from core.errors import CredentialStoreError
from core.rest.schema import ChannelInfo, parse_datetime

logger = logging.getLogger(__name__)

# Shard slots are 0..19: one user + OAuth client holds at most 20 channels (genesys-api.md 3.1)
# and the planner never plans more shards than that. Keyrings cannot list entries, so sign-out
# deletes every slot's entry by name.
MAX_SLOTS = 20


class ChannelMemory(Protocol):
    """Where channel ids survive a restart. The id is the socket's only credential, so the
    default implementation keeps it in the OS keyring, never in a plain file."""

    async def load(self, slot: int) -> ChannelInfo | None:
        """The channel stored for a shard slot."""

    async def save(self, slot: int, channel: ChannelInfo) -> None:
        """Remember a shard's channel."""

    async def forget(self, slot: int) -> None:
        """Drop a shard's channel."""


class MemoryChannelMemory:
    """Channel records for this process only."""

    def __init__(self) -> None:
        self.records: dict[int, ChannelInfo] = {}

    async def load(self, slot: int) -> ChannelInfo | None:
        """The channel stored for a slot."""
        return self.records.get(slot)

    async def save(self, slot: int, channel: ChannelInfo) -> None:
        """Remember a slot's channel."""
        self.records[slot] = channel

    async def forget(self, slot: int) -> None:
        """Drop a slot's channel."""
        self.records.pop(slot, None)


class StoredChannelMemory:
    """Channel records kept in the credential store (the OS keyring when one is available).

    The channel id is the socket's only credential (genesys-api.md 4.1), so it is treated like a
    token: never written to a plain file.
    """

    def __init__(self, store: CredentialStore, prefix: str = "channel") -> None:
        self.store = store
        self.prefix = prefix
        self._sealed = False

    def _key(self, slot: int) -> str:
        return f"{self.prefix}.{slot}"

    def entry_keys(self) -> tuple[str, ...]:
        """Every entry name a slot may use: what sign-out deletes."""
        return tuple(self._key(slot) for slot in range(MAX_SLOTS))

    def seal(self) -> None:
        """Save nothing from now on (sign-out): a rollover that finishes after the entries were
        deleted must not write a channel id back into the keyring."""
        self._sealed = True

    async def load(self, slot: int) -> ChannelInfo | None:
        """The stored channel of a slot; a damaged record reads as none."""
        try:
            raw = await self.store.get(self._key(slot))
            data = json.loads(raw) if raw else None
        except (CredentialStoreError, ValueError):
            logger.warning("channel record %d could not be read; a new channel will be made", slot)
            return None
        if not isinstance(data, dict):
            return None
        expires = parse_datetime(data.get("expires"))
        channel_id, uri = data.get("id"), data.get("connect_uri")
        if not isinstance(channel_id, str) or not isinstance(uri, str) or expires is None:
            return None
        return ChannelInfo(channel_id, uri, expires)

    async def save(self, slot: int, channel: ChannelInfo) -> None:
        """Remember a slot's channel (best effort: a locked keyring only costs a new channel)."""
        if self._sealed:
            logger.debug("channel record %d not saved: signed out", slot)
            return
        record = {
            "id": channel.id,
            "connect_uri": channel.connect_uri,
            "expires": channel.expires.isoformat(),
        }
        try:
            await self.store.set(self._key(slot), json.dumps(record))
        except CredentialStoreError as exc:
            logger.warning("channel record %d not saved: %s", slot, exc)

    async def forget(self, slot: int) -> None:
        """Drop a slot's channel record."""
        with contextlib.suppress(CredentialStoreError):
            await self.store.delete(self._key(slot))
