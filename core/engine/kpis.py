"""Keeps every watched queue's KPIs (today and the current interval) in the store.

When: after every re-sync (the start's first one included; awaited inside it, so a gap's end
marker comes after the figures are current again), and every ``period_s`` (60 s) in between.
At most ``max_per_min`` (20) aggregate queries a minute leave this module whatever happens, far
within the endpoint's limit (the sandbox's 60 a minute); a skipped refresh waits for the next.

Between queries the ``.observations`` pushes keep the figures live: each media group's push
carries the current 30-minute interval's aggregates, which grow from what the last query saw of
that interval, so today = the queried total + what each interval grew since (never negative:
a push older than the query adds nothing). Pushes without aggregates change nothing.

Every change goes out as a ``ChangeRecord`` of the queue with the one field ``kpis``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from core.domain.media import normalize_media_type
from core.engine.records import ChangeRecord, Record
from core.engine.supervisor import Supervisor
from core.engine.watch import WatchKeeper
from core.errors import GenesysTrayError
from core.rest.analytics import (
    AGGREGATE_METRICS,
    INTERVAL,
    AnalyticsApi,
    block_figures,
    local_midnight,
    parse_interval,
    query_aggregates,
    service_level_targets,
    today_interval,
)
from core.rest.schema import as_dict, as_str
from core.state.kpis import Figures, QueueKpis
from core.state.store import Change, Store
from core.streaming.protocol import TopicEvent

logger = logging.getLogger(__name__)

TASK_NAME = "kpis"
Key = tuple[str, datetime]  # (media, interval start)


@dataclass(slots=True)
class _Queue:
    """What the last query said of one queue, and what pushes said since."""

    day_start: datetime
    today: Figures = field(default_factory=Figures)
    baseline: dict[Key, Figures] = field(default_factory=dict)
    live: dict[Key, Figures] = field(default_factory=dict)
    sl_goal: float | None = None


class KpiKeeper:
    """Queries, merges and publishes the queue KPIs of one service."""

    def __init__(
        self,
        api: object,
        store: Store,
        emit: Callable[[Record], None],
        watch: WatchKeeper,
        supervisor: Supervisor,
        *,
        clock: Callable[[], float] = time.time,
        period_s: float = 60.0,
        max_per_min: int = 20,
        timeout_s: float = 8.0,
    ) -> None:
        # A port without the calls (a test's fake) simply has no KPIs.
        self.api: AnalyticsApi | None = (
            api if hasattr(api, "request") and hasattr(api, "paged") else None
        )
        self.store = store
        self.emit = emit
        self.watch = watch
        self.supervisor = supervisor
        self.clock = clock
        self.period_s = period_s
        self.max_per_min = max_per_min
        self.timeout_s = timeout_s
        self.queries = 0
        self._recent: deque[float] = deque()
        self._queues: dict[str, _Queue] = {}
        self._targets: dict[str, dict[str, float]] = {}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # ------------------------------------------------------------------ queries
    async def after_resync(self) -> None:
        """Refresh now (the stream missed what happened in the gap); keep the periodic loop.

        Never raises: whatever goes wrong with the figures, the re-sync that awaits this goes on
        (the periodic loop, kept by the supervisor, tries again and reports lasting failure).
        """
        if self.api is None:
            return
        if not any(t.get_name() == TASK_NAME and not t.done() for t in self.supervisor.tasks):
            self.supervisor.keep(TASK_NAME, self.run, "Queue figures")
        try:
            await self.refresh()
        except Exception as exc:
            logger.warning("queue figures not refreshed (%s)", type(exc).__name__, exc_info=True)

    async def run(self) -> None:
        """Refresh every ``period_s`` seconds (kept by the service's supervisor)."""
        while True:
            await asyncio.sleep(self.period_s)
            await self.refresh()

    async def refresh(self) -> bool:
        """Query today's aggregates of the watched queues; False when skipped or failed."""
        queue_ids = list(self.watch.current.queues)
        if self.api is None or not queue_ids:
            return False
        mono = time.monotonic()
        while self._recent and self._recent[0] <= mono - 60.0:
            self._recent.popleft()
        if len(self._recent) >= self.max_per_min:
            logger.info("queue figures: %d queries this minute, the next waits", len(self._recent))
            return False
        self._recent.append(mono)
        now = self._now()
        start, end = today_interval(now)
        try:
            async with asyncio.timeout(self.timeout_s):
                missing = [q for q in queue_ids if q not in self._targets]
                if missing:
                    self._targets.update(await service_level_targets(self.api, missing))
                rows = await query_aggregates(self.api, queue_ids, start, end)
        except (GenesysTrayError, TimeoutError) as exc:
            logger.info("queue figures not refreshed: %s", exc or type(exc).__name__)
            return False
        self.queries += 1
        fresh = {qid: _Queue(start) for qid in queue_ids}
        for row in rows:
            state = fresh.get(row.queue_id)
            if state is None or (row.start is not None and row.start < start):
                continue
            state.today = state.today.plus(row.figures)
            state.sl_goal = row.sl_goal if row.sl_goal is not None else state.sl_goal
            if row.start is not None:
                key = (row.media, row.start)
                state.baseline[key] = state.baseline.get(key, Figures()).plus(row.figures)
        for queue_id, state in fresh.items():
            known = self._queues.get(queue_id)
            if known is not None and known.day_start == start:
                state.live = known.live  # pushes newer than the answer still count
        self._queues = fresh
        for queue_id in [q for q in self.store.kpis if q not in fresh]:
            del self.store.kpis[queue_id]
        for queue_id in fresh:
            self._publish(queue_id, "resync", now, refreshed=True)
        return True

    # ------------------------------------------------------------------ live
    def on_topic(self, event: TopicEvent) -> None:
        """Merge the interval aggregates of a ``.observations`` push (other topics: nothing)."""
        parts = event.topic.split(".")
        if (
            len(parts) != 5
            or parts[4] != "observations"
            or parts[:3] != ["v2", "analytics", "queues"]
        ):
            return
        state = self._queues.get(parts[3])
        media = normalize_media_type(as_dict(event.body.get("group")).get("mediaType"))
        data = event.body.get("data")
        if state is None or not media or not isinstance(data, list):
            return
        changed = False
        for block in data:
            body = as_dict(block)
            metrics = body.get("metrics")
            names = (
                {as_str(as_dict(m).get("metric")) for m in metrics or []}
                if isinstance(metrics, list)
                else set()
            )
            start, _end = parse_interval(body.get("interval"))
            if start is None or local_midnight(start) != state.day_start:
                continue  # not today's (yesterday's late push, or past midnight: next query's)
            if not names & set(AGGREGATE_METRICS):
                continue
            figures, goal = block_figures(metrics)
            key = (media, start)
            state.live[key] = figures.latest(state.live.get(key, figures))
            state.sl_goal = goal if goal is not None else state.sl_goal
            changed = True
        if changed:
            self._publish(parts[3], "stream", self._now())

    # ------------------------------------------------------------------ publishing
    def _publish(
        self,
        queue_id: str,
        source: Literal["stream", "resync"],
        now: datetime,
        *,
        refreshed: bool = False,
    ) -> None:
        state = self._queues[queue_id]
        slot = state.day_start + int((now - state.day_start) / INTERVAL) * INTERVAL
        today = state.today
        interval = Figures()
        for key, base in state.baseline.items():
            if key[1] == slot:
                interval = interval.plus(base)
        for key, live in state.live.items():
            grown = live.since(state.baseline.get(key, Figures()))
            today = today.plus(grown)
            if key[1] == slot:
                interval = interval.plus(grown)
        before = self.store.kpis.get(queue_id)
        after = QueueKpis(
            queue_id,
            today=today,
            interval=interval,
            interval_start=slot,
            sl_targets=self._targets.get(queue_id, {}),
            sl_goal=state.sl_goal,
            updated=now if refreshed or before is None else before.updated,
        )
        if before is not None and _same(before, after):
            self.store.kpis[queue_id] = after
            return
        self.store.kpis[queue_id] = after
        self.emit(ChangeRecord(Change("queue", queue_id, ("kpis",), (before,), (after,)), source))


def _same(a: QueueKpis, b: QueueKpis) -> bool:
    """Equal figures (when they were last read does not count as a change)."""
    return (a.today, a.interval, a.interval_start, dict(a.sl_targets), a.sl_goal) == (
        b.today,
        b.interval,
        b.interval_start,
        dict(b.sl_targets),
        b.sl_goal,
    )
