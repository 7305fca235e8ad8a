"""The engine's facade: what to watch, the channels that carry it, and a picture that converges.

:class:`MonitorService` resolves a :class:`Selection` (my queues, members of these queues, a name
pattern, everyone) into explicit topics, packs them into channel shards within the budget, feeds
every frame through the typed-event parser into the :class:`core.state.store.Store`, re-syncs
through
REST after every gap, follows membership changes, renews the token before it bites and rebuilds
the channels under a new one. Consumers (the GUI bridge, the ``listen`` CLI) receive
:data:`Record` values through listeners; nothing here knows about Qt.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import math
import random
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from core.auth.session import TokenSet
from core.errors import (
    ApiError,
    AuthError,
    ForbiddenError,
    SignInRequiredError,
    TransportError,
    UnauthorizedError,
)
from core.rest.observations import QueueObservation
from core.rest.schema import (
    PresenceDefinition,
    QueueMember,
    QueueRecord,
    RejectedTopic,
    TokenInfo,
    UserRecord,
)
from core.state.resync import ResyncApi, counters_read, read_state
from core.state.store import Change, Store
from core.streaming.events import (
    Event,
    PresenceChanged,
    QueueConversationChanged,
    QueueCountersRead,
    QueueMembershipChanged,
    QueueObserved,
    RoutingChanged,
    parse_event,
)
from core.streaming.planner import Budget, Plan, plan_topics, queue_topics, user_topic
from core.streaming.protocol import Malformed, TopicEvent
from core.streaming.shard import (
    ChannelApi,
    ChannelMemory,
    ChannelSettings,
    ChannelShard,
    Connector,
    MemoryChannelMemory,
    ShardPhase,
    websockets_connector,
)

logger = logging.getLogger(__name__)

USERS_PART = "#users"  # a queue's user counts, in _queue_stream_at
CONVERSATIONS_PART = "#conversations"  # a queue's known conversations


class EngineState(enum.StrEnum):
    """What the tray shows about the connection."""

    STARTING = "starting"
    LIVE = "live"
    STALE = "stale"
    RECONNECTING = "reconnecting"
    RESYNCING = "resyncing"
    SIGN_IN_NEEDED = "sign_in_needed"
    STOPPED = "stopped"


# ---------------------------------------------------------------------------------- records
@dataclass(frozen=True, slots=True)
class StateRecord:
    """The engine's state changed."""

    state: EngineState
    detail: str


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A typed event from the stream."""

    topic: str
    event: Event


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """The store changed; ``source`` says whether the stream or a re-sync told us."""

    change: Change
    source: Literal["stream", "resync"]


@dataclass(frozen=True, slots=True)
class GapRecord:
    """A gap in the stream began, or ended with a re-sync."""

    phase: Literal["start", "end"]
    reason: str
    started: datetime
    ended: datetime | None = None
    users_resynced: int = 0
    queues_resynced: int = 0
    changed: int = 0


@dataclass(frozen=True, slots=True)
class BudgetRecord:
    """Topics and channels in use, and every topic refused or left out."""

    topics: int
    channels: int
    per_channel: tuple[int, ...]
    capacity: int
    over_budget: tuple[str, ...]
    rejected: tuple[RejectedTopic, ...]


@dataclass(frozen=True, slots=True)
class WatchRecord:
    """The resolved selection: which users and queues are watched (with names)."""

    users: dict[str, str]
    queues: dict[str, str]


Record = StateRecord | EventRecord | ChangeRecord | GapRecord | BudgetRecord | WatchRecord
Listener = Callable[[Record], None]


@dataclass(frozen=True, slots=True)
class SelectionProgress:
    """How far :meth:`MonitorService.set_selection` has come, for a progress bar.

    ``step`` runs resolving → planning → subscribing (``done`` of ``total`` channels) →
    resyncing → done.
    """

    step: Literal["resolving", "planning", "subscribing", "resyncing", "done"]
    done: int = 0
    total: int = 0


@dataclass(frozen=True, slots=True)
class SelectionPreview:
    """What a selection would watch and how it would fit, before it is applied."""

    users: dict[str, str]
    queues: dict[str, str]
    budget: BudgetRecord


@dataclass(frozen=True, slots=True)
class Directory:
    """The org's queues and users by id with names, for the pickers of "What to watch".

    ``mine``: the queues the signed-in user is a member of (empty for a service account);
    ``member_counts``: members per queue where the server says so.
    """

    queues: dict[str, str]
    mine: frozenset[str]
    users: dict[str, str]
    member_counts: dict[str, int | None]


# ---------------------------------------------------------------------------------- selection
@dataclass(frozen=True, slots=True)
class Selection:
    """What the person wants to watch, in their own terms.

    ``queues``: ``"mine"`` (queues I am a member of), ``"all"``, ``"none"``, a name pattern with
    ``*`` (``"Sales*"``), or explicit ids. ``users``: ``"members"`` (members of the watched
    queues, kept current as membership changes), ``"all"``, ``"none"`` or explicit ids.
    """

    queues: str | tuple[str, ...] = "mine"
    users: str | tuple[str, ...] = "members"


class ServiceApi(ChannelApi, ResyncApi, Protocol):
    """Everything the service asks the Platform API (``core.rest.client.ApiClient`` provides it)."""

    async def users(self, ids: Iterable[str] | None = None) -> list[UserRecord]:
        """Users with presence and routing status."""

    async def queues(
        self, name: str | None = None, ids: Iterable[str] | None = None
    ) -> list[QueueRecord]:
        """Queues, optionally by name pattern or ids."""

    async def my_queues(self) -> list[QueueRecord]:
        """Queues the signed-in user is a member of."""

    async def queue_members(self, queue_id: str) -> list[QueueMember]:
        """Members of one queue."""

    async def queue_observations(self, queue_ids: Iterable[str]) -> dict[str, QueueObservation]:
        """Queue counters."""

    async def presence_definitions(self, locale: str = "en_US") -> list[PresenceDefinition]:
        """The org's presences with their labels."""

    async def token_info(self, *, preserve_idle_ttl: bool = False) -> TokenInfo:
        """The current token as the server sees it (401 when it is refused)."""


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


