"""The org's Architect workflows: what a trigger may target, and ``GET /api/v2/flows``.

A handful of named workflows with seeded ids (from their own generator, so adding them leaves
the org's other ids unchanged). One always fails when run and one is not published (inactive),
so a client can see both a failed invocation and a failed target check.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from sandbox.auth import Token
from sandbox.errors import missing_permissions, not_found, query_bool, query_list
from sandbox.rest import page_listing

logger = logging.getLogger(__name__)

ApiHandler = Callable[[web.Request, Token], Awaitable[web.StreamResponse]]
Wrap = Callable[[ApiHandler], Callable[[web.Request], Awaitable[web.StreamResponse]]]
FLOW_VIEW = "architect:flow:view"

# (name, description, active, fails when run)
WORKFLOWS: tuple[tuple[str, str, bool, bool], ...] = (
    ("Text the team lead", "Sends an SMS to the team lead of the agent's group.", True, False),
    ("Open a ticket", "Opens a ticket in the service desk with the event's details.", True, False),
    ("Email the supervisor", "Emails the supervisor on duty.", True, False),
    ("Post to the team chat", "Posts a message to the team's chat room.", True, False),
    (
        "Page the on-call manager",
        "Calls the paging service, which is down: every run of this workflow fails.",
        True,
        True,
    ),
    (
        "Escalate to HR (draft)",
        "Never published: a trigger on it fails its target check.",
        False,
        False,
    ),
)
FAILURE_REASON = "The paging service did not answer (HTTP 503)."


@dataclass(slots=True)
class Workflow:
    """One Architect workflow (``Flow`` of type ``WORKFLOW``)."""

    id: str
    name: str
    description: str
    active: bool
    fails: bool
    version: str = "1.0"

    def entity(self, division_id: str) -> dict[str, object]:
        """The ``Flow`` body."""
        body: dict[str, object] = {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "type": "WORKFLOW",
            "division": {
                "id": division_id,
                "name": "Home",
                "selfUri": f"/api/v2/authorization/divisions/{division_id}",
            },
            "active": self.active,
            "system": False,
            "deleted": False,
            "selfUri": f"/api/v2/flows/{self.id}",
        }
        if self.active:
            body["publishedVersion"] = {
                "id": self.version,
                "name": self.name,
                "type": "PUBLISH",
                "secure": False,
                "debug": False,
                "selfUri": f"/api/v2/flows/{self.id}/versions/{self.version}",
            }
        return body


class WorkflowCatalog:
    """The workflows by id, and the ``/api/v2/flows`` routes."""

    def __init__(self, seed: int, division_id: str) -> None:
        rng = random.Random(f"workflows-{seed}")
        self.division_id = division_id
        self.items: dict[str, Workflow] = {}
        for name, description, active, fails in WORKFLOWS:
            wid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            self.items[wid] = Workflow(wid, name, description, active, fails)

    def get(self, workflow_id: str) -> Workflow | None:
        """The workflow with this id, or None."""
        return self.items.get(workflow_id)

    def by_name(self, name: str) -> Workflow:
        """The workflow with this exact name (tests and control)."""
        return next(w for w in self.items.values() if w.name == name)

    def routes(self, wrap: Wrap) -> list[web.RouteDef]:
        """``GET /api/v2/flows`` and ``GET /api/v2/flows/{flowId}``."""
        return [
            web.get("/api/v2/flows", wrap(self.list_flows), allow_head=False),
            web.get("/api/v2/flows/{flow_id}", wrap(self.get_flow), allow_head=False),
        ]

    async def list_flows(self, request: web.Request, token: Token) -> web.Response:
        """``?type=workflow&name=&pageSize&pageNumber&sortOrder``: a ``FlowEntityListing``."""
        _require(token)
        types = {t.lower() for t in query_list(request, "type")}
        items = list(self.items.values()) if not types or "workflow" in types else []
        name = request.query.get("name", "").strip().lower()
        if name:
            items = [w for w in items if name in w.name.lower()]
        if query_bool(request, "deleted", False):
            items = []  # the sandbox's workflows are never deleted
        items.sort(key=lambda w: w.name.lower())
        if request.query.get("sortOrder", "asc").lower() == "desc":
            items.reverse()
        body = page_listing(
            request,
            items,
            default_size=25,
            max_size=100,
            build=lambda w: w.entity(self.division_id),
        )
        return web.json_response(body)

    async def get_flow(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/flows/{flowId}``: a ``Flow``."""
        _require(token)
        found = self.items.get(request.match_info["flow_id"])
        if found is None:
            raise not_found("Flow not found.")
        return web.json_response(found.entity(self.division_id))


def _require(token: Token) -> None:
    if FLOW_VIEW not in token.permissions:
        raise missing_permissions(
            f"You are missing the following permission(s): {FLOW_VIEW}", [FLOW_VIEW]
        )
