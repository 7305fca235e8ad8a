"""Shared parts of the EventBridge consumer tests: a loopback SQS queue, envelopes, a sink."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.eventbridge.consumer import ConsumerSettings, SqsConsumer
from core.eventbridge.events import BridgedEvent
from sandbox.eventbridge.sqs import LoopbackSqs

BASE = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
# Short polls and timeouts so a test takes seconds; the logic is the same as the defaults'.
FAST = ConsumerSettings(
    wait_s=1,
    visibility_s=30,
    backlog_check_s=0.2,
    backoff_min_s=0.1,
    backoff_max_s=0.5,
)


def envelope(n: int, *, at: datetime | None = None, envelope_id: str | None = None) -> str:
    """A full EventBridge envelope of one presence event (genesys-eventbridge-triggers.md 1)."""
    happened = at or BASE + timedelta(seconds=n)
    return json.dumps(
        {
            "version": "0",
            "id": envelope_id or str(uuid.uuid4()),
            "detail-type": "v2.users.{id}.presence",
            "source": "aws.partner/genesys.com/cloud/org/tray-monitor",
            "account": "123456789012",
            "time": happened.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": [],
            "detail": {
                "topicName": f"v2.users.user-{n}.presence",
                "version": "2",
                "eventBody": {"n": n, "presenceDefinition": {"systemPresence": "Available"}},
                "metadata": {"CorrelationId": f"corr-{n}"},
                "timestamp": happened.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            },
        }
    )


class Sink:
    """Records each batch it journals; can fail or dawdle on purpose."""

    def __init__(self) -> None:
        self.batches: list[list[BridgedEvent]] = []
        self.calls = 0
        self.fail_calls = 0  # the next this many calls raise
        self.delay_s = 0.0  # a slow journal
        self.check: Callable[[Sequence[BridgedEvent]], Any] | None = None

    async def __call__(self, events: Sequence[BridgedEvent]) -> None:
        self.calls += 1
        if self.check is not None:
            await self.check(events)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_calls:
            self.fail_calls -= 1
            raise RuntimeError("the journal refused the batch")
        self.batches.append(list(events))

    @property
    def events(self) -> list[BridgedEvent]:
        """Every journaled event, in journal order."""
        return [event for batch in self.batches for event in batch]

    @property
    def numbers(self) -> list[int]:
        """The ``n`` of every journaled event."""
        return [int(event.frame.body["n"]) for event in self.events]


async def eventually(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Wait until ``condition()`` holds; fail with ``what`` after the deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.02)


def queue_counts(sqs: LoopbackSqs, url: str | None = None) -> tuple[int, int]:
    """(visible, in flight) messages of the queue, as SQS counts them."""
    attrs = sqs.client.get_queue_attributes(
        QueueUrl=url or sqs.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The AWS chain finds dummy keys in the environment, and nothing of the tester's own."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
async def sqs(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LoopbackSqs]:
    """moto's SQS server on loopback with a fresh queue and DLQ (maxReceiveCount 5)."""
    aws_env(monkeypatch)
    server = LoopbackSqs("consumer-test", "us-east-1")
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


@pytest.fixture
async def consumers() -> AsyncIterator[list[SqsConsumer]]:
    """Consumers a test starts, stopped at its end whatever happened."""
    started: list[SqsConsumer] = []
    yield started
    for consumer in started:
        await consumer.stop()
