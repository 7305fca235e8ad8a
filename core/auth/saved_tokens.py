"""The remembered session: a token set as keyring entries (genesys-api.md 2.10).

One entry per field, under the service of :func:`core.auth.credentials.credential_service_name`,
so a partial write can be detected and nothing is ever serialised into one plain string.
:class:`TokenSaver` keeps a token set the store could not take (a locked or hung keyring) and
writes it once the store answers, so the session never fails for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.auth.credentials import LOCKED, CredentialStore
from core.auth.tokens import Grant, TokenSet
from core.errors import CredentialStoreError, KeyringLockedError

logger = logging.getLogger(__name__)

ENTRY_ACCESS_TOKEN = "access_token"  # noqa: S105 - an entry name, not a secret
ENTRY_EXPIRES_AT = "expires_at"
ENTRY_ISSUED_AT = "issued_at"
ENTRY_GRANT = "grant"
ENTRY_REFRESH_TOKEN = "refresh_token"  # noqa: S105 - an entry name, not a secret
ENTRY_USER_ID = "user_id"
ENTRY_KEYS = (
    ENTRY_ACCESS_TOKEN,
    ENTRY_EXPIRES_AT,
    ENTRY_ISSUED_AT,
    ENTRY_GRANT,
    ENTRY_REFRESH_TOKEN,
    ENTRY_USER_ID,
)


async def save_token_set(store: CredentialStore, token: TokenSet) -> None:
    """Remember ``token`` in ``store`` (one entry per field, genesys-api.md 2.10).

    The rotated refresh token is written first: after a rotation the old one is already dead,
    so it is the entry that must not be lost. A refresh token is only stored if one exists.

    Raises:
        CredentialStoreError: the store could not be written.
    """
    if token.refresh_token is not None:
        await store.set(ENTRY_REFRESH_TOKEN, token.refresh_token)
    else:
        await store.delete(ENTRY_REFRESH_TOKEN)
    await store.set(ENTRY_GRANT, token.grant)
    await store.set(ENTRY_EXPIRES_AT, repr(token.expires_at))
    if token.issued_at is not None:
        await store.set(ENTRY_ISSUED_AT, repr(token.issued_at))
    else:
        await store.delete(ENTRY_ISSUED_AT)
    await store.set(ENTRY_ACCESS_TOKEN, token.access_token)


async def load_token_set(store: CredentialStore) -> TokenSet | None:
    """The token set remembered in ``store``; None when there is none or it is incomplete.

    Raises:
        CredentialStoreError: the store could not be read.
    """
    access = await store.get(ENTRY_ACCESS_TOKEN)
    if not access:
        logger.debug("no remembered session")
        return None
    grant_text = await store.get(ENTRY_GRANT)
    try:
        expires_at = float(await store.get(ENTRY_EXPIRES_AT) or "")
        issued_text = await store.get(ENTRY_ISSUED_AT)
        issued_at = float(issued_text) if issued_text else None
    except ValueError:
        logger.warning("the remembered session is incomplete; ignoring it")
        return None
    grant: Grant = "client_credentials" if grant_text == "client_credentials" else "pkce"
    return TokenSet(
        access_token=access,
        expires_at=expires_at,
        refresh_token=await store.get(ENTRY_REFRESH_TOKEN) or None,
        grant=grant,
        issued_at=issued_at,
    )


async def delete_token_set(store: CredentialStore) -> None:
    """Forget every entry of the session (token fields and user id), trying them all.

    Raises:
        CredentialStoreError: the first entry that could not be deleted.
    """
    first: CredentialStoreError | None = None
    for key in ENTRY_KEYS:
        try:
            await store.delete(key)
        except CredentialStoreError as exc:
            first = first or exc
    if first is not None:
        raise first


async def delete_entries(
    store: CredentialStore, keys: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Delete every entry in ``keys``, trying them all (sign-out).

    Returns:
        (deleted, not deleted, the distinct reasons in words); it never raises for a store error,
        so the caller can say exactly which entries stayed behind.
    """
    done: list[str] = []
    kept: list[str] = []
    reasons: list[str] = []
    for key in dict.fromkeys(keys):  # in order, once each
        try:
            await store.delete(key)
        except CredentialStoreError as exc:
            kept.append(key)
            if str(exc) not in reasons:
                reasons.append(str(exc))
        else:
            done.append(key)
    return tuple(done), tuple(kept), tuple(reasons)


# ------------------------------------------------------------------------------- pending saves
SAVE_RETRY_S = (2.0, 5.0, 15.0, 30.0, 60.0)  # backoff between tries; the last one repeats
SAVE_WAIT_S = 3.0  # how long a sign-in or renewal waits for its save before going on without it
ProblemListener = Callable[[str | None], None]


@dataclass
class _Pending:
    token: TokenSet
    forget_user: bool  # a new sign-in: the remembered user id may be another person's
    user_id: str | None = None  # the user id to write with it, once the engine tells us
    landed: asyncio.Future[bool] | None = field(default=None, repr=False)


