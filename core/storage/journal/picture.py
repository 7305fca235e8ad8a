"""The last known picture: what the boards showed when the org last answered, kept in the journal.

An app that starts at login often starts before the network. Until the org answers, the window
shows this picture, greyed as stale and saying since when, instead of empty boards.

:class:`PictureKeeper` writes it from the store: only while the engine is LIVE (the store is then
the org's truth; an empty store at an offline start must never overwrite yesterday's picture),
at most once every ``interval_s`` and once more at stop, and only the rows that changed. The
writes run in the journal's writer thread (:meth:`core.storage.journal.journal.Journal.submit`),
never on the loop; the timer's save reads the store in slices, giving the loop back between them
(at 50,000 users one pass held it some 400 ms), and only hashes of what was written are kept.
:func:`load_picture` reads it back in a worker thread; :meth:`Picture.to_store` turns it into a
store the boards can read like the engine's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from core.engine.records import EngineState, Record, StateRecord, WatchRecord
from core.state.store import QueueState, Store, UserState
from core.storage.journal.errors import JournalError
from core.storage.journal.rows import Row, to_epoch
from core.storage.journal.schema import (
    PICTURE_CLEAR,
    PICTURE_DELETE,
    PICTURE_EXISTS,
    PICTURE_SELECT,
    PICTURE_TABLE,
    PICTURE_UPSERT,
)

logger = logging.getLogger(__name__)

SAVE_INTERVAL_S: Final = 15.0
# The timer's save reads the store in slices of this many subjects, giving the loop back between
# two: one pass over 50,000 users held the loop 280-580 ms (P9); a slice takes a few ms.
SLICE: Final = 500
TAKEN: Final = "taken"  # the kind of the one row that says when the picture was last true
USER: Final = "user"
QUEUE: Final = "queue"

Key = tuple[str, str]  # (kind, subject id)
Look = tuple[str, str]  # (name, the displayed fields as canonical JSON)


class PictureJournal(Protocol):
    """The two doors of the journal the picture needs (a Journal has both)."""

    def submit(self, job: Callable[[sqlite3.Connection], None]) -> None: ...

    async def select(self, sql: str, params: tuple[object, ...] = ()) -> list[Row]: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _moment(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    with contextlib.suppress(ValueError):
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ids(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _user_fields(store: Store, user: UserState, order: int) -> dict[str, Any]:
    return {
        "order": order,
        "definition_id": user.definition_id,
        "presence_label": store.presence_label(user.id),
        "system_presence": user.system_presence,
        "presence_message": user.presence_message,
        "presence_since": _iso(user.presence_since),
        "routing_status": user.routing_status,
        "routing_since": _iso(user.routing_since),
        "active_queue_ids": (
            list(user.active_queue_ids) if user.active_queue_ids is not None else None
        ),
    }


def _queue_fields(store: Store, queue: QueueState, order: int, now: datetime) -> dict[str, Any]:
    wait_s = store.longest_wait_s(queue.id, now)  # as it was at this moment
    return {
        "order": order,
        "waiting": queue.waiting,
        "interacting": queue.interacting,
        "alerting": queue.alerting,
        "on_queue": queue.on_queue,
        "off_queue": queue.off_queue,
        "longest_wait_ms": round(wait_s * 1000) if wait_s is not None else None,
        "member_ids": sorted(queue.member_ids),
        "joined_ids": sorted(queue.joined_ids),
    }


def _canonical(fields: Mapping[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def iter_looks(store: Store, watch: WatchRecord, now: datetime) -> Iterator[tuple[Key, Look]]:
    """Each watched subject's look, one at a time (the timer's save takes them in slices)."""
    users = list(watch.users.items())  # a copy: the store may change between two slices
    queues = list(watch.queues.items())
    for order, (user_id, watched_name) in enumerate(users):
        user = store.users.get(user_id) or UserState(user_id)
        name = user.name or watched_name
        yield (USER, user_id), (name, _canonical(_user_fields(store, user, order)))
    for order, (queue_id, watched_name) in enumerate(queues):
        queue = store.queues.get(queue_id) or QueueState(queue_id)
        name = queue.name or watched_name
        yield (QUEUE, queue_id), (name, _canonical(_queue_fields(store, queue, order, now)))


def picture_looks(store: Store, watch: WatchRecord, now: datetime) -> dict[Key, Look]:
    """What each watched subject shows now, as it is stored (equal looks: nothing to write)."""
    return dict(iter_looks(store, watch, now))


@dataclass(frozen=True, slots=True)
class PictureRow:
    """One subject of the picture: who or what, its name, the displayed fields, when written."""

    kind: str
    subject_id: str
    name: str
    fields: Mapping[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class Picture:
    """The boards as they last were while the engine was live."""

    users: tuple[PictureRow, ...]  # in the order they were watched
    queues: tuple[PictureRow, ...]
    taken_at: datetime  # when it was last known true

    def to_store(self) -> Store:
        """A store holding the picture, for the boards to read like the engine's own."""
        store = Store()
        for row in self.users:
            f = row.fields
            user = store.user(row.subject_id)
            user.name = row.name
            definition = f.get("definition_id")
            label = f.get("presence_label")
            if isinstance(definition, str):
                user.definition_id = definition
                if isinstance(label, str) and label:
                    store.presence_labels[definition] = label
            presence = f.get("system_presence")
            user.system_presence = presence if isinstance(presence, str) else None
            message = f.get("presence_message")
            user.presence_message = message if isinstance(message, str) else ""
            user.presence_since = _moment(f.get("presence_since"))
            routing = f.get("routing_status")
            user.routing_status = routing if isinstance(routing, str) else None
            user.routing_since = _moment(f.get("routing_since"))
            active = f.get("active_queue_ids")
            user.active_queue_ids = tuple(_ids(active)) if isinstance(active, list) else None
        for row in self.queues:
            f = row.fields
            queue = store.queue(row.subject_id)
            queue.name = row.name
            for key in ("waiting", "interacting", "alerting", "on_queue", "off_queue"):
                setattr(queue, key, _int(f.get(key)))
            queue.longest_wait_ms = _int(f.get("longest_wait_ms"))
            queue.member_ids = set(_ids(f.get("member_ids")))
            queue.joined_ids = set(_ids(f.get("joined_ids")))
        return store

    def watch(self) -> WatchRecord:
        """The picture's subjects as a selection (ids and names, in order)."""
        return WatchRecord(
            {row.subject_id: row.name for row in self.users},
            {row.subject_id: row.name for row in self.queues},
        )


