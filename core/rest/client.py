"""The Platform API REST client: bearer auth, 429/5xx retry, typed endpoints.

One :class:`ApiClient` per signed-in session. It asks the auth layer for a token before every
attempt (so a refreshed token is picked up between retries), honours ``Retry-After`` on 429
(genesys-api.md 3.6-3.7), backs off with jitter on 5xx and network errors (the policy is
:mod:`core.rest.retry`), and translates every failure into :mod:`core.errors`
(:mod:`core.rest.failures`). Listings are read through :mod:`core.rest.paging`; results are
parsed once into :mod:`core.rest.schema` values.

Logging names the method and path only: never a token, the Authorization header or a query
string, and channel ids (which are what the WebSocket trusts) are shortened.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from core.errors import ApiError, ForbiddenError, NotFoundError, TransportError
from core.rest import paging
from core.rest.connect_uri import check_connect_uri
from core.rest.failures import error_from_response, invalid_answer
from core.rest.observations import QueueObservation, parse_queue_observations
from core.rest.paging import Json, QueryValue, chunks, query_params, unique
from core.rest.redact import redact_path, redact_text
from core.rest.regions import Environment
from core.rest.retry import (
    DEFAULT_POLICY,
    NOT_SENT_ERRORS,
    RETRYABLE_TRANSPORT_ERRORS,
    ApiStats,
    RetryPolicy,
    parse_retry_after,
)
from core.rest.schema import (
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

TokenProvider = Callable[[], Awaitable[str]]
Sleep = Callable[[float], Awaitable[None]]
_LACKING = "The answer lacked required fields."

USER_AGENT = "genesys-tray/0.1"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
PAGE_SIZE = 100  # users, queues, members: stay ≤ 100 (genesys-api.md 6.2, 6.7)
MAX_USER_IDS = 100  # GET /api/v2/users?id=... (6.2: unconfirmed, stay ≤ 100)
MAX_PRESENCE_IDS = 50  # presence bulk (6.4, confirmed)
MAX_OBSERVATION_QUEUES = 100  # observations query predicates (6.8)
MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # far above any real answer; stops a flood
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
        query = params if isinstance(params, httpx.QueryParams) else query_params(params)
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
                response = await self._send(method, path, query, body, headers)
            except httpx.TransportError as exc:
                self.stats.transport_errors += 1
                retryable = isinstance(exc, NOT_SENT_ERRORS) or (
                    idempotent and isinstance(exc, RETRYABLE_TRANSPORT_ERRORS)
                )
                delay = self.policy.backoff_s(attempt - limited, self._rng)
                if retryable and self.policy.allows_retry(attempt - limited, waited, delay):
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
                    f"{key}: {type(exc).__name__}: {redact_text(str(exc)) or 'no detail'}"
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
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            delay = self.policy.delay_s(status, retry_after, attempt - limited, self._rng)
            retryable = status == 429 or (
                status in self.policy.retry_statuses and (idempotent or status == 503)
            )
            if status == 429:
                self.stats.rate_limited += 1
                limited += 1
                may = self.policy.allows_rate_limited(limited, waited, delay)
            else:
                if status >= 500:
                    self.stats.server_errors += 1
                may = self.policy.allows_retry(attempt - limited, waited, delay)
            if retryable and may:
                logger.info("%s → %d; retry %d in %.2f s", key, status, attempt, delay)
                waited += await self._pause(delay)
                continue
            # Without a Retry-After the wait we would have taken is the best hint we have.
            error = error_from_response(
                response, method, shown, delay if retry_after is None else retry_after
            )
            level = logging.WARNING if status >= 500 or status == 429 else logging.DEBUG
            logger.log(level, "%s → %d after %d attempt(s): %s", key, status, attempt, error.code)
            raise error

    async def _send(
        self,
        method: str,
        path: str,
        query: httpx.QueryParams | Mapping[str, str],
        body: Any,
        headers: dict[str, str],
    ) -> httpx.Response:
        """Send and read the answer, stopping at :data:`MAX_RESPONSE_BYTES`.

        Without a cap a broken or hostile server could stream until memory runs out; the cap
        counts decoded bytes, so a small compressed bomb is stopped as well.

        Raises:
            ApiError: ``invalid.response`` for an answer over the cap or one not unpackable.
            httpx.TransportError: the connection failed while sending or reading.
        """
        request = self._client.build_request(method, path, params=query, json=body, headers=headers)
        try:
            response = await self._client.send(request, stream=True)
            try:
                content = await self._read_capped(response, method, path)
            finally:
                await response.aclose()
        except httpx.DecodingError:  # a Content-Encoding the body does not follow
            raise invalid_answer(200, "The answer could not be unpacked.", method, path) from None
        # The body is decoded already: drop the headers that describe the wire form.
        wire = {"content-encoding", "content-length", "transfer-encoding"}
        return httpx.Response(
            response.status_code,
            headers=[(k, v) for k, v in response.headers.multi_items() if k.lower() not in wire],
            content=content,
            request=request,
            extensions=response.extensions,
        )

    async def _read_capped(self, response: httpx.Response, method: str, path: str) -> bytes:
        """The decoded body, refused unread when announced too large, cut off when it grows so."""
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > MAX_RESPONSE_BYTES:
            raise self._too_large(response, method, path)
        parts: list[bytes] = []
        size = 0
        async for part in response.aiter_bytes():
            size += len(part)
            if size > MAX_RESPONSE_BYTES:
                raise self._too_large(response, method, path)
            parts.append(part)
        return b"".join(parts)

    @staticmethod
    def _too_large(response: httpx.Response, method: str, path: str) -> ApiError:
        logger.warning(
            "%s %s → %d: the answer is over %d MB; not read",
            method,
            redact_path(path),
            response.status_code,
            MAX_RESPONSE_BYTES // (1024 * 1024),
        )
        return invalid_answer(response.status_code, "The answer was too large.", method, path)

    async def _pause(self, delay: float) -> float:
        self.stats.retries += 1
        self.stats.waited_s += delay
        await self._sleep(delay)
        return delay

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
            raise invalid_answer(
                response.status_code, "The answer was not JSON.", method, path
            ) from None
        except RecursionError:  # nested deeper than the parser can follow: broken or hostile
            raise invalid_answer(
                response.status_code, "The answer was nested too deeply.", method, path
            ) from None

    # ------------------------------------------------------------------ paging
    def paged(
        self,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        *,
        item_key: str = "entities",
    ) -> AsyncIterator[Json]:
        """Every item of a paged listing (see :func:`core.rest.paging.paged`)."""
        return paging.paged(self._get_json, path, params, item_key=item_key)

    async def _get_json(self, path: str, params: Mapping[str, str] | httpx.QueryParams) -> Any:
        return await self._json("GET", path, params=params)

    # ------------------------------------------------------------------ session
    async def me(self) -> Me:
        """The signed-in user with presence, routing status and permissions (genesys-api.md 6.1)."""
        raw = await self._json(
            "GET", "/api/v2/users/me", params={"expand": "presence,routingStatus,authorization"}
        )
        me = parse_me(raw)
        if me is None:
            raise invalid_answer(200, _LACKING, "GET", "/api/v2/users/me")
        return me

    async def token_info(self, *, preserve_idle_ttl: bool = False) -> TokenInfo:
        """Who the token belongs to and when the org idle timeout fires (genesys-api.md 2.10).

        Args:
            preserve_idle_ttl: read ``dateTokenIdles`` without resetting the idle timer.
        """
        params: dict[str, QueryValue] = {"preserveIdleTTL": True} if preserve_idle_ttl else {}
        return parse_token_info(await self._json("GET", "/api/v2/tokens/me", params=params))

    # ------------------------------------------------------------------ users and presence
    async def users(self, ids: Iterable[str] | None = None) -> list[UserRecord]:
        """Users with presence and routing status: all of them (paged) or by id (≤ 100 a call)."""
        base: dict[str, QueryValue] = {"pageSize": PAGE_SIZE, "expand": USER_EXPAND}
        out: dict[str, UserRecord] = {}
        if ids is None:
            batches: Iterable[dict[str, QueryValue]] = [base]
        else:
            batches = ({**base, "id": chunk} for chunk in chunks(unique(ids), MAX_USER_IDS))
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
        for chunk in chunks(unique(ids), MAX_PRESENCE_IDS):
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
            else ({**base, "id": chunk} for chunk in chunks(unique(ids), PAGE_SIZE))
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
        for chunk in chunks(unique(queue_ids), MAX_OBSERVATION_QUEUES):
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
            raise invalid_answer(200, _LACKING, "POST", path)
        check_connect_uri(channel.connect_uri, self.env, method="POST", path=path)
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
        return [self._own_socket(c) for c in parsed if c is not None]

    def _own_socket(self, channel: ListedChannel) -> ListedChannel:
        """The channel without its socket URL when that URL is not the org's own."""
        if channel.connect_uri is None:
            return channel
        try:
            check_connect_uri(channel.connect_uri, self.env)
        except ApiError:
            return replace(channel, connect_uri=None)
        return channel

    async def put_subscriptions(
        self, channel_id: str, topics: Sequence[str], *, ignore_errors: bool = True
    ) -> SubscriptionResult:
        """Replace a channel's topics in one call (genesys-api.md 3.4, 8.5).

        With ``ignore_errors`` a forbidden topic comes back rejected instead of failing the
        whole request with 403.
        """
        body = [{"id": topic} for topic in unique(topics)]
        raw = await self._json(
            "PUT",
            f"/api/v2/notifications/channels/{_segment(channel_id)}/subscriptions",
            params={"ignoreErrors": ignore_errors},
            body=body,
        )
        return parse_subscriptions(raw)

    async def delete_subscriptions(self, channel_id: str) -> None:
        """Remove every topic of a channel (channels themselves cannot be deleted)."""
        await self.request(
            "DELETE", f"/api/v2/notifications/channels/{_segment(channel_id)}/subscriptions"
        )
