"""P7 backlog drain: a queued EventBridge backlog drained into store, feed and journal.

MESSAGES envelopes (benchmarks.eb_feed: the sandbox's envelope builder around the 5,000-user,
200-queue org's recorded presence, routing and queue-conversation messages, spread over the hour
before the run) are put into the sandbox's loopback SQS queue (moto, in the sandbox's process)
with SendMessageBatch from several threads, then drained. Side by side in one run, on the same
server, the same messages and the same number of pollers:

- bare: an aiobotocore loop per poller (the client the app makes, ``open_sqs_client``):
  ReceiveMessage of 10, DeleteMessageBatch of what came, nothing else;
- app: :class:`core.eventbridge.consumer.SqsConsumer` into :class:`core.app.bridge_merge.
  BridgeMerge` on a live engine (the org re-synced over REST, the demo rules) and its
  :class:`core.app.pipeline.Pipeline` with a real journal file; a batch is deleted only once the
  journal committed it.

Events/s of each is messages / seconds from the start of the drain to the last delete; the ratio
app / bare is the target (>= 0.7). This process's CPU per event is shown too: moto answers far
slower than either client can ask on this machine, so the rates are moto's, and the CPU per
event says what the app's side costs. moto's queue scans all its messages on every receive and
delete, so its time grows with the square of the backlog: the default size is small enough for
``make bench`` (BENCH_P7_MESSAGES sets it; the issue's 100,000 takes hours on moto).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import cpu_s, get_json, save_result, wait_until, wire_engine
from benchmarks.eb_feed import (
    EnvelopeMaker,
    EventBridgeOrg,
    covered,
    eventbridge_org,
    fill_queue,
    moto_environment,
    purge,
    queue_depth,
)
from benchmarks.large_stream import SEED, write_large_stream
from benchmarks.record_frames import load_frames
from core.alerts.presets import demo_rules
from core.app.bridge_merge import BridgeMerge
from core.app.pipeline import Pipeline
from core.engine.records import EngineState
from core.engine.selection import Selection
from core.eventbridge.aws_credentials import open_sqs_client, resolve_target
from core.eventbridge.consumer import ConsumerSettings, SqsConsumer
from core.feed.entry import FeedEntry
from core.storage.journal.journal import Journal
from core.streaming.reconnect import ChannelSettings

MESSAGES = int(os.environ.get("BENCH_P7_MESSAGES", "2000"))
USERS = int(os.environ.get("BENCH_P7_USERS", "5000"))
QUEUES = int(os.environ.get("BENCH_P7_QUEUES", "200"))
POLLERS = ConsumerSettings().max_pollers  # the consumer's while a backlog drains
FILL_THREADS = 4
BACKLOG_S = 3600.0  # the backlog is the hour before the run
STREAM_FRAMES = 60_000


def frames_file(users: int, queues: int) -> Path:
    """The recorded stream copied onto the org of ``users`` and ``queues`` (made once)."""
    from benchmarks.common import DATA
    from benchmarks.gui_rig import ensure_frames

    path = DATA / f"frames-{users}u-{queues}q.jsonl"
    if not path.exists():
        ensure_frames()
        write_large_stream(path, users=users, queues=queues, frames=STREAM_FRAMES)
    return path


async def bare_drain(queue_url: str, total: int, wait_s: int | None = None) -> dict[str, float]:
    """POLLERS aiobotocore receive-and-delete loops until ``total`` messages are deleted.

    Counted by message id: moto sometimes hands one message to two pollers at once.
    ``wait_s``: their long poll (the consumer's by default; the smoke test's is short, as
    the last polls run out on the empty queue).
    """
    settings = ConsumerSettings()
    if wait_s is not None:
        settings = dataclasses.replace(settings, wait_s=wait_s)
    deleted: set[str] = set()
    done = asyncio.Event()
    async with await open_sqs_client(resolve_target(queue_url)) as client:

        async def poll() -> None:
            while not done.is_set():
                answer = await client.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=settings.max_messages,
                    WaitTimeSeconds=settings.wait_s,
                    VisibilityTimeout=settings.visibility_s,
                )
                messages = answer.get("Messages", [])
                if not messages:
                    continue
                result = await client.delete_message_batch(
                    QueueUrl=queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
                ok = {entry["Id"] for entry in result.get("Successful", [])}
                deleted.update(m["MessageId"] for i, m in enumerate(messages) if str(i) in ok)
                if len(deleted) >= total:
                    done.set()

        cpu0, wall0 = cpu_s(), time.perf_counter()
        tasks = [asyncio.create_task(poll()) for _ in range(POLLERS)]
        await done.wait()
        wall, cpu = time.perf_counter() - wall0, cpu_s() - cpu0
        # Let the other pollers' long polls end on the empty queue: cancelled here, moto would
        # still answer them later and hide the next fill's messages for VisibilityTimeout.
        await asyncio.wait(tasks, timeout=settings.wait_s + 10)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return {"events_per_s": total / wall, "seconds": wall, "cpu_s": cpu, "deleted": len(deleted)}


async def app_drain(org: EventBridgeOrg, total: int, workdir: Path) -> dict[str, Any]:
    """The consumer into the merge on a live engine until ``total`` messages are deleted."""
    truth = await get_json(org.http, "/sandbox/truth")
    selection = Selection(queues=tuple(sorted(truth["queues"])), users="all")
    del truth
    engine = await wire_engine(org.base_url, selection, ChannelSettings())
    service = engine.service
    journal = await Journal.open(workdir / "journal.sqlite3")
    pipeline = Pipeline(service.store, rules=demo_rules(), journal=journal.append)
    unhook = service.add_listener(pipeline.on_record)
    lines: list[int] = [0]

    def count(entries: list[FeedEntry]) -> None:
        lines[0] += len(entries)

    pipeline.add_entry_listener(count)
    try:
        await service.start()
        pipeline.start()
        await wait_until(lambda: service.state is EngineState.LIVE, 180, 0.05)
        merge = BridgeMerge(service, pipeline, flush=journal.flush)
        consumer = SqsConsumer(org.queue_url, merge)
        consumer.add_status_listener(merge.on_status)
        written0, lines[0] = journal.stats.written, 0
        cpu0, wall0 = cpu_s(), time.perf_counter()
        consumer.start()
        try:
            # Each message journaled once (the consumer's dedup drops moto's double deliveries),
            # and deleted: a batch is deleted right after its journal commit.
            await wait_until(lambda: consumer.counters.delivered >= total, 3600, 0.01)
            await wait_until(lambda: consumer.counters.deleted >= total, 60, 0.01)
            wall, cpu = time.perf_counter() - wall0, cpu_s() - cpu0
        finally:
            await consumer.stop()
            merge.close()
        counters = consumer.counters
        figures: dict[str, Any] = {
            "events_per_s": total / wall,
            "seconds": wall,
            "cpu_s": cpu,
            "deleted": counters.deleted,
            "delivered": counters.delivered,
            "duplicates": counters.duplicates,
            "unparsed": counters.unparsed,
            "polls": counters.polls,
            "merge": dict(merge.counters),
            "feed_lines": lines[0],
            "journal_rows": journal.stats.written - written0,
            "users_in_store": len(service.store.users),
            "queues_in_store": len(service.store.queues),
        }
    finally:
        pipeline.stop()
        unhook()  # the journal closes before the engine stops
        await journal.close()
        await engine.close()
    return figures


async def run(
    messages: int,
    users: int,
    queues: int,
    frames_path: Path,
    seed: int = SEED,
    *,
    wait_s: int | None = None,
) -> dict[str, Any]:
    """One run: build the backlog, fill and drain bare, fill and drain the app; the figures.

    ``frames_path`` is a stream recorded from (or copied onto) the org of ``users``, ``queues``
    and ``seed``.
    """
    moto_environment()
    frames = covered(load_frames(frames_path))
    org_args = ("--users", str(users), "--queues", str(queues), "--seed", str(seed))
    async with eventbridge_org(*org_args, "--no-simulation") as org:
        maker = EnvelopeMaker(frames, "benchmark-org", seed)
        bodies = maker.backlog(messages, time.time() - BACKLOG_S - 60, BACKLOG_S)
        size_kb = sum(len(b) for b in bodies) / len(bodies) / 1024
        endpoint = org.endpoint_url
        fill_bare = await asyncio.to_thread(
            fill_queue, endpoint, org.queue_url, bodies, FILL_THREADS
        )
        print(f"queued {messages:,} in {fill_bare:.1f} s; bare drain ...", flush=True)
        bare = await bare_drain(org.queue_url, messages, wait_s)
        await asyncio.to_thread(purge, endpoint, org.queue_url)  # moto's double deliveries
        print(f"bare {bare['events_per_s']:,.1f} ev/s; refilling ...", flush=True)
        fill_app = await asyncio.to_thread(
            fill_queue, endpoint, org.queue_url, bodies, FILL_THREADS
        )
        print(f"queued {messages:,} in {fill_app:.1f} s; app drain ...", flush=True)
        with tempfile.TemporaryDirectory() as workdir:
            app = await app_drain(org, messages, Path(workdir))
        left = await asyncio.to_thread(queue_depth, endpoint, org.queue_url)
    ratio = app["events_per_s"] / bare["events_per_s"]
    print(
        f"app {app['events_per_s']:,.1f} ev/s vs bare {bare['events_per_s']:,.1f} ev/s "
        f"= {ratio:.2f} x",
        flush=True,
    )
    return {
        "messages": messages,
        "issue_size": 100_000,
        "org": f"{users} users, {queues} queues, all watched",
        "envelope_kb": round(size_kb, 2),
        "pollers": POLLERS,
        "fill_threads": FILL_THREADS,
        "fill_msgs_per_s": round(messages / fill_bare, 1),
        "fill_app_msgs_per_s": round(messages / fill_app, 1),
        "bare_events_per_s": round(bare["events_per_s"], 1),
        "app_events_per_s": round(app["events_per_s"], 1),
        "ratio_app_bare": round(ratio, 3),
        "bare_seconds": round(bare["seconds"], 1),
        "bare_deleted": bare["deleted"],
        "app_seconds": round(app["seconds"], 1),
        "bare_cpu_ms_per_event": round(1000 * bare["cpu_s"] / messages, 3),
        "app_cpu_ms_per_event": round(1000 * app["cpu_s"] / messages, 3),
        "left_in_queue": left,
        "app": {k: v for k, v in app.items() if k not in ("events_per_s", "seconds", "cpu_s")},
    }


def main() -> None:
    """Run P7 at BENCH_P7_MESSAGES and save its figures."""
    frames = frames_file(USERS, QUEUES)
    save_result("p7_backlog", asyncio.run(run(MESSAGES, USERS, QUEUES, frames)))


if __name__ == "__main__":
    main()
