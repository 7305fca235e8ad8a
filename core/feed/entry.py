"""The feed's leaf value types: :class:`FeedEntry` and its kinds.

The journal, the rule replay, the boards and the filters all read feed entries; keeping the type
here, apart from the builder (which needs the engine's records and the alerts), lets every one
of them import it without pulling in the service or making a cycle. Stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

KINDS: Final[tuple[str, ...]] = (
    "presence",
    "routing",
    "queue",
    "membership",
    "connection",
    "gap",
    "budget",
    "alert",
)
"""Every kind of feed entry, in the order the filters list them."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One line of the feed (and one row of the journal)."""

    at: datetime
    kind: str  # one of KINDS
    subject_id: str
    subject: str
    summary: str
    severity: str = "info"  # info | warning
    data: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
