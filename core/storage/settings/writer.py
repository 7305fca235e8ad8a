"""The one writer of the settings file: snapshots in, written in order, the last one wins.

Several parts of the app save the settings (the snooze, Filters & alerts, Settings, What to
watch). Each used to start its own ``to_thread(save_config)``; those ran side by side, so an
older snapshot could finish last and undo a newer one. Here every save goes through one
:class:`SettingsWriter` per file:

* :meth:`SettingsWriter.submit` takes a deep copy of the settings at once, so later edits of
  the caller's object (or of its lists and dicts) cannot change what is written;
* one worker writes, one ``to_thread`` at a time, in the order of submission;
* a snapshot still waiting when a newer one arrives is dropped (the newer one holds the whole
  settings), and its callers get the newer write's outcome;
* a failed write is logged and reported to its callers (the returned future raises
  :class:`ConfigError`); the worker carries on with the next one.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from pathlib import Path

from core.storage.settings.file import ConfigError, save_config
from core.storage.settings.model import AppConfig

logger = logging.getLogger(__name__)

SaveFunction = Callable[[Path, AppConfig], None]


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a failure as seen: a caller that does not await its future is told another way."""
    if not future.cancelled():
        future.exception()


class SettingsWriter:
    """Serialises every save of one settings file; the last submitted snapshot always lands.

    Args:
        path: the settings file; None writes nothing (a session without a settings file).
        save: the function that writes one snapshot (tests slow it down or make it fail);
            :func:`core.storage.settings.file.save_config` by default.
    """

    def __init__(self, path: Path | None, *, save: SaveFunction | None = None) -> None:
        self.path = path
        self._save = save
        self._pending: AppConfig | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._worker: asyncio.Task[None] | None = None

    def submit(self, config: AppConfig) -> asyncio.Future[None]:
        """Queue a snapshot of ``config`` for writing; the future resolves once it is written.

        It raises :class:`ConfigError` when that write (or the newer one that replaced it)
        failed. Call it on the loop; it never blocks.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        done.add_done_callback(_retrieve)
        if self.path is None:
            done.set_result(None)
            return done
        self._pending = copy.deepcopy(config)  # taken now: later edits cannot leak into it
        self._waiters.append(done)
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._run(self.path), name="settings writer")
        return done

    async def drain(self) -> None:
        """Wait until every submitted snapshot is written or has failed (shutdown, tests)."""
        while self._worker is not None and not self._worker.done():
            await asyncio.wait({self._worker})  # never raises: the worker settles its callers

    async def _run(self, path: Path) -> None:
        waiters: list[asyncio.Future[None]] = []
        try:
            while self._pending is not None:
                snapshot, waiters = self._pending, self._waiters
                self._pending, self._waiters = None, []
                await self._write(path, snapshot, waiters)
        finally:  # cancelled (the loop is closing): nobody waits forever
            for waiter in [*waiters, *self._waiters]:
                waiter.cancel()
            self._waiters = []

    async def _write(
        self, path: Path, snapshot: AppConfig, waiters: list[asyncio.Future[None]]
    ) -> None:
        try:
            await asyncio.to_thread(self._save or save_config, path, snapshot)
        except ConfigError as exc:
            logger.warning("settings not saved: %s", exc)
            _settle(waiters, exc)
        except Exception as exc:  # a bug must not end the writer: report it, carry on
            logger.exception("settings not saved: unexpected error")
            problem = ConfigError(
                f"The settings could not be saved to {path} "
                f"(an unexpected error: {type(exc).__name__})."
            )
            _settle(waiters, problem)
        else:
            _settle(waiters, None)


def _settle(waiters: list[asyncio.Future[None]], problem: ConfigError | None) -> None:
    """Give each caller still waiting the outcome of the write that carried its change."""
    for waiter in waiters:
        if waiter.done():
            continue  # the caller gave up waiting (cancelled)
        if problem is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(problem)
