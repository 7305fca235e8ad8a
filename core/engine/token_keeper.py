"""The session's token as the channels need it.

Channels belong to the token that made them, and a socket learns of an expired token only when
it dies. :class:`TokenKeeper` renews before expiry even when no REST call would notice, renews
once for all shards when one of them loses the token, asks for a rollover of every channel when
a new token arrives, and otherwise waits for the person to sign in again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from core.auth.tokens import TokenSet
from core.errors import (
    ApiError,
    AuthError,
    SignInRequiredError,
    TransportError,
    UnauthorizedError,
)
from core.rest.schema import TokenInfo

logger = logging.getLogger(__name__)


class TokenSource(Protocol):
    """The session (``core.auth.session.Authenticator`` provides it)."""

    @property
    def token(self) -> TokenSet | None:
        """The current token set."""

    async def access_token(self) -> str:
        """A token good for a while, renewed if due."""

    async def renew_rejected(self, rejected_token: str) -> str:
        """Renew after the server refused ``rejected_token``."""

    def add_listener(self, listener: Callable[[TokenSet | None], None]) -> Callable[[], None]:
        """Hear about new tokens."""


class TokenInfoApi(Protocol):
    """The one REST call that asks the server about the token."""

    async def token_info(self, *, preserve_idle_ttl: bool = False) -> TokenInfo:
        """The current token as the server sees it (401 when it is refused)."""


class TokenKeeper:
    """Keeps a token behind the channels, or says that only a new sign-in will do.

    ``on_state(detail)`` is called whenever :attr:`sign_in_needed` may have changed, and
    ``on_new_token()`` when a token replaces an earlier one (the channels then roll over).
    """

    def __init__(
        self,
        api: TokenInfoApi,
        session: TokenSource,
        *,
        stopping: asyncio.Event,
        on_state: Callable[[str], None],
        on_new_token: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.session = session
        self.clock = clock
        self.sign_in_needed = False
        self._stopping = stopping
        self._on_state = on_state
        self._on_new_token = on_new_token
        self._new_token = asyncio.Event()
        self._fingerprint: int | None = None
        self._remove_listener: Callable[[], None] | None = None
        self._lock = asyncio.Lock()

    def attach(self) -> None:
        """Start hearing about tokens; the current one is not new."""
        self._remove_listener = self.session.add_listener(self._on_token)
        token = self.session.token
        self._fingerprint = hash(token.access_token) if token else None

    def detach(self) -> None:
        """Stop hearing about tokens."""
        if self._remove_listener is not None:
            self._remove_listener()

    def _on_token(self, token: TokenSet | None) -> None:
        if token is None:
            self.sign_in_needed = True
            self._on_state("signed out")
            return
        fingerprint = hash(token.access_token)
        if fingerprint == self._fingerprint:
            return
        had_token = self._fingerprint is not None
        self._fingerprint = fingerprint
        self.sign_in_needed = False
        self._new_token.set()
        if had_token:
            # Channels belong to the token that made them: rebuild, make-before-break.
            self._on_new_token()
        self._on_state("signed in")

    async def run(self) -> None:
        """Renew before expiry even when no REST call would notice it."""
        while True:
            token = self.session.token
            if token is None:
                await asyncio.sleep(1.0)
                continue
            due = token.expires_at - token.renewal_margin_s - self.clock()
            if due > 0:
                await asyncio.sleep(min(due, 3600.0))
                continue
            try:
                await self.session.access_token()
            except SignInRequiredError as exc:
                self.sign_in_needed = True
                self._on_state(str(exc))
                await self.wait_for_token()
            except (AuthError, TransportError, ApiError) as exc:
                logger.warning("token renewal failed, retrying: %s", exc)
                await asyncio.sleep(10.0)

    async def token_lost(self) -> bool:
        """Renew the token once for all shards, or wait for the person to sign in again."""
        async with self._lock:
            token = self.session.token
            try:
                if token is not None:
                    # Ask the server, not our memory: the current token may already be a new
                    # one (another shard or a REST call renewed it first); renewing *that* again
                    # would cost a token and roll every channel over once more. A refused token
                    # is renewed once by the API client's 401 path.
                    try:
                        await self.api.token_info(preserve_idle_ttl=True)
                    except UnauthorizedError:
                        await self.session.renew_rejected(token.access_token)
                    return True
            except SignInRequiredError as exc:
                self.sign_in_needed = True
                self._on_state(str(exc))
            except (AuthError, TransportError, ApiError) as exc:
                logger.warning("token renewal failed: %s", exc)
            self.sign_in_needed = True
            self._on_state("")
        return await self.wait_for_token()

    async def wait_for_token(self) -> bool:
        """Wait while a sign-in is needed; False when the engine stops first."""
        while self.sign_in_needed and not self._stopping.is_set():
            self._new_token.clear()
            stop = asyncio.ensure_future(self._stopping.wait())
            fresh = asyncio.ensure_future(self._new_token.wait())
            try:
                await asyncio.wait({stop, fresh}, return_when="FIRST_COMPLETED")
            finally:
                stop.cancel()
                fresh.cancel()
        return not self._stopping.is_set()
