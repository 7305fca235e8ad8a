"""The EventBridge consumer against the sandbox's faults: poison messages, an SQS outage, and
the AWS_ENDPOINT_URL_SQS override (real loopback SQS; no mocks)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import httpx
import pytest

from core.eventbridge.consumer import SqsConsumer
from core.eventbridge.events import SourceStatus
from sandbox.eventbridge.control import POISON_BODY
from sandbox.eventbridge.sqs import LoopbackSqs
from sandbox.org import ROUTING_STATUSES
from sandbox.server import Sandbox
from tests.integration.bridge_helpers import (
    FAST,
    Sink,
    aws_env,
    consumers,
    envelope,
    eventually,
    queue_counts,
    sqs,
)

__all__ = ["consumers", "sqs"]  # fixtures
EVENTBRIDGE = pytest.mark.sandbox_config(
    eventbridge=True,
    eventbridge_delay_min_s=0.02,
    eventbridge_delay_max_s=0.1,
    eventbridge_duplicate_rate=0.0,
    eventbridge_reorder_rate=0.0,
)


def flip_routing(sandbox: Sandbox) -> str:
    """One routing change of an agent (EventBridge carries it); returns the user id."""
    user = next(u for u in sandbox.org.users.values() if u.role == "agent")
    sandbox.org.set_routing(user, next(s for s in ROUTING_STATUSES if s != user.routing_status))
    return str(user.id)


@EVENTBRIDGE
async def test_poison_is_never_deleted_but_counted_logged_once_and_reaches_the_dlq(
    sandbox: Sandbox,
    http: httpx.AsyncClient,
    consumers: list[SqsConsumer],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    aws_env(monkeypatch)
    assert sandbox.eventbridge is not None
    source = sandbox.eventbridge
    resp = await http.post("/sandbox/eventbridge/poison", params={"count": 1})
    assert resp.status_code == 200, resp.text
    flip_routing(sandbox)
    sink = Sink()
    settings = replace(FAST, visibility_s=1)  # so the poison comes back quickly
    consumer = SqsConsumer(source.queue_url, sink, settings=settings)
    consumers.append(consumer)
    with caplog.at_level(logging.WARNING, logger="core.eventbridge.consumer"):
        consumer.start()
        await eventually(lambda: len(sink.events) >= 1, 15, "the good events delivered")

        def in_dlq() -> list[str]:
            answer = source.sqs.client.receive_message(
                QueueUrl=source.sqs.dlq_url, WaitTimeSeconds=1
            )
            return [str(m["Body"]) for m in answer.get("Messages", [])]

        dead: list[str] = []
        for _ in range(30):  # each round is a 1 s long poll: the deadline is 30 s
            dead += await asyncio.to_thread(in_dlq)
            if dead:
                break
    assert dead == [POISON_BODY], "the redrive policy moved the poison to the DLQ"
    assert consumer.counters.unparsed >= 5  # maxReceiveCount: received 5 times, never deleted
    assert consumer.counters.deleted == consumer.counters.delivered
    warnings = [r for r in caplog.records if "could not be read" in r.getMessage()]
    assert len(warnings) == 1, "logged once per message, not per receive"
    assert POISON_BODY not in warnings[0].getMessage()


@EVENTBRIDGE
async def test_an_sqs_outage_is_down_then_live_and_nothing_is_lost(
    sandbox: Sandbox,
    http: httpx.AsyncClient,
    consumers: list[SqsConsumer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aws_env(monkeypatch)
    assert sandbox.eventbridge is not None
    sink = Sink()
    consumer = SqsConsumer(sandbox.eventbridge.queue_url, sink, settings=FAST)
    consumers.append(consumer)
    statuses: list[SourceStatus] = []
    consumer.add_status_listener(statuses.append)
    consumer.start()
    await eventually(lambda: consumer.status.state == "live", 10, "live")
    resp = await http.post("/sandbox/eventbridge/outage", params={"seconds": 3})
    assert resp.status_code == 200, resp.text
    await eventually(lambda: consumer.status.state == "down", 10, "down during the outage")
    down = consumer.status
    assert down.detail.startswith("EventBridge queue unreachable: retrying in ")
    flip_routing(sandbox)  # happens in the outage: delivery retries through it
    await eventually(lambda: consumer.status.state == "live", 15, "live again")
    published = (await http.get("/sandbox/eventbridge/published")).json()["entities"]
    wanted = {p["id"] for p in published}
    await eventually(
        lambda: wanted <= {e.envelope_id for e in sink.events}, 15, "the outage's events came"
    )
    ids = [e.envelope_id for e in sink.events]
    assert len(ids) == len(set(ids))
    states = [s.state for s in statuses]
    assert states.index("down") < len(states) - 1 - states[::-1].index("live")


async def test_aws_endpoint_url_sqs_is_honoured(
    sqs: LoopbackSqs, consumers: list[SqsConsumer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An AWS-style queue address, sent to the loopback server by the environment variable.
    name = sqs.queue_url.rsplit("/", 1)[1]
    account = sqs.queue_url.rsplit("/", 2)[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", sqs.endpoint_url)
    await asyncio.to_thread(sqs.send_batch, [envelope(3)])
    sink = Sink()
    url = f"https://sqs.us-east-1.amazonaws.com/{account}/{name}"
    consumer = SqsConsumer(url, sink, settings=FAST)
    consumers.append(consumer)
    consumer.start()
    await eventually(lambda: sink.numbers == [3], 10, "read through AWS_ENDPOINT_URL_SQS")
    await eventually(lambda: queue_counts(sqs) == (0, 0), 10, "and deleted")


async def test_plain_http_to_another_host_is_refused_in_plain_words(
    consumers: list[SqsConsumer], monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_env(monkeypatch)
    consumer = SqsConsumer("http://sqs.example.com/123456789012/q", Sink(), settings=FAST)
    consumers.append(consumer)
    seen: list[SourceStatus] = []
    consumer.add_status_listener(seen.append)
    consumer.start()
    await eventually(lambda: consumer.status.state == "down", 5, "refused")
    assert "plain http" in consumer.status.detail
    assert consumer.counters.polls == 0
