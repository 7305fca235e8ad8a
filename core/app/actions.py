"""Status changes the person makes, carried out and journaled: who, when, what, on whom, outcome.

A supervisor putting an agent back on queue (or an agent changing their own status) is news the
journal must keep: each attempt becomes one feed entry of kind ``action`` whose summary reads as
a sentence ("You put Avery Ito On Queue") and whose data holds the details for the export. A
refused or failed attempt is journaled too (as a warning), then the error goes on to the caller,
which tells the person; a refusal's message names the permission to ask for.

The entries go through the pipeline's :meth:`~core.app.pipeline.Pipeline.publish_entries`, so
they land in the journal and the feed like every other entry.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.errors import (
    ApiError,
    GenesysTrayError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from core.feed.entry import FeedEntry
from core.feed.payloads import FeedKind, RawData
from core.rest import user_actions
from core.rest.client import ApiClient
from core.rest.user_actions import OFF_QUEUE, ON_QUEUE, ActionRefused

logger = logging.getLogger(__name__)

EntrySink = Callable[[list[FeedEntry]], None]
Clock = Callable[[], datetime]


class ActionKind(enum.StrEnum):
    """What was changed (the stored ``action`` value)."""

    PRESENCE = "presence"
    ROUTING = "routing"
    LOG_OFF = "logOff"


class Outcome(enum.StrEnum):
    """How an attempt ended (the stored ``outcome`` value)."""

    DONE = "done"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Action:
    """One attempted change: on whom, what, and to which value (in words too)."""

    kind: ActionKind
    target_id: str
    target_name: str
    value: str  # presence definition id, ON_QUEUE / OFF_QUEUE, or "" for log off
    value_label: str = ""  # the presence's label as the org names it


def _utc_now() -> datetime:
    return datetime.now(UTC)


def reason_words(error: BaseException) -> str:
    """Why a change did not happen, in words a supervisor reads."""
    if isinstance(error, ActionRefused):
        return error.message
    if isinstance(error, TransportError):
        return "Genesys Cloud could not be reached."
    if isinstance(error, RateLimitedError):
        return "Genesys Cloud asked to slow down; try again in a minute."
    if isinstance(error, NotFoundError):
        return "Genesys Cloud does not know this person any more."
    if isinstance(error, ServerError):
        return "Genesys Cloud had a problem; try again."
    if isinstance(error, ApiError):
        return "Genesys Cloud did not accept the change."
    return "Something went wrong; the change was not made."


class ActionJournal:
    """Journals every attempt of one signed-in person (the actor)."""

    def __init__(
        self, sink: EntrySink, *, actor_id: str, actor_name: str, clock: Clock = _utc_now
    ) -> None:
        self._sink = sink
        self.actor_id = actor_id
        self.actor_name = actor_name
        self._clock = clock

    def _phrases(self, action: Action) -> tuple[str, str]:
        """The change after "You" and after "Could not": ("put Avery Ito On Queue", same)."""
        own = action.target_id == self.actor_id
        name = action.target_name or "an agent"
        if action.kind is ActionKind.PRESENCE:
            label = action.value_label or "another status"
            words = f"set your status to {label}" if own else f"set {name} to {label}"
            return words, words
        if action.kind is ActionKind.ROUTING:
            queue = "On Queue" if action.value == ON_QUEUE else "Off Queue"
            if own:
                return f"went {queue}", f"go {queue}"
            if action.value == ON_QUEUE:
                return f"put {name} On Queue", f"put {name} On Queue"
            return f"took {name} Off Queue", f"take {name} Off Queue"
        who = "yourself" if own else name
        return f"logged {who} off", f"log {who} off"

    def describe(self, action: Action) -> str:
        """The change as "You ..." words: "You put Avery Ito On Queue", "You went Off Queue"."""
        return f"You {self._phrases(action)[0]}"

    def record(
        self, action: Action, outcome: Outcome, *, permission: str | None = None, reason: str = ""
    ) -> FeedEntry:
        """Journal one attempt and hand it to the feed; returns the entry."""
        if outcome is Outcome.DONE:
            summary, severity = self.describe(action), "info"
        else:
            summary, severity = f"Could not {self._phrases(action)[1]}: {reason}", "warning"
        data: dict[str, Any] = {
            "actorId": self.actor_id,
            "actorName": self.actor_name,
            "action": action.kind.value,
            "targetId": action.target_id,
            "targetName": action.target_name,
            "value": action.value,
            "valueLabel": action.value_label,
            "outcome": outcome.value,
        }
        if permission:
            data["permission"] = permission
        entry = FeedEntry(
            self._clock(),
            FeedKind.ACTION.value,
            action.target_id,
            action.target_name,
            summary,
            severity,
            RawData(data),
        )
        self._sink([entry])
        return entry

    async def carry_out(self, action: Action, call: Awaitable[None]) -> FeedEntry:
        """Await ``call`` (the change) and journal how it ended; errors go on after that."""
        try:
            await call
        except ActionRefused as refused:
            self.record(
                action, Outcome.REFUSED, permission=refused.permission, reason=refused.message
            )
            raise
        except (GenesysTrayError, ValueError) as exc:
            self.record(action, Outcome.FAILED, reason=reason_words(exc))
            raise
        logger.info("action done: %s on %s", action.kind.value, action.target_id[:8])
        return self.record(action, Outcome.DONE)


class StatusActions:
    """The status changes the GUI offers, each carried out through the API and journaled.

    Every method returns the journaled entry; on failure it journals the attempt and raises
    (:class:`~core.rest.user_actions.ActionRefused` with ``.message`` naming the permission, or
    the client's usual errors: see :func:`reason_words` for words to show).
    """

    def __init__(self, api: ApiClient, journal: ActionJournal) -> None:
        self.api = api
        self.journal = journal

    async def set_presence(
        self, user_id: str, user_name: str, presence_id: str, label: str
    ) -> FeedEntry:
        """Set someone's (or my own) presence to an org definition."""
        action = Action(ActionKind.PRESENCE, user_id, user_name, presence_id, label)
        return await self.journal.carry_out(
            action, user_actions.set_presence(self.api, user_id, presence_id)
        )

    async def set_routing_status(self, user_id: str, user_name: str, status: str) -> FeedEntry:
        """Put someone (or me) ``ON_QUEUE`` or ``OFF_QUEUE``."""
        action = Action(ActionKind.ROUTING, user_id, user_name, status)
        if status not in (ON_QUEUE, OFF_QUEUE):
            raise ValueError(f"status must be {ON_QUEUE} or {OFF_QUEUE}, not {status!r}")
        return await self.journal.carry_out(
            action, user_actions.set_routing_status(self.api, user_id, status)
        )

    async def log_off(self, user_id: str, user_name: str) -> FeedEntry:
        """Sign someone out of Genesys Cloud (they go Offline)."""
        action = Action(ActionKind.LOG_OFF, user_id, user_name, "")
        return await self.journal.carry_out(action, user_actions.log_off(self.api, user_id))
