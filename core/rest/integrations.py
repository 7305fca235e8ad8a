"""The Genesys side of EventBridge: the ``amazon-eventbridge-source`` integration and transports.

Functions over an :class:`core.rest.client.ApiClient` (that module is near the size limit), in
the wizard's order (shared/genesys-eventbridge-triggers.md 2.1): ``POST /api/v2/integrations``,
``PUT .../{id}/config/current`` with the configuration's current ``version`` (a stale one is
answered 409: read it again and retry once), ``PATCH .../{id}`` to enable it. A 403 is the
caller's "no permission": the guide then shows the JSON to hand an admin.
``availabletopics?expand=transports`` says per topic which transports carry it (2.3).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from core.errors import ApiError
from core.eventbridge.setup import (
    ADD_PERMISSION,
    INTEGRATION_TYPE,
    SetupPlan,
    eventbridge_only,
    integration_properties,
)
from core.rest.client import ApiClient
from core.rest.failures import invalid_answer
from core.rest.paging import QueryValue

logger = logging.getLogger(__name__)

BASE = "/api/v2/integrations"
TOPICS_PATH = "/api/v2/notifications/availabletopics"
CONFLICT = 409


@dataclass(frozen=True, slots=True)
class EventBridgeIntegration:
    """One ``amazon-eventbridge-source`` integration as the guide needs it."""

    id: str
    name: str
    intended_state: str
    version: int
    properties: dict[str, Any]

    @property
    def filters(self) -> tuple[str, ...]:
        """Its ``eventFilter`` topic patterns."""
        raw = self.properties.get("eventFilter")
        return tuple(p for p in raw if isinstance(p, str)) if isinstance(raw, list) else ()


async def _json(
    api: ApiClient, method: str, path: str, *, body: Any = None, params: Any = None
) -> dict[str, Any]:
    response = await api.request(method, path, body=body, params=params)
    try:
        data = response.json()
    except ValueError:
        status = response.status_code
        raise invalid_answer(status, "The answer was not JSON.", method, path) from None
    if not isinstance(data, dict):
        raise invalid_answer(response.status_code, "The answer was not an object.", method, path)
    return data


def _segment(value: str) -> str:
    return quote(value, safe="")


def _parse(raw: dict[str, Any], config: dict[str, Any] | None) -> EventBridgeIntegration | None:
    integration_id = raw.get("id")
    if not isinstance(integration_id, str) or not integration_id:
        return None
    current = config if config is not None else raw.get("config", {}).get("current", {})
    current = current if isinstance(current, dict) else {}
    version = current.get("version")
    properties = current.get("properties")
    return EventBridgeIntegration(
        id=integration_id,
        name=str(raw.get("name") or ""),
        intended_state=str(raw.get("intendedState") or ""),
        version=version if isinstance(version, int) and not isinstance(version, bool) else 0,
        properties=dict(properties) if isinstance(properties, dict) else {},
    )


async def available_transports(api: ApiClient) -> dict[str, tuple[str, ...]]:
    """Each topic pattern and the transports that carry it (as the server spells them)."""
    data = await _json(api, "GET", TOPICS_PATH, params={"expand": "transports"})
    out: dict[str, tuple[str, ...]] = {}
    entities = data.get("entities")
    for item in entities if isinstance(entities, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        raw = item.get("transports")
        values = tuple(v for v in raw if isinstance(v, str)) if isinstance(raw, list) else ()
        out[item["id"]] = values
    return out


async def eventbridge_integrations(api: ApiClient) -> list[EventBridgeIntegration]:
    """The org's EventBridge integrations with their current configuration."""
    params: dict[str, QueryValue] = {
        "pageSize": 100,
        "expand": "config.current",
        "integrationType": INTEGRATION_TYPE,
    }
    found: list[EventBridgeIntegration] = []
    async for item in api.paged(BASE, params):
        kind = item.get("integrationType")
        if isinstance(kind, dict) and kind.get("id") == INTEGRATION_TYPE:
            parsed = _parse(item, None)
            if parsed is not None:
                found.append(parsed)
    return found


async def integration(api: ApiClient, integration_id: str) -> EventBridgeIntegration:
    """One integration with its current configuration."""
    path = f"{BASE}/{_segment(integration_id)}"
    raw = await _json(api, "GET", path, params={"expand": "config.current"})
    parsed = _parse(raw, None)
    if parsed is None:
        raise invalid_answer(200, "The integration had no id.", "GET", path)
    return parsed


