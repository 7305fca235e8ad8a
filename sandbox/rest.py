"""The Platform API surface the tray needs to (re)build state after a gap (genesys-api.md 6).

Paging keys, expand handling, comma-joined and repeated list parameters, bare arrays where the
API returns them, and the per-endpoint limits (presence bulk 50 ids, queue members 100 per page,
no totals on queue members) are reproduced exactly.
"""

from __future__ import annotations

import fnmatch
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sandbox import analytics, shapes
from sandbox.auth import Token
from sandbox.catalog import NEW_API_ENUM, REST_LABEL, SYSTEM_PRESENCES
from sandbox.config import SandboxConfig
from sandbox.entities import Queue, User
from sandbox.errors import (
    bad_request,
    missing_permissions,
    not_found,
    query_bool,
    query_int,
    query_list,
    read_json,
)
from sandbox.media import MEDIA_TYPES
from sandbox.org import Org
from sandbox.timefmt import iso

logger = logging.getLogger(__name__)

Json = dict[str, Any]
LOCALE_CODES = frozenset(
    (
        "ALL he fr en_US da de it cs es fi ar ja ko nl no pl pt_BR pt_PT ru sv th tr uk zh_CN zh_TW"
    ).split()
)
OBSERVATION_METRICS = frozenset(
    {
        "oActiveUsers",
        "oAlerting",
        "oInteracting",
        "oMemberUsers",
        "oOffQueueUsers",
        "oOnQueueUsers",
        "oUserPresences",
        "oUserRoutingStatuses",
        "oWaiting",
    }
)
MAX_OBSERVATION_QUEUES = 100
SEARCH_TYPES = frozenset(
    {"EXACT", "STARTS_WITH", "CONTAINS", "TERM", "TERMS", "MATCH_ALL", "QUERY_STRING"}
)


def _require(token: Token, *any_of: str) -> None:
    if not any(p in token.permissions for p in any_of):
        raise missing_permissions(
            f"You are missing the following permission(s): {' or '.join(any_of)}", list(any_of)
        )


def _uri(request: web.Request, **overrides: int) -> str:
    params = [(k, v) for k, v in request.query.items() if k not in overrides]
    params.extend((k, str(v)) for k, v in overrides.items())
    return f"{request.path}?{urlencode(params)}"


def page_listing(
    request: web.Request,
    items: Sequence[Any],
    *,
    default_size: int,
    max_size: int,
    totals: bool = True,
    build: Callable[[Any], Json] | None = None,
) -> Json:
    """A standard paged entity listing; ``totals=False`` gives the queue-members shape.

    With ``build``, ``items`` are the entities' sources and only the page's are built: a page
    of 100 of 50,000 users costs 100 shapes, not 50,000.
    """
    size = query_int(request, "pageSize", default_size, low=1, high=max_size)
    number = query_int(request, "pageNumber", 1, low=1, high=1_000_000)
    count = max(1, math.ceil(len(items) / size))
    page = items[(number - 1) * size : number * size]
    body: Json = {
        "entities": [build(item) for item in page] if build is not None else list(page),
        "pageSize": size,
        "pageNumber": number,
        "firstUri": _uri(request, pageSize=size, pageNumber=1),
        "selfUri": _uri(request, pageSize=size, pageNumber=number),
    }
    has_next = number * size < len(items)
    if totals:
        body["total"] = len(items)
        body["pageCount"] = count
        body["lastUri"] = _uri(request, pageSize=size, pageNumber=count)
        body["nextUri"] = _uri(request, pageSize=size, pageNumber=number + 1) if has_next else None
        body["previousUri"] = (
            _uri(request, pageSize=size, pageNumber=number - 1) if number > 1 else None
        )
    else:
        if has_next:
            body["nextUri"] = _uri(request, pageSize=size, pageNumber=number + 1)
        if number > 1:
            body["previousUri"] = _uri(request, pageSize=size, pageNumber=number - 1)
    return body


def _sorted_by_name(items: Iterable[Any], order: str) -> list[Any]:
    lowered = order.lower()
    if lowered not in ("asc", "desc", "ascending", "descending"):
        raise bad_request(f"sortOrder must be asc or desc, not {order!r}.")
    return sorted(items, key=lambda x: x.name.lower(), reverse=lowered.startswith("desc"))


