"""``/api/v2/processautomation/triggers...``: the eight trigger routes as ``ProcessAutomationApi``
models them (fact sheet 5.1; SDK 269.0.0).

Paths answer in either case of ``processautomation`` / ``processAutomation`` (the CX-as-Code
provider uses the camel-case one). Lists page by opaque cursors: ``pageSize`` (1-200, default 25),
``after`` / ``before`` taken from ``nextUri`` / ``previousUri``. The ``/test`` routes take the
raw event body, either as a JSON object or, as the SDK sends its ``str`` body, as a JSON string
holding one. Permissions ``processautomation:trigger:view|add|edit|delete|test``; a 403 names the
missing one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sandbox.auth import Token
from sandbox.catalog import TRIGGER_TOPICS
from sandbox.config import SandboxConfig
from sandbox.errors import (
    bad_request,
    missing_permissions,
    query_bool,
    query_int,
    query_list,
    read_json,
)
from sandbox.org import ROUTING_STATUSES
from sandbox.triggers.criteria import criterion_result
from sandbox.triggers.store import Trigger, TriggerStore, cursor, read_cursor
from sandbox.triggers.workflows import WorkflowCatalog
from sandbox.variations import Variations

logger = logging.getLogger(__name__)

ApiHandler = Callable[[web.Request, Token], Awaitable[web.StreamResponse]]
Wrap = Callable[[ApiHandler], Callable[[web.Request], Awaitable[web.StreamResponse]]]
PERMISSION = "processautomation:trigger:"
BASES = ("/api/v2/processautomation/triggers", "/api/v2/processAutomation/triggers")
MAX_PAGE = 200
DEFAULT_PAGE = 25
STEP_SCHEMA = "Validate test event body against topic schema"
STEP_TARGET = "Verify that trigger target is configured correctly"
STEP_CRITERIA = "Check jsonPath match criteria"
STEP_TRIGGERS = "Match event against organization triggers"


def _require(token: Token, *actions: str) -> None:
    wanted = [PERMISSION + a for a in actions]
    if not any(p in token.permissions for p in wanted):
        raise missing_permissions(
            f"You are missing the following permission(s): {' or '.join(wanted)}", wanted
        )


def schema_problems(topic: str, body: Any) -> list[str]:
    """What is wrong with an event body for its topic (the sandbox knows the activity schema)."""
    if not isinstance(body, dict):
        return ["The event body must be a JSON object."]
    if topic != "v2.users.{id}.activity":
        return []
    problems: list[str] = []
    if not isinstance(body.get("id"), str):
        problems.append("$.id: a string is required.")
    routing = body.get("routingStatus")
    if routing is not None:
        status = routing.get("status") if isinstance(routing, dict) else None
        if status not in ROUTING_STATUSES:
            problems.append(
                f"$.routingStatus.status: must be one of {', '.join(ROUTING_STATUSES)}."
            )
    for key in ("presence", "outOfOffice"):
        if key in body and not isinstance(body[key], dict):
            problems.append(f"$.{key}: an object is required.")
    if "activeQueueIds" in body and not isinstance(body["activeQueueIds"], list):
        problems.append("$.activeQueueIds: an array is required.")
    return problems


async def _event_body(request: web.Request) -> Any:
    body = await read_json(request)
    if isinstance(body, str):  # the SDK sends its ``str`` body as a JSON string
        try:
            body = json.loads(body)
        except json.JSONDecodeError as exc:
            raise bad_request(f"The event body is not JSON: {exc}") from None
    if body is None:
        raise bad_request("The request needs the event body to test.")
    return body


class TriggersApi:
    """Handlers of the trigger routes."""

    def __init__(
        self,
        config: SandboxConfig,
        store: TriggerStore,
        workflows: WorkflowCatalog,
        variations: Variations,
    ) -> None:
        self.config = config
        self.store = store
        self.workflows = workflows
        self.variations = variations

    def routes(self, wrap: Wrap) -> list[web.RouteDef]:
        """Every route under both spellings; ``/topics`` before ``/{triggerId}``."""
        table: list[web.RouteDef] = []
        for base in BASES:
            one = base + "/{trigger_id}"
            table += [
                web.get(base, wrap(self.list_triggers), allow_head=False),
                web.post(base, wrap(self.create)),
                web.get(base + "/topics", wrap(self.topics), allow_head=False),
                web.post(base + "/topics/{topic_name:[^/]+}/test", wrap(self.test_topic)),
                web.get(one, wrap(self.get), allow_head=False),
                web.put(one, wrap(self.put)),
                web.delete(one, wrap(self.delete)),
                web.post(one + "/test", wrap(self.test_trigger)),
            ]
        return table

    def _entity(self, trigger: Trigger) -> dict[str, Any]:
        omit = self.variations.optional_absent()
        return trigger.entity(omit_optional=omit)

    def _listing(
        self, request: web.Request, entities: list[Any], next_at: str | None, prev_at: str | None
    ) -> dict[str, Any]:
        """A cursor listing; a missing next/previous page is null or absent (variations)."""
        size = query_int(request, "pageSize", DEFAULT_PAGE, low=1, high=MAX_PAGE)
        keep = [(k, v) for k, v in request.query.items() if k not in ("after", "before")]

        def uri(**cursor_param: str) -> str:
            params = keep + list(cursor_param.items())
            if not any(k == "pageSize" for k, _ in params):
                params.append(("pageSize", str(size)))
            return f"{request.path}?{urlencode(params)}"

        body: dict[str, Any] = {"entities": entities, "selfUri": uri(**_cursors(request))}
        omit = self.variations.optional_absent()
        for key, value in (
            ("nextUri", uri(after=next_at) if next_at else None),
            ("previousUri", uri(before=prev_at) if prev_at else None),
        ):
            if value is not None or not omit:
                body[key] = value
        return body

    # ------------------------------------------------------------------ the routes
    async def list_triggers(self, request: web.Request, token: Token) -> web.Response:
        """``GET ?pageSize&after&before&topicName&enabled&hasDelayBy``: ``TriggerEntityListing``."""
        _require(token, "view", "edit")
        items = sorted(self.store.items.values(), key=lambda t: t.seq)
        topics = set(query_list(request, "topicName"))
        if topics:
            items = [t for t in items if t.topic_name in topics]
        if "enabled" in request.query:
            enabled = query_bool(request, "enabled", True)
            items = [t for t in items if t.enabled == enabled]
        if "hasDelayBy" in request.query:
            delayed = query_bool(request, "hasDelayBy", True)
            items = [t for t in items if bool(t.delay_by_seconds) == delayed]
        page, next_at, prev_at = _page(request, items, [t.seq for t in items])
        entities = [self._entity(t) for t in page]
        return web.json_response(self._listing(request, entities, next_at, prev_at))

    async def topics(self, request: web.Request, token: Token) -> web.Response:
        """``GET .../topics``: ``TopicCursorEntityListing`` (a plain list of topic names)."""
        _require(token, "view", "edit")
        topics = list(TRIGGER_TOPICS)
        page, next_at, prev_at = _page(request, topics, list(range(1, len(topics) + 1)))
        return web.json_response(self._listing(request, page, next_at, prev_at))

    async def create(self, request: web.Request, token: Token) -> web.Response:
        """``POST``: ``CreateTriggerRequest`` → ``Trigger``."""
        _require(token, "add")
        trigger = self.store.create(await read_json(request))
        return web.json_response(self._entity(trigger))

    async def get(self, request: web.Request, token: Token) -> web.Response:
        """``GET .../{triggerId}``: ``Trigger``."""
        _require(token, "view", "edit")
        return web.json_response(self._entity(self.store.get(request.match_info["trigger_id"])))

    async def put(self, request: web.Request, token: Token) -> web.Response:
        """``PUT .../{triggerId}``: ``UpdateTriggerRequest`` with ``version`` → ``Trigger``."""
        _require(token, "edit")
        body = await read_json(request)
        trigger = self.store.update(request.match_info["trigger_id"], body)
        return web.json_response(self._entity(trigger))

    async def delete(self, request: web.Request, token: Token) -> web.Response:
        """``DELETE .../{triggerId}``: 204."""
        _require(token, "delete")
        self.store.delete(request.match_info["trigger_id"])
        return web.Response(status=204)

    async def test_trigger(self, request: web.Request, token: Token) -> web.Response:
        """``POST .../{triggerId}/test``: the three steps of ``TestModeResults``."""
        _require(token, "test")
        trigger = self.store.get(request.match_info["trigger_id"])
        body = await _event_body(request)
        problems = schema_problems(trigger.topic_name, body)
        workflow = self.workflows.get(str(trigger.target.get("id")))
        target_problems: list[str] = []
        if workflow is None:
            target_problems.append("The target workflow does not exist.")
        elif not workflow.active:
            target_problems.append(f"The workflow {workflow.name!r} is not published.")
        results = [criterion_result(c, body) for c in trigger.criteria]
        criteria_ok = all(r["match"] for r in results)
        answer = {
            "schemaValidation": _step(STEP_SCHEMA, 1, not problems, problems),
            "targetValidation": _step(STEP_TARGET, 2, not target_problems, target_problems),
            "jsonPathValidation": _step(STEP_CRITERIA, 3, criteria_ok, results),
            "triggerMatches": not problems and not target_problems and criteria_ok,
        }
        return web.json_response(answer)

    async def test_topic(self, request: web.Request, token: Token) -> web.Response:
        """``POST .../topics/{topicName}/test``: ``TestModeEventResults`` over every trigger."""
        _require(token, "test")
        topic = request.match_info["topic_name"]
        if topic not in TRIGGER_TOPICS:
            raise bad_request(
                f"{topic!r} is not a trigger topic; valid topics are listed at "
                "/api/v2/processautomation/triggers/topics."
            )
        body = await _event_body(request)
        problems = schema_problems(topic, body)
        matched: list[dict[str, Any]] = []
        unmatched: list[dict[str, Any]] = []
        for trigger in self.store.on_topic(topic):
            hit = not problems and all(criterion_result(c, body)["match"] for c in trigger.criteria)
            (matched if hit else unmatched).append(trigger.reference())
        answer = {
            "schemaValidation": _step(STEP_SCHEMA, 1, not problems, problems),
            "triggerMatchValidation": {
                "name": STEP_TRIGGERS,
                "step": 2,
                "matchedTriggers": matched,
                "unmatchedTriggers": unmatched,
            },
        }
        return web.json_response(answer)


def _step(name: str, step: int, ok: bool, details: list[Any]) -> dict[str, Any]:
    return {"name": name, "step": step, "matches": ok, "details": details}


def _cursors(request: web.Request) -> dict[str, str]:
    return {k: request.query[k] for k in ("after", "before") if k in request.query}


def _page(
    request: web.Request, items: list[Any], positions: list[int]
) -> tuple[list[Any], str | None, str | None]:
    """One page of ``items`` (positions ascending) by cursor; the next/previous cursors."""
    size = query_int(request, "pageSize", DEFAULT_PAGE, low=1, high=MAX_PAGE)
    after, before = request.query.get("after"), request.query.get("before")
    if after and before:
        raise bad_request("Use either after or before, not both.")
    indexes = list(range(len(items)))
    if after:
        mark = read_cursor(after)
        indexes = [i for i in indexes if positions[i] > mark][:size]
    elif before:
        mark = read_cursor(before)
        indexes = [i for i in indexes if positions[i] < mark][-size:]
    else:
        indexes = indexes[:size]
    if not indexes:
        return [], None, None
    first, last = indexes[0], indexes[-1]
    next_at = cursor(positions[last]) if last < len(items) - 1 else None
    prev_at = cursor(positions[first]) if first > 0 else None
    return [items[i] for i in indexes], next_at, prev_at
