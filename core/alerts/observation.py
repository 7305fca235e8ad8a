"""What a rule sees when it looks at one subject: does it hold, since when, at what value.

The engine's lifecycle (pending timers, firing, cooldowns) is kept apart from this reading of the
store, so each can be read on its own. ``Track`` is the engine's memory of one (rule, subject).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from core.alerts.compiled import CompiledRule
from core.alerts.model import QUEUE_CONDITIONS, Condition
from core.domain.format import status_text
from core.domain.media import WHOLE_QUEUE, MediaCounts
from core.state.store import QueueState, Store

NOT_RESPONDING: Final = "NOT_RESPONDING"
EPSILON_S: Final = 1e-6  # float slack for "exactly at" the deadline


@dataclass(slots=True)
class Track:
    """The engine's memory of one (rule, subject)."""

    since: float | None = None  # longer-than conditions: when the underlying state began
    onset: float | None = None  # when the condition began to hold (pending timer)
    alert_id: str | None = None
    cooldown_until: float = -math.inf
    due: float | None = None  # when this tracker next changes without any store change


@dataclass(frozen=True, slots=True)
class Observation:
    """What one look at a subject saw: whether the condition holds, and the value behind it."""

    holds: bool
    clear: bool  # an active alert resolves
    value: float | str | None
    onset: float | None = None  # when the condition began to hold, if known
    starts_at: float | None = None  # longer-than: when it will begin to hold
    label: str = ""  # presence conditions: the presence as the org calls it ("Lunch")


NOTHING: Final = Observation(holds=False, clear=True, value=None)


def observe(
    compiled: CompiledRule,
    *,
    subject_id: str,
    store: Store,
    now: float,
    wall: datetime,
    track: Track,
    not_live_since: float | None,
) -> Observation:
    """Whether the condition holds for this subject now, and the value it saw.

    ``not_live_since`` is when the connection stopped being live (None while it is); ``track``
    keeps the anchor of "for longer than" conditions between calls.
    """
    condition = compiled.rule.condition
    threshold = compiled.threshold
    if condition is Condition.CHANNEL_NOT_LIVE_FOR:
        if threshold is None or not_live_since is None:
            track.since = None
            return NOTHING
        return _longer(track, not_live_since, compiled.limit_s, now)

    if condition in QUEUE_CONDITIONS:
        queue = store.queues.get(subject_id)
        if queue is None or threshold is None or compiled.resolve_level is None:
            return NOTHING
        value: float | None
        group = _media_group(queue, compiled.media) if compiled.media else None
        if condition is Condition.QUEUE_ON_QUEUE_BELOW:
            value = queue.on_queue
        elif not compiled.media:
            waiting = condition is Condition.QUEUE_WAITING_ABOVE
            value = queue.waiting if waiting else store.longest_wait_s(subject_id, wall)
        elif group is None:
            value = None
        elif condition is Condition.QUEUE_WAITING_ABOVE:
            value = group.waiting
        else:  # the group's own figure: conversations do not say their media
            ms = group.longest_wait_ms
            value = None if ms is None else ms / 1000
        if value is None:  # unknown never holds
            return NOTHING
        if condition is Condition.QUEUE_ON_QUEUE_BELOW:
            return Observation(value < threshold, value >= compiled.resolve_level, value)
        return Observation(value > threshold, value <= compiled.resolve_level, value)

    user = store.users.get(subject_id)
    if user is None:  # the store knows nothing about this user
        track.since = None
        return NOTHING
    if condition is Condition.AGENT_NOT_RESPONDING:
        if user.routing_status != NOT_RESPONDING:
            return NOTHING
        onset = _mono(user.routing_since, now, wall)
        return Observation(True, False, NOT_RESPONDING, onset=onset)
    presence = compiled.presence
    if presence is None or presence not in (user.definition_id, user.system_presence):
        track.since = None
        return NOTHING
    label = store.presence_label(subject_id) or status_text(presence)
    onset = _mono(user.presence_since, now, wall)
    if condition is Condition.AGENT_PRESENCE_IS:
        return Observation(True, False, label, onset=onset, label=label)
    if threshold is None:
        return NOTHING
    if track.since is None:  # anchored once: a message change must not restart the clock
        track.since = onset if onset is not None else now
    return replace(_longer(track, track.since, compiled.limit_s, now), label=label)


def _longer(track: Track, since: float, limit_s: float, now: float) -> Observation:
    """A "for longer than" condition: holds from ``since + limit_s`` on."""
    track.since = since
    starts_at = since + limit_s
    elapsed = now - since
    if now + EPSILON_S >= starts_at:
        return Observation(True, False, elapsed, onset=starts_at)
    return Observation(False, False, elapsed, starts_at=starts_at)


def _mono(at: datetime | None, now: float, wall: datetime) -> float | None:
    """A store timestamp on the monotonic clock (never in the future)."""
    if at is None:
        return None
    try:
        age = (wall - at).total_seconds()
    except TypeError:  # naive vs aware: not comparable, treat as unknown
        return None
    return now - max(0.0, age)


def _media_group(queue: QueueState, media: str) -> MediaCounts | None:
    """One media group's counters; None while unknown (never counted, or not split by media)."""
    if queue.waiting is None or WHOLE_QUEUE in queue.media:
        return None
    return queue.media.get(media, MediaCounts())  # an absent group is an idle one
