"""Genesys error bodies and the HTTP-level behaviour shared by every REST endpoint.

Every response carries ``ININ-Correlation-Id``; every error body is the documented ``ErrorBody``
with the same id as ``contextId`` (genesys-api.md 3.6).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

CORRELATION_HEADER = "ININ-Correlation-Id"
CORRELATION_KEY: web.RequestKey[str] = web.RequestKey("correlation_id", str)


def correlation_id(request: web.Request) -> str:
    """The correlation id of this request (made on first use)."""
    existing = request.get(CORRELATION_KEY)
    if existing is None:
        existing = str(uuid.uuid4())
        request[CORRELATION_KEY] = existing
    return existing


def error_body(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    **extra: Any,
) -> dict[str, Any]:
    """A Genesys ``ErrorBody``."""
    body: dict[str, Any] = {
        "message": message,
        "code": code,
        "status": status,
        "messageParams": {},
        "contextId": correlation_id(request),
        "details": [],
        "errors": [],
    }
    body.update(extra)
    return body


def error_response(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """A JSON error response in Genesys' shape."""
    all_headers = {CORRELATION_HEADER: correlation_id(request)}
    all_headers.update(headers or {})
    return web.json_response(
        error_body(request, status, code, message, **extra),
        status=status,
        headers=all_headers,
    )


class ApiError(Exception):
    """Raised by handlers to answer with a Genesys error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra

    def response(self, request: web.Request) -> web.Response:
        """Render this error for ``request``."""
        return error_response(
            request, self.status, self.code, self.message, headers=self.headers, **self.extra
        )


def bad_request(message: str) -> ApiError:
    """400 ``bad.request``."""
    return ApiError(400, "bad.request", message)


def not_found(message: str = "The requested resource was not found.") -> ApiError:
    """404 ``not.found``."""
    return ApiError(404, "not.found", message)


def missing_permissions(message: str, permissions: list[str]) -> ApiError:
    """403 ``missing.permissions``."""
    return ApiError(
        403,
        "missing.permissions",
        message,
        messageParams={"permissions": ", ".join(permissions)},
    )


def rate_limited(retry_after_s: int) -> ApiError:
    """429 exactly as the November 2021 announcement shows it, with ``Retry-After``."""
    return ApiError(
        429,
        "too.many.requests.retry.after",
        f"Rate limit exceeded the maximum. Retry the request in [{retry_after_s}] seconds",
        headers={"Retry-After": str(retry_after_s)},
    )


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; a literal ``null`` or an empty body reads as None."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request(f"The request body could not be parsed as JSON: {exc}") from None


def query_list(request: web.Request, name: str) -> list[str]:
    """A list query parameter sent comma-joined, repeated, or both (SDK style and plain style)."""
    values: list[str] = []
    for raw in request.query.getall(name, []):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def query_bool(request: web.Request, name: str, default: bool) -> bool:
    """A boolean query parameter written ``true``/``false`` (any case)."""
    raw = request.query.get(name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise bad_request(f"The value '{raw}' of query parameter {name} is not a boolean.")


def query_int(request: web.Request, name: str, default: int, *, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"The value '{raw}' of query parameter {name} is not a number.") from None
    if not low <= value <= high:
        raise bad_request(f"Query parameter {name} must be between {low} and {high}.")
    return value
