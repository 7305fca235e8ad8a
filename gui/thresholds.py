"""The queue thresholds as settings: kept in QSettings, like the window's other settings.

One value per scope under ``thresholds/``: ``thresholds/default`` for all queues and
``thresholds/queues/<queue id>`` for a queue that has its own. Each is six numbers in a fixed
order (waiting warning, waiting critical, longest wait warning s, critical s, service level
warning %, critical %), an empty place meaning "off". A value edited by hand into nonsense is
ignored with a warning in the log, and the defaults apply: the glance never breaks on a typo.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from PySide6.QtCore import QSettings

from core.state.levels import (
    DEFAULT_LIMITS,
    CentreSummary,
    Limits,
    QueueLimits,
    Thresholds,
    centre_summary,
)
from core.state.store import Store

logger = logging.getLogger(__name__)

GROUP = "thresholds"
DEFAULT_KEY = f"{GROUP}/default"
QUEUES_GROUP = f"{GROUP}/queues"


def limits_to_text(limits: QueueLimits) -> str:
    """``3,8,60,180,80,60``: the six numbers of one scope (empty = off)."""
    values: list[str] = []
    for pair in (limits.waiting, limits.longest_wait_s, limits.service_level_pct):
        values.extend("" if v is None else f"{v:g}" for v in (pair.warning, pair.critical))
    return ",".join(values)


def limits_from_text(text: str) -> QueueLimits:
    """The thresholds of :func:`limits_to_text`'s text.

    Raises:
        ValueError: when the text is not six numbers (or empty places) in a usable order.
    """
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 6:
        raise ValueError(f"six values expected, found {len(parts)}")
    numbers = [None if p == "" else float(p) for p in parts]
    limits = QueueLimits(
        waiting=Limits(numbers[0], numbers[1]),
        longest_wait_s=Limits(numbers[2], numbers[3]),
        service_level_pct=Limits(numbers[4], numbers[5], below=True),
    )
    problem = limits.problem()
    if problem is not None:
        raise ValueError(problem)
    return limits


def _read(settings: QSettings, key: str) -> QueueLimits | None:
    value = settings.value(key)
    if value is None:
        return None
    text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
    try:
        return limits_from_text(text)
    except ValueError as exc:
        logger.warning("thresholds %s ignored (%s): the defaults apply", key, exc)
        return None


def load_thresholds(settings: QSettings) -> Thresholds:
    """The thresholds kept in ``settings``; the defaults where nothing (usable) is kept."""
    default = _read(settings, DEFAULT_KEY) or DEFAULT_LIMITS
    settings.beginGroup(QUEUES_GROUP)
    queue_ids = settings.childKeys()
    settings.endGroup()
    per_queue = {}
    for queue_id in queue_ids:
        limits = _read(settings, f"{QUEUES_GROUP}/{queue_id}")
        if limits is not None:
            per_queue[queue_id] = limits
    return Thresholds(default, per_queue)


def save_thresholds(settings: QSettings, thresholds: Thresholds) -> None:
    """Keep ``thresholds`` in ``settings`` (queues without their own are removed).

    Raises:
        ValueError: with a supervisor's words, when the thresholds cannot be used.
    """
    problem = thresholds.problem()
    if problem is not None:
        raise ValueError(problem)
    settings.remove(GROUP)
    if thresholds.default != DEFAULT_LIMITS:
        settings.setValue(DEFAULT_KEY, limits_to_text(thresholds.default))
    for queue_id, limits in thresholds.per_queue.items():
        settings.setValue(f"{QUEUES_GROUP}/{queue_id}", limits_to_text(limits))
    settings.sync()


def glance(store: Store, settings: QSettings, now: datetime | None = None) -> CentreSummary:
    """The contact centre's summary under the thresholds kept in ``settings``."""
    return centre_summary(store, load_thresholds(settings), now or datetime.now(UTC))
