"""An owner for the engine's background tasks, so none of them dies silently.

A bare ``create_task`` whose coroutine raises ends that work for good: one unexpected exception
in the re-sync worker or the token keeper stopped re-syncs or renewals until the app restarted,
and nobody was told. :class:`Supervisor` keeps every task it starts. A long-lived task
(:meth:`Supervisor.keep`) that raises is logged once with its name and restarted after a
jittered, capped backoff; after ``report_after`` failures in a row the failure is reported as a
health message ("Re-sync failing: ...") and withdrawn once the task has run for ``stable_s``
without failing again. A one-shot task (:meth:`Supervisor.once`) that raises is logged once and
its owner is told, so it can put its own state right.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

Job = Coroutine[Any, Any, None]


@dataclass(frozen=True, slots=True)
class SupervisorSettings:
    """Restart timings; tests shorten them."""

    first_backoff_s: float = 1.0  # the first restart waits this, doubling up to max_backoff_s
    max_backoff_s: float = 60.0
    jitter: float = 0.2
    report_after: int = 3  # failures in a row before the user is told
    stable_s: float = 60.0  # a restart that runs this long without failing ends the streak


def _describe(exc: BaseException) -> str:
    """A plain account of an unexpected exception for the user. Its message stays in the log:
    it may carry a URL or a server's words that the log's redaction filter cleans."""
    return f"an unexpected error ({type(exc).__name__}), retrying"


class Supervisor:
    """Starts, restarts and stops the background tasks of one owner.

    ``on_health(label, message)`` is called with a message when a long-lived task keeps failing
    and with ``None`` when it has recovered. ``on_failed(name)`` is called after a one-shot task
    raised (already logged).
    """

    def __init__(
        self,
        *,
        on_health: Callable[[str, str | None], None],
        on_failed: Callable[[str], None],
        settings: SupervisorSettings | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or SupervisorSettings()
        self.rng = rng or random.Random()
        self.monotonic = monotonic
        self.tasks: set[asyncio.Task[None]] = set()
        self.failures: dict[str, int] = {}  # failures in a row, by task name
        self._on_health = on_health
        self._on_failed = on_failed

    def keep(self, name: str, factory: Callable[[], Job], label: str) -> None:
        """Run ``factory()`` until it returns; restart it with backoff whenever it raises.

        ``label`` names the work for the user ("Re-sync", "Token renewal").
        """
        self._start(self._keep(name, factory, label), name)

    def once(self, job: Job, name: str) -> None:
        """Run ``job`` once; an exception is logged and reported to ``on_failed``."""
        task = self._start(self._once(job, name), name)
        # Cancelled before it ran (a stop right after the spawn), the job was never awaited:
        # close it, or Python warns about a coroutine never awaited.
        task.add_done_callback(lambda done: job.close() if done.cancelled() else None)

    def _start(self, job: Job, name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(job, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def stop(self) -> None:
        """Cancel every task and wait for them to end."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self.tasks.clear()

    def backoff_s(self, failures: int) -> float:
        """The wait before restart number ``failures`` (1-based): doubling, capped, jittered."""
        s = self.settings
        base = min(s.max_backoff_s, s.first_backoff_s * 2.0 ** max(0, failures - 1))
        delay = base * self.rng.uniform(1 - s.jitter, 1 + s.jitter)
        if delay > s.max_backoff_s:  # jittered below the cap too: restarts do not fall in step
            delay = s.max_backoff_s * self.rng.uniform(1 - s.jitter, 1.0)
        return delay

    async def _once(self, job: Job, name: str) -> None:
        try:
            await job
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("background task %s failed", name)
            self._on_failed(name)

    async def _keep(self, name: str, factory: Callable[[], Job], label: str) -> None:
        reported = False
        recovered: asyncio.TimerHandle | None = None
        loop = asyncio.get_running_loop()

        def recover() -> None:
            nonlocal reported
            self.failures[name] = 0
            if reported:
                reported = False
                logger.info("%s works again", label)
                self._on_health(label, None)

        try:
            while True:
                started = self.monotonic()
                if self.failures.get(name, 0):
                    recovered = loop.call_later(self.settings.stable_s, recover)
                try:
                    await factory()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if recovered is not None:
                        recovered.cancel()
                        recovered = None
                    if self.monotonic() - started >= self.settings.stable_s:
                        self.failures[name] = 0
                    failures = self.failures[name] = self.failures.get(name, 0) + 1
                    delay = self.backoff_s(failures)
                    # Logged here once, with the traceback; the task itself never dies of it.
                    logger.exception(
                        "%s failed (%d in a row); restarting in %.1f s", name, failures, delay
                    )
                    if failures >= self.settings.report_after and not reported:
                        reported = True
                        self._on_health(label, f"{label} failing: {_describe(exc)}")
                await asyncio.sleep(delay)
        finally:
            if recovered is not None:
                recovered.cancel()
