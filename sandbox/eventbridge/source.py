"""The sandbox org as an EventBridge source: what the server plugs in with ``--eventbridge``.

The streaming hub hands every event it publishes to :meth:`EventBridgeSource.deliver` (the
``tap``), *the same message object* it sends on the WebSocket, so ``detail`` is the WebSocket
message plus ``timestamp`` and ``metadata.CorrelationId`` is equal on both transports (our
assumption; the fact sheet marks it unconfirmed). Every enabled ``amazon-eventbridge-source``
integration whose filter covers the topic gets its own envelope (its own ``id``, its ``source``
suffix), as each integration is its own partner event source.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from aiohttp import web

from sandbox.config import SandboxConfig
from sandbox.eventbridge.control import EventBridgeControl
from sandbox.eventbridge.delivery import DeliveryScheduler, Published
from sandbox.eventbridge.envelope import build_envelope, dumps, source_name
from sandbox.eventbridge.integration_api import IntegrationsApi, Wrap
from sandbox.eventbridge.integrations import IntegrationStore
from sandbox.eventbridge.sqs import LoopbackSqs
from sandbox.org import Org
from sandbox.variations import Variations

logger = logging.getLogger(__name__)


class EventBridgeSource:
    """Integrations, the loopback SQS queue and the delivery into it."""

    def __init__(self, config: SandboxConfig, org: Org, variations: Variations) -> None:
        self.config = config
        self.org = org
        self.variations = variations
        self.store = IntegrationStore()
        self.store.seed(
            org.id,
            config.eventbridge_event_source_suffix,
            config.eventbridge_aws_account_id,
            config.eventbridge_region,
            org.clock(),
        )
        self.sqs = LoopbackSqs(config.eventbridge_queue_name, config.eventbridge_region)
        self.scheduler = DeliveryScheduler(config, self.sqs.send_batch)
        self.api = IntegrationsApi(self.store, org.clock)
        self.control = EventBridgeControl(self)
        self.started = False
        self._outage: asyncio.Task[None] | None = None

    @property
    def queue_url(self) -> str:
        """The SQS queue URL (empty before :meth:`start`)."""
        return self.sqs.queue_url

    async def start(self) -> str:
        """Start the loopback SQS server and the delivery thread; returns the queue URL."""
        if not self.started:
            await asyncio.to_thread(self.sqs.start)
            self.scheduler.start()
            self.started = True
        return self.sqs.queue_url

    async def stop(self) -> None:
        """Stop delivering and stop the SQS server."""
        if self._outage is not None:
            self._outage.cancel()
            self._outage = None
        if self.started:
            await asyncio.to_thread(self.scheduler.stop)
            await asyncio.to_thread(self.sqs.stop)
            self.started = False

    async def outage(self, seconds: float) -> None:
        """Take the SQS server down now and bring it back on its port after ``seconds``."""
        if self._outage is not None:
            self._outage.cancel()
        await asyncio.to_thread(self.sqs.go_down)
        self._outage = asyncio.get_running_loop().create_task(self._come_back(seconds))

    async def _come_back(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(self.sqs.come_back)
        self._outage = None

    def routes(self, wrap: Wrap) -> list[web.RouteDef]:
        """``/api/v2/integrations...`` (behind ``wrap``) and ``/sandbox/eventbridge/...``."""
        return [*self.api.routes(wrap), *self.control.routes()]

    # ------------------------------------------------------------------ the hub's tap
    def wants(self, topic: str) -> bool:
        """Whether some delivering integration's filter covers ``topic``."""
        return self.started and any(i.match(topic) for i in self.store.delivering())

    def deliver(self, topic: str, message: dict[str, Any]) -> None:
        """Schedule one envelope per delivering integration whose filter covers ``topic``."""
        if not self.started:
            return
        event_time = self.org.clock()
        metadata = message.get("metadata")
        correlation = metadata.get("CorrelationId", "") if isinstance(metadata, dict) else ""
        for integration in self.store.delivering():
            pattern = integration.match(topic)
            if pattern is None:
                continue
            props = integration.properties
            envelope_id = str(uuid.uuid4())
            envelope = build_envelope(
                envelope_id=envelope_id,
                pattern=pattern,
                source=source_name(self.org.id, str(props["eventSourceSuffix"])),
                account=str(props["awsAccountId"]),
                region=str(props["awsAccountRegion"]),
                event_time=event_time,
                message=message,
                variations=self.variations,
            )
            record = Published(envelope_id, str(correlation), topic, event_time)
            self.scheduler.submit(dumps(envelope), record)

    def stats(self) -> dict[str, Any]:
        """Where the queue is and how delivery goes."""
        return {
            "endpoint_url": self.sqs.endpoint_url,
            "queue_url": self.sqs.queue_url,
            "dlq_url": self.sqs.dlq_url,
            "sqs_up": self.sqs.up,
            "integrations": len(self.store.delivering()),
            **self.scheduler.stats(),
        }
