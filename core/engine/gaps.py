"""When the stream stopped being whole, and why.

A gap opens when a socket drops (announced at once) or when a socket comes up with events
possibly missed (silently), and closes only with a re-sync run after every socket is back: the
:class:`core.engine.records.GapRecord` pair brackets what the feed may lack.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from core.engine.records import GapRecord


def _now() -> datetime:
    return datetime.now(UTC)


class GapTracker:
    """The open gap: when it started, its reason, and whether its start went out."""

    def __init__(self, wall: Callable[[], datetime] = _now) -> None:
        self.wall = wall
        self.started: datetime | None = None
        self.reason = ""
        self.announced = False  # a GapRecord("start") went out for the open gap

    @property
    def open(self) -> bool:
        """Events may be missing since :attr:`started`."""
        return self.started is not None

    def socket_lost(self, detail: str) -> GapRecord | None:
        """A socket dropped: the start record, unless this gap was announced already.

        Every disconnect is announced, also one that comes while a re-sync is still due for a
        switch or new topics (those open a gap silently; this one is real).
        """
        if self.announced:
            return None
        self.started = self.wall()
        self.reason = detail
        self.announced = True
        return GapRecord("start", detail, self.started)

    def socket_up(self, reason: str) -> None:
        """A socket is up and events before it may be missing: open a gap silently.

        New topics on a live socket are no gap: what stays watched never stopped flowing (the
        re-sync after it only fills in the new subjects' state).
        """
        if self.started is None and reason != "topics changed":
            self.started = self.wall()
            self.reason = reason

    def close(self, *, users_resynced: int, queues_resynced: int, changed: int) -> GapRecord:
        """The re-sync after every socket came back filled the gap: its end record."""
        assert self.started is not None
        record = GapRecord(
            "end",
            self.reason or "connect",
            self.started,
            self.wall(),
            users_resynced=users_resynced,
            queues_resynced=queues_resynced,
            changed=changed,
        )
        self.started = None
        self.reason = ""
        self.announced = False
        return record
