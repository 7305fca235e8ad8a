"""The background tasks one part of the app started, ended together at shutdown.

A part that runs work on the loop for a click (a status change, a profile read) keeps its tasks
here: a failure nobody awaited is logged instead of lost, and the staged shutdown cancels and
awaits them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable

logger = logging.getLogger(__name__)


class TaskSet:
    """Tasks started for ``what`` (named in the log when one fails unexpectedly)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        """Run ``work`` on the loop; it leaves the set when it ends."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._on_done)
        return task

    def _on_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: unexpected failure", self.what, exc_info=task.exception())

    async def cancel_all(self) -> None:
        """Cancel every task still running and wait until each has ended."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
