"""The SQS consumer of the EventBridge source: long polls, journals, then deletes.

On the app's one asyncio loop with aiobotocore (genesys-eventbridge-triggers.md 3.2-3.3). Each
received batch is parsed (:mod:`core.eventbridge.envelope`), deduplicated
(:mod:`core.eventbridge.dedup`), sorted by when the events happened and handed to the sink; only
once the sink returned (the events are journaled) are the messages deleted, in batches of ten at
most with the latest receipt handle. So a crash at any point loses nothing: what was not deleted
comes back. A message that cannot be parsed is never deleted: it is logged once, counted and left
to the queue's redrive policy (the dead-letter queue). While a sink is slow the batch is kept
invisible, so no second poller gets it. More pollers run while a backlog drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from core.auth.credentials import CredentialStore
from core.eventbridge.aws_credentials import AwsSetupError, open_sqs_client, resolve_target
from core.eventbridge.dedup import DEFAULT_CAPACITY, Deduper, Verdict, content_key
from core.eventbridge.envelope import EnvelopeError, parse_envelope
from core.eventbridge.events import BridgedEvent, EventSink, SourceState, SourceStatus

if TYPE_CHECKING:
    from types_aiobotocore_sqs.client import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageTypeDef

logger = logging.getLogger(__name__)

SQS_BATCH = 10  # the most entries one DeleteMessageBatch / ChangeMessageVisibilityBatch takes
_REPORTED_CAP = 10_000  # unparsed message ids already logged
StatusListener = Callable[[SourceStatus], None]

_AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "InvalidSecurity",
    }
)
_MISSING_CODES = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"}
)


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    """How the consumer polls; the defaults suit a real queue (tests shorten them)."""

    wait_s: int = 20  # long poll (SQS's maximum)
    max_messages: int = 10  # per receive (SQS's maximum)
    visibility_s: int = 60  # a received batch stays hidden this long, renewed while the sink works
    max_pollers: int = 4  # while the backlog is above backlog_threshold
    backlog_threshold: int = 100
    backlog_check_s: float = 10.0  # how often ApproximateNumberOfMessages is read
    lag_threshold_s: float = 10.0  # "lagging" above this
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    delete_attempts: int = 3
    dedup_capacity: int = DEFAULT_CAPACITY
    region: str | None = None  # else from the queue URL or the AWS profile
    endpoint_url: str | None = None  # else AWS_ENDPOINT_URL_SQS, else AWS's
    profile: str | None = None  # an AWS profile name; None: the default chain


@dataclass(slots=True)
class ConsumerCounters:
    """What happened so far, for diagnostics and benchmarks."""

    polls: int = 0  # ReceiveMessage requests sent
    received: int = 0  # messages received (repeats included)
    delivered: int = 0  # events handed to the sink and journaled
    duplicates: int = 0  # repeats dropped (same envelope id or same content)
    unparsed: int = 0  # receives of messages that are not envelopes (left in the queue)
    deleted: int = 0
    delete_failed: int = 0
    sink_failed: int = 0  # batches the sink refused (left in the queue)
    receive_failed: int = 0


@dataclass(slots=True)
class _Batch:
    fresh: list[tuple[BridgedEvent, str]] = field(default_factory=list)  # event, receipt handle
    riders: list[str] = field(default_factory=list)  # repeats inside this batch: go with it
    seen: list[str] = field(default_factory=list)  # repeats of journaled events: delete now


def _backoff(failures: int, low: float, high: float) -> float:
    """Exponential backoff with jitter (half to full of the step)."""
    step = min(high, low * 2.0 ** min(failures - 1, 30))
    return max(low, step * random.uniform(0.5, 1.0))


def _trouble(exc: BaseException) -> str:
    """What went wrong, in plain words (no addresses, no keys)."""
    from botocore.exceptions import ClientError, NoCredentialsError, ProfileNotFound

    if isinstance(exc, NoCredentialsError):
        return "No AWS credentials for the EventBridge queue (set up an AWS profile or key)"
    if isinstance(exc, ProfileNotFound):
        return "The AWS profile for the EventBridge queue does not exist"
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _AUTH_CODES:
            return "AWS refused access to the EventBridge queue (check the AWS credentials)"
        if code in _MISSING_CODES:
            return "The EventBridge queue does not exist (check its address)"
        return "The EventBridge queue answered with an error"
    return "EventBridge queue unreachable"


class SqsConsumer:
    """Reads one SQS queue of EventBridge envelopes into ``sink``; :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        queue_url: str,
        sink: EventSink,
        *,
        settings: ConsumerSettings | None = None,
        credentials: CredentialStore | None = None,
    ) -> None:
        self.queue_url = queue_url
        self.settings = settings or ConsumerSettings()
        self.counters = ConsumerCounters()
        self._sink = sink
        self._credentials = credentials
        self._dedup = Deduper(self.settings.dedup_capacity)
        self._reported: OrderedDict[str, None] = OrderedDict()
        self._listeners: list[StatusListener] = []
        self._task: asyncio.Task[None] | None = None
        self._state: SourceState = "off"
        self._detail = ""
        self._lag_s: float | None = None
        self._backlog: int | None = None
        self._wanted_pollers = 1
        self._pollers = 0
        self._pollers_failing = 0

    # -- status -----------------------------------------------------------------------------

    @property
    def status(self) -> SourceStatus:
        """How the source is doing now."""
        return SourceStatus(self._state, self._lag_s, self._backlog, self._detail)

    def add_status_listener(self, listener: StatusListener) -> Callable[[], None]:
        """Call ``listener`` on every change of state, words or backlog; returns its remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _publish(self, state: SourceState, detail: str) -> None:
        before = (self._state, self._detail, self._backlog)
        self._state, self._detail = state, detail
        if (state, detail, self._backlog) == before:
            return
        status = self.status
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:
                logger.exception("an EventBridge status listener failed")

    def _healthy(self) -> None:
        lag, backlog = self._lag_s or 0.0, self._backlog or 0
        if lag > self.settings.lag_threshold_s or backlog > self.settings.backlog_threshold:
            self._publish("lagging", f"EventBridge lag {lag:,.0f} s, backlog {backlog:,}")
        else:
            self._publish("live", "")

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def pollers(self) -> int:
        """How many long polls run side by side now (more while a backlog drains)."""
        return self._pollers

    @property
    def running(self) -> bool:
        """Whether :meth:`start` was called and :meth:`stop` not yet."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Begin polling on the running loop (returns at once)."""
        if self.running:
            return
        self._publish("starting", "Connecting to the EventBridge queue")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="eventbridge-sqs")

    async def stop(self) -> None:
        """Stop polling now (a pending long poll is cancelled) and close the client."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._lag_s = None
        self._publish("off", "")

    async def _run(self) -> None:
        settings = self.settings
        try:
            target = resolve_target(
                self.queue_url, region=settings.region, endpoint_url=settings.endpoint_url
            )
        except AwsSetupError as exc:
            self._publish("down", str(exc))
            return
        failures = 0
        while True:
            try:
                opened = await open_sqs_client(
                    target,
                    profile=settings.profile,
                    store=self._credentials,
                    read_timeout_s=settings.wait_s + 20,
                )
                async with opened as client:
                    failures = 0
                    await self._serve(client)
            except AwsSetupError as exc:
                self._publish("down", str(exc))
                return
            except Exception as exc:  # the AWS chain (a profile, SSO) failed: retry later
                failures += 1
                await self._pause(exc, failures)

    async def _pause(self, exc: BaseException, failures: int) -> None:
        delay = _backoff(failures, self.settings.backoff_min_s, self.settings.backoff_max_s)
        words = _trouble(exc)
        if not self._detail.startswith(words):
            logger.warning("%s (%s); retrying with backoff", words, type(exc).__name__)
        self._publish("down", f"{words}: retrying in {delay:.0f} s")
        await asyncio.sleep(delay)

    async def _serve(self, client: SQSClient) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._poll(client, 0), name="eventbridge-poller-0")
            self._pollers = 1
            while True:
                await self._read_backlog(client)
                for index in range(self._pollers, self._wanted_pollers):
                    group.create_task(self._poll(client, index), name=f"eventbridge-poller-{index}")
                    self._pollers = index + 1
                await asyncio.sleep(self.settings.backlog_check_s)

    async def _read_backlog(self, client: SQSClient) -> None:
        """ApproximateNumberOfMessages: the backlog shown, and how many pollers drain it."""
        try:
            answer = await client.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            self._backlog = int(answer.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))
        except Exception as exc:  # the pollers report an unreachable queue
            logger.debug("queue attributes not read: %s", type(exc).__name__)
            return
        busy = self._backlog > self.settings.backlog_threshold
        self._wanted_pollers = max(1, self.settings.max_pollers) if busy else 1
        if self._state != "down" or self._pollers_failing == 0:
            self._healthy()  # the queue answers: reachable

    # -- one poller -------------------------------------------------------------------------

    async def _poll(self, client: SQSClient, index: int) -> None:
        settings = self.settings
        failures = 0
        try:
            while index == 0 or index < self._wanted_pollers:
                self.counters.polls += 1
                try:
                    answer = await client.receive_message(
                        QueueUrl=self.queue_url,
                        MaxNumberOfMessages=settings.max_messages,
                        WaitTimeSeconds=settings.wait_s,
                        VisibilityTimeout=settings.visibility_s,
                        MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
                    )
                except Exception as exc:
                    failures += 1
                    self.counters.receive_failed += 1
                    self._pollers_failing += failures == 1
                    await self._pause(exc, failures)
                    continue
                self._pollers_failing -= failures > 0
                failures = 0
                messages = answer.get("Messages", [])
                if not messages:
                    self._lag_s = 0.0
                    self._healthy()
                    continue
                await self._handle(client, messages)
        finally:
            self._pollers_failing -= failures > 0
            if index > 0:
                self._pollers = min(self._pollers, index)

    def _sort(self, messages: Sequence[MessageTypeDef]) -> _Batch:
        batch = _Batch()
        in_batch: set[object] = set()
        for message in messages:
            message_id = message.get("MessageId", "")
            handle = message.get("ReceiptHandle", "")
            try:
                event = parse_envelope(message.get("Body", ""))
            except EnvelopeError as exc:
                self.counters.unparsed += 1
                if message_id not in self._reported:
                    self._reported[message_id] = None
                    if len(self._reported) > _REPORTED_CAP:
                        self._reported.popitem(last=False)
                    logger.warning(
                        "EventBridge message %s could not be read (%s); left in the queue for "
                        "its dead-letter queue",
                        message_id,
                        exc.reason,
                    )
                continue
            key = content_key(event)
            if event.envelope_id in in_batch or key in in_batch:
                self.counters.duplicates += 1
                batch.riders.append(handle)
                continue
            verdict = self._dedup.check(event)
            if verdict is Verdict.SEEN:
                self.counters.duplicates += 1
                batch.seen.append(handle)
            elif verdict is Verdict.NEW:
                in_batch.update((event.envelope_id, key))
                batch.fresh.append((event, handle))
            # IN_FLIGHT: another poller's batch carries it; this copy waits in the queue.
        return batch

    async def _handle(self, client: SQSClient, messages: Sequence[MessageTypeDef]) -> None:
        self.counters.received += len(messages)
        batch = self._sort(messages)
        batch.fresh.sort(key=lambda pair: pair[0].happened)
        events = [event for event, _ in batch.fresh]
        journaled = not events
        if events:
            for event in events:
                self._dedup.take_off(event)
            handles = [handle for _, handle in batch.fresh] + batch.riders
            try:
                async with self._kept_invisible(client, handles):
                    await self._sink(events)
                journaled = True
            except Exception:
                self.counters.sink_failed += 1
                logger.warning(
                    "%d EventBridge events could not be recorded; they stay in the queue and come "
                    "back later",
                    len(events),
                    exc_info=True,
                )
            finally:
                for event in events:
                    self._dedup.land(event, journaled=journaled)
        done = batch.seen
        if journaled and events:
            self.counters.delivered += len(events)
            done = done + [handle for _, handle in batch.fresh] + batch.riders
            newest = max(event.happened for event in events)
            self._lag_s = max(0.0, (datetime.now(UTC) - newest).total_seconds())
        if done:
            await self._delete(client, done)
        if journaled:
            self._healthy()

    @contextlib.asynccontextmanager
    async def _kept_invisible(self, client: SQSClient, handles: list[str]) -> AsyncIterator[None]:
        """Renew the batch's visibility at half its timeout until the block ends."""

        async def renew() -> None:
            every = max(0.2, self.settings.visibility_s / 2)
            while True:
                await asyncio.sleep(every)
                for start in range(0, len(handles), SQS_BATCH):
                    chunk = handles[start : start + SQS_BATCH]
                    try:
                        await client.change_message_visibility_batch(
                            QueueUrl=self.queue_url,
                            Entries=[
                                {
                                    "Id": str(i),
                                    "ReceiptHandle": h,
                                    "VisibilityTimeout": self.settings.visibility_s,
                                }
                                for i, h in enumerate(chunk)
                            ],
                        )
                    except Exception as exc:
                        logger.debug("visibility not extended: %s", type(exc).__name__)

        task = asyncio.get_running_loop().create_task(renew(), name="eventbridge-visibility")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _delete(self, client: SQSClient, handles: list[str]) -> None:
        """Delete in batches of ten; retry only the entries that failed for a passing reason."""
        for start in range(0, len(handles), SQS_BATCH):
            pending = {str(i): h for i, h in enumerate(handles[start : start + SQS_BATCH])}
            for attempt in range(1, self.settings.delete_attempts + 1):
                try:
                    answer = await client.delete_message_batch(
                        QueueUrl=self.queue_url,
                        Entries=[{"Id": k, "ReceiptHandle": h} for k, h in pending.items()],
                    )
                except Exception as exc:
                    logger.info("delete not confirmed (%s); trying again", type(exc).__name__)
                    await asyncio.sleep(_backoff(attempt, 0.2, 2.0))
                    continue
                self.counters.deleted += len(answer.get("Successful", []))
                retry: dict[str, str] = {}
                for failed in answer.get("Failed", []):
                    if failed.get("SenderFault"):
                        self.counters.delete_failed += 1  # e.g. an expired handle: it comes back
                    elif failed["Id"] in pending:
                        retry[failed["Id"]] = pending[failed["Id"]]
                pending = retry
                if not pending:
                    break
            self.counters.delete_failed += len(pending)
