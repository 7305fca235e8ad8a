"""Genesys system presences and the one normaliser every room compares them with.

The API spells a system presence three ways (REST ``On Queue``, the new definitions API
``OnQueue``, events ``ON_QUEUE``) and people type a fourth (``meal``); everything is compared in
the upper-snake form, so the spellings are folded here once (genesys-api.md 6.11).
"""

from __future__ import annotations

import re
from typing import Final

SYSTEM_PRESENCES: Final[tuple[str, ...]] = (
    "AVAILABLE",
    "AWAY",
    "BUSY",
    "BREAK",
    "MEAL",
    "MEETING",
    "TRAINING",
    "ON_QUEUE",
    "IDLE",
    "OFFLINE",
)
"""The system presences, upper-snake, in the order pickers list them."""

# "On Queue" (REST), "OnQueue" (new definitions API) and "ON_QUEUE" (events) all squash to this.
_SQUASHED: Final = {p.replace("_", ""): p for p in SYSTEM_PRESENCES}
_SQUASH_RE: Final = re.compile(r"[\s_\-]+")
_CAMEL_RE: Final = re.compile(r"(?<=[a-z])(?=[A-Z])")


def normalize_system_presence(value: str) -> str:
    """The upper-snake system presence (``ON_QUEUE``) of any spelling the API uses.

    REST writes ``On Queue``, the new definitions API ``OnQueue``, events ``ON_QUEUE``; they must
    compare equal. An unknown value is still made upper-snake (``OutOfOffice`` →
    ``OUT_OF_OFFICE``) so it compares stably, and the function never raises.
    """
    text = value.strip() if isinstance(value, str) else ""
    known = _SQUASHED.get(_SQUASH_RE.sub("", text).upper())
    if known is not None:
        return known
    snake = _SQUASH_RE.sub("_", _CAMEL_RE.sub("_", text)).strip("_")
    return snake.upper()


def normalize_presence(presence: str) -> str:
    """A rule's presence: ``"Meal"`` / ``"meal"`` → ``"MEAL"``; definition ids are left alone.

    A rule names either a system presence (any spelling) or an org definition id, which must
    stay exactly as the org wrote it.
    """
    key = normalize_system_presence(presence)
    return key if key in SYSTEM_PRESENCES else presence