def _row(raw: Row) -> PictureRow | None:
    kind, subject_id, name, data, at = raw
    try:
        fields = json.loads(data)
        moment = datetime.fromtimestamp(float(at), UTC)
    except (ValueError, TypeError, OverflowError):
        return None
    if not isinstance(fields, dict) or not isinstance(subject_id, str):
        return None
    return PictureRow(str(kind), subject_id, str(name), fields, moment)


def _order(row: PictureRow) -> tuple[int, str]:
    order = _int(row.fields.get("order"))
    return (order if order is not None else 1 << 30, row.name.casefold())


def picture_from_rows(rows: Iterable[Row], org: str = "") -> Picture | None:
    """The picture the table's rows hold; None when it holds no subject, or another org's.

    One journal serves every org of the person (profiles): a picture of another org must not
    stand in for this one's, so the "taken" row names the org it was taken of.
    """
    parsed = [row for row in map(_row, rows) if row is not None]
    if any(r.kind == TAKEN and r.fields.get("org", "") != org for r in parsed):
        logger.info("the last known picture is of another org: not shown")
        return None
    users = sorted((r for r in parsed if r.kind == USER), key=_order)
    queues = sorted((r for r in parsed if r.kind == QUEUE), key=_order)
    if not users and not queues:
        return None
    stamps = [r.at for r in parsed if r.kind == TAKEN]
    taken = max(stamps) if stamps else max(r.at for r in (*users, *queues))
    return Picture(tuple(users), tuple(queues), taken)


async def load_picture(journal: PictureJournal, org: str = "") -> Picture | None:
    """The last known picture of ``org`` in the journal (read in a worker thread), or None.

    None too when the journal cannot be read: the boards then start empty, as without one.
    """
    try:
        if not (await journal.select(PICTURE_EXISTS))[0][0]:
            return None  # a journal from before the picture, or a fresh one
        return picture_from_rows(await journal.select(PICTURE_SELECT), org)
    except JournalError as exc:
        logger.warning("the last known picture could not be read (%s)", exc)
        return None


