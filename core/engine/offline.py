"""Starting before the org answers: wait, retry with backoff, say so, and start by itself.

An app that starts at login often runs before the Wi-Fi is up. Exiting then ("could not reach the
sign-in server") leaves the person with no monitor all day; so the engine's first contact (the
deferred sign-in, the selection's REST reads) is retried here with a jittered, capped backoff
while the org cannot be reached, and the engine shows OFFLINE meanwhile. Only a sign-in that
truly needs the person (no refresh token, revoked) waits for them instead. Kept apart from
:class:`core.engine.service.MonitorService` so the policy reads, and is tested, on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.engine.records import EngineState
from core.errors import AuthError, GenesysTrayError, RateLimitedError, ServerError, TransportError

logger = logging.getLogger(__name__)

# The org did not answer, or answered that it cannot serve now: worth trying again later.
OFFLINE_ERRORS: tuple[type[GenesysTrayError], ...] = (TransportError, ServerError, RateLimitedError)


@dataclass(frozen=True, slots=True)
class OfflineSettings:
    """How often an engine that could not reach its org tries again; tests shorten them."""

    first_retry_s: float = 1.0  # doubling up to max_retry_s
    max_retry_s: float = 30.0
    jitter: float = 0.2  # +-20 %: a building of laptops waking together does not retry in step


def retry_delay_s(settings: OfflineSettings, failures: int, rng: random.Random) -> float:
    """The wait after failure number ``failures`` (1-based): doubling, jittered, capped."""
    base = min(settings.max_retry_s, settings.first_retry_s * 2.0 ** max(0, failures - 1))
    jittered = base * rng.uniform(1 - settings.jitter, 1 + settings.jitter)
    return min(settings.max_retry_s, jittered)


def offline_words(delay_s: float, error: GenesysTrayError | None = None) -> str:
    """What the tray and ``listen`` say while waiting: ``Offline: retrying in 4 s``.

    An org that answered with something else than "not now" (a missing permission) is named.
    """
    wait = f"retrying in {max(1, round(delay_s))} s"
    if error is None or isinstance(error, OFFLINE_ERRORS):
        return f"Offline: {wait}"
    return f"Could not start ({error}): {wait}"


class StartRetry:
    """Runs the engine's first contact again until it succeeds or the engine stops.

    ``attempt()`` is the first contact. ``on_state(state, words)`` is told OFFLINE for each
    wait, STARTING for each new attempt and SIGN_IN_NEEDED for a refusal only a person can
    answer; ``wait_for_sign_in()`` then waits for them (False: the engine stopped first).
    :meth:`wake` cuts a wait short (the network came back, the person asked to reconnect).
    """

    def __init__(
        self,
        *,
        attempt: Callable[[], Awaitable[None]],
        stopping: asyncio.Event,
        on_state: Callable[[EngineState, str], None],
        wait_for_sign_in: Callable[[], Awaitable[bool]],
        settings: OfflineSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings or OfflineSettings()
        self.rng = rng or random.Random()
        self.failures = 0
        self._attempt = attempt
        self._stopping = stopping
        self._on_state = on_state
        self._wait_for_sign_in = wait_for_sign_in
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Try again now instead of at the end of the current wait."""
        self._wake.set()

    async def run(self, first: GenesysTrayError) -> bool:
        """Retry after ``first`` failed; True once an attempt succeeded, False when stopped."""
        error: GenesysTrayError = first
        while not self._stopping.is_set():
            if isinstance(error, AuthError):
                # Only a person can answer this (no refresh token, revoked, a refused client).
                logger.warning("the start needs a new sign-in: %s", error)
                self._on_state(EngineState.SIGN_IN_NEEDED, str(error))
                if not await self._wait_for_sign_in():
                    return False
            else:
                self.failures += 1
                delay = retry_delay_s(self.settings, self.failures, self.rng)
                level = logging.WARNING if self.failures == 1 else logging.INFO
                logger.log(level, "the org did not answer (%s); retrying in %.1f s", error, delay)
                self._on_state(EngineState.OFFLINE, offline_words(delay, error))
                if not await self._sleep(delay):
                    return False
            self._on_state(EngineState.STARTING, "trying to reach the org again")
            try:
                await self._attempt()
            except GenesysTrayError as exc:
                error = exc
                continue
            self.failures = 0
            return True
        return False

    async def _sleep(self, delay_s: float) -> bool:
        """Wait ``delay_s`` or until woken; False when the engine stops first."""
        self._wake.clear()
        stop = asyncio.ensure_future(self._stopping.wait())
        wake = asyncio.ensure_future(self._wake.wait())
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay_s):
                    await asyncio.wait({stop, wake}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            wake.cancel()
        return not self._stopping.is_set()
