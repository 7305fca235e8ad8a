"""Delivery policy for alert notices: out now, into the coalescing window, or held back.

Qt-free on purpose: the decisions (snooze, quiet hours, mute while busy, coalescing a burst into
one summary) are plain logic over a clock reading, so they are tested without an event loop and
any front end can use them. The Qt :class:`~gui.notifications.notifier.Notifier` owns the timers
and the backends and asks this module what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from datetime import time as clock_time
from typing import Final, Generic, TypeVar

SNOOZE_S: Final = 15 * 60  # what "Snooze 15 min" on a notification means
DEFAULT_COALESCE_WINDOW_S: Final = 5.0
MORNING_HOUR: Final = 7  # "until tomorrow" ends at this local hour

# Why a notice is held back (what :meth:`DeliveryPolicy.suppression` answers).
SNOOZED: Final = "snoozed"
QUIET_HOURS: Final = "quiet hours"
BUSY: Final = "busy"

T = TypeVar("T")


def notice_key(rule_id: str, subject_id: str) -> str:
    """The key of an alert's notice: one notification per rule and subject.

    A rule firing again for the same subject replaces its notification instead of stacking
    another, and the alert resolving withdraws it: both need the same key, so it is built here.
    """
    return f"{rule_id}:{subject_id}"


def until_tomorrow_morning(now: float, zone: tzinfo | None = None) -> float:
    """Epoch seconds of tomorrow's ``MORNING_HOUR``:00 on the local wall clock.

    Built from tomorrow's date and the wall time, then given the offset the zone's rules have
    at that moment: adding a day to an aware datetime keeps today's offset, which is an hour
    off on the night the clocks change. ``zone`` defaults to the system's local time.
    """
    if zone is None:  # naive datetimes are local wall time; timestamp() asks the system's rules
        today = datetime.fromtimestamp(now).date()
        return datetime.combine(today + timedelta(days=1), clock_time(MORNING_HOUR)).timestamp()
    today = datetime.fromtimestamp(now, zone).date()
    morning = datetime.combine(today + timedelta(days=1), clock_time(MORNING_HOUR), tzinfo=zone)
    return morning.timestamp()


def in_quiet_hours(moment: clock_time, start: clock_time, end: clock_time) -> bool:
    """Whether ``moment`` is inside the quiet hours ``start``-``end`` (which may wrap midnight).

    Equal times mean an empty span (no quiet hours), not the whole day.
    """
    if start < end:
        return start <= moment < end
    if start > end:  # e.g. 22:00-07:00
        return moment >= start or moment < end
    return False


@dataclass(slots=True)
class DeliveryPolicy:
    """What holds alert notices back: a snooze, quiet hours, or the user being busy.

    Attributes:
        snoozed_until: when the snooze ends (epoch seconds), or None.
        quiet_hours: the local (start, end) of the quiet hours, or None.
        mute_while_busy: hold notices back while the signed-in user is busy.
        self_busy: the signed-in user is on a call or in a meeting now.
    """

    snoozed_until: float | None = None
    quiet_hours: tuple[clock_time, clock_time] | None = None
    mute_while_busy: bool = False
    self_busy: bool = False

    def snoozed(self, now: float) -> bool:
        """Whether a snooze is running at ``now`` (epoch seconds)."""
        return self.snoozed_until is not None and now < self.snoozed_until

    def in_quiet_hours(self, now: float) -> bool:
        """Whether the local time at ``now`` (epoch seconds) is inside the quiet hours."""
        if self.quiet_hours is None:
            return False
        start, end = self.quiet_hours
        return in_quiet_hours(datetime.fromtimestamp(now).time(), start, end)

    def suppression(self, now: float) -> str:
        """Why a notice would be held back at ``now`` (a reason constant above, "" if none)."""
        if self.snoozed(now):
            return SNOOZED
        if self.in_quiet_hours(now):
            return QUIET_HOURS
        if self.mute_while_busy and self.self_busy:
            return BUSY
        return ""


@dataclass(slots=True)
class CoalescingWindow(Generic[T]):
    """Turns a burst into one notification per window.

    The first notice of a quiet period goes out at once and opens a window of ``window_s``;
    what comes while it is open is batched (a key arriving again: the newest wins), and when the
    window ends the batch goes out as one notice (or a summary) and opens the next window. The
    caller owns the timer: it calls :meth:`open` after showing something and :meth:`close` when
    the window's time is up.

    Attributes:
        window_s: the window's length in seconds (0 or less: never batch).
        is_open: whether a window is open now.
    """

    window_s: float
    is_open: bool = False
    _batch: dict[str, T] = field(default_factory=dict, init=False)

    def admit(self, key: str, item: T) -> bool:
        """True: show ``item`` now; False: it was batched into the open window."""
        if self.is_open:
            self._batch[key] = item
            return False
        return True

    def open(self) -> bool:
        """Open a window after something went out; False when windows are off (no timer)."""
        if self.window_s <= 0:
            return False
        self.is_open = True
        return True

    def close(self) -> list[T]:
        """End the window; returns what it batched, oldest key first."""
        self.is_open = False
        batch = list(self._batch.values())
        self._batch.clear()
        return batch

    def discard(self, key: str) -> None:
        """Forget the batched item with ``key`` (its alert resolved before the window ended)."""
        self._batch.pop(key, None)