class TokenSaver:
    """Writes the session's newest token set to the store, and keeps trying until it lands.

    A locked or hung keyring must never end a sign-in or a renewal: the session goes on from
    memory, the newest unsaved token set waits here, and a background task tries again with
    backoff (at once when a newer token arrives) until it is written. :attr:`problem` says in
    plain words why the store is not up to date, for the person; listeners hear each change.
    """

    def __init__(
        self,
        store: CredentialStore,
        *,
        retry_s: Sequence[float] = SAVE_RETRY_S,
        wait_s: float = SAVE_WAIT_S,
    ) -> None:
        """Create an idle saver for ``store`` (retry delays in seconds, the last repeats)."""
        self._store = store
        self._retry_s = tuple(retry_s) or SAVE_RETRY_S
        self._wait_s = wait_s
        self._pending: _Pending | None = None
        self._problem: str | None = None
        self._listeners: list[ProblemListener] = []
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    @property
    def problem(self) -> str | None:
        """Why the remembered sign-in is not up to date, in plain words; None when it is."""
        return self._problem

    @property
    def pending(self) -> bool:
        """Whether a token set is waiting to be written."""
        return self._pending is not None

    def add_listener(self, listener: ProblemListener) -> Callable[[], None]:
        """Call ``listener(problem_or_None)`` when :attr:`problem` changes; returns a remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def report(self, problem: str | None) -> None:
        """Set the problem (also used for a failed read at start-up) and tell the listeners."""
        if problem == self._problem:
            return
        self._problem = problem
        for listener in list(self._listeners):
            try:
                listener(problem)
            except Exception:
                logger.exception("a storage problem listener failed")

    async def save(self, token: TokenSet, *, forget_user: bool = False) -> bool:
        """Write ``token`` (replacing any unsaved older one); never raises for the store.

        Waits up to the saver's ``wait_s`` for the write. Returns whether it landed by then; if
        not, it is written in the background as soon as the store takes it.
        """
        loop = asyncio.get_running_loop()
        old = self._pending
        pending = _Pending(token, forget_user or (old is not None and old.forget_user))
        if old is not None:
            pending.user_id = None if forget_user else old.user_id
            _settle(old.landed, False)
        pending.landed = loop.create_future()
        self._pending = pending
        self._kick()
        try:
            return await asyncio.wait_for(asyncio.shield(pending.landed), self._wait_s)
        except TimeoutError:
            logger.info("the sign-in is kept in memory until the keyring takes it")
            return False

    async def save_user(self, user_id: str) -> None:
        """Write the signed-in user's id, with the pending token set if there is one.

        Raises:
            CredentialStoreError: nothing is pending and the store could not be written.
        """
        if self._pending is not None:
            self._pending.user_id = user_id
            return
        await self._store.set(ENTRY_USER_ID, user_id)

    def retry_now(self) -> None:
        """Try a pending write at once (the person unlocked the keyring, the system resumed)."""
        if self._pending is not None:
            self._kick()

    async def drop(self) -> None:
        """Forget any pending write and stop trying (sign-out): nothing is written after this."""
        pending, self._pending = self._pending, None
        if pending is not None:
            _settle(pending.landed, False)
        await self._stop()
        self.report(None)

    async def aclose(self) -> None:
        """Stop trying; an unsaved sign-in is lost with the process (said in the log)."""
        if self._pending is not None:
            logger.warning("quitting before the keyring took the sign-in; it was not saved")
        await self.drop()

    async def _stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])  # a cancelled caller still sees its own cancellation

    def _kick(self) -> None:
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="save sign-in")

    async def _run(self) -> None:
        """Write the newest pending token set until it lands, backing off between tries."""
        assert self._wake is not None
        failures = 0
        while (pending := self._pending) is not None:
            self._wake.clear()
            try:
                await _write(self._store, pending)
            except Exception as exc:  # a store error, or a bug: either way, keep trying
                failures += 1
                problem = _problem(exc)
                if failures == 1:
                    logger.warning("could not save the sign-in; trying again: %s", problem)
                self.report(problem)
                _settle(pending.landed, False)
                delay = self._retry_s[min(failures, len(self._retry_s)) - 1]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            if self._pending is pending:
                self._pending = None
                if failures:
                    logger.info("the sign-in is saved in the keyring now")
                self.report(None)
            _settle(pending.landed, True)


async def _write(store: CredentialStore, pending: _Pending) -> None:
    if pending.forget_user and pending.user_id is None:
        await store.delete(ENTRY_USER_ID)
    await save_token_set(store, pending.token)
    if pending.user_id is not None:
        await store.set(ENTRY_USER_ID, pending.user_id)


def _problem(exc: Exception) -> str:
    """What a failed save means for the person (a locked keyring: unlock it and it is saved)."""
    if isinstance(exc, KeyringLockedError):
        return LOCKED["store"]
    if isinstance(exc, CredentialStoreError):
        return str(exc)
    return f"The sign-in could not be saved ({type(exc).__name__})."


def _settle(future: asyncio.Future[bool] | None, landed: bool) -> None:
    if future is not None and not future.done():
        future.set_result(landed)
