"""Error answers of the Platform API as :mod:`core.errors` exceptions.

The translation is the boundary where httpx stops: callers catch our exception tree only, and
every message that leaves here is redacted (no query strings, shortened channel ids) and capped.
"""

from __future__ import annotations

from typing import Any

import httpx

from core.errors import (
    ApiError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
)
from core.rest.redact import redact_path, redact_text

CORRELATION_HEADER = "ININ-Correlation-Id"
MAX_MESSAGE_CHARS = 300


def error_from_response(
    response: httpx.Response, method: str, path: str, retry_after: float | None
) -> ApiError:
    """Translate an error response and its Genesys ``ErrorBody`` (genesys-api.md 3.6).

    Args:
        response: the error answer.
        method: the request's method.
        path: the request's path, already redacted.
        retry_after: seconds to wait before trying again (carried by RateLimitedError).
    """
    status = response.status_code
    payload: Any = None
    if response.content:
        try:
            payload = response.json()
        except (ValueError, RecursionError):  # not JSON, or nested deeper than we can follow
            payload = None
    error_body: dict[str, Any] = payload if isinstance(payload, dict) else {}
    message = error_body.get("message")
    if not isinstance(message, str) or not message:
        message = response.reason_phrase or f"HTTP {status}"
    message = redact_text(message)[:MAX_MESSAGE_CHARS]
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


def invalid_answer(status: int, message: str, method: str, path: str) -> ApiError:
    """A 2xx answer we cannot use (not JSON, required fields missing): ``invalid.response``."""
    return ApiError(status, message, code="invalid.response", method=method, path=redact_path(path))
