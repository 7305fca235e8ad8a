"""The engine's facade: what to watch, the channels that carry it, and a picture that converges.

:class:`MonitorService` resolves a :class:`core.engine.selection.Selection` (my queues, members of
these queues, a name pattern, everyone) into explicit topics, packs them into channel shards
within the budget (:class:`core.engine.shard_pool.ShardPool`), feeds every frame through the
typed-event parser into the :class:`core.state.store.Store`, re-syncs through REST after every
gap, follows membership changes, and lets :class:`core.engine.token_keeper.TokenKeeper` renew the
token before it bites and rebuild the channels under a new one. Consumers (the GUI bridge, the
``listen`` CLI) receive :data:`core.engine.records.Record` values through listeners; nothing here
knows about Qt.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from core.engine.crossdedup import CrossDedup
from core.engine.freshness import StreamFreshness
from core.engine.gaps import GapTracker
from core.engine.kpis import KpiKeeper
from core.engine.offline import OFFLINE_ERRORS, OfflineSettings, StartRetry
from core.engine.ports import ServiceApi
from core.engine.readback import ReadBack
from core.engine.records import (
    BudgetRecord,
    ChangeRecord,
    EngineState,
    EventRecord,
    LinkStats,
    Listener,
    Record,
    SelectionPreview,
    SelectionProgress,
    StateRecord,
)
from core.engine.selection import (
    Directory,
    Resolution,
    Selection,
    Watch,
    read_directory,
    read_selection,
)
from core.engine.selection_progress import follow_selection
from core.engine.shard_pool import ShardPool
from core.engine.supervisor import Supervisor, SupervisorSettings
from core.engine.token_keeper import TokenKeeper, TokenSource
from core.engine.watch import WatchKeeper, subject_of
from core.errors import (
    ApiError,
    AuthError,
    GenesysTrayError,
    SignInRequiredError,
    TransportError,
)
from core.rest.schema import RejectedTopic
from core.state.store import Change, Store
from core.streaming.events import QueueMembershipChanged, parse_event
from core.streaming.memory import ChannelMemory, MemoryChannelMemory
from core.streaming.planner import Budget, Plan, queue_topics, user_topic
from core.streaming.ports import Connector, ShardPhase
from core.streaming.protocol import Malformed, TopicEvent
from core.streaming.reconnect import ChannelSettings
from core.streaming.shard import ChannelShard
from core.streaming.sockets import websockets_connector

logger = logging.getLogger(__name__)


class MonitorService:
    """Owns the channels, the store and the re-syncs of one signed-in session."""

    def __init__(
        self,
        api: ServiceApi,
        session: TokenSource,
        selection: Selection | None = None,
        *,
        store: Store | None = None,
        budget: Budget | None = None,
        settings: ChannelSettings | None = None,
        connector: Connector = websockets_connector,
        memory: ChannelMemory | None = None,
        analytics_topic: str = "observations",
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        supervision: SupervisorSettings | None = None,
        offline: OfflineSettings | None = None,
        first_sign_in: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.api = api
        self.session = session
        self.selection = selection or Selection()
        self.me: str | None = None  # the signed-in person: always watched (core.app.me)
        self.store = store or Store()
        self.budget = budget or Budget()
        self.settings = settings or ChannelSettings()
        self.connector = connector
        self.memory = memory or MemoryChannelMemory()
        self.analytics_topic = analytics_topic
        self.rng = rng or random.Random()
        self.clock = clock
        self.monotonic = monotonic
        self.state = EngineState.STOPPED
        self.state_detail = ""
        self.counters: dict[str, int] = {
            "events": 0,
            "unparsed": 0,
            "malformed": 0,
            "resyncs": 0,
            "gaps": 0,
            "confirmations": 0,
        }
        self._listeners: list[Listener] = []
        # Every background task has an owner: an unexpected exception is logged once, the task
        # restarted with backoff, and a lasting failure shown ("Re-sync failing: ...").
        self._supervisor = Supervisor(
            on_health=self.set_health,
            on_failed=lambda _name: self._recompute_state(),
            settings=supervision,
            rng=self.rng,
            monotonic=monotonic,
        )
        self._tasks = self._supervisor.tasks
        self.health: dict[str, str] = {}  # what keeps failing, by the work's name
        self._resync_wanted = asyncio.Event()
        self._resyncing = False
        self._gap = GapTracker()
        self.crossdedup: CrossDedup | None = None  # set while EventBridge is merged in
        self._stopping = asyncio.Event()
        # What the stream spoke for since a re-sync asked: that part of its read is older.
        freshness = StreamFreshness()
        self._freshness = freshness
        self._watch = WatchKeeper(self.store, freshness)
        self._readback = ReadBack(api, self.store, self._watch, freshness, monotonic)
        self.kpis = KpiKeeper(api, self.store, self._emit, self._watch, self._supervisor)
        self._replan_handle: asyncio.TimerHandle | None = None
        self._selection_lock = asyncio.Lock()
        self._progressed = asyncio.Event()  # set on every state recompute (set_selection waits)
        self._confirming = False  # a counter confirmation is scheduled or running
        # The first contact, retried while the org does not answer (see core.engine.offline).
        self._first_sign_in = first_sign_in  # a sign-in the org was not there for yet
        self._started = False  # channels planned, workers running
        self._offline: str | None = None  # the words while waiting for the org
        self.pool = ShardPool(
            api=api,
            sink=self,
            budget=self.budget,
            settings=self.settings,
            connector=connector,
            memory=self.memory,
            rng=self.rng,
            monotonic=monotonic,
            spawn=self._spawn,
        )
        self.tokens = TokenKeeper(
            api,
            session,
            stopping=self._stopping,
            on_state=self._recompute_state,
            on_new_token=self.pool.rollover_all,
            clock=clock,
            monotonic=monotonic,
        )
        self._start_retry = StartRetry(
            attempt=self._first_contact,
            stopping=self._stopping,
            on_state=self._on_start_retry,
            wait_for_sign_in=self.tokens.wait_for_token,
            settings=offline,
            rng=self.rng,
        )

    @property
    def watch(self) -> Watch:
        """The users and queues watched now, by id with names."""
        return self._watch.current

    @property
    def shards(self) -> list[ChannelShard]:
        """Every channel shard, parked ones included (slot = index)."""
        return self.pool.shards

    @property
    def plan(self) -> Plan:
        """The current topic plan."""
        return self.pool.plan

    @property
    def working_shards(self) -> list[ChannelShard]:
        """The shards that carry topics (a parked one is stopped and counts for nothing)."""
        return self.pool.working

    # ------------------------------------------------------------------ listeners
    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(record)`` for every record; returns the remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, record: Record) -> None:
        for listener in list(self._listeners):
            try:
                listener(record)
            except Exception:
                logger.exception("a service listener failed")

    def _set_state(self, state: EngineState, detail: str) -> None:
        self.state_detail = detail
        if state != self.state:
            self.state = state
            logger.info("engine: %s (%s)", state.value, detail)
            self._emit(StateRecord(state, "; ".join(self.health.values()) or detail))

    def _recompute_state(self, detail: str = "") -> None:
        self._progressed.set()
        if self._stopping.is_set():
            self._set_state(EngineState.STOPPED, detail or "stopped")
        elif self.tokens.sign_in_needed:
            self._set_state(EngineState.SIGN_IN_NEEDED, detail or "sign-in needed")
        elif self._offline is not None:
            self._set_state(EngineState.OFFLINE, self._offline)
        elif not self.working_shards:
            self._set_state(EngineState.STARTING, detail or "starting")
        else:
            phases = {s.phase for s in self.working_shards}
            if phases & {ShardPhase.RECONNECTING, ShardPhase.BLOCKED}:
                self._set_state(EngineState.RECONNECTING, detail or "reconnecting")
            elif ShardPhase.CONNECTING in phases:
                self._set_state(EngineState.STARTING, detail or "connecting")
            elif ShardPhase.STALE in phases:
                self._set_state(EngineState.STALE, detail or "no heartbeat")
            elif self._resyncing or self._resync_wanted.is_set() or self._topics_pending():
                # A socket that came back is not LIVE until the re-sync after it has run: the
                # gap it left is still unfilled. Nor is a new member's topic before its PUT.
                self._set_state(EngineState.RESYNCING, detail or "re-syncing")
            elif phases == {ShardPhase.LIVE}:
                self._set_state(EngineState.LIVE, detail or "live")

    def _topics_pending(self) -> bool:
        """A re-plan is due or a shard has not yet subscribed its new topics."""
        return self._replan_handle is not None or self.pool.subscribing()

    def _gap_filled(self) -> bool:
        """Every socket is open and no further re-sync is due: the picture is whole again."""
        return not self._resync_wanted.is_set() and self.pool.all_open()

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        """Resolve the selection, subscribe, connect; returns once the shards are running.

        While the org does not answer (no network yet) it returns at once, OFFLINE, and keeps
        trying with backoff; the rest then starts by itself (see :mod:`core.engine.offline`).
        """
        self._stopping.clear()
        self._set_state(EngineState.STARTING, "resolving what to watch")
        self.tokens.attach()
        try:
            await self._first_contact()
        except OFFLINE_ERRORS as exc:
            # Kept by the supervisor: even an unexpected error there cannot strand us OFFLINE.
            self._supervisor.keep("start", functools.partial(self._start_when_online, exc), "Start")
            return
        self._begin()

    async def _first_contact(self) -> None:
        """What needs the org: the sign-in it was not there for, and the selection's reads."""
        if self._first_sign_in is not None:
            if self.session.token is None:
                await self._first_sign_in()
            self._first_sign_in = None
        await self._resolve()
        await self._load_presence_labels()

    async def _start_when_online(self, first: GenesysTrayError) -> None:
        """Retry the first contact until the org answers, then start the rest."""
        if await self._start_retry.run(first):
            self._begin()

    def _on_start_retry(self, state: EngineState, detail: str) -> None:
        """Show the start's retry: OFFLINE while waiting, STARTING while trying again."""
        self._offline = detail if state is EngineState.OFFLINE else None
        if state is EngineState.SIGN_IN_NEEDED:
            self.tokens.sign_in_needed = True
        self._recompute_state(detail)

    def _begin(self) -> None:
        """The org answered: plan the channels and run the workers."""
        self._started = True
        self._apply_plan()
        self._supervisor.keep("resync", self._resync_worker, "Re-sync")
        self._supervisor.keep("token-keeper", self.tokens.run, "Token renewal")
        self._recompute_state()

    async def stop(self) -> None:
        """Close every channel and stop background work."""
        self._stopping.set()
        if self._replan_handle is not None:
            self._replan_handle.cancel()
        await self._supervisor.stop()
        await self.pool.stop()
        self.tokens.detach()
        self._started = False
        self._offline = None
        self._recompute_state("stopped")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._supervisor.once(coro, name)

    def set_health(self, label: str, message: str | None) -> None:
        """Show work that keeps failing (a task, the keyring), or that it works again (None)."""
        if message is None:
            self.health.pop(label, None)
        else:
            self.health[label] = message
        self._emit(StateRecord(self.state, "; ".join(self.health.values()) or self.state_detail))

    def link_stats(self) -> LinkStats:
        """Channels, topics and the age of the last frame (the status bar polls it)."""
        return self.pool.link_stats()

    def check_now(self) -> None:
        """Health-check every channel now (after sleep/resume or a network change)."""
        self._start_retry.wake()  # still waiting for the org: try it now
        self.tokens.check_now()  # a suspend may have outlived the token
        self.pool.check_now()

    # ------------------------------------------------------------------ selection
    async def _load_presence_labels(self) -> None:
        """The org's own presence labels ("Lunch" under Meal) for boards and the feed."""
        try:
            definitions = await self.api.presence_definitions()
        except (ApiError, TransportError) as exc:
            logger.warning("presence labels unavailable, showing system presences: %s", exc)
            return
        self.store.presence_labels.update({d.id: d.label for d in definitions if d.label})

    def _service_account(self) -> bool:
        """Whether the session is a client-credentials one (no user behind it)."""
        token = self.session.token
        return token is not None and token.grant == "client_credentials"

    async def _read_selection(self, sel: Selection) -> Resolution:
        """Resolve a selection through REST, changing nothing (a failure leaves all as it was)."""
        return await read_selection(
            self.api, sel, service_account=self._service_account(), me=self.me
        )

    def _adopt(self, resolution: Resolution) -> None:
        """Make a resolution the watch: keep what stays, drop the store rows of what goes."""
        self._emit(self._watch.adopt(resolution))
        self._readback.offer(resolution, lambda: self.plan.over_budget)  # users no channel has

    async def _resolve(self) -> None:
        self._adopt(await self._read_selection(self.selection))

    async def directory(self) -> Directory:
        """The org's queues and users for pickers (my queues empty for a service account)."""
        return await read_directory(self.api)

    async def preview_selection(self, selection: Selection) -> SelectionPreview:
        """What ``selection`` would watch and the plan it would get, without applying it.

        The plan keeps today's shard assignments (as applying would); topics refused today that
        the selection still wants are reported as rejected.
        """
        resolution = await self._read_selection(selection)
        budget = self.pool.preview_report(self._topics_for(resolution.users, resolution.queues))
        return SelectionPreview(dict(resolution.users), dict(resolution.queues), budget)

    async def set_selection(
        self,
        selection: Selection,
        progress: Callable[[SelectionProgress], None] | None = None,
    ) -> BudgetRecord:
        """Watch something else without dropping the live picture of what stays watched.

        Re-resolves and re-plans (topics keep their channel), subscribes the new topics on the
        live channels, re-syncs, and drops the store rows of users and queues no longer watched.
        A plain selection change opens no gap (no ``GapRecord("start")``). Returns once the new
        topics are subscribed and re-synced (or the service stops); a REST failure while
        resolving raises and leaves the old selection in place.
        """
        report = progress or (lambda _step: None)
        async with self._selection_lock:
            report(SelectionProgress("resolving"))
            resolution = await self._read_selection(selection)
            report(SelectionProgress("planning"))
            self.selection = selection
            self._adopt(resolution)
            if not self._started or self._stopping.is_set():
                self._emit(self.budget_report())  # not running: start() subscribes
                report(SelectionProgress("done"))
                return self.budget_report()
            if self._replan_handle is not None:
                self._replan_handle.cancel()
                self._replan_handle = None
            before = [s.topics for s in self.shards]
            self._apply_plan()
            changed = [
                s
                for i, s in enumerate(self.shards)
                if s.topics and (i >= len(before) or s.topics != before[i])
            ]
            self._recompute_state("applying the new selection")
            logger.info(
                "selection changed: %d users, %d queues, %d channels to re-subscribe",
                len(self.watch.users),
                len(self.watch.queues),
                len(changed),
            )

        await follow_selection(
            changed,
            stopping=self._stopping,
            resync_busy=lambda: self._resync_wanted.is_set() or self._resyncing,
            next_progress=self._next_progress,
            report=report,
        )
        return self.budget_report()

    async def _next_progress(self) -> None:
        """Wait for the next state recompute (a shard subscribed, a re-sync ended, a stop)."""
        self._progressed.clear()
        await self._progressed.wait()

    def wanted_topics(self) -> list[str]:
        """Every topic the current selection needs."""
        return self._topics_for(self.watch.users, self.watch.queues)

    def _topics_for(self, users: Iterable[str], queues: Iterable[str]) -> list[str]:
        topics = [user_topic(uid) for uid in users]
        for queue_id in queues:
            topics.extend(queue_topics(queue_id, analytics=self.analytics_topic))
        return topics

    def _apply_plan(self) -> None:
        self.pool.apply(self.wanted_topics())
        self._emit(self.budget_report())

    def budget_report(self) -> BudgetRecord:
        """Topics and channels in use, and what was refused or left out."""
        return self.pool.budget_report()

    def _replan_soon(self) -> None:
        """Batch membership changes into one re-subscribe."""
        if self._replan_handle is None:
            loop = asyncio.get_running_loop()
            self._replan_handle = loop.call_later(0.5, self._replan_now)

    def _replan_now(self) -> None:
        self._replan_handle = None
        if not self._stopping.is_set():
            self._apply_plan()
            self._recompute_state()

    # ------------------------------------------------------------------ ShardSink
    def shard_event(self, slot: int, event: TopicEvent) -> None:
        """Parse, apply, publish (the hot path)."""
        events = parse_event(event)
        if events is None:
            self.counters["unparsed"] += 1
            return
        if self.crossdedup is not None and not self.crossdedup.websocket(event, events):
            return  # EventBridge brought it first (core.app.bridge_merge)
        now = self.monotonic()
        self.kpis.on_topic(event)
        for typed in events:
            retired = self._watch.retired
            if retired and subject_of(typed) in retired:
                continue  # a late frame of a topic just unsubscribed
            self.counters["events"] += 1
            self._emit(EventRecord(event.topic, typed, "websocket", event.correlation_id))
            self._freshness.note(typed, now)
            for change in self.store.apply(typed):
                self._emit(ChangeRecord(change, "stream"))
            if isinstance(typed, QueueMembershipChanged):
                self._on_membership(typed)

    publish = _emit  # records from the EventBridge merge go out the same way

    def _on_membership(self, event: QueueMembershipChanged) -> None:
        if (
            self.selection.users == "members"
            and event.queue_id in self.watch.queues
            and event.user_id not in self.watch.users
        ):
            self._emit(self._watch.add_user(event.user_id))
            self._replan_soon()
            self._resync_wanted.set()  # a first picture now; the shard re-reads once subscribed

    note_membership = _on_membership  # a membership change EventBridge brought

    def shard_phase(self, slot: int, phase: ShardPhase, detail: str) -> None:
        """Track gaps: a shard that drops out of LIVE starts one."""
        if phase in (ShardPhase.RECONNECTING, ShardPhase.BLOCKED):
            record = self._gap.socket_lost(detail)
            if record is not None:
                self.counters["gaps"] += 1
                self._emit(record)
        self._recompute_state(f"channel {slot}: {detail}")

    def shard_live(self, slot: int, *, gap: bool, reason: str) -> None:
        """A socket is up: re-read state, since nothing before it was delivered."""
        self._gap.socket_up(reason)
        self._resync_wanted.set()
        self._recompute_state()

    def shard_rejected(self, slot: int, rejected: tuple[RejectedTopic, ...]) -> None:
        """Remember refused topics for the budget report."""
        if rejected:
            logger.warning("channel %d: %d topics rejected", slot, len(rejected))
        if self.pool.note_rejected(slot, rejected):
            self._emit(self.budget_report())

    def shard_malformed(self, slot: int, frame: Malformed) -> None:
        """Count unreadable frames; they never stop the stream."""
        self.counters["malformed"] += 1
        logger.debug("channel %d: malformed frame (%s)", slot, frame.reason)

    async def shard_token_lost(self, slot: int) -> bool:
        """Renew the token once for all shards, or wait for the person to sign in again."""
        return await self.tokens.token_lost()

    # ------------------------------------------------------------------ re-sync
    async def _resync_worker(self) -> None:
        while True:
            await self._resync_wanted.wait()
            if self.tokens.sign_in_needed:
                # No token, no REST: wait for the sign-in instead of failing every backoff.
                if not await self.tokens.wait_for_token():
                    return
                continue
            self._resync_wanted.clear()
            await self.resync_once()

    async def resync_once(self) -> None:
        """Read the watched state through REST and apply it as re-sync changes."""
        self._resyncing = True
        self._recompute_state("re-syncing")
        try:
            result, changed = await self._readback.resync(self._resynced)
        except Exception as exc:
            # The re-sync stays due. An unexpected error goes on to the supervisor, which logs it
            # once and runs the worker again after a backoff: RESYNCING until then, never stuck.
            self._resyncing = False
            self._resync_wanted.set()
            if isinstance(exc, SignInRequiredError):
                self.tokens.sign_in_needed = True
            self._recompute_state()
            if not isinstance(exc, (ApiError, TransportError, AuthError)):
                raise
            logger.warning("re-sync failed, will retry: %s", exc)
            await asyncio.sleep(self.settings.first_backoff_s)
            return
        await self.kpis.after_resync()  # before the gap closes: its figures are current too
        self.counters["resyncs"] += 1
        self._resyncing = False
        # Only a re-sync after every socket is back closes a gap: one that ran while a channel
        # was still reconnecting (a membership change asked for it) filled nothing.
        if self._gap.open and self._gap_filled():
            self._emit(
                self._gap.close(
                    users_resynced=result.users_read,
                    queues_resynced=result.queues_read,
                    changed=changed,
                )
            )
            self._confirm_soon()
        self._recompute_state()

    def _resynced(self, change: Change) -> None:
        self._emit(ChangeRecord(change, "resync"))

    def _confirm_soon(self) -> None:
        """Schedule one more read of the queue counters (see :meth:`_confirm_counters`)."""
        if self._confirming or not self.watch.queues or self.settings.confirm_counters_after_s <= 0:
            return
        self._confirming = True
        self._spawn(self._confirm_counters(), "confirm-counters")

    async def _confirm_counters(self) -> None:
        """Read the queue counters again a moment after a gap's re-sync (why: ReadBack's)."""
        try:
            await asyncio.sleep(self.settings.confirm_counters_after_s)
            try:
                await self._readback.confirm_counters(self._resynced)
            except (ApiError, TransportError, AuthError) as exc:
                logger.info("queue counters not confirmed: %s", exc)
                return
            self.counters["confirmations"] += 1
        finally:
            self._confirming = False
