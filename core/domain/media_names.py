"""The words people use for media types, and which media a queue rule can watch on its own.

The analytics spellings (``voice``, ``socialexpression``, ...) are the engine's keys
(:mod:`core.domain.media`); supervisors read "voice", "chat", "social". The boards and the rule
texts
take their words from here, so a queue board and an alert never name the same media twice
differently. Leaf module: imports only :mod:`core.domain.media`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from core.domain.media import MEDIA_BY_TOPIC_SUFFIX, WHOLE_QUEUE, normalize_media_type

# Lower-case words for running text ("chat only"); display labels capitalise them.
MEDIA_WORDS: Final[Mapping[str, str]] = {
    "voice": "voice",
    "callback": "callback",
    "chat": "chat",
    "message": "message",
    "email": "email",
    "video": "video",
    "cobrowse": "co-browse",
    "screenshare": "screen share",
    "socialexpression": "social",
}
# The order media are listed in wherever the order is not the counts' own (pickers, ties).
MEDIA_ORDER: Final[tuple[str, ...]] = tuple(MEDIA_WORDS)
# What the rule editor offers; a rule may name any known media type (a hand-edited file).
RULE_MEDIA: Final[tuple[str, ...]] = ("voice", "callback", "chat", "message", "email")
KNOWN_MEDIA: Final[frozenset[str]] = frozenset(MEDIA_BY_TOPIC_SUFFIX.values())
ALL_MEDIA: Final = ""  # a rule's media filter that watches the whole queue


def media_word(media: str) -> str:
    """``"socialexpression"`` -> ``"social"``; ``""`` (no split by media) -> ``"other"``."""
    if media == WHOLE_QUEUE:
        return "other"
    return MEDIA_WORDS.get(media, media)


def media_label(media: str) -> str:
    """The display label: ``"Voice"``, ``"Co-browse"``, ``"Other"``."""
    word = media_word(media)
    return word[:1].upper() + word[1:]


def rule_media(value: object) -> str | None:
    """A rule's media filter in the engine's spelling (``"calls"`` -> ``"voice"``).

    ``""`` (or None) watches all media; None is returned for anything that is no known media
    type, so a typo in a hand-edited file is refused instead of never matching.
    """
    if value is None or value == ALL_MEDIA:
        return ALL_MEDIA
    if not isinstance(value, str):
        return None
    media = normalize_media_type(value)
    return media if media in KNOWN_MEDIA else None


def media_rank(media: str) -> int:
    """Where ``media`` stands in :data:`MEDIA_ORDER` (unknown ones last)."""
    try:
        return MEDIA_ORDER.index(media)
    except ValueError:
        return len(MEDIA_ORDER)
