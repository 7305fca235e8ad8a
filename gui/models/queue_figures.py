"""What the Queues board reads besides the live counts: KPIs in words, and who the agents are.

Kept apart from :mod:`gui.models.queues` (the table itself) so both stay short. Everything
here is a pure function of the store: no Qt, no I/O.

* KPI text: "82 % (20 s)" for a service level with the queue's own target, "4.5 %" for an
  abandon rate, "00:12" for ASA and AHT; unknown is an em dash.
* The agent breakdown of a queue, from the watched members who are joined to it: idle,
  interacting, not responding, on break (Break or Meal) and off queue (signed in, not on queue,
  not on break). Conversations by media come from the queue's own counters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from core.domain.format import clock_text
from core.domain.media_names import media_label
from core.state.kpis import Figures, QueueKpis
from core.state.store import Store

logger = logging.getLogger(__name__)

UNKNOWN = "—"
BREAK_PRESENCES = frozenset({"BREAK", "MEAL"})


@dataclass(frozen=True, slots=True)
class AgentBreakdown:
    """Joined members of a queue by what they are doing now."""

    idle: int = 0
    interacting: int = 0
    not_responding: int = 0
    on_break: int = 0
    off_queue: int = 0
    offline: int = 0


def agent_breakdown(store: Store, queue_id: str) -> AgentBreakdown | None:
    """The breakdown of a queue's joined, watched members; None when none is known."""
    queue = store.queues.get(queue_id)
    if queue is None or not queue.joined_ids:
        return None
    counts = dict.fromkeys(AgentBreakdown.__slots__, 0)
    known = 0
    for user_id in queue.joined_ids:
        user = store.users.get(user_id)
        if user is None or user.system_presence is None:
            continue
        known += 1
        presence, routing = user.system_presence, user.routing_status
        if presence == "OFFLINE":
            counts["offline"] += 1
        elif presence in BREAK_PRESENCES:
            counts["on_break"] += 1
        elif presence != "ON_QUEUE":
            counts["off_queue"] += 1
        elif routing == "NOT_RESPONDING":
            counts["not_responding"] += 1
        elif routing == "INTERACTING":
            counts["interacting"] += 1
        elif routing == "IDLE":
            counts["idle"] += 1
    return AgentBreakdown(**counts) if known else None


def breakdown_words(store: Store, queue_id: str, agents: AgentBreakdown) -> str:
    """The whole breakdown in one line, for a tooltip."""
    queue = store.queues.get(queue_id)
    media = ""
    if queue is not None:
        parts = sorted(
            ((m, c.interacting) for m, c in queue.media.items() if m and c.interacting),
            key=lambda part: -part[1],
        )
        if parts:
            media = " (conversations: " + ", ".join(f"{media_label(m)} {n}" for m, n in parts) + ")"
    return (
        f"Agents: {agents.idle} idle, {agents.interacting} interacting{media}, "
        f"{agents.not_responding} not responding, {agents.on_break} on break, "
        f"{agents.off_queue} off queue"
    )


def percent_text(fraction: float | None, *, digits: int = 0) -> str:
    """``82 %`` (or ``4.5 %`` with ``digits=1``); unknown is an em dash."""
    if fraction is None:
        return UNKNOWN
    return f"{fraction * 100:.{digits}f} %"


def target_text(kpis: QueueKpis) -> str:
    """`` (20 s)``: the queue's own service-level target, when known."""
    target = kpis.sl_target_s
    if target is None:
        return ""
    if target >= 3600 and target % 3600 == 0:
        return f" ({int(target // 3600)} h)"
    if target >= 60 and target % 60 == 0:
        return f" ({int(target // 60)} min)"
    return f" ({target:g} s)"


def service_level_text(kpis: QueueKpis, figures: Figures) -> str:
    """``82 % (20 s)``; with no answered or abandoned traffic yet, the em dash and the target."""
    return percent_text(figures.service_level) + target_text(kpis)


def seconds_text(seconds: float | None) -> str:
    """``00:12`` for ASA and AHT; unknown is an em dash."""
    return UNKNOWN if seconds is None else clock_text(seconds)


def abandon_text(figures: Figures) -> str:
    """``4.5 %`` of offered; unknown (nothing offered) is an em dash."""
    pct = figures.abandon_pct
    return UNKNOWN if pct is None else f"{pct:.1f} %"


def interval_words(kpis: QueueKpis) -> str:
    """The current half hour's figures in one line (the KPI cells' tooltip)."""
    figures = kpis.interval
    when = ""
    if kpis.interval_start is not None:
        start = kpis.interval_start.astimezone()
        when = f" ({start:%H:%M} to {start + timedelta(minutes=30):%H:%M})"
    return (
        f"This half hour{when}: offered {figures.offered}, answered {figures.answered}, "
        f"abandoned {figures.abandoned}, service level {percent_text(figures.service_level)}, "
        f"ASA {seconds_text(figures.asa_s)}, AHT {seconds_text(figures.aht_s)}"
    )
