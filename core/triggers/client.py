"""The org's triggers over the app's :class:`~core.rest.client.ApiClient`.

The routes and bodies are the official SDK's ``ProcessAutomationApi`` (fact sheet 5.1):
``/api/v2/processautomation/triggers`` (cursor pages through ``nextUri``), ``/{id}`` (GET, PUT
with the trigger's ``version``, DELETE), ``/topics``, ``/{id}/test`` and
``/topics/{topicName}/test``; workflows come from ``/api/v2/flows?type=workflow``. A 409 on a
PUT is :class:`TriggerConflictError` (someone changed the trigger since it was read); a 403 is
:class:`TriggerRefusedError`, which names the permission to ask for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx

from core.errors import ApiError, ForbiddenError
from core.rest.client import ApiClient
from core.rest.user_actions import named_permission
from core.triggers.model import Trigger, Workflow

logger = logging.getLogger(__name__)

BASE: Final = "/api/v2/processautomation/triggers"
FLOWS: Final = "/api/v2/flows"
PAGE_SIZE: Final = 200  # the documented maximum
MAX_PAGES: Final = 100
VIEW: Final = "processautomation:trigger:view"
ADD: Final = "processautomation:trigger:add"
EDIT: Final = "processautomation:trigger:edit"
DELETE: Final = "processautomation:trigger:delete"
TEST: Final = "processautomation:trigger:test"
FLOW_VIEW: Final = "architect:flow:view"
T = TypeVar("T")


class TriggerConflictError(ApiError):
    """409: the trigger changed since it was read (its ``version`` moved on)."""


class TriggerRefusedError(ForbiddenError):
    """403: a permission is missing; ``permission`` is the one to ask an admin for."""

    def __init__(self, permission: str, source: ForbiddenError) -> None:
        self.permission = permission
        self.words = (
            f"You need the permission {permission} for this (ask your Genesys Cloud admin)."
        )
        super().__init__(
            403,
            self.words,
            code=source.code,
            correlation_id=source.correlation_id,
            method=source.method,
            path=source.path,
        )


def plain_message(error: ApiError) -> str:
    """The server's own sentence of an error, without the method, path and code before it."""
    text = str(error)
    head, sep, tail = text.partition(": ")
    return tail if sep and "→" in head else text


def _seg(value: str) -> str:
    return quote(value, safe="")


