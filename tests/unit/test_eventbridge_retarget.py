"""A running EventBridge link moves to another queue, or to none, without a restart.

The SQS side is covered against moto in tests/gui/test_eventbridge_queue_live.py; here the
link's own bookkeeping: a start still under way is called off, a cleared queue says "off" and
starts nothing, and a stopped link stays stopped.
"""

from __future__ import annotations

import asyncio

from core.app.eventbridge_wiring import STARTING, EventBridgeLink
from core.eventbridge.events import SourceStatus


def queue_of(link: EventBridgeLink) -> tuple[str, str, str] | None:
    """The link's queue now (re-read after each move)."""
    return link.queue


LOCAL_QUEUE = "http://127.0.0.1:9/123456789012/genesys"  # nothing listens: never reached here


async def test_a_cleared_queue_calls_off_the_start_under_way_and_says_off() -> None:
    begun, never = asyncio.Event(), asyncio.Event()

    async def demo_queue() -> str:  # the demo's queue, still starting
        begun.set()
        await never.wait()
        return LOCAL_QUEUE

    link = EventBridgeLink(demo_queue)
    told: list[SourceStatus] = []
    link.add_status_listener(told.append)
    assert queue_of(link) is None  # the demo's own queue: no URL of the settings
    link.start()
    await asyncio.wait_for(begun.wait(), 5)
    await link.retarget("")
    assert told == [STARTING, SourceStatus("off")]
    assert link.status == SourceStatus("off") and link.consumer is None
    assert queue_of(link) == ("", "", "")
    await link.stop()


async def test_a_new_queue_is_taken_with_its_profile_and_region_and_a_stopped_link_stays() -> None:
    link = EventBridgeLink("")
    await link.retarget("", profile="dev", region="eu-west-1")  # not started: nothing to stop
    assert link.queue == ("", "dev", "eu-west-1") and link.status.state == "off"
    await link.stop()
    await link.retarget(LOCAL_QUEUE)  # after the app's shutdown: nothing starts again
    assert link.queue == ("", "dev", "eu-west-1") and link.consumer is None
