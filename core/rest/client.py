"""The Platform API REST client: bearer auth, 429/5xx retry, paging, typed endpoints.

One :class:`ApiClient` per signed-in session. It asks the auth layer for a token before every
attempt (so a refreshed token is picked up between retries), honours ``Retry-After`` on 429
(genesys-api.md 3.6-3.7), backs off with jitter on 5xx and network errors, and translates every
failure into :mod:`core.errors`. Results are parsed once into :mod:`core.rest.schema` values.

Logging names the method and path only: never a token, the Authorization header or a query
string, and channel ids (which are what the WebSocket trusts) are shortened.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from core.errors import (
    ApiError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnauthorizedError,
)
from core.rest.observations import QueueObservation, parse_queue_observations
from core.rest.regions import Environment
from core.rest.schema import (
    AvailableTopic,
    ChannelInfo,
    ListedChannel,
    Me,
    PresenceDefinition,
    PresenceRecord,
    QueueMember,
    QueueRecord,
    RoutingRecord,
    SubscriptionResult,
    TokenInfo,
    UserRecord,
    parse_available_topic,
    parse_bulk_presence,
    parse_channel,
    parse_listed_channel,
    parse_me,
    parse_presence_definition,
    parse_queue,
    parse_queue_member,
    parse_routing,
    parse_subscriptions,
    parse_token_info,
    parse_user,
)

logger = logging.getLogger(__name__)

Json = dict[str, Any]
QueryValue = str | int | bool | Sequence[str]
TokenProvider = Callable[[], Awaitable[str]]
Sleep = Callable[[float], Awaitable[None]]

USER_AGENT = "genesys-tray/0.1"
CORRELATION_HEADER = "ININ-Correlation-Id"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
PAGE_SIZE = 100  # users, queues, members: stay ≤ 100 (genesys-api.md 6.2, 6.7)
MAX_USER_IDS = 100  # GET /api/v2/users?id=... (6.2: unconfirmed, stay ≤ 100)
MAX_PRESENCE_IDS = 50  # presence bulk (6.4, confirmed)
MAX_OBSERVATION_QUEUES = 100  # observations query predicates (6.8)
MAX_PAGES = 10_000  # no listing of ours is this long; stops a server that pages forever
USER_EXPAND = "presence,routingStatus"
OBSERVATION_METRICS = (
    "oWaiting",
    "oInteracting",
    "oAlerting",
    "oOnQueueUsers",
    "oOffQueueUsers",
    "oActiveUsers",
    "oMemberUsers",
    "oUserRoutingStatuses",
)
TOPIC_EXPAND = "description,requiresPermissions,permissionDetails,visibility"
_MAX_MESSAGE_CHARS = 300
_CHANNEL_ID_RE = re.compile(r"(/channels/)([^/?#]{6})[^/?#]*")
_URL_RE = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#'\"]*)[?#][^\s'\"]*", re.IGNORECASE)
# Failures of these kinds happened before the request left us, so even a POST may be resent.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRYABLE_TRANSPORT = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try before giving up.

    Attributes:
        max_attempts: attempts per request, the first one included.
        max_total_wait_s: sleeping across all retries of one request never exceeds this; a
            ``Retry-After`` that would break it is raised at once as RateLimitedError.
        base_backoff_s: nominal delay before the first 5xx/network retry (doubles each time).
        max_backoff_s: cap of the nominal delay.
        max_rate_limited: 429 answers with ``Retry-After`` one request may wait out; they do
            not count as failed attempts (the server said when, nothing failed).
        rate_limit_jitter_s: up to this much is added to ``Retry-After``. Zero by default:
            ``Retry-After`` is honoured exactly, since the server already spreads its clients
            and anything on top is staleness the person at the desk sees.
        retry_statuses: server errors worth another try.
    """

    max_attempts: int = 5
    max_total_wait_s: float = 60.0
    base_backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_rate_limited: int = 30
    rate_limit_jitter_s: float = 0.0
    retry_statuses: frozenset[int] = frozenset({500, 502, 503, 504})

    def backoff_s(self, retry: int, rng: random.Random) -> float:
        """Equal-jitter exponential delay before retry number ``retry`` (1-based).

        Half the nominal delay is fixed and half random: never a thundering herd, never a
        near-zero wait that hammers a struggling server.
        """
        nominal = min(self.max_backoff_s, self.base_backoff_s * 2.0 ** max(0, retry - 1))
        return nominal / 2 + rng.uniform(0.0, nominal / 2)

    def rate_limit_wait_s(self, retry_after_s: float, rng: random.Random) -> float:
        """``Retry-After`` plus a little jitter."""
        return retry_after_s + rng.uniform(0.0, self.rate_limit_jitter_s)


