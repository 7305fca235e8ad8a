"""EventBridge envelopes of a recorded org's stream, and the sandbox's loopback SQS queue (P7, P9).

The envelopes are built the way the sandbox builds them (:func:`sandbox.eventbridge.envelope.
build_envelope`, its variations on: keys in any order, ``account`` sometimes missing) around the
WebSocket messages the sandbox sent while recorded (benchmarks.record_frames, or its copy onto a
larger org, benchmarks.large_stream). Only the topics the sandbox's default integration covers
go in: every user's presence and routing status and every queue's conversations. Every
timestamp of a message is set to when the event is said to have happened, so the store sees
real changes and ``detail.timestamp`` agrees with the body.

The queue is the sandbox's own (``python -m sandbox --eventbridge``: moto's threaded server on
loopback in the sandbox's process, so it costs the measured process nothing); its ready file's
second line is the queue URL. Messages go in with SendMessageBatch from several threads.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from benchmarks.common import sandbox_ready
from benchmarks.large_stream import _remap
from sandbox.config import SandboxConfig
from sandbox.eventbridge.envelope import build_envelope, dumps, filter_regex, source_name
from sandbox.eventbridge.integrations import DEFAULT_FILTERS
from sandbox.eventbridge.sqs import sqs_client
from sandbox.variations import Variations

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
CORRELATION = re.compile(r'("CorrelationId":"[0-9a-f-]{34})[0-9a-f]{2}"')
REGION = "us-east-1"
ACCOUNT = "123456789012"  # the sandbox integration's default
SUFFIX = "tray-monitor"
FILTERS = [(pattern, filter_regex(pattern)) for pattern in DEFAULT_FILTERS]


def moto_environment() -> None:
    """Dummy AWS credentials for moto, and the user's own AWS files kept out of the run."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="sandbox",
        AWS_SECRET_ACCESS_KEY="sandbox",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)


def covered(frames: Sequence[str]) -> list[tuple[str, str]]:
    """(filter pattern, frame) of the frames the default integration carries, in stream order."""
    out: list[tuple[str, str]] = []
    for text in frames:
        topic = json.loads(text).get("topicName", "")
        pattern = next((p for p, regex in FILTERS if regex.match(topic)), None)
        if pattern is not None:
            out.append((pattern, text))
    return out


def _stamp(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class EnvelopeMaker:
    """SQS message bodies, one EventBridge envelope each, from the covered frames."""

    frames: list[tuple[str, str]]
    org_id: str
    seed: int = 5

    def __post_init__(self) -> None:
        self.variations = Variations(SandboxConfig(seed=self.seed))
        self.source = source_name(self.org_id, SUFFIX)

    def body(self, pattern: str, text: str, happened: float) -> str:
        """One envelope around ``text`` (a WebSocket message) that happened at ``happened``."""
        stamp = _stamp(happened)
        message = json.loads(STAMP.sub(stamp, text))
        envelope = build_envelope(
            envelope_id=str(uuid.uuid4()),
            pattern=pattern,
            source=self.source,
            account=ACCOUNT,
            region=REGION,
            event_time=happened,
            message=message,
            variations=self.variations,
        )
        return dumps(envelope)

    def backlog(self, count: int, start: float, span_s: float) -> list[str]:
        """``count`` envelopes spread evenly over ``span_s`` seconds from ``start``.

        Past the end of the frames they start over, each pass with its own correlation ids.
        """
        out: list[str] = []
        for i in range(count):
            pattern, text = self.frames[i % len(self.frames)]
            rounds = i // len(self.frames)
            if rounds:
                text = CORRELATION.sub(f'\\g<1>{rounds % 256:02x}"', text)
            out.append(self.body(pattern, text, start + span_s * i / max(1, count)))
        return out

    def live(self, index: int, maps: Sequence[dict[str, str]], happened: float) -> str:
        """Envelope ``index`` of a live stream copied onto a larger org (one copy per map)."""
        copies = len(maps)
        pattern, text = self.frames[(index // copies) % len(self.frames)]
        copy = index % copies
        text = _remap(text, maps[copy], f"{copy % 256:02x}")
        return self.body(pattern, text, happened)


# ---------------------------------------------------------------------------------- the queue
def fill_queue(endpoint_url: str, queue_url: str, bodies: Sequence[str], threads: int = 4) -> float:
    """SendMessageBatch of ten from ``threads`` threads until every body is in; the seconds."""
    local = threading.local()
    clients: list[Any] = []
    lock = threading.Lock()

    def send(start: int) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = sqs_client(endpoint_url, REGION)
            with lock:
                clients.append(client)
        chunk = list(bodies[start : start + 10])
        while chunk:
            entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
            answer = client.send_message_batch(QueueUrl=queue_url, Entries=entries)
            chunk = [chunk[int(f["Id"])] for f in answer.get("Failed", [])]

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(send, range(0, len(bodies), 10)))
    finally:
        for client in clients:
            client.close()
    return time.perf_counter() - started


def queue_depth(endpoint_url: str, queue_url: str) -> int:
    """ApproximateNumberOfMessages (visible) plus NotVisible."""
    client = sqs_client(endpoint_url, REGION)
    try:
        attrs = client.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
    finally:
        client.close()
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def purge(endpoint_url: str, queue_url: str) -> None:
    """PurgeQueue: an empty queue for the next phase."""
    client = sqs_client(endpoint_url, REGION)
    try:
        client.purge_queue(QueueUrl=queue_url)
    finally:
        client.close()


@dataclass(frozen=True)
class EventBridgeOrg:
    """A sandbox org in its own process with its EventBridge queue."""

    base_url: str
    queue_url: str
    http: httpx.AsyncClient

    @property
    def endpoint_url(self) -> str:
        """The loopback SQS server's address."""
        return self.queue_url.rsplit("/", 2)[0]


@asynccontextmanager
async def eventbridge_org(*args: str) -> AsyncIterator[EventBridgeOrg]:
    """``python -m sandbox --eventbridge *args`` in its own process; stopped by SIGTERM."""
    ready = sandbox_ready("--eventbridge", *args, ready_s=180.0, http_timeout_s=120.0, stop_s=15.0)
    async with ready as (lines, http):
        yield EventBridgeOrg(lines[0], lines[1], http)
