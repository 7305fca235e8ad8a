"""What to ask your admin for: which parts of the app the signed-in person's permissions leave out.

At sign-in the app reads the person's permissions (``GET /api/v2/users/me?expand=authorization``,
genesys-api.md 6.1) and lists each part that will not work and why, naming the permission to ask
for. The table is the app's own use of the API; each permission is the one Genesys documents
for the call or topic behind the part (confidence noted beside it). A service account has no
"me": its permissions cannot be read this way, so :func:`check_at_sign_in` answers None.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from core.errors import ApiError, TransportError
from core.rest.client import ApiClient
from core.rest.user_actions import LOG_OFF_PERMISSION, PRESENCE_EDIT

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AppPart:
    """One part of the app and every permission it needs (all of them)."""

    name: str
    needs: tuple[str, ...]
    without: str  # what the person sees without it


PARTS: Final[tuple[AppPart, ...]] = (
    AppPart(  # GET /routing/queues, queue members, v2.routing.queues.{id}.users (SDK docs)
        "Queues and their members",
        ("routing:queue:view",),
        "the Queues board and the agents of your queues stay empty",
    ),
    AppPart(  # POST /users/search (SDK docs, genesys-api.md 6.3)
        "Finding agents by name in What to watch",
        ("directory:user:view",),
        "you can watch the members of your queues only",
    ),
    AppPart(  # GET /presence/definitions (SDK docs, genesys-api.md 6.6)
        "Your org's own status names",
        ("presence:presenceDefinition:view",),
        "statuses show their system names (Lunch shows as Meal)",
    ),
    AppPart(  # analytics queue observations query and topics (genesys-api.md 6.8, 5.9)
        "Live queue figures",
        ("analytics:queueObservation:view",),
        "waiting, on-queue and off-queue counts stay empty",
    ),
    AppPart(  # conversation aggregates query (SDK docs)
        "Today's queue figures",
        ("analytics:conversationAggregate:view",),
        "offered, answered, abandoned and service level stay empty",
    ),
    AppPart(  # v2.routing.queues.{id}.conversations and v2.users.{id}.conversationsummary
        "Waiting calls and agents' conversations",
        ("conversation:communication:view",),
        "the longest wait, the media split and agents' conversation counts stay empty",
    ),
    AppPart(  # PATCH presences of another user (confirmed, July 2025); routing: assumed
        "Changing an agent's status or putting them on or off queue",
        (PRESENCE_EDIT,),
        "you can change your own status only",
    ),
    AppPart(  # DELETE /tokens/{userId} (SDK docs: oauth:token:delete)
        "Logging an agent off",
        (LOG_OFF_PERMISSION,),
        "Log off is refused",
    ),
    AppPart(  # the EventBridge guide creates the integration (core.rest.integrations)
        "Setting up EventBridge from the app",
        ("integrations:integration:add",),
        "the guide shows what to hand your admin instead",
    ),
)


def grants(permissions: Iterable[str], wanted: str) -> bool:
    """Whether held permissions grant ``wanted`` (``domain:entity:action``; ``*`` wildcards)."""
    parts = wanted.split(":")
    for held in permissions:
        if held == "*":
            return True
        have = held.split(":")
        if len(have) == len(parts) and all(h in ("*", w) for h, w in zip(have, parts, strict=True)):
            return True
    return False


def lacking(permissions: Iterable[str]) -> list[tuple[AppPart, list[str]]]:
    """Each part that will not work and the permissions it still needs, in table order."""
    held = list(permissions)
    out: list[tuple[AppPart, list[str]]] = []
    for part in PARTS:
        missing = [p for p in part.needs if not grants(held, p)]
        if missing:
            out.append((part, missing))
    return out


def missing_parts(permissions: Iterable[str]) -> list[str]:
    """One plain line per part that will not work: what, why, and what to ask for.

    E.g. "Logging an agent off: Log off is refused. Ask your admin for oauth:token:delete."
    """
    lines = []
    for part, missing in lacking(permissions):
        ask = " and ".join(missing)
        lines.append(f"{part.name}: {part.without}. Ask your admin for {ask}.")
    return lines


def admin_checklist() -> list[str]:
    """Every part and the permissions it needs, for the welcome dialog and the README."""
    return [f"{part.name}: {', '.join(part.needs)}" for part in PARTS]


async def check_at_sign_in(api: ApiClient) -> list[str] | None:
    """The parts the signed-in person's permissions leave out; None when they cannot be read
    (a service account has no "me", or the org did not answer)."""
    try:
        me = await api.me()
    except (ApiError, TransportError) as exc:
        logger.info("permissions not readable at sign-in: %s", type(exc).__name__)
        return None
    lines = missing_parts(me.permissions)
    if lines:
        logger.info("%d part(s) of the app lack a permission", len(lines))
    return lines
