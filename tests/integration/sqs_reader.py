"""Read the sandbox's EventBridge queue with botocore, the way a consumer would (tests only)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.config import Config

Json = dict[str, Any]


class QueueReader:
    """Receives (and deletes) every message of one queue; keeps bodies in arrival order."""

    def __init__(self, queue_url: str, region: str = "us-east-1") -> None:
        self.queue_url = queue_url
        endpoint = queue_url.rsplit("/", 2)[0]
        self.client: Any = botocore.session.Session().create_client(
            "sqs",
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )
        self.bodies: list[str] = []

    @property
    def envelopes(self) -> list[Json]:
        """Every body received so far, parsed (the tests' queue has no poison in it)."""
        return [json.loads(body) for body in self.bodies]

    def receive_once(self, wait_s: int = 1) -> list[str]:
        """One long poll of up to 10 messages; deletes what it got."""
        answer = self.client.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
        )
        messages = answer.get("Messages", [])
        if messages:
            self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        bodies = [str(m["Body"]) for m in messages]
        self.bodies.extend(bodies)
        return bodies

    async def until(self, done: Callable[[list[Json]], bool], timeout_s: float = 20.0) -> None:
        """Receive until ``done(envelopes)``; fail after the deadline with what arrived."""
        deadline = time.monotonic() + timeout_s
        while not done(self.envelopes):
            if time.monotonic() > deadline:
                topics = sorted({e["detail"]["topicName"] for e in self.envelopes})
                raise AssertionError(
                    f"queue incomplete after {timeout_s} s: {len(self.bodies)} messages, {topics}"
                )
            await asyncio.to_thread(self.receive_once)

    async def until_count(self, count: int, timeout_s: float = 20.0) -> None:
        """Receive until at least ``count`` messages arrived."""
        await self.until(lambda envelopes: len(envelopes) >= count, timeout_s)

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()
