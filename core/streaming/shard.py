"""Notification channels that stay alive: one shard = one channel = one socket.

A :class:`ChannelShard` owns one channel and its socket through every documented fault
(genesys-api.md 4, 8): it reuses a stored channel after a restart (HEAD first) instead of burning
the 20-channel pool, PUTs all its topics in one call with ``ignoreErrors=true``, runs the
heartbeat watchdog (:class:`core.streaming.protocol.Watchdog`), reconnects at once after a healthy
session and with capped, jittered exponential backoff only while attempts fail, answers
``socket_closing`` with a new socket on the same channel before the old one goes, rolls over
to a fresh channel well before ``expires`` (make-before-break, duplicate frames from the
overlap dropped), and notices eviction or a second client on its channel and reports it
instead of fighting in a loop.

Everything it learns goes to a :class:`core.streaming.ports.ShardSink`; it never touches the
store or the GUI. Its reconnect policy is :mod:`core.streaming.reconnect`, its duplicate filter
:mod:`core.streaming.dedup`, where it keeps channel ids :mod:`core.streaming.memory`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from core.errors import (
    ApiError,
    AuthError,
    RateLimitedError,
    TransportError,
    UnauthorizedError,
)
from core.rest.schema import ChannelInfo, RejectedTopic
from core.streaming.dedup import OverlapDedup
from core.streaming.memory import ChannelMemory, MemoryChannelMemory
from core.streaming.ports import ChannelApi, Connector, ShardPhase, ShardSink, Socket
from core.streaming.protocol import (
    PING_FRAME,
    Heartbeat,
    Liveness,
    Pong,
    SocketClosing,
    SubscribeReply,
    SystemMessage,
    TopicEvent,
    Watchdog,
    decode_frame,
)
from core.streaming.reconnect import Backoff, ChannelSettings, EvictionGuard
from core.streaming.sockets import Live as _Live
from core.streaming.sockets import close_quietly as _close_quietly
from core.streaming.sockets import websockets_connector

logger = logging.getLogger(__name__)


class _SocketEnded(enum.Enum):
    CLOSED = "closed"
    DEAD = "dead"
    SOCKET_CLOSING = "socket_closing"
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 - a state name, not a secret
    RESUBSCRIBE = "resubscribe"
    ROLLOVER = "rollover"
    TOPICS = "topics"
    CHECK = "check"
    STOP = "stop"


# How a socket ended that cannot be a second client taking the channel over: no close frame
# at all (a dropped or reset connection) or the server going away / restarting / overloaded.
_NOT_A_KICK = frozenset({None, 1001, 1006, 1011, 1012, 1013, 1014})


class ChannelShard:
    """One channel and its socket, kept alive until :meth:`stop`."""

    def __init__(
        self,
        slot: int,
        topics: Sequence[str],
        *,
        api: ChannelApi,
        sink: ShardSink,
        connector: Connector = websockets_connector,
        memory: ChannelMemory | None = None,
        settings: ChannelSettings | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.slot = slot
        self.topics: tuple[str, ...] = tuple(topics)
        self.api = api
        self.sink = sink
        self.connector = connector
        self.memory = memory or MemoryChannelMemory()
        self.settings = settings or ChannelSettings()
        self.rng = rng or random.Random()
        self.monotonic = monotonic
        self.wall = wall
        self.phase = ShardPhase.STOPPED
        self.channel: ChannelInfo | None = None
        self.watchdog = Watchdog(assumed_interval_s=self.settings.assumed_heartbeat_s)
        self.backoff = Backoff(self.settings, self.rng, monotonic)
        self.subscribed: tuple[str, ...] | None = None
        self.rejected: tuple[RejectedTopic, ...] = ()
        self.counters: dict[str, int] = {
            "connects": 0,
            "channels_created": 0,
            "channels_reused": 0,
            "rollovers": 0,
            "socket_switches": 0,
            "duplicates_dropped": 0,
            "malformed": 0,
            "frames": 0,
        }
        self._signals: asyncio.Queue[_SocketEnded] = asyncio.Queue()
        self._live: _Live | None = None
        self._retired: list[_Live] = []
        self._retire_at = float("inf")  # when the retired sockets are closed
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._restart: asyncio.TimerHandle | None = None  # a start after an unexpected error
        self._healthy = False  # the live socket saw a heartbeat or an event
        self._rollover_deadline = float("inf")
        self.dedup = OverlapDedup(monotonic)
        self.eviction = EvictionGuard(self.settings, monotonic)
        self._last_close_code: int | None = None

    # ------------------------------------------------------------------ control
    @property
    def running(self) -> bool:
        """Whether the background task is alive."""
        return self._task is not None and not self._task.done()

    @property
    def sockets_open(self) -> int:
        """The live socket and those retired by a switch but still read out."""
        return len(self._retired) + (self._live is not None)

    @property
    def healthy(self) -> bool:
        """The live socket has seen a heartbeat or an event since it opened."""
        return self._live is not None and self._healthy

    def start(self) -> None:
        """Run the shard in the background."""
        if self._task is None or self._task.done():
            self._stop.clear()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"channel-shard-{self.slot}"
            )
            self._task.add_done_callback(self._on_task_done)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        """An unexpected exception must not end the channel for good, unseen: log it once and
        start again after a backoff (its connection handling covers the expected ones)."""
        if task.cancelled() or task.exception() is None or self._stop.is_set():
            return
        delay = self.backoff.next_delay()
        logger.error(
            "channel shard %d failed; restarting in %.1f s",
            self.slot,
            delay,
            exc_info=task.exception(),
        )
        self._set_phase(ShardPhase.RECONNECTING, "restarting after an unexpected error")
        self._restart = asyncio.get_running_loop().call_later(delay, self.start)

    async def stop(self) -> None:
        """Close the socket and end the background task."""
        self._stop.set()
        self._signals.put_nowait(_SocketEnded.STOP)
        if self._restart is not None:
            self._restart.cancel()
        if self._task is not None:
            # Cancel rather than wait: a REST call in flight may be honouring Retry-After or
            # backing off from 5xx for up to a minute, a handshake may hang for its timeout.
            # (wait, not await: a task that already failed was logged; its error is not ours.)
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None
        await self._close_all()
        self._set_phase(ShardPhase.STOPPED, "stopped")

    def set_topics(self, topics: Sequence[str]) -> None:
        """Change the topics; applied with one PUT on the live channel."""
        new = tuple(topics)
        if new != self.topics:
            self.topics = new
            self._signals.put_nowait(_SocketEnded.TOPICS)

    def rollover_now(self) -> None:
        """Move to a fresh channel (e.g. after a new token), make-before-break."""
        self._signals.put_nowait(_SocketEnded.ROLLOVER)

    def check_now(self) -> None:
        """Health-check at once (after sleep/resume or a network change).

        A live socket gets a JSON ping and must answer within the pong timeout; a shard waiting
        out a backoff delay tries again immediately.
        """
        self._wake.set()
        self._signals.put_nowait(_SocketEnded.CHECK)

    # ------------------------------------------------------------------ main loop
    def _set_phase(self, phase: ShardPhase, detail: str) -> None:
        if phase != self.phase:
            self.phase = phase
            logger.info("channel shard %d: %s (%s)", self.slot, phase.value, detail)
            self.sink.shard_phase(self.slot, phase, detail)

    async def _wait_or_stop(self, delay: float) -> bool:
        """Sleep ``delay`` seconds (cut short by :meth:`check_now`); True when asked to stop."""
        self._wake.clear()
        stop = asyncio.ensure_future(self._stop.wait())
        wake = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({stop, wake}, timeout=max(0.0, delay), return_when="FIRST_COMPLETED")
        finally:
            for waiter in (stop, wake):
                waiter.cancel()
        return self._stop.is_set()

    async def _run(self) -> None:
        gap_reason = ""
        first = True
        while not self._stop.is_set():
            told_wait: float | None = None  # the server said when to come back
            try:
                ended = await self._one_connection(gap=not first, reason=gap_reason or "start")
            except asyncio.CancelledError:
                raise
            except RateLimitedError as exc:
                # Honour Retry-After exactly; our own backoff is not added on top of it.
                ended = _SocketEnded.CLOSED
                gap_reason = "rate limited"
                told_wait = exc.retry_after_s
                logger.warning("channel shard %d: %s", self.slot, exc)
            except UnauthorizedError:
                ended = _SocketEnded.TOKEN_REVOKED
            except AuthError as exc:
                self._set_phase(ShardPhase.SIGN_IN_NEEDED, str(exc))
                if not await self.sink.shard_token_lost(self.slot):
                    return
                continue
            except (TransportError, ApiError, OSError, ConnectionError) as exc:
                ended = _SocketEnded.CLOSED
                gap_reason = type(exc).__name__
                logger.warning("channel shard %d: %s", self.slot, exc)
            except Exception as exc:  # a websockets handshake error and the like
                ended = _SocketEnded.CLOSED
                gap_reason = type(exc).__name__
                logger.warning("channel shard %d: connection failed: %r", self.slot, exc)
            first = False
            if ended is _SocketEnded.STOP:
                return
            if ended is _SocketEnded.TOKEN_REVOKED:
                self._set_phase(ShardPhase.SIGN_IN_NEEDED, "the token behind the channel died")
                await self._forget_channel()
                if not await self.sink.shard_token_lost(self.slot):
                    return
                gap_reason = "token renewed"
                continue
            if not gap_reason or ended is not _SocketEnded.CLOSED:
                gap_reason = ended.value
            if self.eviction.fought_over():
                # Our channels keep vanishing (evicted by a 21st channel, or expired): another
                # client of the same user + OAuth client is fighting for the pool. Creating more
                # would evict theirs in turn; wait long instead and say why.
                self._set_phase(
                    ShardPhase.BLOCKED,
                    "channels keep being evicted: another app signed in with the same account "
                    "and OAuth client may be using the 20-channel pool",
                )
                if await self._wait_or_stop(self.settings.blocked_wait_s):
                    return
                continue
            self._set_phase(ShardPhase.RECONNECTING, gap_reason)
            delay = self.backoff.next_delay() if told_wait is None else told_wait
            if await self._wait_or_stop(delay):
                return

    async def _one_connection(self, *, gap: bool, reason: str) -> _SocketEnded:
        """Get a subscribed channel and a socket, serve it until it ends."""
        self._set_phase(ShardPhase.CONNECTING if not gap else ShardPhase.RECONNECTING, reason)
        while not self._signals.empty():  # leftovers of the previous socket mean nothing now
            if self._signals.get_nowait() is _SocketEnded.STOP:
                return _SocketEnded.STOP
        fresh = await self._ensure_channel()
        assert self.channel is not None
        if fresh or self.subscribed != self.topics:
            await self._subscribe(self.channel)
        socket = await self.connector(self.channel.connect_uri)
        self.counters["connects"] += 1
        self._adopt(socket)
        self._schedule_rollover(self.channel)
        self._set_phase(ShardPhase.LIVE, "socket open")
        self.sink.shard_live(self.slot, gap=gap, reason=reason)
        try:
            return await self._serve()
        except BaseException:
            # A failure while serving (a token that can no longer be renewed, a PUT or a
            # handshake that failed mid-switch) must not leave this socket open and read.
            await self._close_all()
            raise

    async def _ensure_channel(self) -> bool:
        """A usable channel: the current one, a stored one that HEAD confirms, or a new one.

        Returns True when the channel's subscriptions are unknown (new or reused from storage).
        """
        if self.channel is not None:
            if await self.api.channel_exists(self.channel.id):
                return False
            await self._note_gone("channel no longer exists")
            await self._forget_channel()
        stored = await self.memory.load(self.slot)
        if stored is not None:
            life = (stored.expires - self.wall()).total_seconds()
            if life > self.settings.min_reuse_life_s and await self.api.channel_exists(stored.id):
                self.channel = stored
                self.counters["channels_reused"] += 1
                logger.info("channel shard %d: reusing its stored channel", self.slot)
                return True
            await self.memory.forget(self.slot)
        self.channel = await self.api.create_channel()
        self.counters["channels_created"] += 1
        await self.memory.save(self.slot, self.channel)
        return True

    async def _note_gone(self, why: str) -> None:
        """Count a vanished channel towards BLOCKED, but only when the pool is fought over.

        An eviction by a 21st channel happens only while this user + OAuth client hold all 20
        (genesys-api.md 3.1); a channel that expired or was dropped leaves room. Counting
        expiries too made three ordinary ones in ten minutes wait five minutes as BLOCKED.
        Without a listing we assume the worst.
        """
        try:
            listed: int | None = len(await self.api.list_channels("oauthclient"))
        except (ApiError, TransportError):
            listed = None
        if listed is not None and listed < self.settings.pool_size - 1:
            logger.info("channel shard %d: %s (the pool has room: %d)", self.slot, why, listed)
            return
        recent = self.eviction.gone()
        logger.warning("channel shard %d: %s (%d recently)", self.slot, why, recent)

    async def _forget_channel(self) -> None:
        self.channel = None
        self.subscribed = None
        await self.memory.forget(self.slot)

    async def _subscribe(self, channel: ChannelInfo) -> None:
        topics = self.topics
        result = await self.api.put_subscriptions(channel.id, topics, ignore_errors=True)
        self.subscribed = topics
        self.rejected = result.rejected
        self.sink.shard_rejected(self.slot, result.rejected)

    def _adopt(self, socket: Socket) -> None:
        """Make ``socket`` current; the previous one (if any) is retired but still read."""
        if self._live is not None:
            self._retired.append(self._live)
            self.dedup.open_window(self.settings.overlap_s)
        reader = asyncio.get_running_loop().create_task(self._read(socket))
        self._live = _Live(socket, reader)
        self._healthy = False
        self.watchdog.connected(self.monotonic())

    async def _close_all(self) -> None:
        lives = [*self._retired, *([self._live] if self._live else [])]
        self._retired.clear()
        self._retire_at = float("inf")
        self._live = None
        self.dedup.close()
        await _close_quietly(*lives)

    def _retire_soon(self) -> None:
        """Close the retired sockets once the overlap window has passed.

        Frames already on their way down an old socket are still read (duplicates of the new
        socket's are dropped); closing it at once cancelled its reader and lost them.
        """
        self._retire_at = self.monotonic() + self.settings.overlap_s

    async def _retire_old(self) -> None:
        self._retire_at = float("inf")
        retired, self._retired = self._retired, []
        await _close_quietly(*retired)

    # ------------------------------------------------------------------ serving a socket
    async def _serve(self) -> _SocketEnded:
        """Watch the live socket until it ends, switching sockets/channels in place."""
        while True:
            assert self._live is not None and self.channel is not None
            now = self.monotonic()
            rollover_at = self._rollover_deadline
            wake = min(self.watchdog.next_check_at(), rollover_at, self._retire_at)
            signal: _SocketEnded | None = None
            try:
                signal = await asyncio.wait_for(self._signals.get(), timeout=max(0.0, wake - now))
            except TimeoutError:
                signal = None
            now = self.monotonic()
            if signal is None and now >= self._retire_at:
                await self._retire_old()
                continue
            if signal is None:
                if now >= rollover_at:
                    signal = _SocketEnded.ROLLOVER
                else:
                    verdict = self.watchdog.check(now)
                    if verdict is Liveness.SEND_PING:
                        self._set_phase(ShardPhase.STALE, "no heartbeat; sent a ping")
                        self.watchdog.ping_sent(now)
                        with contextlib.suppress(Exception):
                            await self._live.socket.send(PING_FRAME)
                        continue
                    if verdict is Liveness.DEAD:
                        signal = _SocketEnded.DEAD
                    else:
                        if self.phase is ShardPhase.STALE:
                            self._set_phase(ShardPhase.LIVE, "heartbeat back")
                        continue
            outcome = await self._handle(signal)
            if outcome is not None:
                healthy = self._healthy
                await self._close_all()
                if healthy:
                    self.backoff.healthy_session_ended()
                return outcome

    def _schedule_rollover(self, channel: ChannelInfo) -> None:
        """Roll over after ``rollover_fraction`` of the life the channel has left now."""
        life = (channel.expires - self.wall()).total_seconds()
        self._rollover_deadline = (
            self.monotonic() + max(0.0, life) * self.settings.rollover_fraction
        )

    async def _handle(self, signal: _SocketEnded) -> _SocketEnded | None:
        """Act on a signal; returns how the connection ended, or None to keep serving."""
        assert self._live is not None and self.channel is not None
        if signal is _SocketEnded.STOP:
            return signal
        if signal is _SocketEnded.TOPICS:
            if self.subscribed != self.topics:
                await self._subscribe(self.channel)
                # New topics' state before now was never delivered: read it now that their
                # events flow, or a change between an earlier read and this PUT is lost.
                self.sink.shard_live(self.slot, gap=True, reason="topics changed")
            return None
        if signal is _SocketEnded.CHECK:
            self._set_phase(ShardPhase.STALE, "health check")
            self.watchdog.ping_sent(self.monotonic())
            with contextlib.suppress(Exception):
                await self._live.socket.send(PING_FRAME)
            return None
        if signal is _SocketEnded.RESUBSCRIBE:
            await self._subscribe(self.channel)
            self.sink.shard_live(self.slot, gap=True, reason="no_longer_subscribed")
            return None
        if signal is _SocketEnded.SOCKET_CLOSING:
            # Same channel, new socket: the server moves delivery to it when it opens, so
            # nothing falls between; the old socket is read out and closed after the overlap.
            socket = await self.connector(self.channel.connect_uri)
            self.counters["socket_switches"] += 1
            self._adopt(socket)
            self._retire_soon()
            self.sink.shard_live(self.slot, gap=True, reason="socket_closing")
            return None
        if signal is _SocketEnded.ROLLOVER:
            await self._rollover()
            return None
        if signal is _SocketEnded.CLOSED:
            # The gap starts now, not after the REST checks below (which a 429 storm can
            # stretch to minutes).
            self._set_phase(ShardPhase.RECONNECTING, signal.value)
            await self._after_server_close()
        return signal

    async def _after_server_close(self) -> None:
        """The server closed our socket: expired, evicted, or kicked by a second socket."""
        assert self.channel is not None
        try:
            exists = await self.api.channel_exists(self.channel.id)
        except (TransportError, ApiError):
            return
        if not exists:
            await self._note_gone("channel expired or was evicted")
            await self._forget_channel()
            return
        if self._last_close_code in _NOT_A_KICK:
            # A network drop (no close frame) or a server going away is no second client: two
            # of them within the kick window must not make us abandon a good channel.
            return
        if self.eviction.kicked():
            logger.warning(
                "channel shard %d: socket kicked twice; another client uses this channel, "
                "moving to a new one",
                self.slot,
            )
            await self._forget_channel()

    async def _rollover(self) -> None:
        """Make-before-break: new channel subscribed and connected before the old one goes."""
        old = self.channel
        assert old is not None
        new = await self.api.create_channel()
        self.counters["channels_created"] += 1
        try:
            await self._subscribe(new)
            socket = await self.connector(new.connect_uri)
        except BaseException as exc:
            # Keep the new channel as the one to connect to next (its subscriptions unknown):
            # dropped, it sat in the user's pool of 20 until it expired. The old socket ends.
            self.channel, self.subscribed = new, None
            if isinstance(exc, Exception):
                await self.memory.save(self.slot, new)
            raise
        self.channel = new
        self._adopt(socket)  # before the next await: a cancelled stop must not leak the socket
        self._schedule_rollover(new)
        await self.memory.save(self.slot, new)
        self._retire_soon()
        self.counters["rollovers"] += 1
        with contextlib.suppress(ApiError, TransportError):
            await self.api.delete_subscriptions(old.id)
        self.sink.shard_live(self.slot, gap=True, reason="rollover")

    async def _read(self, socket: Socket) -> None:
        """Read one socket until it closes; signal the main loop if it was the live one."""
        code: int | None = None
        try:
            while True:
                data = await socket.recv()
                self._on_frame(socket, data)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # ConnectionClosed and transport errors end the reader
            logger.debug("channel shard %d: socket ended: %r", self.slot, exc)
            close = getattr(exc, "rcvd", None)  # websockets: the server's close frame, if any
            raw = getattr(close, "code", None)
            code = raw if isinstance(raw, int) else None
        if self._live is not None and self._live.socket is socket:
            self._last_close_code = code
            self._signals.put_nowait(_SocketEnded.CLOSED)

    def _on_frame(self, socket: Socket, data: str | bytes) -> None:
        live = self._live is not None and self._live.socket is socket
        frame = decode_frame(data)
        self.counters["frames"] += 1
        if live:
            self.watchdog.frame(self.monotonic(), heartbeat=isinstance(frame, Heartbeat))
            if isinstance(frame, (Heartbeat, TopicEvent)):
                self._healthy = True
            if self.phase is ShardPhase.STALE:
                self._set_phase(ShardPhase.LIVE, "socket answered")
        if isinstance(frame, TopicEvent):
            if self.dedup.is_duplicate(frame):
                self.counters["duplicates_dropped"] += 1
                return
            self.sink.shard_event(self.slot, frame)
        elif isinstance(frame, (Heartbeat, Pong, SubscribeReply)):
            return
        elif isinstance(frame, SocketClosing):
            if live:
                self._signals.put_nowait(_SocketEnded.SOCKET_CLOSING)
        elif isinstance(frame, SystemMessage):
            if not live:
                return
            if frame.kind == "token_revoked":
                self._signals.put_nowait(_SocketEnded.TOKEN_REVOKED)
            elif frame.kind == "no_longer_subscribed":
                self._signals.put_nowait(_SocketEnded.RESUBSCRIBE)
        else:
            self.counters["malformed"] += 1
            self.sink.shard_malformed(self.slot, frame)
