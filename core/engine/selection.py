"""What the person wants to watch, and how that reads through REST into users and queues.

A :class:`Selection` is said in the person's terms ("my queues", "members", a name pattern);
:func:`read_selection` turns it into explicit ids with names without changing anything, so a
failed read leaves the engine's current watch as it was.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from core.errors import ApiError
from core.rest.schema import QueueMember, QueueRecord, UserRecord

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Selection:
    """What the person wants to watch, in their own terms.

    ``queues``: ``"mine"`` (queues I am a member of), ``"all"``, ``"none"``, a name pattern with
    ``*`` (``"Sales*"``), or explicit ids. ``users``: ``"members"`` (members of the watched
    queues, kept current as membership changes), ``"all"``, ``"none"`` or explicit ids.
    """

    queues: str | tuple[str, ...] = "mine"
    users: str | tuple[str, ...] = "members"


@dataclass(frozen=True, slots=True)
class Directory:
    """The org's queues and users by id with names, for the pickers of "What to watch".

    ``mine``: the queues the signed-in user is a member of (empty for a service account);
    ``member_counts``: members per queue where the server says so.
    """

    queues: dict[str, str]
    mine: frozenset[str]
    users: dict[str, str]
    member_counts: dict[str, int | None]


@dataclass(slots=True)
class Watch:
    """The users and queues watched now, by id with names."""

    users: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Resolution:
    """A selection read through REST: who and what, and each queue's (member, joined) pairs.

    ``records``: the whole user records the read brought ("every user" and explicit ids read
    them with presence and routing), asked for at ``asked_at`` on the clock given to
    :func:`read_selection`; the first re-sync may use them for users no channel carries
    (:meth:`core.engine.readback.ReadBack.offer`).
    """

    users: dict[str, str]
    queues: dict[str, str]
    members: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    records: dict[str, UserRecord] = field(default_factory=dict)
    asked_at: float | None = None


class SelectionApi(Protocol):
    """The REST reads that resolve a selection (``core.rest.client.ApiClient`` provides them)."""

    async def users(self, ids: Iterable[str] | None = None) -> list[UserRecord]:
        """Users with presence and routing status."""

    async def queues(
        self, name: str | None = None, ids: Iterable[str] | None = None
    ) -> list[QueueRecord]:
        """Queues, optionally by name pattern or ids."""

    async def my_queues(self) -> list[QueueRecord]:
        """Queues the signed-in user is a member of."""

    async def queue_members(self, queue_id: str) -> list[QueueMember]:
        """Members of one queue."""


async def read_selection(
    api: SelectionApi,
    sel: Selection,
    *,
    service_account: bool = False,
    me: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Resolution:
    """Resolve a selection through REST, changing nothing (a failure leaves all as it was).

    ``me``: the signed-in person, always watched (the tray shows my own status live).
    ``clock``: says when the user records kept with the resolution were asked for.
    """
    queues: dict[str, str] = {}
    if isinstance(sel.queues, tuple):
        records = await api.queues(ids=sel.queues) if sel.queues else []
        queues = {q.id: q.name for q in records}
        queues.update({qid: queues.get(qid, "") for qid in sel.queues})
    elif sel.queues == "mine" and service_account:
        # A service account has no "me" (genesys-api.md 2.6: /routing/queues/me answers
        # 400): it watches every queue until the person narrows it in "What to watch".
        logger.info("'my queues' needs a signed-in person; a service account watches all")
        queues = {q.id: q.name for q in await api.queues()}
    elif sel.queues == "mine":
        queues = {q.id: q.name for q in await api.my_queues()}
    elif sel.queues == "all":
        queues = {q.id: q.name for q in await api.queues()}
    elif sel.queues != "none":
        queues = {q.id: q.name for q in await api.queues(name=sel.queues)}
    out = Resolution({}, queues)
    asked_at = clock()
    if isinstance(sel.users, tuple):
        read = await api.users(ids=sel.users) if sel.users else []
        named = {u.id: u.name for u in read}
        out.users = {uid: named.get(uid, "") for uid in sel.users}
        _keep(out, read, asked_at)
    elif sel.users == "all":
        read = await api.users()
        out.users = {u.id: u.name for u in read}
        _keep(out, read, asked_at)
    elif sel.users == "members":
        for queue_id in queues:
            pairs = out.members.setdefault(queue_id, [])
            for member in await api.queue_members(queue_id):
                out.users[member.id] = member.user.name
                pairs.append((member.id, member.joined))
    if me and not service_account and me not in out.users:  # named: the board shows me too
        out.users[me] = next((u.name for u in await api.users(ids=(me,)) if u.id == me), "")
    return out


def _keep(out: Resolution, records: list[UserRecord], asked_at: float) -> None:
    """Keep the whole records a read brought, and since when they are true."""
    out.records = {u.id: u for u in records}
    out.asked_at = asked_at


async def read_directory(api: SelectionApi) -> Directory:
    """The org's queues and users for pickers (my queues empty for a service account)."""
    queues = await api.queues()
    try:
        mine = frozenset(q.id for q in await api.my_queues())
    except ApiError as exc:  # a service account has no "me"
        logger.info("my queues unavailable: %s", exc)
        mine = frozenset()
    users = await api.users()
    return Directory(
        queues={q.id: q.name for q in queues},
        mine=mine,
        users={u.id: u.name for u in users},
        member_counts={q.id: q.member_count for q in queues},
    )


def parse_selection_arg(value: str, *, keywords: Sequence[str]) -> str | tuple[str, ...]:
    """``all`` / ``mine`` / ... or a comma-separated id list, as the ``listen`` CLI takes them."""
    text = value.strip()
    if text in keywords:
        return text
    return tuple(part.strip() for part in text.split(",") if part.strip())