async def put_properties(
    api: ApiClient, integration_id: str, properties: dict[str, Any], *, name: str = ""
) -> int:
    """Replace the configuration's properties; returns the new version.

    The ``version`` is read first; when someone else changed it in between (409), it is read
    again and the change made once more.
    """
    path = f"{BASE}/{_segment(integration_id)}/config/current"
    for attempt in (1, 2):
        current = await _json(api, "GET", path)
        version = current.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise invalid_answer(200, "The configuration had no version.", "GET", path)
        body = {
            "name": name or str(current.get("name") or ""),
            "version": version,
            "properties": properties,
            "advanced": advanced if isinstance(advanced := current.get("advanced"), dict) else {},
            "notes": str(current.get("notes") or ""),
            "credentials": {},
        }
        try:
            saved = await _json(api, "PUT", path, body=body)
        except ApiError as exc:
            if exc.status == CONFLICT and attempt == 1:
                logger.info("integration configuration changed meanwhile; reading it again")
                continue
            raise
        new = saved.get("version")
        return new if isinstance(new, int) and not isinstance(new, bool) else version + 1
    raise AssertionError("unreachable")  # pragma: no cover


async def set_filters(api: ApiClient, integration_id: str, filters: Sequence[str]) -> int:
    """Change only the ``eventFilter`` of an integration; returns the new version."""
    path = f"{BASE}/{_segment(integration_id)}/config/current"
    current = await _json(api, "GET", path)
    properties = current.get("properties")
    merged = dict(properties) if isinstance(properties, dict) else {}
    merged["eventFilter"] = list(filters)
    return await put_properties(api, integration_id, merged)


async def create_eventbridge_integration(api: ApiClient, plan: SetupPlan) -> EventBridgeIntegration:
    """Create, configure and enable the integration the plan describes.

    Raises:
        ForbiddenError: the user may not add integrations (``integrations:integration:add``).
        ApiError: the server refused a value (400 names it) or another error.
    """
    created = await _json(
        api,
        "POST",
        BASE,
        body={"name": plan.name, "integrationType": {"id": INTEGRATION_TYPE}},
    )
    integration_id = created.get("id")
    if not isinstance(integration_id, str) or not integration_id:
        raise invalid_answer(200, "The new integration had no id.", "POST", BASE)
    logger.info("created an EventBridge integration; configuring it")
    await put_properties(api, integration_id, integration_properties(plan), name=plan.name)
    await _json(
        api, "PATCH", f"{BASE}/{_segment(integration_id)}", body={"intendedState": "ENABLED"}
    )
    return await integration(api, integration_id)


def may(permissions: frozenset[str], wanted: str) -> bool:
    """Whether a permission list grants ``wanted`` (``domain:entity:action``, ``*`` wildcards)."""
    parts = wanted.split(":")
    for held in permissions:
        have = held.split(":")
        if len(have) == len(parts) and all(h in ("*", w) for h, w in zip(have, parts, strict=True)):
            return True
    return False


@dataclass(frozen=True, slots=True)
class SetupAccess:
    """What the guide needs to know about the signed-in user's org before it offers anything."""

    org_id: str
    can_add: bool  # may create integrations; when unknown, the guide tries and reads a 403


class IntegrationSetup:
    """The guide's Genesys side as coroutines the GUI awaits on the app's loop."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    async def access(self) -> SetupAccess:
        """The org id (for the partner source's name) and whether the user may add integrations."""
        info = await self.api.token_info(preserve_idle_ttl=True)
        try:
            me = await self.api.me()
        except ApiError as exc:  # no answer on permissions: let the POST decide
            logger.info("permissions unknown (%d); the guide will try", exc.status)
            return SetupAccess(info.organization_id, can_add=True)
        return SetupAccess(info.organization_id, can_add=may(me.permissions, ADD_PERMISSION))

    async def create(self, plan: SetupPlan) -> EventBridgeIntegration:
        """Create, configure and enable the integration (ForbiddenError: no permission)."""
        return await create_eventbridge_integration(self.api, plan)

    async def eventbridge_only(self) -> list[str]:
        """Topic patterns only EventBridge carries (read from ``transports``)."""
        return eventbridge_only(await available_transports(self.api))
