"""The Notification Service's REST surface (genesys-api.md 4.2-4.5) over the streaming hub.

Channel and subscription bodies exactly as documented; the limits themselves (topics per channel,
channels per user + client, permissions) are the hub's, so the socket's subscribe obeys them too.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from sandbox.auth import Token
from sandbox.catalog import TOPICS
from sandbox.channels import Channel, TopicCheck
from sandbox.errors import bad_request, query_bool, query_list, read_json
from sandbox.notifications import StreamingHub
from sandbox.timefmt import iso

logger = logging.getLogger(__name__)


class NotificationsApi:
    """Handlers of ``/api/v2/notifications/...``: channels, subscriptions, available topics."""

    def __init__(self, hub: StreamingHub) -> None:
        self.hub = hub

    async def post_channels(self, request: web.Request, token: Token) -> web.Response:
        """``POST /api/v2/notifications/channels`` (no body, or the literal ``null``)."""
        raw = (await request.read()).strip()
        if raw not in (b"", b"null", b"{}"):
            try:
                json.loads(raw)
            except ValueError:
                raise bad_request("The request body could not be parsed as JSON.") from None
        channel = self.hub.create_channel(token)
        return web.json_response(channel.entity(request.host))

    async def get_channels(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/notifications/channels?includechannels=token|oauthclient``."""
        scope = request.query.get("includechannels", "token")
        if scope not in ("token", "oauthclient"):
            raise bad_request("includechannels must be one of: token, oauthclient.")
        self.hub.reap()
        entities: list[dict[str, Any]] = []
        for channel in self.hub.channels.values():
            if channel.subject != token.subject or channel.client_id != token.client_id:
                continue
            if channel.token == token.value:
                entities.append(channel.entity(request.host))
            elif scope == "oauthclient":
                entities.append({"expires": iso(channel.expires)})
        return web.json_response({"entities": entities})

    async def head_channel(self, request: web.Request, token: Token) -> web.Response:
        """``HEAD /api/v2/notifications/channels/{channelId}``: 200 exists, 404 gone."""
        self.hub.owned(token, request.match_info["channel_id"])
        return web.Response(status=200)

    def _listing(self, channel: Channel, rejected: list[TopicCheck]) -> dict[str, Any]:
        self_uri = f"/api/v2/notifications/channels/{channel.id}/subscriptions"
        entities: list[dict[str, Any]] = [
            {"id": topic, "state": "Permitted", "selfUri": self_uri} for topic in channel.topics
        ]
        entities.extend(
            {
                "id": check.id,
                "state": "Rejected",
                "rejectionReason": "missing permissions",
                "missingPermissions": check.missing,
            }
            for check in rejected
        )
        return {"entities": entities}

    def _topics_from_body(self, body: Any) -> list[Any]:
        if not isinstance(body, list):
            raise bad_request("The body must be a JSON array of topics.")
        topics: list[Any] = []
        for item in body:
            if not isinstance(item, dict) or "id" not in item:
                raise bad_request("Each topic must be an object with an id.")
            topics.append(item["id"])
        return topics

    async def get_subscriptions(self, request: web.Request, token: Token) -> web.Response:
        """``GET .../subscriptions``."""
        channel = self.hub.owned(token, request.match_info["channel_id"])
        return web.json_response(self._listing(channel, []))

    async def change_subscriptions(self, request: web.Request, token: Token) -> web.Response:
        """``PUT`` (replace) or ``POST`` (append) ``.../subscriptions?ignoreErrors=bool``."""
        channel = self.hub.owned(token, request.match_info["channel_id"])
        ignore = query_bool(request, "ignoreErrors", False)
        topics = self._topics_from_body(await read_json(request))
        rejected = self.hub.subscribe(
            channel, token, topics, replace=request.method == "PUT", ignore=ignore
        )
        return web.json_response(self._listing(channel, rejected))

    async def delete_subscriptions(self, request: web.Request, token: Token) -> web.Response:
        """``DELETE .../subscriptions``: remove all."""
        channel = self.hub.owned(token, request.match_info["channel_id"])
        self.hub.unsubscribe(channel, list(channel.topics))
        return web.Response(status=204)

    def _transports(self, transports: tuple[str, ...]) -> list[str]:
        """``AvailableTopic.transports`` in any order (variations): never trust element 0."""
        found = list(transports)
        if self.hub.variations.on:
            self.hub.variations.rng.shuffle(found)
        return found

    async def available_topics(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/notifications/availabletopics?expand=...&includePreview=bool``."""
        expand = set(query_list(request, "expand"))
        include_preview = query_bool(request, "includePreview", True)
        entities: list[dict[str, Any]] = []
        for t in TOPICS:
            if t.visibility == "Preview" and not include_preview:
                continue
            entity: dict[str, Any] = {"id": t.template}
            params = (
                ["entityType", "entityId"]
                if t.template.startswith("v2.audits.")
                else ["queueId" if ".queues." in t.template else "userId"]
            )
            fields: dict[str, Any] = {
                "description": t.description,
                "enforced": True,
                "visibility": t.visibility,
                "transports": self._transports(t.transports) if "transports" in expand else [],
                "publicApiTemplateUriPaths": list(t.api_paths),
                "requiresPermissions": list(t.permissions),
                "topicParameters": params,
                "schema": {"id": f"urn:jsonschema:sandbox:v2:{t.template}", "type": "object"},
                "permissionDetails": [
                    {
                        "type": "requiresPermissions",
                        "permissions": list(t.permissions),
                        "allowsCurrentUser": t.current_user_or_permission,
                        "enforced": True,
                    }
                ],
            }
            for key, value in fields.items():
                if key in expand:
                    entity[key] = value
            if "requiresPermissions" in expand:
                entity["requiresCurrentUserOrPermission"] = t.current_user_or_permission
                entity["requiresCurrentUser"] = False
                entity["requiresDivisionPermissions"] = False
                entity["requiresAnyValidator"] = False
            entities.append(entity)
        return web.json_response({"entities": entities})