class TriggersApi:
    """Read and change the org's triggers (one per session; cheap to make)."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    async def _json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | httpx.QueryParams | None = None,
        body: Any = None,
    ) -> Any:
        """One request's JSON answer (None when it had no body)."""
        response = await self.api.request(method, path, params=params, body=body)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code, "The answer was not JSON.", code="invalid.response"
            ) from None

    async def _call(self, permission: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except ForbiddenError as exc:
            if isinstance(exc, TriggerRefusedError):
                raise
            refused = TriggerRefusedError(named_permission(exc) or permission, exc)
            logger.info("triggers: refused, needs %s", refused.permission)
            raise refused from exc
        except ApiError as exc:
            if exc.status == 409 and not isinstance(exc, TriggerConflictError):
                raise TriggerConflictError(
                    409,
                    plain_message(exc),
                    code=exc.code,
                    correlation_id=exc.correlation_id,
                    method=exc.method,
                    path=exc.path,
                ) from exc
            raise

    async def _pages(self, path: str, params: dict[str, str]) -> list[Any]:
        """Every ``entities`` item of a cursor listing, following ``nextUri``."""
        items: list[Any] = []
        seen: set[str] = set()
        page: Any = await self._json("GET", path, params=params)
        for _ in range(MAX_PAGES):
            listing = page if isinstance(page, dict) else {}
            entities = listing.get("entities")
            if isinstance(entities, list):
                items.extend(entities)
            next_uri = listing.get("nextUri")
            if not isinstance(next_uri, str) or not next_uri.strip() or not entities:
                return items
            target = httpx.URL(next_uri.strip())
            marker = f"{target.path}?{target.query.decode('ascii', 'replace')}"
            if marker in seen:
                logger.warning("GET %s: the server repeated a page; stopping", path)
                return items
            seen.add(marker)
            page = await self._json("GET", target.path, params=target.params)
        return items

    async def triggers(self) -> list[Trigger]:
        """Every trigger of the org (all pages)."""

        async def read() -> list[Trigger]:
            raw = await self._pages(BASE, {"pageSize": str(PAGE_SIZE)})
            found = [Trigger.from_json(item) for item in raw if isinstance(item, dict)]
            return [t for t in found if t is not None]

        return await self._call(VIEW, read)

    async def get(self, trigger_id: str) -> Trigger:
        """One trigger as it is now (its current ``version``)."""

        async def read() -> Trigger:
            raw = await self._json("GET", f"{BASE}/{_seg(trigger_id)}")
            return self._one(raw, "GET")

        return await self._call(VIEW, read)

    async def create(self, trigger: Trigger) -> Trigger:
        """Create ``trigger``; the answer has its id and version."""

        async def send() -> Trigger:
            raw = await self._json("POST", BASE, body=trigger.create_body())
            return self._one(raw, "POST")

        return await self._call(ADD, send)

    async def update(self, trigger: Trigger) -> Trigger:
        """PUT the whole trigger with the version it was read at.

        Raises:
            TriggerConflictError: it changed since (read it again and retry).
        """

        async def send() -> Trigger:
            raw = await self._json("PUT", f"{BASE}/{_seg(trigger.id)}", body=trigger.update_body())
            return self._one(raw, "PUT")

        return await self._call(EDIT, send)

    async def set_enabled(self, trigger_id: str, enabled: bool) -> Trigger:
        """Switch a trigger on or off: GET it, then PUT it back with its version (no PATCH)."""
        current = await self.get(trigger_id)
        return await self.update(current.with_enabled(enabled))

    async def delete(self, trigger_id: str) -> None:
        """Delete a trigger."""

        async def send() -> None:
            await self.api.request("DELETE", f"{BASE}/{_seg(trigger_id)}")

        await self._call(DELETE, send)

    async def topics(self) -> list[str]:
        """The topics triggers can listen to in this org."""

        async def read() -> list[str]:
            raw = await self._pages(f"{BASE}/topics", {"pageSize": str(PAGE_SIZE)})
            return [t for t in raw if isinstance(t, str)]

        return await self._call(VIEW, read)

    async def test(self, trigger_id: str, body: Any) -> dict[str, Any]:
        """The org's own check of one event body against a trigger (``TestModeResults``)."""

        async def send() -> dict[str, Any]:
            raw = await self._json("POST", f"{BASE}/{_seg(trigger_id)}/test", body=body)
            return raw if isinstance(raw, dict) else {}

        return await self._call(TEST, send)

    async def test_topic(self, topic: str, body: Any) -> dict[str, Any]:
        """Which of the org's triggers on ``topic`` an event body matches
        (``TestModeEventResults``)."""

        async def send() -> dict[str, Any]:
            raw = await self._json("POST", f"{BASE}/topics/{_seg(topic)}/test", body=body)
            return raw if isinstance(raw, dict) else {}

        return await self._call(TEST, send)

    async def workflows(self) -> list[Workflow]:
        """The org's workflows (``/api/v2/flows?type=workflow``), all pages."""
        out: list[Workflow] = []
        try:
            async for item in self.api.paged(FLOWS, {"type": "workflow", "pageSize": "100"}):
                wid, name = item.get("id"), item.get("name")
                if isinstance(wid, str) and isinstance(name, str):
                    out.append(
                        Workflow(
                            wid,
                            name,
                            published=item.get("publishedVersion") is not None
                            or item.get("active") is True,
                            active=item.get("active") is not False,
                        )
                    )
        except ForbiddenError as exc:
            raise TriggerRefusedError(named_permission(exc) or FLOW_VIEW, exc) from exc
        return out

    @staticmethod
    def _one(raw: Any, method: str) -> Trigger:
        found = Trigger.from_json(raw) if isinstance(raw, dict) else None
        if found is None:
            raise ApiError(200, "The answer was not a trigger.", code="invalid.response")
        return found


def check_words(result: dict[str, Any]) -> list[str]:
    """A ``TestModeResults`` as lines a person reads: each step, then whether it would fire."""
    lines = []
    for key in ("schemaValidation", "targetValidation", "jsonPathValidation"):
        step = result.get(key)
        if not isinstance(step, dict):
            continue
        name = step.get("name") if isinstance(step.get("name"), str) else key
        mark = "✓" if step.get("matches") is True else "✗"
        lines.append(f"{mark} {name}")
        for detail in step.get("details") or []:
            if isinstance(detail, str):
                lines.append(f"    {detail}")
            elif isinstance(detail, dict):
                path = detail.get("jsonPath")
                got = detail.get("jsonPathExtraction")
                verdict = "matches" if detail.get("match") is True else "does not match"
                lines.append(f"    {path}: {verdict} (found {json.dumps(got)[:120]})")
    fires = result.get("triggerMatches") is True
    lines.append("It would fire." if fires else "It would not fire.")
    return lines
