"""A part's background tasks: a failure is logged, not lost; shutdown ends them all."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.app.task_set import TaskSet


async def test_a_failure_nobody_awaits_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet("my status")

    async def fails() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="core.app.task_set"):
        task = tasks.spawn(fails())
        await asyncio.wait([task])
        await asyncio.sleep(0)  # the done callback runs on the next turn
    assert len(tasks) == 0
    assert [r.getMessage() for r in caplog.records] == ["my status: unexpected failure"]


async def test_cancel_all_ends_every_task_still_running() -> None:
    tasks = TaskSet("supervisor action")
    started = asyncio.Event()

    async def waits() -> None:
        started.set()
        await asyncio.Event().wait()

    running = [tasks.spawn(waits()) for _ in range(3)]
    await started.wait()
    assert len(tasks) == 3
    await tasks.cancel_all()
    assert len(tasks) == 0 and all(task.cancelled() for task in running)
