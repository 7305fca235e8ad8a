"""How durations and statuses read, everywhere: boards, the feed, alert summaries, rule words.

One rounding for every duration (to the nearest whole second, never below zero), so a gap the
feed calls ``00:42`` is the 42 s an alert summary names and the board's clock shows.
"""

from __future__ import annotations


def whole_seconds(seconds: float) -> int:
    """The duration in whole seconds, rounded to the nearest; negative clamps to 0."""
    return max(0, round(seconds))


def clock_text(seconds: float) -> str:
    """``mm:ss`` under an hour, ``h:mm:ss`` from an hour on: a running time on a board."""
    hours, rest = divmod(whole_seconds(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def duration_text(seconds: float) -> str:
    """``42 s``, ``1 min 30 s``, ``32 min``, ``1 h 5 min``: how long, the way people say it."""
    total = whole_seconds(seconds)
    if total < 60:
        return f"{total} s"
    if total < 3600:
        minutes, rest = divmod(total, 60)
        return f"{minutes} min" if rest == 0 or minutes >= 10 else f"{minutes} min {rest} s"
    hours, rest = divmod(total, 3600)
    minutes = rest // 60
    return f"{hours} h" if minutes == 0 else f"{hours} h {minutes} min"


def status_text(value: str | None) -> str:
    """``NOT_RESPONDING`` → ``Not Responding``; empty when unknown."""
    return value.replace("_", " ").title() if value else ""
