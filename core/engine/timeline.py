"""The connection timeline: what happened to the link, kept for a support ticket.

:class:`ConnectionTimeline` is a service listener (``service.add_listener(timeline.on_record)``)
and a token listener (``auth.add_listener(timeline.on_token)``). It keeps a bounded history of
engine states (with their reasons: close codes, reconnects, health checks), gaps and the re-syncs
that closed them, budget changes and token renewals. It never keeps a token: only the grant and
when the new one expires. "Export diagnostics" writes it as JSON.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from core.auth.tokens import TokenSet
from core.engine.records import BudgetRecord, GapRecord, Record, StateRecord

DEFAULT_TIMELINE_SIZE: Final = 2000

EntryKind = Literal["state", "gap", "resync", "token", "budget", "note"]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One moment of the link's history."""

    at: datetime
    kind: EntryKind
    detail: str
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The entry as the diagnostics file stores it."""
        return {
            "at": self.at.isoformat(timespec="milliseconds"),
            "kind": self.kind,
            "detail": self.detail,
            **self.data,
        }


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ConnectionTimeline:
    """A bounded, newest-last history of the connection (states, gaps, re-syncs, tokens)."""

    def __init__(
        self,
        max_entries: int = DEFAULT_TIMELINE_SIZE,
        *,
        now: Callable[[], datetime] = _utc_now,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create an empty timeline.

        Args:
            max_entries: the oldest entries are dropped beyond this many.
            now: the wall clock of the entries' timestamps.
            clock: epoch seconds, to say how long a renewed token is good for.
        """
        if max_entries < 1:
            raise ValueError("a timeline keeps at least one entry")
        self._entries: deque[TimelineEntry] = deque(maxlen=max_entries)
        self._now = now
        self._clock = clock
        self._last_budget: tuple[int, int, int] | None = None
        self._had_token = False

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[TimelineEntry]:
        """Every kept entry, oldest first."""
        return list(self._entries)

    def to_json(self) -> list[dict[str, Any]]:
        """Every kept entry as JSON values, oldest first."""
        return [entry.to_json() for entry in self._entries]

    def note(self, detail: str, **data: Any) -> None:
        """Record something the app saw (resume from sleep, network change, sign-out)."""
        self._add("note", detail, data)

    def _add(self, kind: EntryKind, detail: str, data: dict[str, Any] | None = None) -> None:
        self._entries.append(TimelineEntry(self._now(), kind, detail, dict(data or {})))

    # ------------------------------------------------------------------ listeners
    def on_record(self, record: Record) -> None:
        """The service listener: keeps states, gaps, re-syncs and budget changes."""
        if isinstance(record, StateRecord):
            self._add("state", record.detail, {"state": record.state.value})
        elif isinstance(record, GapRecord):
            if record.phase == "start":
                self._add("gap", record.reason, {"phase": "start"})
            else:
                lasted = (record.ended - record.started).total_seconds() if record.ended else None
                self._add(
                    "resync",
                    record.reason,
                    {
                        "phase": "end",
                        "gap_s": None if lasted is None else round(lasted, 3),
                        "users_resynced": record.users_resynced,
                        "queues_resynced": record.queues_resynced,
                        "changed": record.changed,
                    },
                )
        elif isinstance(record, BudgetRecord):
            key = (record.topics, record.channels, len(record.rejected))
            if key != self._last_budget:  # the service re-reports unchanged budgets often
                self._last_budget = key
                self._add(
                    "budget",
                    f"{record.topics} topics on {record.channels} channels",
                    {
                        "topics": record.topics,
                        "channels": record.channels,
                        "rejected": len(record.rejected),
                        "over_budget": len(record.over_budget),
                    },
                )

    def on_token(self, token: TokenSet | None) -> None:
        """The token listener: a renewal or sign-in (never the token itself), or its loss."""
        if token is None:
            self._had_token = False
            self._add("token", "signed out or the session was lost", {})
            return
        what = "renewed" if self._had_token else "obtained"
        self._had_token = True
        self._add(
            "token",
            f"{token.grant} token {what}",
            {
                "grant": token.grant,
                "good_for_s": round(token.expires_at - self._clock()),
                "renewable": token.renewable_silently,
            },
        )