DEFAULT_POLICY = RetryPolicy()


@dataclass(slots=True)
class ApiStats:
    """Counters of one client, for benchmarks ("calls made") and diagnostics."""

    calls: int = 0  # HTTP requests sent, retries included
    retries: int = 0
    rate_limited: int = 0  # 429 answers seen
    server_errors: int = 0  # 5xx answers seen
    transport_errors: int = 0
    waited_s: float = 0.0
    by_path: dict[str, int] = field(default_factory=dict)  # "GET /api/v2/users" → calls


def redact_path(path: str) -> str:
    """The path without its query, with channel ids shortened (safe to log)."""
    bare = path.split("?", 1)[0].split("#", 1)[0]
    return _CHANNEL_ID_RE.sub(r"\1\2…", bare)


def _redact_text(text: str) -> str:
    return _URL_RE.sub(r"\1", text)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date); None if unusable."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _query(params: Mapping[str, QueryValue] | None) -> dict[str, str]:
    """Query values the way the SDK sends them: lists comma-joined, booleans lower-case."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, int | str):
            out[key] = str(value)
        else:
            out[key] = ",".join(value)
    return out


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _segment(value: str) -> str:
    """An id as one safe path segment (no ``/``, ``?`` or ``..`` can reach the server)."""
    return quote(value, safe="")


class ApiClient:
    """Async client of the Genesys Cloud Platform API for one environment and session."""

    def __init__(
        self,
        env: Environment,
        token: TokenProvider,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        user_agent: str = USER_AGENT,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        on_unauthorized: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        self.env = env
        self._on_unauthorized = on_unauthorized
        self.policy = policy
        self.stats = ApiStats()
        self._token = token
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._client = httpx.AsyncClient(
            base_url=env.api_base,
            transport=transport,
            verify=True,
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )
        httpx_logger = logging.getLogger("httpx")
        if httpx_logger.level == logging.NOTSET:
            # httpx logs full URLs (query strings included) at INFO; house rule: WARNING.
            httpx_logger.setLevel(logging.WARNING)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ the request loop
    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | httpx.QueryParams | None = None,
        body: Any = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one API request with retries; return the 2xx response or raise.

        Args:
            method: HTTP method.
            path: ``/api/v2/...`` (a query string in it is kept).
            params: query parameters; sequences are sent comma-joined.
            body: JSON body, if any.
            idempotent: whether a request that may have reached the server can be resent.
                Defaults to True for everything but POST. A non-idempotent request is retried
                only when the server certainly did not act on it (429, 503, connect failures).

        Raises:
            UnauthorizedError: 401. With ``on_unauthorized`` the auth layer gets one chance to
                renew the refused token and the request is sent once more; never blindly.
            ForbiddenError: 403.
            NotFoundError: 404.
            RateLimitedError: 429 beyond the retry budget.
            ServerError: 5xx beyond the retry budget.
            ApiError: any other error status.
            TransportError: the server could not be reached.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method != "POST"
        query = params if isinstance(params, httpx.QueryParams) else _query(params)
        shown = redact_path(path)
        key = f"{method} {shown}"
        waited = 0.0
        attempt = 0
        limited = 0  # 429s waited out; they are no failed attempts
        renewed = False
        while True:
            attempt += 1
            token = await self._token()  # per attempt: the auth layer may have refreshed it
            self.stats.calls += 1
            self.stats.by_path[key] = self.stats.by_path.get(key, 0) + 1
            headers = {"Authorization": f"Bearer {token}"}
            started = time.monotonic()
            try:
                response = await self._client.request(
                    method, path, params=query, json=body, headers=headers
                )
            except httpx.TransportError as exc:
                self.stats.transport_errors += 1
                retryable = isinstance(exc, _NOT_SENT) or (
                    idempotent and isinstance(exc, _RETRYABLE_TRANSPORT)
                )
                delay = self.policy.backoff_s(attempt - limited, self._rng)
                if retryable and self._may_retry(attempt - limited, waited, delay):
                    logger.info(
                        "%s failed (%s); retry %d in %.2f s",
                        key,
                        type(exc).__name__,
                        attempt,
                        delay,
                    )
                    waited += await self._pause(delay)
                    continue
                logger.warning(
                    "%s failed after %d attempt(s): %s", key, attempt, type(exc).__name__
                )
                raise TransportError(
                    f"{key}: {type(exc).__name__}: {_redact_text(str(exc)) or 'no detail'}"
                ) from exc
            elapsed_ms = (time.monotonic() - started) * 1000
            status = response.status_code
            logger.debug("%s → %d in %.0f ms (attempt %d)", key, status, elapsed_ms, attempt)
            if status < 300:
                return response  # 3xx is not followed: an API redirect would be a surprise
            if status == 401 and self._on_unauthorized is not None and not renewed:
                renewed = True
                logger.info("%s → 401; asking the session to renew the token once", key)
                fresh = await self._on_unauthorized(token)
                if fresh != token:
                    continue
            delay, retry_after = self._retry_delay(response, attempt - limited)
            retryable = status == 429 or (
                status in self.policy.retry_statuses and (idempotent or status == 503)
            )
            if status == 429:
                self.stats.rate_limited += 1
                limited += 1
                may = (
                    limited <= self.policy.max_rate_limited
                    and waited + delay <= self.policy.max_total_wait_s + 1e-9
                )
            else:
                if status >= 500:
                    self.stats.server_errors += 1
                may = self._may_retry(attempt - limited, waited, delay)
            if retryable and may:
                logger.info("%s → %d; retry %d in %.2f s", key, status, attempt, delay)
                waited += await self._pause(delay)
                continue
            # Without a Retry-After the wait we would have taken is the best hint we have.
            error = self._error(
                response, method, shown, delay if retry_after is None else retry_after
            )
            level = logging.WARNING if status >= 500 or status == 429 else logging.DEBUG
            logger.log(level, "%s → %d after %d attempt(s): %s", key, status, attempt, error.code)
            raise error

    def _may_retry(self, attempt: int, waited: float, delay: float) -> bool:
        return (
            attempt < self.policy.max_attempts
            and waited + delay <= self.policy.max_total_wait_s + 1e-9
        )

    async def _pause(self, delay: float) -> float:
        self.stats.retries += 1
        self.stats.waited_s += delay
        await self._sleep(delay)
        return delay

    def _retry_delay(self, response: httpx.Response, attempt: int) -> tuple[float, float | None]:
        """The wait before the next attempt, and the server's ``Retry-After`` if it sent one."""
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if response.status_code == 429 and retry_after is not None:
            return self.policy.rate_limit_wait_s(retry_after, self._rng), retry_after
        backoff = self.policy.backoff_s(attempt, self._rng)
        if retry_after is not None:  # a 503 may say when to come back
            return max(backoff, retry_after), retry_after
        return backoff, None

    @staticmethod
    def _error(
        response: httpx.Response, method: str, path: str, retry_after: float | None
    ) -> ApiError:
        """Translate an error response and its Genesys ``ErrorBody`` (genesys-api.md 3.6)."""
        status = response.status_code
        payload: Any = None
        if response.content:
            try:
                payload = response.json()
            except ValueError:
                payload = None
        error_body: Json = payload if isinstance(payload, dict) else {}
        message = error_body.get("message")
        if not isinstance(message, str) or not message:
            message = response.reason_phrase or f"HTTP {status}"
        message = _redact_text(message)[:_MAX_MESSAGE_CHARS]
        code = error_body.get("code")
        correlation = response.headers.get(CORRELATION_HEADER) or error_body.get("contextId")
        kw = {
            "code": code if isinstance(code, str) else "",
            "correlation_id": correlation if isinstance(correlation, str) else "",
            "method": method,
            "path": path,
        }
        if status == 429:
            return RateLimitedError(status, message, retry_after_s=retry_after or 0.0, **kw)
        cls: type[ApiError] = {
            401: UnauthorizedError,
            403: ForbiddenError,
            404: NotFoundError,
        }.get(status, ServerError if status >= 500 else ApiError)
        return cls(status, message, **kw)

    async def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | httpx.QueryParams | None = None,
        body: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        response = await self.request(method, path, params=params, body=body, idempotent=idempotent)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code,
                "The answer was not JSON.",
                code="invalid.response",
                method=method,
                path=redact_path(path),
            ) from None

    # ------------------------------------------------------------------ paging
    async def paged(
        self,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        *,
        item_key: str = "entities",
    ) -> AsyncIterator[Json]:
        """Every item of a paged listing (genesys-api.md 6.10).

        Loops ``pageNumber`` 1..``pageCount`` when the listing has ``pageCount``; otherwise
        follows ``nextUri`` (relative, or absolute: only its path and query are used, so the
        token never goes to another host) until it is null or absent. A server that hands back
        a ``nextUri`` already followed, or the same page again, is stopped with a warning.
        """
        base_params = _query(params)
        shown = redact_path(path)
        page_number = 1
        page = await self._json("GET", path, params={**base_params, "pageNumber": "1"})
        seen_uris: set[str] = set()
        previous_ids: tuple[object, ...] | None = None
        for _ in range(MAX_PAGES):
            listing: Json = page if isinstance(page, dict) else {}
            raw_items = listing.get(item_key)
            items = (
                [i for i in raw_items if isinstance(i, dict)] if isinstance(raw_items, list) else []
            )
            ids = tuple(i.get("id") for i in items)
            if not all(isinstance(i, str) and i for i in ids):
                ids = ()  # without ids a repeat cannot be told from a coincidence
            if previous_ids and ids == previous_ids:
                logger.warning("GET %s repeated page %d; stopping", shown, page_number)
                return
            previous_ids = ids or None
            for item in items:
                yield item
            page_count = listing.get("pageCount")
            if isinstance(page_count, int) and not isinstance(page_count, bool):
                if page_number >= page_count or not items:
                    return
                page_number += 1
                page = await self._json(
                    "GET", path, params={**base_params, "pageNumber": str(page_number)}
                )
                continue
            next_uri = listing.get("nextUri")
            if not isinstance(next_uri, str) or not next_uri.strip() or not items:
                return
            try:
                target = httpx.URL(next_uri.strip())
            except httpx.InvalidURL:
                logger.warning("GET %s: unusable nextUri; stopping", shown)
                return
            marker = f"{target.path}?{target.query.decode('ascii', 'replace')}"
            if marker in seen_uris:
                logger.warning("GET %s: the server repeated a nextUri; stopping", shown)
                return
            seen_uris.add(marker)
            page_number += 1
            page = await self._json("GET", target.path, params=target.params)
        logger.warning("GET %s: more than %d pages; stopping", shown, MAX_PAGES)

    # ------------------------------------------------------------------ session
    async def me(self) -> Me:
        """The signed-in user with presence, routing status and permissions (genesys-api.md 6.1)."""
        raw = await self._json(
            "GET", "/api/v2/users/me", params={"expand": "presence,routingStatus,authorization"}
        )
        me = parse_me(raw)
        if me is None:
            raise self._malformed("GET", "/api/v2/users/me")
        return me

    async def token_info(self, *, preserve_idle_ttl: bool = False) -> TokenInfo:
        """Who the token belongs to and when the org idle timeout fires (genesys-api.md 2.10).

        Args:
            preserve_idle_ttl: read ``dateTokenIdles`` without resetting the idle timer.
        """
        params: dict[str, QueryValue] = {"preserveIdleTTL": True} if preserve_idle_ttl else {}
        return parse_token_info(await self._json("GET", "/api/v2/tokens/me", params=params))

    async def revoke_token(self) -> None:
        """Sign out: revoke the token used for this call (``DELETE /api/v2/tokens/me``)."""
        await self.request("DELETE", "/api/v2/tokens/me")

    # ------------------------------------------------------------------ users and presence
    async def users(self, ids: Iterable[str] | None = None) -> list[UserRecord]:
        """Users with presence and routing status: all of them (paged) or by id (≤ 100 a call)."""
        base: dict[str, QueryValue] = {"pageSize": PAGE_SIZE, "expand": USER_EXPAND}
        out: dict[str, UserRecord] = {}
        if ids is None:
            batches: Iterable[dict[str, QueryValue]] = [base]
        else:
            batches = ({**base, "id": chunk} for chunk in _chunks(_unique(ids), MAX_USER_IDS))
        for params in batches:
            async for item in self.paged("/api/v2/users", params):
                user = parse_user(item)
                if user is not None:
                    out.setdefault(user.id, user)
        return list(out.values())

    async def routing_status(self, user_id: str) -> RoutingRecord | None:
        """One user's routing status (there is no bulk endpoint, genesys-api.md 6.5)."""
        raw = await self._json("GET", f"/api/v2/users/{_segment(user_id)}/routingstatus")
        return parse_routing(raw)

    async def presences(self, ids: Iterable[str]) -> dict[str, PresenceRecord]:
        """Presence of many users by id, ≤ 50 a call (a bare array, genesys-api.md 6.4)."""
        out: dict[str, PresenceRecord] = {}
        for chunk in _chunks(_unique(ids), MAX_PRESENCE_IDS):
            raw = await self._json(
                "GET", "/api/v2/users/presences/purecloud/bulk", params={"id": chunk}
            )
            for item in raw if isinstance(raw, list) else []:
                parsed = parse_bulk_presence(item)
                if parsed is not None:
                    out[parsed[0]] = parsed[1]
        return out

    async def presence_definitions(self, locale: str = "en_US") -> list[PresenceDefinition]:
        """Active org presences with labels in ``locale`` (genesys-api.md 6.6).

        Reads the new ``/api/v2/presence/definitions``; where that is forbidden or missing it
        falls back to the deprecated, paged ``/api/v2/presencedefinitions``.
        """
        try:
            raw = await self._json(
                "GET", "/api/v2/presence/definitions", params={"deactivated": False}
            )
            entities = raw.get("entities") if isinstance(raw, dict) else None
            items: list[Any] = entities if isinstance(entities, list) else []
        except (ForbiddenError, NotFoundError) as exc:
            logger.info(
                "presence definitions: new API answered %d; using the deprecated one", exc.status
            )
            items = [
                item
                async for item in self.paged(
                    "/api/v2/presencedefinitions", {"pageSize": PAGE_SIZE, "deleted": "false"}
                )
            ]
        out: dict[str, PresenceDefinition] = {}
        for item in items:
            definition = parse_presence_definition(item, locale)
            if definition is not None and not definition.deactivated:
                out.setdefault(definition.id, definition)
        return list(out.values())

    # ------------------------------------------------------------------ queues
    async def queues(
        self, name: str | None = None, ids: Iterable[str] | None = None
    ) -> list[QueueRecord]:
        """Queues, optionally by name pattern (``*`` at either end) or ids (genesys-api.md 6.7)."""
        base: dict[str, QueryValue] = {"pageSize": PAGE_SIZE}
        if name:
            base["name"] = name
        batches: Iterable[dict[str, QueryValue]] = (
            [base]
            if ids is None
            else ({**base, "id": chunk} for chunk in _chunks(_unique(ids), PAGE_SIZE))
        )
        out: dict[str, QueueRecord] = {}
        for params in batches:
            async for item in self.paged("/api/v2/routing/queues", params):
                queue = parse_queue(item)
                if queue is not None:
                    out.setdefault(queue.id, queue)
        return list(out.values())

    async def my_queues(self) -> list[QueueRecord]:
        """Queues the signed-in user is a member of, with the ``joined`` flag."""
        out: dict[str, QueueRecord] = {}
        async for item in self.paged("/api/v2/routing/queues/me", {"pageSize": PAGE_SIZE}):
            queue = parse_queue(item)
            if queue is not None:
                out.setdefault(queue.id, queue)
        return list(out.values())

    async def queue_members(self, queue_id: str) -> list[QueueMember]:
        """Members of a queue with presence and routing status (pages via ``nextUri`` only)."""
        out: dict[str, QueueMember] = {}
        params: dict[str, QueryValue] = {"pageSize": PAGE_SIZE, "expand": USER_EXPAND}
        async for item in self.paged(
            f"/api/v2/routing/queues/{_segment(queue_id)}/members", params
        ):
            member = parse_queue_member(item)
            if member is not None:
                out.setdefault(member.id, member)
        return list(out.values())

    async def queue_observations(self, queue_ids: Iterable[str]) -> dict[str, QueueObservation]:
        """Live counts per queue, ≤ 100 queues a query (genesys-api.md 6.8).

        Every queue asked for gets a value; one the answer does not mention observes zero.
        """
        out: dict[str, QueueObservation] = {}
        for chunk in _chunks(_unique(queue_ids), MAX_OBSERVATION_QUEUES):
            query = {
                "filter": {
                    "type": "or",
                    "predicates": [{"dimension": "queueId", "value": qid} for qid in chunk],
                },
                "metrics": list(OBSERVATION_METRICS),
                # Which conversations wait, and since when: a re-sync replaces the known set,
                # so a conversation whose "ended" event was lost cannot wait on for hours.
                "detailMetrics": ["oWaiting"],
            }
            raw = await self._json(
                "POST",
                "/api/v2/analytics/queues/observations/query",
                body=query,
                idempotent=True,  # a query: resending it changes nothing
            )
            out.update(parse_queue_observations(raw, tuple(chunk), details=True))
        return out

    # ------------------------------------------------------------------ notification channels
    async def create_channel(self) -> ChannelInfo:
        """A new notification channel (each one counts against the 20 per user + client)."""
        path = "/api/v2/notifications/channels"
        channel = parse_channel(await self._json("POST", path), datetime.now(UTC))
        if channel is None:
            raise self._malformed("POST", path)
        return channel

    async def channel_exists(self, channel_id: str) -> bool:
        """Whether a stored channel can still be used (HEAD: 200 yes, 404 no)."""
        try:
            await self.request("HEAD", f"/api/v2/notifications/channels/{_segment(channel_id)}")
        except NotFoundError:
            return False
        return True

    async def list_channels(self, include: str = "token") -> list[ListedChannel]:
        """Channels of this token (``token``) or of this user + OAuth client (``oauthclient``)."""
        raw = await self._json(
            "GET", "/api/v2/notifications/channels", params={"includechannels": include}
        )
        entities = raw.get("entities") if isinstance(raw, dict) else None
        parsed = (parse_listed_channel(e) for e in (entities if isinstance(entities, list) else []))
        return [c for c in parsed if c is not None]

    async def put_subscriptions(
        self, channel_id: str, topics: Sequence[str], *, ignore_errors: bool = True
    ) -> SubscriptionResult:
        """Replace a channel's topics in one call (genesys-api.md 3.4, 8.5).

        With ``ignore_errors`` a forbidden topic comes back rejected instead of failing the
        whole request with 403.
        """
        body = [{"id": topic} for topic in _unique(topics)]
        raw = await self._json(
            "PUT",
            f"/api/v2/notifications/channels/{_segment(channel_id)}/subscriptions",
            params={"ignoreErrors": ignore_errors},
            body=body,
        )
        return parse_subscriptions(raw)

    async def get_subscriptions(self, channel_id: str) -> SubscriptionResult:
        """A channel's current topics."""
        raw = await self._json(
            "GET", f"/api/v2/notifications/channels/{_segment(channel_id)}/subscriptions"
        )
        return parse_subscriptions(raw)

    async def delete_subscriptions(self, channel_id: str) -> None:
        """Remove every topic of a channel (channels themselves cannot be deleted)."""
        await self.request(
            "DELETE", f"/api/v2/notifications/channels/{_segment(channel_id)}/subscriptions"
        )

    async def available_topics(self, *, include_preview: bool = True) -> list[AvailableTopic]:
        """Subscribable topic families and the permissions each requires."""
        raw = await self._json(
            "GET",
            "/api/v2/notifications/availabletopics",
            params={"expand": TOPIC_EXPAND, "includePreview": include_preview},
        )
        entities = raw.get("entities") if isinstance(raw, dict) else None
        parsed = (
            parse_available_topic(e) for e in (entities if isinstance(entities, list) else [])
        )
        return [t for t in parsed if t is not None]

    @staticmethod
    def _malformed(method: str, path: str) -> ApiError:
        return ApiError(
            200,
            "The answer lacked required fields.",
            code="invalid.response",
            method=method,
            path=redact_path(path),
        )