def _name_matches(pattern: str, name: str) -> bool:
    """Queue ``name`` filter: leading/trailing ``*`` allowed, otherwise an exact match."""
    core = pattern.strip("*")
    if "*" in core:
        raise bad_request("Only leading and trailing asterisks are allowed in name.")
    return fnmatch.fnmatchcase(name.lower(), pattern.lower())


class RestApi:
    """Handlers for ``/api/v2/...`` other than the notification endpoints."""

    def __init__(self, config: SandboxConfig, org: Org) -> None:
        self.config = config
        self.org = org
        self._by_name: dict[tuple[int, str], list[User]] = {}

    def _user(self, user_id: str) -> User:
        user = self.org.users.get(user_id)
        if user is None:
            raise not_found(f"User {user_id} not found")
        return user

    def _queue(self, queue_id: str) -> Queue:
        queue = self.org.queues.get(queue_id)
        if queue is None:
            raise not_found(f"Queue {queue_id} not found")
        return queue

    @staticmethod
    def _me(token: Token) -> str:
        if token.user_id is None:
            raise bad_request(
                "This request requires a user context. Client credentials cannot be used for "
                "requests to this resource."
            )
        return token.user_id

    # ------------------------------------------------------------------ users
    async def get_users(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/users`` (paged; ``id``, ``expand``, ``state``, ``sortOrder``)."""
        ids = query_list(request, "id")
        if len(ids) > self.config.max_user_ids:
            raise bad_request(f"At most {self.config.max_user_ids} ids may be requested at once.")
        if ids and query_list(request, "jabberId"):
            raise bad_request("id and jabberId cannot be used together.")
        state = request.query.get("state", "active")
        if state not in ("active", "inactive", "deleted", "any"):
            raise bad_request("state must be one of active, inactive, deleted, any.")
        expand = set(query_list(request, "expand"))
        users: Iterable[User] = (
            [self.org.users[i] for i in ids if i in self.org.users]
            if ids
            else self.org.users.values()
        )
        order = request.query.get("sortOrder", "ascending")
        if state in ("inactive", "deleted"):
            ordered = _sorted_by_name([], order)  # still checks the order
        elif ids:
            ordered = _sorted_by_name(users, order)
        else:
            ordered = self._all_users_by_name(order)
        body = page_listing(
            request,
            ordered,
            default_size=25,
            max_size=self.config.max_users_page_size,
            build=lambda u: shapes.user_rest(self.org, u, expand, best_effort=True),
        )
        return web.json_response(body)

    def _all_users_by_name(self, order: str) -> list[User]:
        """Every user sorted by name, kept between pages (50,000 users: 500 pages of 100).

        The org's users are made at its start and never renamed, so the count tells a stale
        order apart.
        """
        key = (len(self.org.users), order.lower())
        cached = self._by_name.get(key)
        if cached is None:
            cached = _sorted_by_name(self.org.users.values(), order)
            self._by_name = {key: cached}
        return cached

    async def get_user(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/users/{userId}``."""
        user = self._user(request.match_info["user_id"])
        expand = set(query_list(request, "expand"))
        return web.json_response(shapes.user_rest(self.org, user, expand))

    async def get_me(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/users/me`` (not valid with client credentials)."""
        user = self._user(self._me(token))
        expand = set(query_list(request, "expand"))
        return web.json_response(shapes.user_rest(self.org, user, expand, me=True))

    async def search_users(self, request: web.Request, token: Token) -> web.Response:
        """``POST /api/v2/users/search`` (results, not entities)."""
        _require(token, "directory:user:view")
        body = await read_json(request)
        if not isinstance(body, dict):
            raise bad_request("The search request must be a JSON object.")
        size = body.get("pageSize", 25)
        number = body.get("pageNumber", 1)
        if not isinstance(size, int) or not 1 <= size <= 100:
            raise bad_request("pageSize must be a number between 1 and 100.")
        if not isinstance(number, int) or number < 1:
            raise bad_request("pageNumber must be a positive number.")
        criteria = body.get("query", [])
        if not isinstance(criteria, list) or not criteria:
            raise bad_request("query must be a non-empty list of criteria.")
        expand = {str(e) for e in body.get("expand", []) if isinstance(e, str)}
        hits = [u for u in self.org.users.values() if self._matches_all(u, criteria)]
        order = str(body.get("sortOrder", "ASC"))
        hits = sorted(hits, key=lambda u: u.name.lower(), reverse=order.upper() == "DESC")
        page = hits[(number - 1) * size : number * size]
        count = max(1, math.ceil(len(hits) / size))
        result: Json = {
            "total": len(hits),
            "pageCount": count,
            "pageSize": size,
            "pageNumber": number,
            "types": ["users"],
            "results": [shapes.user_rest(self.org, u, expand) for u in page],
            "currentPage": f"/api/v2/users/search?pageNumber={number}",
        }
        if number < count:
            result["nextPage"] = f"/api/v2/users/search?pageNumber={number + 1}"
        if number > 1:
            result["previousPage"] = f"/api/v2/users/search?pageNumber={number - 1}"
        return web.json_response(result)

    def _matches_all(self, user: User, criteria: list[Any]) -> bool:
        verdict = True
        for crit in criteria:
            if not isinstance(crit, dict):
                raise bad_request("Each query criterion must be an object.")
            hit = self._criterion(user, crit)
            operator = str(crit.get("operator", "AND")).upper()
            if operator == "OR":
                verdict = verdict or hit
            elif operator == "NOT":
                verdict = verdict and not hit
            elif operator == "AND":
                verdict = verdict and hit
            else:
                raise bad_request(f"Unknown operator {operator!r}.")
        return verdict

    def _criterion(self, user: User, crit: Json) -> bool:
        kind = str(crit.get("type", ""))
        if kind not in SEARCH_TYPES:
            raise bad_request(f"Unsupported search type {kind!r}.")
        if kind == "MATCH_ALL":
            return True
        fields = crit.get("fields") or ([crit["field"]] if "field" in crit else [])
        if not isinstance(fields, list) or not fields:
            raise bad_request("A criterion needs fields.")
        values = [str(v) for v in crit.get("values") or []]
        if "value" in crit:
            values.append(str(crit["value"]))
        if not values:
            raise bad_request("A criterion needs a value or values.")
        haystacks = {
            "name": user.name,
            "email": user.email,
            "username": user.email,
            "id": user.id,
            "state": "active",
            "routingStatus.status": user.routing_status,
            "presence.presenceDefinition.systemPresence": REST_LABEL[self.org.presence_key(user)],
        }
        for fld in fields:
            text = haystacks.get(str(fld))
            if text is None:
                continue
            for value in values:
                a, b = text.lower(), value.lower()
                if kind in ("EXACT", "TERM", "TERMS") and a == b:
                    return True
                if kind == "STARTS_WITH" and a.startswith(b):
                    return True
                if kind in ("CONTAINS", "QUERY_STRING") and b in a:
                    return True
        return False

    # ------------------------------------------------------------------ presence and routing
    async def get_presence(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/users/{userId}/presences/purecloud``."""
        user = self._user(request.match_info["user_id"])
        return web.json_response(shapes.user_presence_rest(self.org, user))

    async def bulk_presence(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/users/presences/{source}/bulk?id=...`` → a bare array (≤ 50 ids)."""
        ids = query_list(request, "id")
        if not ids:
            raise bad_request("At least one id is required.")
        if len(ids) > self.config.max_presence_bulk_ids:
            raise bad_request(
                f"A maximum of {self.config.max_presence_bulk_ids} ids may be requested at once."
            )
        if request.match_info["source"].lower() != "purecloud":
            return web.json_response([])
        return web.json_response(
            [
                shapes.bulk_presence_rest(self.org, self.org.users[i])
                for i in ids
                if i in self.org.users
            ]
        )

    async def get_routing_status(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/users/{userId}/routingstatus``."""
        user = self._user(request.match_info["user_id"])
        return web.json_response(shapes.routing_status_rest(user))

    async def presence_definitions(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/presence/definitions`` (new API, not paged)."""
        _require(token, "presence:presenceDefinition:view")
        include_deactivated = query_bool(request, "deactivated", False)
        locale = request.query.get("localeCode")
        if locale is not None and locale not in LOCALE_CODES:
            raise bad_request(f"Unknown localeCode {locale!r}.")
        entities: list[Json] = []
        for d in self.org.presences.values():
            if d.deactivated and not include_deactivated:
                continue
            entity: Json = {
                "id": d.id,
                "type": d.type,
                "languageLabels": dict(d.labels),
                "systemPresence": NEW_API_ENUM[d.system],
                "deactivated": d.deactivated,
                "selfUri": f"/api/v2/presence/definitions/{d.id}",
            }
            if d.type == "User":
                entity["divisionId"] = "*"
            entities.append(entity)
        return web.json_response(
            {
                "total": len(entities),
                "entities": entities,
                "selfUri": "/api/v2/presence/definitions",
            }
        )

    async def presence_definitions_old(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/presencedefinitions`` (deprecated API, paged, ``On Queue`` labels)."""
        deleted = request.query.get("deleted", "false").lower()
        if deleted not in ("true", "false", "all"):
            raise bad_request("deleted must be true, false or all.")
        items: list[Json] = []
        for d in self.org.presences.values():
            if (deleted == "false" and d.deactivated) or (deleted == "true" and not d.deactivated):
                continue
            items.append(
                {
                    "id": d.id,
                    "name": d.labels.get("en_US", next(iter(d.labels.values()))),
                    "languageLabels": dict(d.labels),
                    "systemPresence": REST_LABEL[d.system],
                    "deactivated": d.deactivated,
                    "primary": d.type == "System",
                    "createdDate": iso(d.created),
                    "modifiedDate": iso(d.created),
                    "selfUri": f"/api/v2/presencedefinitions/{d.id}",
                }
            )
        return web.json_response(page_listing(request, items, default_size=25, max_size=100))

    async def system_presences(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/systempresences`` → a bare array."""
        return web.json_response(
            [
                {"id": key, "name": label, "selfUri": f"/api/v2/systempresences/{key}"}
                for key, label, _ in SYSTEM_PRESENCES
            ]
        )

    # ------------------------------------------------------------------ queues
    async def get_queues(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/routing/queues`` (paged; ``name`` with ``*``, ``id`` list)."""
        _require(token, "routing:queue:view")
        queues: Iterable[Queue] = self.org.queues.values()
        ids = query_list(request, "id")
        if ids:
            queues = [q for q in queues if q.id in ids]
        pattern = request.query.get("name")
        if pattern:
            queues = [q for q in queues if _name_matches(pattern, q.name)]
        divisions = query_list(request, "divisionId")
        if divisions and self.org.division_id not in divisions:
            queues = []
        ordered = _sorted_by_name(queues, request.query.get("sortOrder", "asc"))
        items = [shapes.queue_rest(self.org, q) for q in ordered]
        return web.json_response(
            page_listing(request, items, default_size=25, max_size=self.config.max_queues_page_size)
        )

    async def get_my_queues(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/routing/queues/me``: queues the caller is a member of."""
        user_id = self._me(token)
        joined = query_bool(request, "joined", False) if "joined" in request.query else None
        mine = [
            q
            for q in self.org.queues.values()
            if user_id in q.members and (joined is None or q.members[user_id].joined == joined)
        ]
        ordered = _sorted_by_name(mine, request.query.get("sortOrder", "asc"))
        items = [
            {**shapes.queue_rest(self.org, q), "joined": q.members[user_id].joined} for q in ordered
        ]
        return web.json_response(page_listing(request, items, default_size=25, max_size=100))

    async def get_queue(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/routing/queues/{queueId}``."""
        _require(token, "routing:queue:view")
        return web.json_response(
            shapes.queue_rest(self.org, self._queue(request.match_info["queue_id"]))
        )

    async def get_members(self, request: web.Request, token: Token) -> web.Response:
        """``GET /api/v2/routing/queues/{queueId}/members``: ≤ 100 per page, ``nextUri`` only."""
        _require(
            token,
            "routing:queue:view",
            "routing:queue:edit",
            "routing:queue:readonly",
            "routing:queueMember:manage",
        )
        queue = self._queue(request.match_info["queue_id"])
        member_by = request.query.get("memberBy")
        if member_by not in (None, "user", "group"):
            raise bad_request("memberBy must be user or group.")
        users = [self.org.users[uid] for uid in queue.members]
        if member_by == "group":
            users = []
        if "joined" in request.query:
            want = query_bool(request, "joined", True)
            users = [u for u in users if queue.members[u.id].joined == want]
        name = request.query.get("name")
        if name:
            users = [u for u in users if name.lower() in u.name.lower()]
        statuses = {s.upper() for s in query_list(request, "routingStatus")}
        if statuses:
            users = [u for u in users if u.routing_status in statuses]
        presences = {_norm(p) for p in query_list(request, "presence")}
        if presences:
            users = [u for u in users if _norm(self.org.presence_key(u)) in presences]
        ordered = _sorted_by_name(users, request.query.get("sortOrder", "asc"))
        expand = set(query_list(request, "expand"))
        return web.json_response(
            page_listing(
                request,
                ordered,
                default_size=25,
                max_size=self.config.max_members_page_size,
                totals=False,
                build=lambda u: shapes.member_rest(self.org, queue, u, expand),
            )
        )

    # ------------------------------------------------------------------ analytics
    async def queue_observations(self, request: web.Request, token: Token) -> web.Response:
        """``POST /api/v2/analytics/queues/observations/query``."""
        _require(token, "analytics:queueObservation:view")
        body = await read_json(request)
        if not isinstance(body, dict):
            raise bad_request("The query must be a JSON object.")
        metrics = body.get("metrics")
        if not isinstance(metrics, list) or not metrics:
            raise bad_request("metrics is required.")
        unknown = [m for m in metrics if m not in OBSERVATION_METRICS]
        if unknown:
            raise bad_request(f"Unknown metric(s): {unknown}")
        detail = set(body.get("detailMetrics") or [])
        filt = body.get("filter")
        if not isinstance(filt, dict):
            raise bad_request("filter is required.")
        queue_ids, media = _filter_values(filt)
        if not queue_ids:
            raise bad_request("The filter must name at least one queueId.")
        if len(queue_ids) > MAX_OBSERVATION_QUEUES:
            raise bad_request(f"At most {MAX_OBSERVATION_QUEUES} queues per query.")
        unknown_media = media - set(MEDIA_TYPES)
        if unknown_media:
            raise bad_request(f"Unknown mediaType(s): {sorted(unknown_media)}")
        include_zero = self.org.variations.zero_media_groups()
        results: list[Json] = []
        for queue_id in queue_ids:
            queue = self.org.queues.get(queue_id)
            if queue is None:
                continue
            results.extend(
                analytics.query_results(
                    self.org, queue, set(metrics), detail, media, include_zero=include_zero
                )
            )
        mappings: dict[str, list[str]] = {}
        for d in self.org.presences.values():
            if not d.deactivated:
                mappings.setdefault(d.system, []).append(d.id)
        return web.json_response({"systemToOrganizationMappings": mappings, "results": results})


def _norm(value: str) -> str:
    return value.replace("_", "").replace(" ", "").upper()


def _filter_values(filt: Json) -> tuple[list[str], set[str]]:
    """Queue ids and media types named anywhere in an analytics filter."""
    queue_ids: list[str] = []
    media: set[str] = set()

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            raise bad_request("filter clauses and predicates must be objects.")
        for pred in node.get("predicates") or []:
            if not isinstance(pred, dict):
                raise bad_request("predicates must be objects.")
            dim, value = pred.get("dimension"), pred.get("value")
            if dim == "queueId" and isinstance(value, str) and value not in queue_ids:
                queue_ids.append(value)
            elif dim == "mediaType" and isinstance(value, str):
                media.add(value.lower())
            elif dim not in ("queueId", "mediaType"):
                raise bad_request(f"Unknown dimension {dim!r}.")
        for clause in node.get("clauses") or []:
            walk(clause)

    if filt.get("type") not in ("and", "or"):
        raise bad_request("filter.type must be 'and' or 'or'.")
    walk(filt)
    return queue_ids, media
