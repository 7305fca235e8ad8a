"""The supervisor restarts a failing task with capped, jittered backoff and says when it keeps
failing (issue 14: a bare task that raised once was gone for good, and nobody was told)."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from core.engine.supervisor import Supervisor, SupervisorSettings

FAST = SupervisorSettings(
    first_backoff_s=0.01, max_backoff_s=0.04, jitter=0.2, report_after=3, stable_s=0.1
)


class WorkError(RuntimeError):
    """What the supervised work raises."""


def test_backoff_doubles_with_jitter_and_stays_under_the_cap() -> None:
    supervisor = Supervisor(
        on_health=lambda *_: None,
        on_failed=lambda _: None,
        settings=SupervisorSettings(first_backoff_s=1.0, max_backoff_s=60.0, jitter=0.2),
        rng=random.Random(3),
    )
    delays = [supervisor.backoff_s(n) for n in range(1, 12)]
    assert 0.8 <= delays[0] <= 1.2
    assert 1.6 <= delays[1] <= 2.4
    assert all(d <= 60.0 for d in delays)
    assert delays[-1] >= 48.0  # capped, not grown without end
    assert len(set(delays)) == len(delays)  # jittered


async def test_a_task_failing_in_a_row_is_restarted_reported_once_and_withdrawn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    health: list[tuple[str, str | None]] = []
    changed = asyncio.Event()

    def on_health(label: str, message: str | None) -> None:
        health.append((label, message))
        changed.set()

    supervisor = Supervisor(
        on_health=on_health, on_failed=lambda _: None, settings=FAST, rng=random.Random(1)
    )
    runs = 0
    forever = asyncio.Event()

    async def work() -> None:
        nonlocal runs
        runs += 1
        if runs <= 4:
            raise WorkError(f"broke on run {runs}\nsecond line")
        await forever.wait()

    supervisor.keep("worker", work, "Re-sync")
    async with asyncio.timeout(5.0):
        while len(health) < 2:
            changed.clear()
            await changed.wait()
    assert runs == 5
    assert health == [
        ("Re-sync", "Re-sync failing: an unexpected error (WorkError), retrying"),
        ("Re-sync", None),
    ]
    failures = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], WorkError)]
    assert len(failures) == 4  # each failure logged once, with its traceback
    assert "worker failed (1 in a row)" in failures[0].getMessage()
    assert supervisor.failures["worker"] == 0
    await supervisor.stop()
    assert not supervisor.tasks


async def test_a_one_shot_task_that_raises_is_logged_and_its_owner_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failed: list[str] = []
    told = asyncio.Event()

    def on_failed(name: str) -> None:
        failed.append(name)
        told.set()

    supervisor = Supervisor(on_health=lambda *_: None, on_failed=on_failed, settings=FAST)

    async def job() -> None:
        raise WorkError("once")

    supervisor.once(job(), "confirm-counters")
    async with asyncio.timeout(5.0):
        await told.wait()
    assert failed == ["confirm-counters"]
    assert [r.getMessage() for r in caplog.records if r.exc_info] == [
        "background task confirm-counters failed"
    ]
    await supervisor.stop()
