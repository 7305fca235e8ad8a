"""Snooze "until tomorrow" ends at 07:00 on the local wall clock, also when the clocks change."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from core.alerts.delivery import until_tomorrow_morning

BERLIN = "Europe/Berlin"


@pytest.fixture
def system_zone() -> Iterator[None]:
    """The process's local time is Berlin's (the way the app reads it), then restored."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = BERLIN
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


# (now, tomorrow 07:00 local), both with Berlin's offset of the day written out.
CASES = [
    # Spring forward: the night of 29 to 30 March 2025 loses an hour (+01:00 -> +02:00).
    ("2025-03-29T12:00:00+01:00", "2025-03-30T07:00:00+02:00"),
    ("2025-03-29T23:59:00+01:00", "2025-03-30T07:00:00+02:00"),
    # Fall back: the night of 25 to 26 October 2025 gains an hour (+02:00 -> +01:00).
    ("2025-10-25T12:00:00+02:00", "2025-10-26T07:00:00+01:00"),
    ("2025-10-26T00:30:00+02:00", "2025-10-27T07:00:00+01:00"),
    # An ordinary night, and the day after each change.
    ("2025-06-01T20:00:00+02:00", "2025-06-02T07:00:00+02:00"),
    ("2025-03-30T12:00:00+02:00", "2025-03-31T07:00:00+02:00"),
    ("2025-10-26T12:00:00+01:00", "2025-10-27T07:00:00+01:00"),
]


@pytest.mark.parametrize(("now", "expected"), CASES)
@pytest.mark.usefixtures("system_zone")
def test_until_tomorrow_follows_the_system_zone_across_dst(now: str, expected: str) -> None:
    assert _utc(until_tomorrow_morning(_epoch(now))) == _utc(_epoch(expected))


@pytest.mark.parametrize(("now", "expected"), CASES)
def test_until_tomorrow_in_a_given_zone_across_dst(now: str, expected: str) -> None:
    moment = until_tomorrow_morning(_epoch(now), ZoneInfo(BERLIN))
    assert _utc(moment) == _utc(_epoch(expected))