class PictureKeeper:
    """Keeps the journal's picture in step with the store while the engine is live.

    A pipeline part: :meth:`on_record` follows the watch and the state; :meth:`start` and
    :meth:`stop` run it on the loop's timers (stop saves once more). The first save of a session
    replaces the whole picture (the selection may have changed since); later ones write only
    the subjects whose look changed, and delete those no longer watched.
    """

    def __init__(
        self,
        store: Store,
        journal: PictureJournal,
        *,
        org: str = "",
        interval_s: float = SAVE_INTERVAL_S,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """Keep ``store``'s picture in ``journal``; ``org`` names the org (the profile's key)."""
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._store = store
        self._journal = journal
        self._interval_s = interval_s
        self._clock = clock
        self._org = _canonical({"org": org})
        self._watch: WatchRecord | None = None
        self._trusted = False  # the store is the org's truth (the engine is, or was just, LIVE)
        self._saved: dict[Key, int] | None = None  # what this session wrote last, hashed
        self._timer: asyncio.TimerHandle | None = None
        self._slicing: asyncio.Task[int] | None = None  # the timer's save under way
        self.saves = 0  # saves handed to the writer (for tests)

    def on_record(self, record: Record) -> None:
        """Follow the selection and whether the store can be trusted (cheap: no I/O)."""
        if isinstance(record, WatchRecord):
            self._watch = record
        elif isinstance(record, StateRecord) and record.state is not EngineState.STOPPED:
            # STOPPED keeps the last word: a store that was live right up to the stop is true.
            self._trusted = record.state is EngineState.LIVE

    def start(self) -> None:
        """Save every ``interval_s`` from now on (idempotent)."""
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval_s, self._on_timer)

    def stop(self) -> None:
        """Stop the timer and save what the store holds now (before the journal closes)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._slicing is not None:  # a timer's save under way: this one replaces it
            self._slicing.cancel()
            self._slicing = None
        self.save(final=True)

    def _on_timer(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._interval_s, self._on_timer)
        if self._slicing is None or self._slicing.done():
            self._slicing = loop.create_task(self.save_in_slices())

    async def save_in_slices(self, slice_size: int = SLICE) -> int:
        """:meth:`save`, reading the store ``slice_size`` subjects per turn of the loop.

        Each subject's look is as it was when its slice was read (the picture is never one
        instant of a moving org anyway); the write is handed over once, as :meth:`save`'s.
        """
        watch = self._watch
        if not self._trusted or watch is None:
            return 0
        now = self._clock()
        saved = self._saved
        seen: dict[Key, int] = {}
        changed: dict[Key, Look] = {}  # compared as read: the write's own share stays small
        for count, (key, look) in enumerate(iter_looks(self._store, watch, now), 1):
            seen[key] = mark = hash(look)
            if saved is None or saved.get(key) != mark:
                changed[key] = look
            if count % slice_size == 0:
                await asyncio.sleep(0)
        if not self._trusted or self._saved is not saved:
            return 0  # the engine left LIVE meanwhile, or another save wrote since
        return self._write(seen, changed, now, final=False)

    def save(self, *, final: bool = False) -> int:
        """Hand the changed subjects to the journal's writer; returns how many.

        The "taken" row moves with every write; ``final`` (at stop) writes it even when no
        subject changed, since the picture was true up to now.
        """
        watch = self._watch
        if not self._trusted or watch is None:
            return 0
        now = self._clock()
        saved = self._saved
        seen: dict[Key, int] = {}
        changed: dict[Key, Look] = {}
        for key, look in iter_looks(self._store, watch, now):
            seen[key] = mark = hash(look)
            if saved is None or saved.get(key) != mark:
                changed[key] = look
        return self._write(seen, changed, now, final=final)

    def _write(
        self, seen: dict[Key, int], changed: dict[Key, Look], now: datetime, *, final: bool
    ) -> int:
        """Hand what differs from the last write to the journal's writer; returns how many.

        ``seen``: every subject's look as a hash (what is kept between saves: at 50,000 users
        the looks themselves are some 25 MB); ``changed``: the looks whose hash differs.
        """
        saved = self._saved
        if saved is None:
            gone, clear = [], True
        else:
            # every saved subject is still watched when the new ones account for the difference
            added = sum(1 for key in changed if key not in saved)
            still = len(seen) - added == len(saved)
            gone, clear = ([] if still else [key for key in saved if key not in seen]), False
        if saved is not None and not changed and not gone and not final:
            return 0
        at = to_epoch(now)
        rows = [(kind, sid, name, data, at) for (kind, sid), (name, data) in changed.items()]
        rows.append((TAKEN, "", "", self._org, at))

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(PICTURE_TABLE)  # made on first use: older journals have no such table
            if clear:
                conn.execute(PICTURE_CLEAR)
            conn.executemany(PICTURE_DELETE, gone)
            conn.executemany(PICTURE_UPSERT, rows)

        try:
            self._journal.submit(write)
        except JournalError as exc:
            logger.info("the last known picture was not saved (%s)", exc)
            return 0
        self._saved = seen
        self.saves += 1
        return len(changed)
