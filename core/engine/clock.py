"""Noticing a suspend or a clock change, from the two clocks the engine has.

The wall clock (``time.time``) runs on through a suspend and can be set by hand; the monotonic
clock (``time.monotonic``, what asyncio sleeps on) stands still while the computer is asleep and
is never set. Between two looks a little apart, both move by the same amount; when they do not,
the computer slept or its clock was changed, and whatever was timed on one of them must be
looked at again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

logger = logging.getLogger(__name__)

CLOCK_JUMP_S = 5.0  # the clocks drifting apart by more than this between two looks is a jump


class ClockWatch:
    """Compares how far the wall and the monotonic clocks moved since the last look."""

    def __init__(
        self,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
        *,
        tolerance_s: float = CLOCK_JUMP_S,
    ) -> None:
        self.clock = clock
        self.monotonic = monotonic
        self.tolerance_s = tolerance_s
        self.wall = 0.0  # the wall clock at the last look
        self.mono = 0.0  # the monotonic clock at the last look
        self._looked = False

    def look(self) -> float:
        """Read both clocks; the seconds the wall clock moved beyond the monotonic one.

        0.0 when they kept in step (or at the first look); positive after a suspend or a clock
        set forward, negative after a clock set back.
        """
        wall, mono = self.clock(), self.monotonic()
        looked, last_wall, last_mono = self._looked, self.wall, self.mono
        self.wall, self.mono, self._looked = wall, mono, True
        if not looked:
            return 0.0
        skew = (wall - last_wall) - (mono - last_mono)
        if not math.isfinite(skew) or abs(skew) <= self.tolerance_s:
            return 0.0
        return skew

    def forget(self) -> None:
        """Start afresh: the next look compares with nothing (after a long deliberate wait)."""
        self._looked = False


def about(seconds: float) -> str:
    """A duration in plain words: "3 h", "2 h 30 min", "45 min", "12 s"."""
    seconds = abs(seconds)
    if not math.isfinite(seconds):
        return "a very long time"
    if seconds < 90:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" if minutes == 0 else f"{hours} h {minutes} min"


def describe_jump(skew: float) -> str:
    """What a jump of ``skew`` seconds (see :meth:`ClockWatch.look`) means, for the log."""
    if skew > 0:
        return f"the computer was asleep, or its clock was set forward, for about {about(skew)}"
    return f"the computer's clock was set back by about {about(skew)}"
