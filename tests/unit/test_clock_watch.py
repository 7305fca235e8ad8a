"""Telling a suspend or a clock change from time passing (core.engine.clock)."""

from __future__ import annotations

import math

from core.engine.clock import CLOCK_JUMP_S, ClockWatch, about, describe_jump


class Clock:
    """A clock that moves only when the test moves it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_clocks_in_step_are_no_jump_and_a_suspend_or_a_change_is() -> None:
    wall, mono = Clock(1_700_000_000.0), Clock(50.0)
    watch = ClockWatch(wall, mono)
    assert watch.look() == 0.0  # the first look compares with nothing
    wall.now += 30.0
    mono.now += 30.0
    assert watch.look() == 0.0
    wall.now += CLOCK_JUMP_S - 1  # a small drift (NTP, a busy loop) is not a jump
    assert watch.look() == 0.0
    wall.now += 3 * 3600.0  # asleep: the monotonic clock stood still
    assert watch.look() == 3 * 3600.0
    assert watch.look() == 0.0  # told once
    wall.now -= 2 * 3600.0
    mono.now += 10.0
    assert watch.look() == -2 * 3600.0 - 10.0
    wall.now = math.nan  # a broken clock is no jump to act on
    assert watch.look() == 0.0


def test_forget_starts_afresh() -> None:
    wall, mono = Clock(0.0), Clock(0.0)
    watch = ClockWatch(wall, mono)
    watch.look()
    watch.forget()
    wall.now += 3600.0
    assert watch.look() == 0.0


def test_jumps_are_told_in_plain_words() -> None:
    assert about(12) == "12 s"
    assert about(45 * 60) == "45 min"
    assert about(3 * 3600 + 2) == "3 h"
    assert about(-(2 * 3600 + 30 * 60)) == "2 h 30 min"
    assert about(math.inf) == "a very long time"
    assert "asleep" in describe_jump(3 * 3600) and "3 h" in describe_jump(3 * 3600)
    assert "set back by about 2 h" in describe_jump(-2 * 3600)
