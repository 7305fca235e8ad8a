"""The feed's leaf value type: :class:`FeedEntry`, and the kinds in the order filters list them.

The journal, the rule replay, the boards and the filters all read feed entries; keeping the type
here, apart from the builder (which needs the engine's records and the alerts), lets every one
of them import it without pulling in the service or making a cycle. Stdlib only (and the
payloads, a leaf too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from core.feed.payloads import FeedData, FeedKind, RawData

KINDS: Final[tuple[str, ...]] = tuple(kind.value for kind in FeedKind)
"""Every kind of feed entry as plain text, in the order the filters list them."""

ENGINEERING_KINDS: Final = frozenset({FeedKind.GAP.value, FeedKind.BUDGET.value})
"""Kinds about the app's own plumbing (gaps re-synced, topic budgets): the feed leaves them out
until the person turns them on; the journal keeps them all the same."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One line of the feed (and one row of the journal)."""

    at: datetime
    kind: str  # a FeedKind (rows written by hand may hold any text)
    subject_id: str
    subject: str
    summary: str
    severity: str = "info"  # info | warning
    data: FeedData = field(default_factory=RawData, hash=False, compare=False)