@dataclass(slots=True)
class _Watch:
    users: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Resolution:
    """A selection read through REST: who and what, and each queue's (member, joined) pairs."""

    users: dict[str, str]
    queues: dict[str, str]
    members: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)


def _subject_of(event: Event) -> str:
    """The user or queue an event is about (a membership change belongs to its queue)."""
    queue_id = getattr(event, "queue_id", None)
    return str(queue_id if queue_id is not None else getattr(event, "user_id", ""))


class MonitorService:
    """Owns the channels, the store and the re-syncs of one signed-in session."""

    def __init__(
        self,
        api: ServiceApi,
        session: TokenSource,
        selection: Selection = Selection(),
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
    ) -> None:
        self.api = api
        self.session = session
        self.selection = selection
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
        self.watch = _Watch()
        self.shards: list[ChannelShard] = []
        self.plan = Plan((), ())
        self.rejected: dict[int, tuple[RejectedTopic, ...]] = {}
        self.counters: dict[str, int] = {
            "events": 0,
            "unparsed": 0,
            "malformed": 0,
            "resyncs": 0,
            "gaps": 0,
            "confirmations": 0,
        }
        self._listeners: list[Listener] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._resync_wanted = asyncio.Event()
        self._resyncing = False
        self._gap_started: datetime | None = None
        self._gap_reason = ""
        self._gap_announced = False  # a GapRecord("start") went out for the open gap
        self._sign_in_needed = False
        self._new_token = asyncio.Event()
        self._stopping = asyncio.Event()
        # When the stream last spoke for a part of a queue (a media group, USERS_PART,
        # CONVERSATIONS_PART): a re-sync's read asked before then is older for that part.
        self._queue_stream_at: dict[str, dict[str, float]] = {}
        # The same for a user's presence and routing status: (user id, event type) -> when.
        self._user_stream_at: dict[tuple[str, type[Event]], float] = {}
        self._token_fingerprint: int | None = None
        self._remove_token_listener: Callable[[], None] | None = None
        self._replan_handle: asyncio.TimerHandle | None = None
        self._reauth_lock = asyncio.Lock()
        self._selection_lock = asyncio.Lock()
        self._progressed = asyncio.Event()  # set on every state recompute (set_selection waits)
        self._retired: set[str] = set()  # no longer watched: late frames and re-syncs skip them
        self._confirming = False  # a counter confirmation is scheduled or running

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
            self._emit(StateRecord(state, detail))

    def _recompute_state(self, detail: str = "") -> None:
        self._progressed.set()
        if self._stopping.is_set():
            self._set_state(EngineState.STOPPED, detail or "stopped")
        elif self._sign_in_needed:
            self._set_state(EngineState.SIGN_IN_NEEDED, detail or "sign-in needed")
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
        return self._replan_handle is not None or any(
            s.subscribed is not None and s.subscribed != s.topics for s in self.working_shards
        )

    def _gap_filled(self) -> bool:
        """Every socket is open and no further re-sync is due: the picture is whole again."""
        return not self._resync_wanted.is_set() and all(
            s.phase in (ShardPhase.LIVE, ShardPhase.STALE) for s in self.working_shards
        )

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        """Resolve the selection, subscribe, connect; returns once the shards are running."""
        self._stopping.clear()
        self._set_state(EngineState.STARTING, "resolving what to watch")
        self._remove_token_listener = self.session.add_listener(self._on_token)
        token = self.session.token
        self._token_fingerprint = hash(token.access_token) if token else None
        await self._load_presence_labels()
        await self._resolve()
        self._apply_plan()
        self._spawn(self._resync_worker(), "resync")
        self._spawn(self._token_keeper(), "token-keeper")
        self._recompute_state()

    async def stop(self) -> None:
        """Close every channel and stop background work."""
        self._stopping.set()
        if self._replan_handle is not None:
            self._replan_handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await asyncio.gather(*(s.stop() for s in self.shards))
        if self._remove_token_listener is not None:
            self._remove_token_listener()
        self._recompute_state("stopped")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def link_stats(self) -> LinkStats:
        """Channels, topics and the age of the last frame (the status bar polls it)."""
        live = [s for s in self.working_shards if s.phase in (ShardPhase.LIVE, ShardPhase.STALE)]
        now = self.monotonic()
        ages = [now - s.watchdog.last_frame_at for s in live]
        return LinkStats(
            channels=len(live),
            topics=sum(len(s.topics) for s in live),
            last_frame_age_s=max(ages) if ages else None,
        )

    def check_now(self) -> None:
        """Health-check every channel now (after sleep/resume or a network change)."""
        for shard in self.working_shards:
            shard.check_now()

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

    async def _read_selection(self, sel: Selection) -> _Resolution:
        """Resolve a selection through REST, changing nothing (a failure leaves all as it was)."""
        queues: dict[str, str] = {}
        if isinstance(sel.queues, tuple):
            records = await self.api.queues(ids=sel.queues) if sel.queues else []
            queues = {q.id: q.name for q in records}
            queues.update({qid: queues.get(qid, "") for qid in sel.queues})
        elif sel.queues == "mine" and self._service_account():
            # A service account has no "me" (genesys-api.md 2.6: /routing/queues/me answers
            # 400): it watches every queue until the person narrows it in "What to watch".
            logger.info("'my queues' needs a signed-in person; a service account watches all")
            queues = {q.id: q.name for q in await self.api.queues()}
        elif sel.queues == "mine":
            queues = {q.id: q.name for q in await self.api.my_queues()}
        elif sel.queues == "all":
            queues = {q.id: q.name for q in await self.api.queues()}
        elif sel.queues != "none":
            queues = {q.id: q.name for q in await self.api.queues(name=sel.queues)}
        out = _Resolution({}, queues)
        if isinstance(sel.users, tuple):
            named = {u.id: u.name for u in await self.api.users(ids=sel.users)} if sel.users else {}
            out.users = {uid: named.get(uid, "") for uid in sel.users}
        elif sel.users == "all":
            out.users = {u.id: u.name for u in await self.api.users()}
        elif sel.users == "members":
            for queue_id in queues:
                pairs = out.members.setdefault(queue_id, [])
                for member in await self.api.queue_members(queue_id):
                    out.users[member.id] = member.user.name
                    pairs.append((member.id, member.joined))
        return out

    def _adopt(self, resolution: _Resolution) -> None:
        """Make a resolution the watch: keep what stays, drop the store rows of what goes."""
        old = self.watch
        users, queues = resolution.users, resolution.queues
        for queue_id, pairs in resolution.members.items():
            state = self.store.queue(queue_id)
            for user_id, joined in pairs:
                state.member_ids.add(user_id)
                if joined:
                    state.joined_ids.add(user_id)
        self.watch = _Watch(dict(users), dict(queues))
        for queue_id, name in queues.items():
            queue = self.store.queue(queue_id)
            queue.name = name or queue.name
        for user_id, name in users.items():
            user = self.store.user(user_id)
            user.name = name or user.name
        gone_users = set(old.users) - set(users)
        gone_queues = set(old.queues) - set(queues)
        for user_id in gone_users:
            self.store.users.pop(user_id, None)
            self._user_stream_at.pop((user_id, PresenceChanged), None)
            self._user_stream_at.pop((user_id, RoutingChanged), None)
        for queue_id in gone_queues:
            self.store.queues.pop(queue_id, None)
            self._queue_stream_at.pop(queue_id, None)
        self._retired = (self._retired | gone_users | gone_queues) - set(users) - set(queues)
        self._emit(WatchRecord(dict(users), dict(queues)))

    async def _resolve(self) -> None:
        self._adopt(await self._read_selection(self.selection))

    async def directory(self) -> Directory:
        """The org's queues and users for pickers (my queues empty for a service account)."""
        queues = await self.api.queues()
        try:
            mine = frozenset(q.id for q in await self.api.my_queues())
        except ApiError as exc:  # a service account has no "me"
            logger.info("my queues unavailable: %s", exc)
            mine = frozenset()
        users = await self.api.users()
        return Directory(
            queues={q.id: q.name for q in queues},
            mine=mine,
            users={u.id: u.name for u in users},
            member_counts={q.id: q.member_count for q in queues},
        )

    async def preview_selection(self, selection: Selection) -> SelectionPreview:
        """What ``selection`` would watch and the plan it would get, without applying it.

        The plan keeps today's shard assignments (as applying would); topics refused today that
        the selection still wants are reported as rejected.
        """
        resolution = await self._read_selection(selection)
        plan = plan_topics(
            self._topics_for(resolution.users, resolution.queues),
            [s.topics for s in self.shards],
            self.budget,
        )
        planned = {t for shard in plan.shards for t in shard}
        current = self.budget_report()
        return SelectionPreview(
            dict(resolution.users),
            dict(resolution.queues),
            BudgetRecord(
                topics=plan.topic_count,
                channels=len(plan.shards),
                per_channel=tuple(len(s) for s in plan.shards),
                capacity=self.budget.capacity,
                over_budget=plan.over_budget,
                rejected=tuple(r for r in current.rejected if r.id in planned),
            ),
        )

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
            if not self._tasks or self._stopping.is_set():
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

        def subscribed(shard: ChannelShard) -> bool:
            return shard.subscribed == shard.topics and shard.phase in (
                ShardPhase.LIVE,
                ShardPhase.STALE,
            )

        while not self._stopping.is_set():
            done = sum(1 for s in changed if subscribed(s))
            report(SelectionProgress("subscribing", done, len(changed)))
            if done == len(changed):
                break
            await self._next_progress()
        while not self._stopping.is_set() and (self._resync_wanted.is_set() or self._resyncing):
            report(SelectionProgress("resyncing", len(changed), len(changed)))
            await self._next_progress()
        report(SelectionProgress("done", len(changed), len(changed)))
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
        self.plan = plan_topics(self.wanted_topics(), [s.topics for s in self.shards], self.budget)
        for slot, topics in enumerate(self.plan.shards):
            if slot < len(self.shards):
                self.shards[slot].set_topics(topics)
            else:
                self.shards.append(
                    ChannelShard(
                        slot,
                        topics,
                        api=self.api,
                        sink=self,
                        connector=self.connector,
                        memory=self.memory,
                        settings=self.settings,
                        rng=self.rng,
                        monotonic=self.monotonic,
                    )
                )
        for shard in self.shards[len(self.plan.shards) :]:
            shard.set_topics(())
        for shard in self.shards:
            if shard.topics:
                shard.start()  # a no-op for a running shard; wakes a parked one
            elif shard.running:
                # A channel with no topics is parked: no socket kept open for nothing.
                self._spawn(shard.stop(), f"park-channel-{shard.slot}")
        self._emit(self.budget_report())

    @property
    def working_shards(self) -> list[ChannelShard]:
        """The shards that carry topics (a parked one is stopped and counts for nothing)."""
        return [s for s in self.shards if s.topics]

    def budget_report(self) -> BudgetRecord:
        """Topics and channels in use, and what was refused or left out."""
        rejected = tuple(r for slot in sorted(self.rejected) for r in self.rejected[slot])
        return BudgetRecord(
            topics=self.plan.topic_count,
            channels=self.plan.channels,
            per_channel=tuple(len(s) for s in self.plan.shards if s),
            capacity=self.budget.capacity,
            over_budget=self.plan.over_budget,
            rejected=rejected,
        )

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
        now = self.monotonic()
        for typed in events:
            if self._retired and _subject_of(typed) in self._retired:
                continue  # a late frame of a topic just unsubscribed
            self.counters["events"] += 1
            self._emit(EventRecord(event.topic, typed))
            self._note_stream_part(typed, now)
            for change in self.store.apply(typed):
                self._emit(ChangeRecord(change, "stream"))
            if isinstance(typed, QueueMembershipChanged):
                self._on_membership(typed)

    def _note_stream_part(self, event: Event, now: float) -> None:
        """Remember which part of a queue the stream just spoke for.

        Only that part is newer than a re-sync's read: a chat counter says nothing about voice,
        and a conversation event nothing about counters (it used to veto the re-sync's
        counters, which then stayed stale until the next change; found by the chaos run).
        """
        if isinstance(event, PresenceChanged | RoutingChanged):
            self._user_stream_at[(event.user_id, type(event))] = now
        elif isinstance(event, QueueObserved):
            parts = self._queue_stream_at.setdefault(event.queue_id, {})
            if event.names_conversations:
                parts[event.media_type] = now
            if event.on_queue is not None or event.off_queue is not None:
                parts[USERS_PART] = now
        elif isinstance(event, QueueConversationChanged):
            self._queue_stream_at.setdefault(event.queue_id, {})[CONVERSATIONS_PART] = now

    def _streamed_since(self, event: Event, asked_at: float) -> bool:
        """True when the stream spoke for this user's presence (or routing) after ``asked_at``.

        Timestamps alone cannot decide it: a presence event may come without ``modifiedDate``
        (5.1), and then the re-sync's older read would overwrite it (found by CI's chaos run: a
        user left ON_QUEUE after a token fault while the org had them in TRAINING).
        """
        if not isinstance(event, PresenceChanged | RoutingChanged):
            return False
        return self._user_stream_at.get((event.user_id, type(event)), -math.inf) > asked_at

    def _fresher_than(self, read: QueueCountersRead, asked_at: float) -> QueueCountersRead:
        """The read with the parts the stream spoke for since ``asked_at`` kept as they are."""
        newer = {
            p for p, at in self._queue_stream_at.get(read.queue_id, {}).items() if at > asked_at
        }
        if not newer:
            return read
        return dataclasses.replace(
            read,
            keep_media=frozenset(newer - {USERS_PART, CONVERSATIONS_PART}),
            keep_users=USERS_PART in newer,
            keep_conversations=CONVERSATIONS_PART in newer,
        )

    def _on_membership(self, event: QueueMembershipChanged) -> None:
        if (
            self.selection.users == "members"
            and event.queue_id in self.watch.queues
            and event.user_id not in self.watch.users
        ):
            self.watch.users[event.user_id] = ""
            self._retired.discard(event.user_id)
            self.store.user(event.user_id)
            self._emit(WatchRecord(dict(self.watch.users), dict(self.watch.queues)))
            self._replan_soon()
            self._resync_wanted.set()  # a first picture now; the shard re-reads once subscribed

    def shard_phase(self, slot: int, phase: ShardPhase, detail: str) -> None:
        """Track gaps: a shard that drops out of LIVE starts one."""
        if phase in (ShardPhase.RECONNECTING, ShardPhase.BLOCKED) and not self._gap_announced:
            # Announce every disconnect, also one that comes while a re-sync is still due for a
            # switch or new topics (those open a gap silently; this one is real).
            self._gap_started = datetime.now(UTC)
            self._gap_reason = detail
            self._gap_announced = True
            self.counters["gaps"] += 1
            self._emit(GapRecord("start", detail, self._gap_started))
        self._recompute_state(f"channel {slot}: {detail}")

    def shard_live(self, slot: int, *, gap: bool, reason: str) -> None:
        """A socket is up: re-read state, since nothing before it was delivered."""
        if self._gap_started is None and reason != "topics changed":
            # New topics on a live socket are no gap: what stays watched never stopped flowing
            # (the re-sync below only fills in the new subjects' state).
            self._gap_started = datetime.now(UTC)
            self._gap_reason = reason
        self._resync_wanted.set()
        self._recompute_state()

    def shard_rejected(self, slot: int, rejected: tuple[RejectedTopic, ...]) -> None:
        """Remember refused topics for the budget report."""
        if rejected:
            logger.warning("channel %d: %d topics rejected", slot, len(rejected))
        if self.rejected.get(slot, ()) != rejected:
            self.rejected[slot] = rejected
            self._emit(self.budget_report())

    def shard_malformed(self, slot: int, frame: Malformed) -> None:
        """Count unreadable frames; they never stop the stream."""
        self.counters["malformed"] += 1
        logger.debug("channel %d: malformed frame (%s)", slot, frame.reason)

    async def shard_token_lost(self, slot: int) -> bool:
        """Renew the token once for all shards, or wait for the person to sign in again."""
        async with self._reauth_lock:
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
                self._sign_in_needed = True
                self._recompute_state(str(exc))
            except (AuthError, TransportError, ApiError) as exc:
                logger.warning("token renewal failed: %s", exc)
            self._sign_in_needed = True
            self._recompute_state()
        return await self._wait_for_token()

    async def _wait_for_token(self) -> bool:
        while self._sign_in_needed and not self._stopping.is_set():
            self._new_token.clear()
            stop = asyncio.ensure_future(self._stopping.wait())
            fresh = asyncio.ensure_future(self._new_token.wait())
            try:
                await asyncio.wait({stop, fresh}, return_when="FIRST_COMPLETED")
            finally:
                stop.cancel()
                fresh.cancel()
        return not self._stopping.is_set()

    # ------------------------------------------------------------------ tokens
    def _on_token(self, token: TokenSet | None) -> None:
        if token is None:
            self._sign_in_needed = True
            self._recompute_state("signed out")
            return
        fingerprint = hash(token.access_token)
        if fingerprint == self._token_fingerprint:
            return
        had_token = self._token_fingerprint is not None
        self._token_fingerprint = fingerprint
        self._sign_in_needed = False
        self._new_token.set()
        if had_token:
            # Channels belong to the token that made them: rebuild, make-before-break.
            for shard in self.working_shards:
                shard.rollover_now()
        self._recompute_state("signed in")

    async def _token_keeper(self) -> None:
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
                self._sign_in_needed = True
                self._recompute_state(str(exc))
                await self._wait_for_token()
            except (AuthError, TransportError, ApiError) as exc:
                logger.warning("token renewal failed, retrying: %s", exc)
                await asyncio.sleep(10.0)

    # ------------------------------------------------------------------ re-sync
    async def _resync_worker(self) -> None:
        while True:
            await self._resync_wanted.wait()
            if self._sign_in_needed:
                # No token, no REST: wait for the sign-in instead of failing every backoff.
                if not await self._wait_for_token():
                    return
                continue
            self._resync_wanted.clear()
            await self.resync_once()

    async def resync_once(self) -> None:
        """Read the watched state through REST and apply it as re-sync changes."""
        started_at = self.monotonic()
        self._resyncing = True
        self._recompute_state("re-syncing")
        users = list(self.watch.users)
        queues = list(self.watch.queues)
        try:
            try:
                result = await read_state(self.api, users, queues)
            except ForbiddenError:
                logger.warning("queue observations are not permitted; re-syncing users only")
                result = await read_state(self.api, users, [])
        except (ApiError, TransportError, AuthError) as exc:
            logger.warning("re-sync failed, will retry: %s", exc)
            if isinstance(exc, SignInRequiredError):
                self._sign_in_needed = True
            self._resyncing = False
            self._resync_wanted.set()
            self._recompute_state()
            await asyncio.sleep(self.settings.first_backoff_s)
            return
        changed = 0
        for event in result.user_events:
            if self._retired and _subject_of(event) in self._retired:
                continue  # unwatched while this re-sync was reading
            if self._streamed_since(event, started_at):
                continue
            for change in self.store.apply(event):
                changed += 1
                self._emit(ChangeRecord(change, "resync"))
        for queue_event in result.queue_events:
            if queue_event.queue_id in self._retired:
                continue
            for change in self.store.apply(self._fresher_than(queue_event, started_at)):
                changed += 1
                self._emit(ChangeRecord(change, "resync"))
        self.counters["resyncs"] += 1
        self._resyncing = False
        # Only a re-sync after every socket is back closes a gap: one that ran while a channel
        # was still reconnecting (a membership change asked for it) filled nothing.
        if self._gap_started is not None and self._gap_filled():
            self._emit(
                GapRecord(
                    "end",
                    self._gap_reason or "connect",
                    self._gap_started,
                    datetime.now(UTC),
                    users_resynced=result.users_read,
                    queues_resynced=result.queues_read,
                    changed=changed,
                )
            )
            self._gap_started = None
            self._gap_reason = ""
            self._gap_announced = False
            self._confirm_soon()
        self._recompute_state()

    def _confirm_soon(self) -> None:
        """Schedule one more read of the queue counters (see :meth:`_confirm_counters`)."""
        if self._confirming or not self.watch.queues or self.settings.confirm_counters_after_s <= 0:
            return
        self._confirming = True
        self._spawn(self._confirm_counters(), "confirm-counters")

    async def _confirm_counters(self) -> None:
        """Read the queue counters again a moment after a gap's re-sync.

        Counters have no timestamps, and the service publishes them only on change (4.8), so a
        new subscriber is never told the current value. Between the re-sync's read and the
        moment every channel carries the topics again, a change can fall through (published to
        nobody of ours), or an older counter still in flight can outrank the read. Both leave a
        count wrong until the queue next changes; a second read once the stream is back closes
        that window (the chaos run with a moving org found it about once in 400 faults).
        """
        try:
            await asyncio.sleep(self.settings.confirm_counters_after_s)
            started_at = self.monotonic()
            try:
                observations = await self.api.queue_observations(list(self.watch.queues))
            except (ApiError, TransportError, AuthError) as exc:
                logger.info("queue counters not confirmed: %s", exc)
                return
            for queue_id, observation in observations.items():
                if queue_id not in self.watch.queues:
                    continue
                read = self._fresher_than(counters_read(observation), started_at)
                for change in self.store.apply(read):
                    self._emit(ChangeRecord(change, "resync"))
            self.counters["confirmations"] += 1
        finally:
            self._confirming = False


@dataclass(frozen=True, slots=True)
class LinkStats:
    """The link at a glance: channels open, topics subscribed, silence on the quietest socket."""

    channels: int
    topics: int
    last_frame_age_s: float | None


def parse_selection_arg(value: str, *, keywords: Sequence[str]) -> str | tuple[str, ...]:
    """``all`` / ``mine`` / ... or a comma-separated id list, as the ``listen`` CLI takes them."""
    text = value.strip()
    if text in keywords:
        return text
    return tuple(part.strip() for part in text.split(",") if part.strip())
