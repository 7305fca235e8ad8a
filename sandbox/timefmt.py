"""Timestamps the way Genesys writes them: ISO-8601, UTC, milliseconds, a trailing ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(epoch_s: float) -> str:
    """Format seconds since the epoch as ``2026-11-27T08:41:12.045Z``."""
    moment = datetime.fromtimestamp(epoch_s, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def interval_30min(epoch_s: float) -> str:
    """The analytics interval ``start/end`` of the 30-minute slot that holds ``epoch_s``."""
    start = epoch_s - (epoch_s % 1800)
    return f"{iso(start)}/{iso(start + 1800)}"


def local_midnight(epoch_s: float) -> float:
    """The epoch seconds of the start of the local day holding ``epoch_s`` ("today")."""
    moment = datetime.fromtimestamp(epoch_s).astimezone()
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
