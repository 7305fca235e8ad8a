"""How hard the REST client tries: the retry policy, ``Retry-After`` parsing, the counters.

Kept apart from the client so the policy can be tuned, tested and shared (the chaos rig and the
benchmarks build their own) without an HTTP client: it is plain arithmetic over a seeded
:class:`random.Random`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

# Failures of these kinds happened before the request left us, so even a POST may be resent.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures that may be transient; an idempotent request is worth another try after them.
RETRYABLE_TRANSPORT_ERRORS = (
    httpx.NetworkError,
    httpx.TimeoutException,
    httpx.RemoteProtocolError,
)


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

    def delay_s(
        self, status: int, retry_after_s: float | None, retry: int, rng: random.Random
    ) -> float:
        """The wait before retry number ``retry`` after an error answer.

        A 429 waits what ``Retry-After`` says; anything else backs off, but never comes back
        before a ``Retry-After`` the server sent (a 503 may say when to come back).
        """
        if status == 429 and retry_after_s is not None:
            return self.rate_limit_wait_s(retry_after_s, rng)
        backoff = self.backoff_s(retry, rng)
        return backoff if retry_after_s is None else max(backoff, retry_after_s)

    def allows_retry(self, attempt: int, waited_s: float, delay_s: float) -> bool:
        """Whether failed attempt number ``attempt`` may be followed by a wait of ``delay_s``."""
        return attempt < self.max_attempts and waited_s + delay_s <= self.max_total_wait_s + 1e-9

    def allows_rate_limited(self, limited: int, waited_s: float, delay_s: float) -> bool:
        """Whether the ``limited``-th 429 of a request may be waited out for ``delay_s``."""
        return (
            limited <= self.max_rate_limited and waited_s + delay_s <= self.max_total_wait_s + 1e-9
        )


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
