"""Changing a person's status: set presence, go on or off queue, log off.

The calls (SDK 269.0.0 names; the sandbox implements them with Genesys' checks):

* presence: ``PATCH /api/v2/users/{userId}/presences/purecloud`` with a ``UserPresence`` whose
  ``presenceDefinition.id`` is the only field needed (PresenceApi.patch_user_presences_purecloud);
* routing: ``PUT /api/v2/users/{userId}/routingstatus`` with a ``RoutingStatus`` ``{status}``;
  its enum has no ON_QUEUE, so going on queue sends ``IDLE`` (UsersApi.put_user_routingstatus);
* log off: ``DELETE /api/v2/tokens/{userId}`` (TokensApi.delete_token, "Delete all auth tokens for
  the specified user"; needs ``oauth:token:delete``, confirmed in the SDK docs).

A person may change their own presence and routing status. Changing someone else's presence
needs ``presence:userPresence:edit`` (confirmed: Genesys announcement, enforced since July 2025);
for the routing status we assume the same (unconfirmed). A 403 becomes :class:`ActionRefused`,
which names the permission to ask for; every other failure is the client's usual error.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final
from urllib.parse import quote

from core.errors import ApiError, ForbiddenError, TransportError
from core.rest.client import ApiClient

logger = logging.getLogger(__name__)

PRESENCE_EDIT: Final = "presence:userPresence:edit"
LOG_OFF_PERMISSION: Final = "oauth:token:delete"
ON_QUEUE: Final = "ON_QUEUE"
OFF_QUEUE: Final = "OFF_QUEUE"
_WIRE_STATUS: Final = {ON_QUEUE: "IDLE", OFF_QUEUE: "OFF_QUEUE"}
_PERMISSION_RE: Final = re.compile(r"\b[A-Za-z]+:[A-Za-z*]+:[A-Za-z*]+\b")


class ActionRefused(ForbiddenError):  # noqa: N818 - the name the GUI codes against
    """Genesys Cloud refused a status change (403): the person lacks a permission.

    Attributes:
        permission: the permission to ask an admin for; None when the answer did not name one
            and the change was the person's own (no permission is documented for it).
        scope: the app's OAuth client lacks a scope (the answer's code speaks of scopes; the
            exact code is unconfirmed), so no role can help: the admin edits the client.
        message: one plain sentence for the person.
    """

    def __init__(
        self, permission: str | None, source: ForbiddenError, *, scope: bool = False
    ) -> None:
        self.permission = None if scope else permission
        self.scope = scope
        if scope:
            self.message = (
                "This app's sign-in is not allowed to make this change (ask your Genesys Cloud "
                "admin to add the scope it needs to the app's OAuth client)."
            )
        elif permission:
            self.message = f"You need the permission {permission} (ask your Genesys Cloud admin)."
        else:
            self.message = (
                "Genesys Cloud did not allow this change (ask your Genesys Cloud admin which "
                "permission it needs)."
            )
        super().__init__(
            403,
            self.message,
            code=source.code,
            correlation_id=source.correlation_id,
            method=source.method,
            path=source.path,
        )


def presence_body(presence_id: str) -> dict[str, Any]:
    """The ``UserPresence`` a presence change sends."""
    return {"presenceDefinition": {"id": presence_id}}


def routing_body(status: str) -> dict[str, Any]:
    """The ``RoutingStatus`` a routing change sends (``ON_QUEUE`` goes out as ``IDLE``).

    Raises:
        ValueError: ``status`` is neither ON_QUEUE nor OFF_QUEUE.
    """
    wire = _WIRE_STATUS.get(status)
    if wire is None:
        raise ValueError(f"status must be {ON_QUEUE} or {OFF_QUEUE}, not {status!r}")
    return {"status": wire}


def named_permission(error: ForbiddenError) -> str | None:
    """The permission a 403's message names (Genesys: "missing the following permission(s)")."""
    found = _PERMISSION_RE.search(str(error))
    return found.group(0) if found else None


async def _change(
    api: ApiClient, method: str, path: str, body: Any, permission: str | None
) -> None:
    """Send one change; a 403 becomes :class:`ActionRefused` naming what to ask for."""
    try:
        await api.request(method, path, body=body)
    except ForbiddenError as exc:
        scope = "scope" in exc.code.lower()
        refused = ActionRefused(named_permission(exc) or permission, exc, scope=scope)
        logger.info("%s %s refused: %s", method, exc.path, refused.permission or "no permission")
        raise refused from exc


async def _is_me(api: ApiClient, user_id: str) -> bool:
    """Whether ``user_id`` is the signed-in person (no permission is needed then)."""
    try:
        return (await api.me()).id == user_id
    except (ApiError, TransportError):
        return False


async def set_presence(api: ApiClient, user_id: str, presence_id: str) -> None:
    """Set ``user_id``'s presence to the org's definition ``presence_id``.

    Raises:
        ActionRefused: 403 (someone else's presence without ``presence:userPresence:edit``).
        ApiError, TransportError: any other failure (see :meth:`ApiClient.request`).
    """
    await _refusable(
        api,
        user_id,
        "PATCH",
        f"/api/v2/users/{quote(user_id, safe='')}/presences/purecloud",
        body=presence_body(presence_id),
        permission=PRESENCE_EDIT,
    )


async def set_routing_status(api: ApiClient, user_id: str, status: str) -> None:
    """Put ``user_id`` on queue (``"ON_QUEUE"``) or take them off it (``"OFF_QUEUE"``).

    Raises:
        ValueError: another status (the router sets the others).
        ActionRefused: 403 (someone else's, without the permission; see the module docstring).
        ApiError, TransportError: any other failure.
    """
    await _refusable(
        api,
        user_id,
        "PUT",
        f"/api/v2/users/{quote(user_id, safe='')}/routingstatus",
        body=routing_body(status),
        permission=PRESENCE_EDIT,
    )


async def log_off(api: ApiClient, user_id: str) -> None:
    """Sign ``user_id`` out of Genesys Cloud everywhere (their presence goes Offline).

    Raises:
        ActionRefused: 403 without ``oauth:token:delete`` (needed for oneself too).
        ApiError, TransportError: any other failure.
    """
    await _change(
        api, "DELETE", f"/api/v2/tokens/{quote(user_id, safe='')}", None, LOG_OFF_PERMISSION
    )


async def _refusable(
    api: ApiClient, user_id: str, method: str, path: str, *, body: Any, permission: str
) -> None:
    """A change that needs ``permission`` only for someone else: a 403 that names none is
    blamed on it unless the person changed their own status."""
    try:
        await _change(api, method, path, body, None)
    except ActionRefused as refused:
        if refused.permission is None and not refused.scope and not await _is_me(api, user_id):
            raise ActionRefused(permission, refused) from refused.__cause__
        raise
