"""The Qt-free delivery policy: snooze, quiet hours, mute while busy, coalescing, notice keys."""

from __future__ import annotations

from datetime import datetime
from datetime import time as clock_time

import pytest

from core.alerts.delivery import (
    BUSY,
    QUIET_HOURS,
    SNOOZED,
    CoalescingWindow,
    DeliveryPolicy,
    in_quiet_hours,
    notice_key,
)

NOON = datetime(2025, 3, 10, 12, 0).timestamp()  # local time


def test_notice_key_names_rule_and_subject() -> None:
    assert notice_key("long-wait", "q-sales") == "long-wait:q-sales"


@pytest.mark.parametrize(
    ("moment", "inside"),
    [(clock_time(23, 0), True), (clock_time(6, 59), True), (clock_time(7, 0), False)],
)
def test_quiet_hours_wrap_midnight(moment: clock_time, inside: bool) -> None:
    assert in_quiet_hours(moment, clock_time(22, 0), clock_time(7, 0)) is inside


def test_equal_quiet_hours_are_empty() -> None:
    assert not in_quiet_hours(clock_time(9, 0), clock_time(9, 0), clock_time(9, 0))


def test_suppression_names_the_first_reason_that_holds() -> None:
    policy = DeliveryPolicy(mute_while_busy=True)
    assert policy.suppression(NOON) == ""
    policy.self_busy = True
    assert policy.suppression(NOON) == BUSY
    policy.quiet_hours = (clock_time(11, 0), clock_time(13, 0))
    assert policy.suppression(NOON) == QUIET_HOURS
    policy.snoozed_until = NOON + 60
    assert policy.suppression(NOON) == SNOOZED
    assert policy.suppression(NOON + 60) == QUIET_HOURS  # the snooze ran out


def test_window_batches_while_open_and_newest_per_key_wins() -> None:
    window = CoalescingWindow[str](5.0)
    assert window.admit("a", "a1")  # a quiet period: out at once
    assert window.open()
    assert not window.admit("a", "a2")
    assert not window.admit("b", "b1")
    window.discard("b")
    assert window.close() == ["a2"]
    assert not window.is_open
    assert window.admit("a", "a3")


def test_window_of_zero_never_opens() -> None:
    window = CoalescingWindow[str](0.0)
    assert not window.open()
    assert window.admit("a", "a1")
