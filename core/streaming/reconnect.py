"""How a channel shard comes back: its timings, the reconnect backoff and the eviction guard.

Kept apart from :class:`core.streaming.shard.ChannelShard` so the policy can be read, tuned
and tested on its own (tests shorten the timings, never by sleeping).
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """Timings of the channel life cycle; tests shorten them, never by sleeping."""

    # The first retry after a healthy session comes within this (full jitter: at once, yet a
    # crowd of clients dropped together does not come back in step).
    healthy_retry_s: float = 1.0
    first_backoff_s: float = 1.0  # failed attempts wait this, doubling up to max_backoff_s
    max_backoff_s: float = 60.0
    backoff_jitter: float = 0.2
    # Healthy sessions ending this often count as failing: a server that accepts, beats once
    # and drops again must not be hammered every second.
    flap_window_s: float = 30.0
    flap_limit: int = 10
    assumed_heartbeat_s: float = 30.0
    rollover_fraction: float = 0.8  # roll over after 80 % of the channel's remaining life
    min_reuse_life_s: float = 3600.0  # reuse a stored channel only with this much life left
    overlap_s: float = 5.0  # how long duplicate frames are dropped after a socket switch
    kick_window_s: float = 60.0  # two kicks within this window: another client owns the channel
    gone_window_s: float = 600.0  # channels evicted this often: stop and report
    gone_limit: int = 3
    pool_size: int = 20  # channels per user + OAuth client (genesys-api.md 3.1)
    blocked_wait_s: float = 300.0
    # Queue counters are read once more this long after a gap's re-sync (0: never); see
    # MonitorService._confirm_counters.
    confirm_counters_after_s: float = 2.0


class Backoff:
    """When to try again: at once after a healthy session, escalating only while attempts fail.

    A socket that subscribed and then saw a heartbeat or an event proved the service reachable;
    when it ends, the next attempt is the first of a new series (within ``healthy_retry_s``,
    full jitter). Only attempts that fail, or sockets that die before they were healthy, double
    the wait (capped, with jitter), so a flaky Wi-Fi costs a second per drop, not a minute.
    """

    def __init__(
        self,
        settings: ChannelSettings,
        rng: random.Random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.rng = rng
        self.monotonic = monotonic
        self.attempt = 0
        self.last_delay_s = 0.0  # the wait drawn last (diagnostics and benchmarks)
        self._healthy_ends: deque[float] = deque(maxlen=max(1, settings.flap_limit))

    def next_delay(self) -> float:
        """The wait before the next attempt."""
        s = self.settings
        attempt, self.attempt = self.attempt, self.attempt + 1
        if attempt == 0:
            self.last_delay_s = self.rng.uniform(0.0, s.healthy_retry_s)
        else:
            base = min(s.max_backoff_s, s.first_backoff_s * (2.0 ** (attempt - 1)))
            self.last_delay_s = base * self.rng.uniform(1 - s.backoff_jitter, 1 + s.backoff_jitter)
        return self.last_delay_s

    def healthy_session_ended(self) -> None:
        """A healthy socket ended: start a new series, unless healthy sessions flap."""
        now = self.monotonic()
        self._healthy_ends.append(now)
        window = self.settings.flap_window_s
        flapping = (
            len(self._healthy_ends) >= self.settings.flap_limit
            and now - self._healthy_ends[0] <= window
        )
        if not flapping:
            self.attempt = 0

    def reset(self) -> None:
        """Start again from the first delay."""
        self.attempt = 0


class EvictionGuard:
    """Tells a fight over the channel pool from ordinary channel loss.

    A second client on our channel kicks our socket: two kicks within ``kick_window_s`` and the
    shard moves to a new channel instead of kicking back in a loop. Channels evicted
    ``gone_limit`` times within ``gone_window_s`` mean another app holds the same user + OAuth
    client's pool: the shard waits and says so instead of evicting theirs in turn.
    """

    def __init__(
        self, settings: ChannelSettings, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.monotonic = monotonic
        self._kicks: deque[float] = deque(maxlen=4)
        self._gone: deque[float] = deque(maxlen=8)

    def kicked(self) -> bool:
        """Count a kick; True (and a fresh count) when another client owns the channel."""
        now = self.monotonic()
        self._kicks.append(now)
        if sum(1 for t in self._kicks if now - t <= self.settings.kick_window_s) >= 2:
            self._kicks.clear()
            return True
        return False

    def gone(self) -> int:
        """Count an evicted channel; returns how many went within the window."""
        now = self.monotonic()
        self._gone.append(now)
        return sum(1 for t in self._gone if now - t <= self.settings.gone_window_s)

    def fought_over(self) -> bool:
        """True (and a fresh count) when channels vanished too often: wait, do not fight."""
        now = self.monotonic()
        recent = sum(1 for t in self._gone if now - t <= self.settings.gone_window_s)
        if recent >= self.settings.gone_limit:
            self._gone.clear()
            return True
        return False
