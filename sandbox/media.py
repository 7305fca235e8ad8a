"""Media types of a multichannel contact centre and how each surface spells them.

Analytics writes the media type in lower case (``voice``, ``callback``, ``chat``, ``message``,
``email``: genesys-api.md 5.9, 5.10, 6.8); the queue conversation topics name the media in the
plural (``.conversations.calls``, 5.7), the generic topic nests the session under
``calls[]``/``callbacks[]``/... (5.6) and the conversation summary has one block per media in the
singular (``call``, ``callback``, ..., 5.4). The numbers here shape believable traffic: voice is
the bulk, digital interactions last longer and an agent can hold several at once.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass

logger = logging.getLogger(__name__)

VOICE = "voice"
MEDIA_TYPES = ("voice", "callback", "chat", "message", "email")
DIGITAL = frozenset({"chat", "message", "email"})
EXCLUSIVE = frozenset({"voice", "callback"})  # an agent on one takes nothing else


@dataclass(frozen=True, slots=True)
class MediaProfile:
    """Where a media appears on each surface and how its interactions behave (simulated s)."""

    media: str
    topic_suffix: str  # .conversations.<suffix>
    session_key: str  # participants[].<key>[] of the generic topic
    summary_key: str  # block of the conversation summary
    share: float  # share of a mixed queue's traffic
    ring_s: tuple[float, float]
    talk_s: tuple[float, float]
    acw_s: tuple[float, float]
    patience_s: tuple[float, float]


PROFILES: dict[str, MediaProfile] = {
    p.media: p
    for p in (
        MediaProfile(
            "voice", "calls", "calls", "call", 0.55, (2, 6), (45, 300), (8, 45), (40, 400)
        ),
        MediaProfile(
            "callback",
            "callbacks",
            "callbacks",
            "callback",
            0.08,
            (2, 6),
            (60, 240),
            (8, 30),
            (600, 1800),
        ),
        MediaProfile(
            "chat", "chats", "chats", "chat", 0.15, (2, 8), (120, 600), (5, 20), (60, 600)
        ),
        MediaProfile(
            "message",
            "messages",
            "messages",
            "message",
            0.12,
            (2, 8),
            (180, 900),
            (5, 20),
            (300, 1800),
        ),
        MediaProfile(
            "email", "emails", "emails", "email", 0.10, (2, 8), (120, 600), (10, 60), (3600, 7200)
        ),
    )
}
BY_TOPIC_SUFFIX = {p.topic_suffix: p.media for p in PROFILES.values()}
MAX_CHATS_AND_MESSAGES = 3


def queue_media_mixes(count: int, seed: int, *, multichannel: bool) -> list[dict[str, float]]:
    """Traffic shares per media for ``count`` queues: some voice only, at least half mixed.

    A separate generator (seeded from ``seed``) keeps the org's ids and the simulation's draws
    the same whether or not the org is multichannel.
    """
    if not multichannel:
        return [{VOICE: 1.0} for _ in range(count)]
    rng = random.Random(f"media-mix-{seed}")
    half = math.ceil(count / 2)
    mixed_count = min(count - 1, half + rng.randint(0, max(0, count - 1 - half)))
    mixed_count = max(mixed_count, half if count > 1 else count)
    mixed = set(rng.sample(range(count), k=mixed_count))
    others = [m for m in MEDIA_TYPES if m != VOICE]
    mixes: list[dict[str, float]] = []
    for index in range(count):
        if index not in mixed:
            mixes.append({VOICE: 1.0})
            continue
        chosen = [m for m in others if rng.random() < 0.7]
        while len(chosen) < 2:
            extra = rng.choice([m for m in others if m not in chosen])
            chosen.append(extra)
        media = [VOICE, *sorted(chosen, key=MEDIA_TYPES.index)]
        total = sum(PROFILES[m].share for m in media)
        mixes.append({m: PROFILES[m].share / total for m in media})
    return mixes


def pick_media(rng: random.Random, mix: dict[str, float]) -> str:
    """One media type drawn by the queue's traffic shares."""
    roll = rng.random()
    for media, share in mix.items():
        roll -= share
        if roll < 0:
            return media
    return next(iter(mix))
