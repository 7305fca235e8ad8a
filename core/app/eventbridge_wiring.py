"""One org's EventBridge source wired into a running engine: the SQS consumer and the merge.

The app and ``listen`` alike build an :class:`EventBridgeLink` for the org's queue (or the demo
org's loopback queue, which starts on demand), :meth:`~EventBridgeLink.attach` it once the
pipeline listens to the engine, :meth:`~EventBridgeLink.start` it, and at the end
:meth:`~EventBridgeLink.stop` it before the engine and the pipeline stop: the consumer first (no
batch half merged), then the merge (its pending gap line still reaches the feed and journal).

The link is the status source the status bar, the tray and ``listen`` show; before its consumer
exists (the demo's queue still starting) it says "starting" itself.
:meth:`~EventBridgeLink.retarget` moves it to another queue (or to none) while it runs: a queue
saved in Settings or the guide takes effect at once, the merge (and its gaps) carrying on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from core.app.bridge_merge import BridgeMerge
from core.app.pipeline import Pipeline
from core.auth.credentials import CredentialStore
from core.engine.records import EngineState, Record, StateRecord
from core.engine.service import MonitorService
from core.eventbridge.aws_credentials import (
    ACCESS_KEY_ID,
    ENDPOINT_ENV,
    SECRET_ACCESS_KEY,
    is_loopback,
)
from core.eventbridge.consumer import ConsumerSettings, SqsConsumer
from core.eventbridge.events import BridgedEvent, SourceStatus
from core.eventbridge.ports import StatusListener

logger = logging.getLogger(__name__)

QueueStarter = Callable[[], Awaitable[str]]
LOOPBACK_KEY = "loopback-test-server"  # a local SQS server (moto) takes any key: never sent to AWS
STARTING = SourceStatus("starting", detail="Starting the EventBridge queue")
_CHAIN_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


def loopback_endpoint(queue_url: str, endpoint_url: str | None = None) -> bool:
    """Whether SQS requests for ``queue_url`` go to this machine only (a local test server)."""
    endpoint = endpoint_url or next(
        (os.environ[k] for k in ENDPOINT_ENV if os.environ.get(k)), queue_url
    )
    return is_loopback(urlsplit(endpoint).hostname or "")


class LoopbackKeys:
    """Fixed dummy AWS keys for a local SQS server (moto accepts any); only ever for loopback."""

    secure = False
    description = "fixed keys for this computer's own test queue"

    async def get(self, key: str) -> str | None:
        """The dummy key id and secret; nothing else."""
        return LOOPBACK_KEY if key in (ACCESS_KEY_ID, SECRET_ACCESS_KEY) else None

    async def set(self, key: str, value: str) -> None:
        """Nothing is kept."""

    async def delete(self, key: str) -> None:
        """Nothing is kept."""


class EventBridgeLink:
    """The consumer and the merge of one org's EventBridge queue (see the module docstring)."""

    def __init__(
        self,
        queue: str | QueueStarter,
        *,
        profile: str = "",
        region: str = "",
        credentials: CredentialStore | None = None,
        settings: ConsumerSettings | None = None,
    ) -> None:
        self._queue = queue
        self._profile = profile or None
        self._region = region or None
        self._credentials = credentials
        self._settings = settings
        self.consumer: SqsConsumer | None = None
        self.merge: BridgeMerge | None = None
        self._status = SourceStatus("off")
        self._listeners: list[StatusListener] = []
        self._task: asyncio.Task[None] | None = None
        self._unhear: Callable[[], None] | None = None  # the consumer's status listener
        self._stopped = False

    # -- the status source --------------------------------------------------------------------

    @property
    def status(self) -> SourceStatus:
        """The consumer's status, or the link's own before the consumer exists."""
        return self.consumer.status if self.consumer is not None else self._status

    def add_status_listener(self, cb: StatusListener) -> Callable[[], None]:
        """Call ``cb`` with every new status (on the loop thread); returns the remover."""
        self._listeners.append(cb)
        return lambda: self._listeners.remove(cb) if cb in self._listeners else None

    def _tell(self, status: SourceStatus) -> None:
        if self.merge is not None:
            self.merge.on_status(status)
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:
                logger.exception("an EventBridge status listener failed")

    def _own(self, status: SourceStatus) -> None:
        self._status = status
        self._tell(status)

    # -- life ----------------------------------------------------------------------------------

    def attach(
        self,
        service: MonitorService,
        pipeline: Pipeline,
        flush: Callable[[], Awaitable[None]] | None = None,
    ) -> BridgeMerge:
        """Build the merge; call after ``service.add_listener(pipeline.on_record)``."""
        self.merge = BridgeMerge(service, pipeline, flush=flush)
        return self.merge

    def start(self) -> None:
        """Start on the running loop (returns at once): the queue (the demo's), then polling."""
        if self._task is None and not self._stopped:
            self._own(STARTING)
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._start(), name="eventbridge-link")

    def start_once_live(self, service: MonitorService) -> None:
        """:meth:`start` when ``service`` first goes live (the demo: moto's start and the SQS
        client's imports then take no time from the window and the first picture)."""
        remove: Callable[[], None] | None = None

        def on_record(record: Record) -> None:
            if isinstance(record, StateRecord) and record.state is EngineState.LIVE:
                if remove is not None:
                    remove()
                self.start()

        self._own(STARTING)
        remove = service.add_listener(on_record)

    async def _start(self) -> None:
        try:
            url = self._queue if isinstance(self._queue, str) else await self._queue()
            # aiobotocore takes a while to import: not on the loop, where the window would stall.
            await asyncio.to_thread(importlib.import_module, "aiobotocore.session")
        except ImportError:
            self._own(
                SourceStatus(
                    "down",
                    detail="The demo's EventBridge queue needs the sandbox extra "
                    "(pip install 'genesys-tray[sandbox]')",
                )
            )
            return
        except OSError as exc:
            logger.warning("the EventBridge queue could not start: %s", exc)
            self._own(SourceStatus("down", detail="The demo's EventBridge queue could not start"))
            return
        if not url:
            self._own(SourceStatus("off"))
            return
        settings = self._settings or ConsumerSettings()
        if self._profile or self._region:
            settings = _with(settings, profile=self._profile, region=self._region)
        credentials = credentials_for(url, settings, self._credentials)
        consumer = SqsConsumer(url, self._sink, settings=settings, credentials=credentials)
        self._unhear = consumer.add_status_listener(self._tell)
        self.consumer = consumer
        consumer.start()

    async def _sink(self, events: Sequence[BridgedEvent]) -> None:
        if self.merge is None:
            raise RuntimeError("EventBridge events came before the merge was attached")
        await self.merge(events)

    @property
    def queue(self) -> tuple[str, str, str] | None:
        """(queue URL, AWS profile, region) as set; None for the demo's queue (started here)."""
        if not isinstance(self._queue, str):
            return None
        return self._queue, self._profile or "", self._region or ""

    async def retarget(self, queue: str, *, profile: str = "", region: str = "") -> None:
        """Read ``queue`` from now on, or nothing for ``""`` (the status then says "off").

        The old consumer stops first (its unfinished batch is not deleted: the queue hands it
        out again, and the merge drops what it already took); the merge stays attached.
        """
        if self._stopped:
            return
        await self._halt()
        self._queue, self._profile, self._region = queue, profile or None, region or None
        logger.info("EventBridge queue %s", "changed" if queue else "cleared")
        if queue:
            self.start()
        else:
            self._own(SourceStatus("off"))

    async def _halt(self) -> None:
        """Stop the start under way and the consumer; the link says "off" until it starts."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            if self._unhear is not None:
                self._unhear()  # its last "off" is the link's own to tell
                self._unhear = None
            await consumer.stop()
            self._own(SourceStatus("off"))

    async def stop(self) -> None:
        """The consumer stops (a pending poll is cancelled), then the merge closes."""
        self._stopped = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.consumer is not None:
            await self.consumer.stop()
        if self.merge is not None:
            self.merge.close()
            self.merge = None
        self._listeners.clear()


def credentials_for(
    queue_url: str, settings: ConsumerSettings, store: CredentialStore | None
) -> CredentialStore | None:
    """The org's store (the AWS chain, or a key in the keyring), or dummy keys for a local
    test server when nothing points the chain anywhere; never dummy keys for a real AWS host."""
    if loopback_endpoint(queue_url, settings.endpoint_url) and not _chain_configured(
        settings.profile
    ):
        return LoopbackKeys()
    return store


def _chain_configured(profile: str | None) -> bool:
    """Whether the person pointed the AWS chain somewhere (a profile, keys in the environment)."""
    return bool(profile) or any(os.environ.get(name) for name in _CHAIN_ENV)


def _with(settings: ConsumerSettings, profile: str | None, region: str | None) -> ConsumerSettings:
    return dataclasses.replace(
        settings, profile=profile or settings.profile, region=region or settings.region
    )
