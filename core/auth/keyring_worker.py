"""One thread for every keyring call of the app, so a hung keyring cannot eat the app's threads.

keyring is blocking: a D-Bus round trip, or an unlock prompt nobody answers. Running each call
with ``asyncio.to_thread`` and giving up after a timeout leaves that thread blocked in the
default executor; a dozen such calls starve every other ``to_thread`` of the app. So keyring
calls run, one after another, on a single daemon thread owned by this module. A call whose
caller gave up while it was running marks the worker as hung: later calls wait a short, bounded
while for it and then fail at once, instead of queueing behind it or starting threads. When the
hung call finally returns, the worker takes calls again. :meth:`KeyringWorker.close` ends the
thread at the app's shutdown (and a test's), so no idle worker outlives its owner; a later call
starts it again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

# How long a new call waits for a hung call to come back before it fails; capped by the call's
# own timeout. Long enough to ride out a call that is just returning, short enough for the UI.
HUNG_GRACE_S = 1.0
# How long a call may wait for its turn behind a call that is still running. A keyring call takes
# milliseconds; one that runs this long is waiting for a prompt or a dead D-Bus peer, and whoever
# queued behind it (a channel record, a renewed token) must not wait out that call's own timeout.
QUEUE_WAIT_S = 2.0

_Job = tuple[
    "concurrent.futures.Future[Any]", Callable[..., Any], tuple[Any, ...], Callable[[], None]
]


class KeyringNotAnswering(Exception):  # noqa: N818 - a state, turned into a store error by callers
    """The worker is still blocked on an earlier call whose caller gave up."""


class KeyringWorker:
    """A single daemon thread that runs blocking keyring calls in order."""

    def __init__(self, name: str = "keyring") -> None:
        """Create the worker; its thread starts with the first call."""
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._hung: concurrent.futures.Future[Any] | None = None
        self._running: concurrent.futures.Future[Any] | None = None

    @property
    def hung(self) -> bool:
        """Whether a call whose caller gave up is still blocking the worker."""
        with self._lock:
            return self._hung is not None

    def _start_locked(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the worker's thread is running (idle or in a call)."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def close(self, wait_s: float = 1.0) -> bool:
        """End the thread once the calls already queued have run; True when it has ended.

        Idempotent, and safe while calls come in: one submitted after this starts a new thread.
        A thread blocked in a hung keyring call cannot be interrupted: this waits ``wait_s`` at
        most and returns False; the thread ends when that call returns (it is a daemon anyway).
        """
        with self._lock:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return True
            self._jobs.put(None)
        if thread is not threading.current_thread():
            thread.join(wait_s)
        return not thread.is_alive()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:  # queued by close(): end, unless a call came in after it
                with self._lock:
                    if self._jobs.empty():
                        self._thread = None
                        return
                continue
            future, func, args, on_start = job
            if not future.set_running_or_notify_cancel():
                continue  # its caller gave up before it started: never run it
            with self._lock:
                self._running = future
            on_start()
            try:
                result = func(*args)
            except BaseException as exc:  # handed to the caller, the thread lives on
                outcome: tuple[bool, Any] = (False, exc)
            else:
                outcome = (True, result)
            with self._lock:
                self._running = None
                if outcome[0]:
                    future.set_result(outcome[1])
                else:
                    future.set_exception(outcome[1])
                if self._hung is future:
                    self._hung = None
                    logger.info("the keyring answered again")

    def _submit(
        self, func: Callable[..., _T], args: tuple[Any, ...], on_start: Callable[[], None]
    ) -> Future[_T]:
        future: Future[_T] = Future()
        with self._lock:
            self._start_locked()
            self._jobs.put((future, func, args, on_start))
        return future

    def _give_up_waiting(self, future: concurrent.futures.Future[Any]) -> bool:
        """``future`` waited too long for its turn: drop it (True) unless it has just started.

        The call it waited behind is running far longer than a keyring call takes, so it counts
        as hung from now on: later calls fail after the short grace instead of queueing.
        """
        if not future.cancel():
            return False
        with self._lock:
            if self._hung is None and self._running is not None and not self._running.done():
                self._hung = self._running
                logger.warning("the keyring is not answering; later calls fail until it does")
        return True

    def _abandon(self, future: concurrent.futures.Future[Any]) -> None:
        """The caller gave up on ``future``; if it is still running, the worker is hung."""
        with self._lock:
            if future.running() and not future.done():
                self._hung = future
                logger.warning("the keyring is not answering; later calls fail until it does")

    async def call(self, timeout_s: float, func: Callable[..., _T], *args: Any) -> _T:
        """Run ``func(*args)`` on the worker thread and return its result.

        Raises:
            KeyringNotAnswering: an earlier call is still hung (checked before queueing).
            TimeoutError: this call did not finish within ``timeout_s`` (it never runs if it had
                not started; if it had, the worker counts as hung until it returns).
            Exception: whatever ``func`` raised.
        """
        with self._lock:
            hung = self._hung
        if hung is not None:
            try:
                await asyncio.wait_for(_ended(hung), min(timeout_s, HUNG_GRACE_S))
            except TimeoutError:
                raise KeyringNotAnswering from None
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()

        def on_start() -> None:  # on the worker thread
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, started)

        deadline = loop.time() + timeout_s
        future = self._submit(func, args, on_start)
        try:
            await asyncio.wait_for(asyncio.shield(started), min(timeout_s, QUEUE_WAIT_S))
        except TimeoutError:
            if self._give_up_waiting(future):
                raise KeyringNotAnswering from None
        except asyncio.CancelledError:
            future.cancel()
            self._abandon(future)
            raise
        try:
            remaining = max(0.0, deadline - loop.time())
            return await asyncio.wait_for(asyncio.wrap_future(future), remaining)
        except TimeoutError:
            self._abandon(future)
            raise
        except asyncio.CancelledError:
            self._abandon(future)
            raise


def _settle(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _ended(future: concurrent.futures.Future[Any]) -> asyncio.Future[None]:
    """A loop future that resolves when ``future`` ends (its outcome stays with its caller)."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def settle() -> None:
        if not waiter.done():
            waiter.set_result(None)

    def done(_: concurrent.futures.Future[Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle)

    future.add_done_callback(done)
    return waiter


_DEFAULT = KeyringWorker()


def default_worker() -> KeyringWorker:
    """The app's one keyring worker, shared by every keyring store."""
    return _DEFAULT
