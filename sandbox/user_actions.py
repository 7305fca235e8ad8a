"""Changing a user's status: presence PATCH, routing status PUT and signing a user out.

What Genesys documents, and how sure we are:

* ``PATCH /api/v2/users/{userId}/presences/purecloud`` and ``.../presences/{sourceId}`` take a
  ``UserPresence`` with ``presenceDefinition.id`` (the only field needed), ``message`` and/or
  ``primary``, and answer the ``UserPresence`` (SDK PresenceApi.patch_user_presences_purecloud /
  patch_user_presence docstrings). A person may change their own presence freely; changing
  someone else's needs ``presence:userPresence:edit`` since 20 July 2025 (confirmed: Genesys
  developer announcement "Permission Change: Update to User Presence Requires
  presence:userPresence:edit", May 2025).
* ``PUT /api/v2/users/{userId}/routingstatus`` takes a ``RoutingStatus`` ``{status}``; its enum
  has no ON_QUEUE, so going on queue is ``IDLE`` (from SDK model; community). Going on queue sets
  the presence On Queue; leaving it from On Queue sets Available (confirmed: Genesys help "Change
  an agent's status"). The API docs list no permission; that changing someone else's routing
  status needs the same ``presence:userPresence:edit`` is our assumption (unconfirmed): it moves
  their presence too. Genesys' own UI gates the control with ``ui:supervisorStatusControl:view``.
* ``DELETE /api/v2/tokens/{userId}`` ("Delete all auth tokens for the specified user", SDK
  TokensApi.delete_token) needs ``oauth:token:delete`` (confirmed: SDK docs; Genesys help names
  it for logging an agent out). The user's sessions end and their presence goes Offline (the
  Offline part: assumed, it is what signing out of every client does).

Every change goes through :class:`sandbox.org.Org`'s mutators, so it reaches the Notification
Service (and EventBridge) and ``/sandbox/truth`` like the simulation's own changes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox import shapes
from sandbox.auth import AuthServer, Token
from sandbox.entities import User
from sandbox.errors import bad_request, missing_permissions, not_found, read_json
from sandbox.org import Org

logger = logging.getLogger(__name__)

PRESENCE_EDIT = "presence:userPresence:edit"
LOG_OFF_PERMISSION = "oauth:token:delete"
ROUTING_ENUM = ("OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING")
SETTABLE_ROUTING = ("IDLE", "OFF_QUEUE")
BUSY_ON_QUEUE = ("INTERACTING", "COMMUNICATING")  # the router's own; a PUT of IDLE keeps them
# A status a person chose holds this long (wall seconds) before the simulated agent moves on by
# itself; without it a Break set from the app bounced back On Queue at the next tick.
PERSON_HOLD_S = 600.0

Handler = Callable[[web.Request, Token], Awaitable[web.StreamResponse]]
Wrap = Callable[[Handler], Callable[[web.Request], Awaitable[web.StreamResponse]]]


def _require_for_others(token: Token, user: User, permission: str) -> None:
    """403 ``missing.permissions`` unless the caller is ``user`` or holds ``permission``."""
    if token.user_id == user.id or permission in token.permissions:
        return
    raise missing_permissions(
        f"You are missing the following permission(s): {permission}", [permission]
    )


class UserActionsApi:
    """Handlers of the status-changing routes (see the module docstring for the rules)."""

    def __init__(self, org: Org, auth: AuthServer) -> None:
        self.org = org
        self.auth = auth

    def routes(self, api: Wrap) -> list[web.RouteDef]:
        """The routes, each behind the sandbox's bearer check (register after the GET routes)."""
        purecloud = "/api/v2/users/{user_id}/presences/purecloud"
        by_source = "/api/v2/users/{user_id}/presences/{source_id}"
        return [
            web.patch(purecloud, api(self.patch_presence)),
            web.get(by_source, api(self.get_presence), allow_head=False),
            web.patch(by_source, api(self.patch_presence)),
            web.put("/api/v2/users/{user_id}/routingstatus", api(self.put_routing_status)),
            web.delete("/api/v2/tokens/{user_id}", api(self.delete_tokens)),
        ]

    def _user(self, request: web.Request) -> User:
        user = self.org.users.get(request.match_info["user_id"])
        if user is None:
            raise not_found(f"User {request.match_info['user_id']} not found")
        return user

    @staticmethod
    def _source(request: web.Request) -> None:
        """Only the PURECLOUD source lives here (any case, as the SDK's paths differ)."""
        source = request.match_info.get("source_id", "purecloud")
        if source.lower() != "purecloud":
            raise not_found(f"No presence source {source!r} for this user.")

    # ------------------------------------------------------------------ presence
    async def get_presence(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/users/{userId}/presences/{sourceId}`` (PURECLOUD)."""
        user = self._user(request)
        self._source(request)
        return web.json_response(shapes.user_presence_rest(self.org, user))

    async def patch_presence(self, request: web.Request, token: Token) -> web.Response:
        """``PATCH .../presences/purecloud`` or ``.../presences/{sourceId}`` → UserPresence."""
        user = self._user(request)
        self._source(request)
        _require_for_others(token, user, PRESENCE_EDIT)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise bad_request("The body must be a UserPresence object.")
        presence_id, message = self._presence_change(body)
        if presence_id is None:
            presence_id = user.presence_id  # a message (or primary) only
        if presence_id != user.presence_id or message is not None:
            if self.org.presences[presence_id].system != "ON_QUEUE":
                user.busy_until = max(user.busy_until, self.org.clock() + PERSON_HOLD_S)
            self.org.set_presence(user, presence_id, message)
        logger.info("presence of %s set by %s", user.id[:8], token.subject[:8])
        return web.json_response(shapes.user_presence_rest(self.org, user))

    def _presence_change(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        """The definition id and message a PATCH body asks for (400 on a malformed one)."""
        definition = body.get("presenceDefinition")
        message = body.get("message")
        primary = body.get("primary")
        if message is not None and not isinstance(message, str):
            raise bad_request("message must be a string.")
        if primary is not None and not isinstance(primary, bool):
            raise bad_request("primary must be a boolean.")
        presence_id: str | None = None
        if definition is not None:
            if not isinstance(definition, dict) or not isinstance(definition.get("id"), str):
                raise bad_request("presenceDefinition must be an object with an id.")
            presence_id = definition["id"]
            found = self.org.presences.get(presence_id)
            if found is None or found.deactivated:
                raise bad_request(f"The presence definition {presence_id} does not exist.")
        if presence_id is None and message is None and primary is None:
            raise bad_request("Provide presenceDefinition, message or primary.")
        return presence_id, message

    # ------------------------------------------------------------------ routing status
    async def put_routing_status(self, request: web.Request, token: Token) -> web.Response:
        """``PUT /api/v2/users/{userId}/routingstatus`` ``{"status": "IDLE" | "OFF_QUEUE"}``."""
        user = self._user(request)
        _require_for_others(token, user, PRESENCE_EDIT)
        body = await read_json(request)
        status = body.get("status") if isinstance(body, dict) else None
        if status not in ROUTING_ENUM:
            raise bad_request(f"status must be one of {', '.join(ROUTING_ENUM)}.")
        if status not in SETTABLE_ROUTING:
            raise bad_request(
                "The routing status can only be set to IDLE (on queue) or OFF_QUEUE; "
                "the others are set by the router."
            )
        key = self.org.presence_key(user)
        if status == "IDLE":
            if key != "ON_QUEUE":
                self.org.set_presence(user, self.org.system_presence_id("ON_QUEUE"))
            elif user.routing_status not in BUSY_ON_QUEUE:
                self.org.set_routing(user, "IDLE")  # e.g. back from Not Responding
        elif key == "ON_QUEUE":
            self.org.set_presence(user, self.org.system_presence_id("AVAILABLE"))
        elif user.routing_status != "OFF_QUEUE":
            self.org.set_routing(user, "OFF_QUEUE")
        logger.info("routing status of %s set to %s", user.id[:8], status)
        return web.json_response(shapes.routing_status_rest(user))

    # ------------------------------------------------------------------ sign out
    async def delete_tokens(self, request: web.Request, token: Token) -> web.Response:
        """``DELETE /api/v2/tokens/{userId}``: end every session of the user; they go Offline."""
        if LOG_OFF_PERMISSION not in token.permissions:
            raise missing_permissions(
                f"You are missing the following permission(s): {LOG_OFF_PERMISSION}",
                [LOG_OFF_PERMISSION],
            )
        user = self._user(request)
        revoked = self.auth.revoke_all(user.id)
        self.auth.revoke_refresh_tokens(user.id)
        offline = self.org.system_presence_id("OFFLINE")
        if user.presence_id != offline:
            self.org.set_presence(user, offline)
        logger.info("user %s signed out (%d token(s))", user.id[:8], revoked)
        return web.Response(status=204)
