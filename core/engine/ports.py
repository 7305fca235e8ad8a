"""Everything the engine asks of the outside: the Platform API as one port.

Each part of the engine names only the calls it needs (a shard's :class:`ChannelApi`, a
re-sync's :class:`ResyncApi`, a selection's :class:`SelectionApi`, the token keeper's
:class:`TokenInfoApi`); :class:`ServiceApi` is their sum, what the facade is given.
"""

from __future__ import annotations

from typing import Protocol

from core.engine.selection import SelectionApi
from core.engine.token_keeper import TokenInfoApi
from core.rest.schema import PresenceDefinition
from core.state.resync import ResyncApi
from core.streaming.ports import ChannelApi


class ServiceApi(ChannelApi, ResyncApi, SelectionApi, TokenInfoApi, Protocol):
    """Everything the service asks the Platform API (``core.rest.client.ApiClient`` provides it)."""

    async def presence_definitions(self, locale: str = "en_US") -> list[PresenceDefinition]:
        """The org's presences with their labels."""
