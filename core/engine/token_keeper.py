"""The session's token as the channels need it.

Channels belong to the token that made them, and a socket learns of an expired token only when
it dies. :class:`TokenKeeper` renews before expiry even when no REST call would notice, renews
once for all shards when one of them loses the token, asks for a rollover of every channel when
a new token arrives, and otherwise waits for the person to sign in again.

It never sleeps long on one clock against a deadline on the other: asyncio sleeps on the
monotonic clock, which stands still while the computer is asleep, and the token's expiry is wall
time, which can also be set back by hours. So it waits in short slices, reads both clocks after
each, asks the server when they disagree (a suspend or a clock change), and wakes at once on
:meth:`TokenKeeper.check_now` (a resume or a network change).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

from core.auth.tokens import TokenSet
from core.engine.clock import ClockWatch, describe_jump
from core.errors import (
    ApiError,
    AuthError,
    SignInRequiredError,
    TransportError,
    UnauthorizedError,
)
from core.rest.schema import TokenInfo

logger = logging.getLogger(__name__)

KEEPER_SLICE_S = 30.0  # the longest wait before both clocks are read again
RETRY_S = 10.0  # after a renewal that failed (the network, the server)
NO_TOKEN_S = 1.0  # while there is no token at all yet


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
    ``clock`` is the wall clock the token's expiry is on, ``monotonic`` the clock that does not
    run while the computer is asleep; ``slice_s`` bounds every wait between two looks.
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
        monotonic: Callable[[], float] = time.monotonic,
        slice_s: float = KEEPER_SLICE_S,
    ) -> None:
        self.api = api
        self.session = session
        self.clock = clock
        self.monotonic = monotonic
        self.slice_s = slice_s
        self.sign_in_needed = False
        self.resting = False  # waiting for the next look (tests and the chaos run watch it)
        self.clock_jumps = 0  # suspends and clock changes noticed
        self.server_checks = 0  # times the server was asked whether it still takes the token
        self._wake = asyncio.Event()
        self._doubt = False  # the clocks disagreed: ask the server about the token
        # The current token's renewal time on the monotonic clock, from when it was first seen:
        # a wall clock set back cannot postpone it.
        self._mono_due: tuple[int, float] | None = None
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

    def check_now(self) -> None:
        """Look at the token now (a resume or a network change), not at the end of a slice."""
        self._wake.set()

    async def run(self) -> None:
        """Renew before expiry even when no REST call would notice it."""
        watch = ClockWatch(self.clock, self.monotonic)
        while not self._stopping.is_set():
            await self._turn(watch)

    async def _turn(self, watch: ClockWatch) -> None:
        """One look at both clocks and the token: renew, ask the server, or rest a slice."""
        skew = watch.look()
        if skew:
            self.clock_jumps += 1
            self._doubt = True
            logger.info("%s; checking the sign-in now", describe_jump(skew).capitalize())
        token = self.session.token
        if token is None:
            await self._rest(NO_TOKEN_S)
            return
        wall_due = token.expires_at - token.renewal_margin_s - watch.wall
        mono_due = self._mono_left(token, wall_due, watch.mono)
        if wall_due > 0 and mono_due > 0 and not self._doubt:
            await self._rest(min(wall_due, mono_due))
            return
        try:
            if not wall_due > 0:  # NaN counts as due
                await self.session.access_token()
            else:  # the wall clock says fresh, but it moved or time truly ran out: ask
                await self._ask_server(token)
            self._doubt = False
        except SignInRequiredError as exc:
            self.sign_in_needed = True
            self._on_state(str(exc))
            await self.wait_for_token()  # False when stopping: run() then ends
            watch.forget()  # the wait was deliberate, and the token is a new one
            self._doubt = False
            return
        except (AuthError, TransportError, ApiError) as exc:
            logger.warning("token renewal failed, retrying: %s", exc)
            await self._rest(RETRY_S)
            return
        fresh = self.session.token
        if fresh is token or (fresh is not None and fresh.needs_renewal(self.clock())):
            # Still the same token (the server takes it, or the session holds it fresh), or a
            # new one that is already due: look again after a slice, never in a tight loop.
            await self._rest(self.slice_s)

    def _mono_left(self, token: TokenSet, wall_due: float, mono: float) -> float:
        """Seconds until the token is due by the time that truly passed since it was seen."""
        fingerprint = hash(token.access_token)
        if self._mono_due is None or self._mono_due[0] != fingerprint:
            due = mono + (wall_due if math.isfinite(wall_due) else 0.0)
            self._mono_due = (fingerprint, due)
        return self._mono_due[1] - mono

    async def _ask_server(self, token: TokenSet) -> None:
        """Whether the server still takes the token; a refused one is renewed once."""
        async with self._lock:
            if self.session.token is not token:
                return  # renewed meanwhile
            self.server_checks += 1
            try:
                await self.api.token_info(preserve_idle_ttl=True)
            except UnauthorizedError:
                await self.session.renew_rejected(token.access_token)

    async def _rest(self, seconds: float) -> None:
        """Wait ``seconds`` (at most a slice; cut short by :meth:`check_now`)."""
        if not seconds > 0:
            seconds = 0.0
        self.resting = True
        try:
            async with asyncio.timeout(min(seconds, self.slice_s)):
                await self._wake.wait()
        except TimeoutError:
            pass
        finally:
            self.resting = False
        self._wake.clear()

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
