"""Media types: the split Genesys Cloud makes of every queue's conversation counters.

Real queues are multichannel. The observation topic's ``group`` is ``{queueId, mediaType}``
(genesys-api.md 5.9, 6.8): a queue with voice, chat and email traffic publishes one event per
group, each with that group's counts only, and ``.activity`` bodies may carry only the media
blocks that changed (5.10). A queue's waiting count is therefore the *sum* over its media
groups, and every source must say which group it speaks for. This leaf module holds the value
type and the spellings; it imports nothing of ours.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# The key of counters from a source that does not split by media (a queue-only group).
WHOLE_QUEUE = ""

# Media-specific conversation topics (5.7) and the participant session arrays of the generic
# topic (5.6), by the analytics ``mediaType`` they stand for.
MEDIA_BY_TOPIC_SUFFIX: Mapping[str, str] = {
    "calls": "voice",
    "callbacks": "callback",
    "chats": "chat",
    "emails": "email",
    "messages": "message",
    "videos": "video",
    "cobrowsesessions": "cobrowse",
    "screenshares": "screenshare",
    "socialexpressions": "socialexpression",
}
MEDIA_SESSION_KEYS: tuple[str, ...] = (
    "calls",
    "callbacks",
    "chats",
    "emails",
    "messages",
    "videos",
    "cobrowsesessions",
    "screenshares",
    "socialExpressions",
)
_ALIASES = {"call": "voice", "calls": "voice", "phone": "voice"}


def normalize_media_type(value: object) -> str:
    """The lower-case analytics spelling (``voice``, ``chat``, ...); ``""`` when unknown."""
    if not isinstance(value, str):
        return WHOLE_QUEUE
    text = value.strip().lower()
    return _ALIASES.get(text, MEDIA_BY_TOPIC_SUFFIX.get(text, text))


@dataclass(frozen=True, slots=True)
class MediaCounts:
    """Conversation counters of one media group of a queue."""

    waiting: int = 0
    interacting: int = 0
    alerting: int = 0
    longest_wait_ms: int | None = None

    @property
    def idle(self) -> bool:
        """Nothing waits, rings or talks in this group."""
        return self.waiting == 0 and self.interacting == 0 and self.alerting == 0

    def merged(
        self,
        *,
        waiting: int | None = None,
        interacting: int | None = None,
        alerting: int | None = None,
        longest_wait_ms: int | None = None,
    ) -> MediaCounts:
        """These counters with the values a partial source did name replaced."""
        w = self.waiting if waiting is None else waiting
        a = self.alerting if alerting is None else alerting
        longest = self.longest_wait_ms if longest_wait_ms is None else longest_wait_ms
        return MediaCounts(
            waiting=w,
            interacting=self.interacting if interacting is None else interacting,
            alerting=a,
            longest_wait_ms=None if w == 0 and a == 0 else longest,
        )


def media_totals(groups: Mapping[str, MediaCounts]) -> MediaCounts:
    """The queue as a whole: counts summed over its groups, the longest wait of any."""
    waits = [g.longest_wait_ms for g in groups.values() if g.longest_wait_ms is not None]
    return MediaCounts(
        waiting=sum(g.waiting for g in groups.values()),
        interacting=sum(g.interacting for g in groups.values()),
        alerting=sum(g.alerting for g in groups.values()),
        longest_wait_ms=max(waits) if waits else None,
    )


def busy_groups(groups: Iterable[tuple[str, MediaCounts]]) -> dict[str, MediaCounts]:
    """Only the groups with something in them (an idle group and an absent one are the same)."""
    return {media: counts for media, counts in groups if not counts.idle}
