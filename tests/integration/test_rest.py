"""The REST fill-in API of the sandbox org, checked with a real HTTP client.

genesys-api.md 3.6 (ErrorBody), 3.7 (rate limits) and 6.1-6.11 (users, search, presence,
routing status, presence definitions, queues, queue members, queue observations, paging and
casing).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from sandbox.server import Sandbox
from tests.integration.helpers import bearer, client_token, pkce_token

Json = dict[str, Any]

PAGING_KEYS = {
    "entities",
    "pageSize",
    "pageNumber",
    "total",
    "firstUri",
    "selfUri",
    "nextUri",
    "previousUri",
    "lastUri",
    "pageCount",
}
MEMBER_PAGING_KEYS = {"entities", "pageNumber", "pageSize", "firstUri", "selfUri", "nextUri"}
# 6.11: REST user/presence bodies write the system presence like this.
REST_SYSTEM_PRESENCES = {
    "Available",
    "On Queue",
    "Away",
    "Busy",
    "Offline",
    "Idle",
    "Meal",
    "Training",
    "Meeting",
    "Break",
}
# 6.6: the new definitions API enum.
NEW_API_SYSTEM_PRESENCES = {
    "Available",
    "Away",
    "Busy",
    "Offline",
    "Idle",
    "OnQueue",
    "Meal",
    "Training",
    "Meeting",
    "Break",
}
# With variations on, REST bodies may spell it any documented way (6.11): compare normalised.
ANY_SPELLING = {re.sub(r"[\s_]", "", p).upper() for p in REST_SYSTEM_PRESENCES}
ROUTING_STATUSES = {"OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING"}
UPPER_SNAKE = re.compile(r"^[A-Z]+(_[A-Z]+)*$")
ALL_METRICS = [
    "oWaiting",
    "oInteracting",
    "oAlerting",
    "oOnQueueUsers",
    "oOffQueueUsers",
    "oActiveUsers",
    "oMemberUsers",
    "oUserRoutingStatuses",
    "oUserPresences",
]
USER_METRICS = {
    "oOnQueueUsers",
    "oOffQueueUsers",
    "oActiveUsers",
    "oMemberUsers",
    "oUserRoutingStatuses",
    "oUserPresences",
}
CONVERSATION_METRICS = {"oWaiting", "oInteracting", "oAlerting"}


def norm(value: str) -> str:
    """The normalisation of genesys-api.md 6.11."""
    return re.sub(r"[\s_]", "", value).upper()


def assert_error_body(resp: httpx.Response, status: int, code: str | None = None) -> Json:
    """A Genesys ``ErrorBody`` (3.6) whose contextId is the ININ-Correlation-Id header."""
    assert resp.status_code == status, resp.text
    body: Json = resp.json()
    assert body["status"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["code"], str) and body["code"]
    if code is not None:
        assert body["code"] == code
    assert isinstance(body["contextId"], str) and body["contextId"]
    assert body["contextId"] == resp.headers["ININ-Correlation-Id"]
    assert isinstance(body["details"], list)
    assert isinstance(body["errors"], list)
    return body


async def get_json(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> Any:
    resp = await http.get(path, headers=headers, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def all_users(http: httpx.AsyncClient, headers: dict[str, str]) -> list[Json]:
    """Every user, paged by pageCount (6.10)."""
    first = await get_json(http, "/api/v2/users", headers, pageSize=100, pageNumber=1)
    users: list[Json] = list(first["entities"])
    for number in range(2, first["pageCount"] + 1):
        page = await get_json(http, "/api/v2/users", headers, pageSize=100, pageNumber=number)
        users.extend(page["entities"])
    return users


async def all_queues(http: httpx.AsyncClient, headers: dict[str, str]) -> list[Json]:
    page = await get_json(http, "/api/v2/routing/queues", headers, pageSize=100)
    assert page["pageCount"] == 1
    queues: list[Json] = page["entities"]
    return queues


async def walk_members(
    http: httpx.AsyncClient, headers: dict[str, str], queue_id: str, **params: Any
) -> list[Json]:
    """Every member of a queue, following nextUri until it is absent or null (6.7, 6.10)."""
    resp = await http.get(
        f"/api/v2/routing/queues/{queue_id}/members", headers=headers, params=params
    )
    members: list[Json] = []
    for _ in range(1000):
        assert resp.status_code == 200, resp.text
        page = resp.json()
        members.extend(page["entities"])
        next_uri = page.get("nextUri")
        if not next_uri:
            return members
        assert next_uri.startswith("/api/v2/routing/queues/")
        resp = await http.get(next_uri, headers=headers)
    raise AssertionError("nextUri never ended")


def observation_query(*queue_ids: str, metrics: list[str], detail: list[str] | None = None) -> Json:
    body: Json = {
        "filter": {
            "type": "or",
            "predicates": [{"dimension": "queueId", "value": q} for q in queue_ids],
        },
        "metrics": metrics,
    }
    if detail is not None:
        body["detailMetrics"] = detail
    return body


def agent_id(sandbox: Sandbox) -> str:
    return next(u.id for u in sandbox.org.users.values() if u.role == "agent")


# ============================================================================ 6.2 users
async def test_users_listing_has_exactly_the_paging_keys(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    page = await get_json(http, "/api/v2/users", auth_headers, pageSize=7, pageNumber=2)
    assert set(page) == PAGING_KEYS
    assert page["pageSize"] == 7
    assert page["pageNumber"] == 2
    assert page["total"] == 30
    assert page["pageCount"] == 5
    assert len(page["entities"]) == 7
    for key in ("firstUri", "selfUri", "nextUri", "previousUri", "lastUri"):
        assert page[key].startswith("/api/v2/users?"), key
    assert "pageNumber=1" in page["firstUri"]
    assert "pageNumber=3" in page["nextUri"]
    assert "pageNumber=1" in page["previousUri"]
    assert "pageNumber=5" in page["lastUri"]


async def test_users_default_page_size_is_25(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    page = await get_json(http, "/api/v2/users", auth_headers)
    assert page["pageSize"] == 25
    assert page["pageNumber"] == 1
    assert len(page["entities"]) == 25
    assert page["previousUri"] is None


async def test_walking_users_by_page_count_yields_every_user_once(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    first = await get_json(http, "/api/v2/users", auth_headers, pageSize=7, pageNumber=1)
    seen = [u["id"] for u in first["entities"]]
    last: Json = first
    for number in range(2, first["pageCount"] + 1):
        last = await get_json(http, "/api/v2/users", auth_headers, pageSize=7, pageNumber=number)
        seen.extend(u["id"] for u in last["entities"])
    assert len(seen) == len(set(seen)) == first["total"]
    assert set(seen) == set(sandbox.org.users)
    assert last["nextUri"] is None


async def test_following_users_next_uri_matches_page_count_walk(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    resp = await http.get("/api/v2/users", headers=auth_headers, params={"pageSize": 8})
    seen: list[str] = []
    pages = 0
    while True:
        page = resp.json()
        pages += 1
        seen.extend(u["id"] for u in page["entities"])
        if page["nextUri"] is None:
            break
        resp = await http.get(page["nextUri"], headers=auth_headers)
        assert resp.status_code == 200
    assert pages == page["pageCount"] == 4
    assert len(seen) == len(set(seen)) == 30


async def test_users_by_id_accepts_comma_joined_and_repeated_params(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    ids = sorted(sandbox.org.users)[:3]
    joined = await http.get(f"/api/v2/users?id={','.join(ids)}", headers=auth_headers)
    encoded = await http.get(f"/api/v2/users?id={'%2C'.join(ids)}", headers=auth_headers)
    repeated = await http.get(
        "/api/v2/users", headers=auth_headers, params=[("id", i) for i in ids]
    )
    for resp in (joined, encoded, repeated):
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert sorted(u["id"] for u in body["entities"]) == ids
        assert body["total"] == 3


async def test_users_with_more_than_max_ids_is_400(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    real = list(sandbox.org.users)
    fake = [f"00000000-0000-4000-8000-{n:012d}" for n in range(101 - len(real))]
    ok = await http.get(
        "/api/v2/users", headers=auth_headers, params={"id": ",".join((real + fake)[:100])}
    )
    assert ok.status_code == 200
    too_many = await http.get(
        "/api/v2/users", headers=auth_headers, params={"id": ",".join(real + fake)}
    )
    assert_error_body(too_many, 400)


@pytest.mark.sandbox_config(variations=False)  # the usual spelling of each surface
async def test_users_expand_presence_and_routing_status_use_rest_casing(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    agents = [u.id for u in sandbox.org.users.values() if u.role == "agent"]
    on_queue, available = agents[0], agents[1]
    await http.post(f"/sandbox/users/{on_queue}/presence", json={"presence": "ON_QUEUE"})
    await http.post(f"/sandbox/users/{available}/presence", json={"presence": "AVAILABLE"})
    truth = (await http.get("/sandbox/truth")).json()["users"]

    body = await get_json(
        http,
        "/api/v2/users",
        auth_headers,
        id=f"{on_queue},{available}",
        expand="presence,routingStatus",
    )
    by_id = {u["id"]: u for u in body["entities"]}
    assert by_id[on_queue]["presence"]["presenceDefinition"]["systemPresence"] == "On Queue"
    assert by_id[available]["presence"]["presenceDefinition"]["systemPresence"] == "Available"
    for uid, user in by_id.items():
        assert user["presence"]["presenceDefinition"]["id"] == truth[uid]["presenceDefinitionId"]
        assert user["routingStatus"]["status"] == truth[uid]["routingStatus"]
        assert user["routingStatus"]["status"] in ROUTING_STATUSES

    everyone = await get_json(
        http, "/api/v2/users", auth_headers, pageSize=100, expand="presence,routingStatus"
    )
    for user in everyone["entities"]:
        system = user["presence"]["presenceDefinition"]["systemPresence"]
        assert system in REST_SYSTEM_PRESENCES, system
        assert system != "ON_QUEUE"
        assert user["routingStatus"]["status"] in ROUTING_STATUSES


async def test_users_without_expand_have_no_presence_block(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    body = await get_json(http, "/api/v2/users", auth_headers, pageSize=5)
    for user in body["entities"]:
        assert {"id", "name", "selfUri"} <= set(user)
        assert "presence" not in user
        assert "routingStatus" not in user


async def test_users_me_with_expand(http: httpx.AsyncClient, auth_headers: dict[str, str]) -> None:
    me = await get_json(
        http, "/api/v2/users/me", auth_headers, expand="presence,routingStatus,authorization"
    )
    assert me["name"] == "Sam Supervisor"
    assert me["presence"]["presenceDefinition"]["systemPresence"] in REST_SYSTEM_PRESENCES
    assert me["routingStatus"]["status"] in ROUTING_STATUSES
    assert "analytics:queueObservation:view" in me["authorization"]["permissions"]
    plain = await get_json(http, "/api/v2/users/me", auth_headers)
    assert plain["id"] == me["id"]
    assert "presence" not in plain


# ============================================================================ 6.3 users/search
async def test_users_search_returns_results_not_entities(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    resp = await http.post(
        "/api/v2/users/search",
        headers=auth_headers,
        json={
            "pageSize": 50,
            "pageNumber": 1,
            "query": [{"type": "CONTAINS", "fields": ["name", "email"], "value": "supervisor"}],
            "expand": ["presence", "routingStatus"],
        },
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "entities" not in body
    assert {"total", "pageCount", "pageSize", "pageNumber", "results"} <= set(body)
    names = [u["name"] for u in body["results"]]
    assert "Sam Supervisor" in names
    assert body["total"] == len(names)
    assert all("supervisor" in (u["name"] + u["email"]).lower() for u in body["results"])
    assert all("routingStatus" in u for u in body["results"])


async def test_users_search_needs_directory_user_view(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    uid = agent_id(sandbox)
    user = sandbox.org.users[uid]
    user.permissions = user.permissions - {"directory:user:view"}
    token = await pkce_token(http, user=uid)
    resp = await http.post(
        "/api/v2/users/search",
        headers=bearer(token),
        json={"query": [{"type": "CONTAINS", "fields": ["name"], "value": "a"}]},
    )
    assert_error_body(resp, 403, "missing.permissions")


# ============================================================================ 6.4 / 6.5 presence
@pytest.mark.sandbox_config(variations=False)  # the usual spelling of each surface
async def test_single_user_presence(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    uid = agent_id(sandbox)
    await http.post(
        f"/sandbox/users/{uid}/presence", json={"presence": "ON_QUEUE", "message": "back soon"}
    )
    body = await get_json(http, f"/api/v2/users/{uid}/presences/purecloud", auth_headers)
    assert body["source"] == "PURECLOUD"
    assert body["presenceDefinition"]["systemPresence"] == "On Queue"
    assert body["message"] == "back soon"
    assert body["modifiedDate"].endswith("Z")


@pytest.mark.sandbox_config(users=60)
async def test_bulk_presence_is_a_bare_array_of_at_most_50(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    ids = list(sandbox.org.users)
    truth = (await http.get("/sandbox/truth")).json()["users"]
    body = await get_json(
        http, "/api/v2/users/presences/purecloud/bulk", auth_headers, id=",".join(ids[:50])
    )
    assert isinstance(body, list)
    assert sorted(p["userId"] for p in body) == sorted(ids[:50])
    for item in body:
        assert item["source"] == "PURECLOUD"
        definition = item["presenceDefinition"]
        assert norm(definition["systemPresence"]) in ANY_SPELLING
        assert definition["id"] == truth[item["userId"]]["presenceDefinitionId"]

    repeated = await http.get(
        "/api/v2/users/presences/purecloud/bulk",
        headers=auth_headers,
        params=[("id", i) for i in ids[:3]],
    )
    assert sorted(p["userId"] for p in repeated.json()) == sorted(ids[:3])

    too_many = await http.get(
        "/api/v2/users/presences/purecloud/bulk",
        headers=auth_headers,
        params={"id": ",".join(ids[:51])},
    )
    assert_error_body(too_many, 400)


async def test_routing_status_path_is_lower_case(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    uid = agent_id(sandbox)
    await http.post(f"/sandbox/users/{uid}/presence", json={"presence": "ON_QUEUE"})
    await http.post(f"/sandbox/users/{uid}/routingstatus", json={"status": "NOT_RESPONDING"})
    body = await get_json(http, f"/api/v2/users/{uid}/routingstatus", auth_headers)
    assert body["userId"] == uid
    assert body["status"] == "NOT_RESPONDING"
    assert body["startTime"].endswith("Z")


# ============================================================================ 6.6 definitions
async def test_new_presence_definitions_api(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    body = await get_json(http, "/api/v2/presence/definitions", auth_headers)
    assert {"total", "entities", "selfUri"} <= set(body)
    assert "pageCount" not in body
    assert body["total"] == len(body["entities"])
    entities = body["entities"]
    assert {e["systemPresence"] for e in entities} <= NEW_API_SYSTEM_PRESENCES
    assert {e["type"] for e in entities} == {"System", "User"}
    system = [e for e in entities if e["type"] == "System"]
    assert {e["systemPresence"] for e in system} == NEW_API_SYSTEM_PRESENCES
    on_queue = next(e for e in system if e["systemPresence"] == "OnQueue")
    assert on_queue["languageLabels"]["en_US"] == "On Queue"
    lunch = [
        e for e in entities if e["type"] == "User" and e["languageLabels"].get("en_US") == "Lunch"
    ]
    assert len(lunch) == 1
    assert lunch[0]["systemPresence"] == "Meal"
    assert all(e["deactivated"] is False for e in entities)


async def test_new_presence_definitions_filter_deactivated(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    active = await get_json(http, "/api/v2/presence/definitions", auth_headers, deactivated="false")
    every = await get_json(http, "/api/v2/presence/definitions", auth_headers, deactivated="true")
    active_ids = {e["id"] for e in active["entities"]}
    gone = [e for e in every["entities"] if e["deactivated"]]
    assert gone, "the sandbox org has a deactivated custom presence"
    assert active_ids.isdisjoint(e["id"] for e in gone)
    assert active_ids <= {e["id"] for e in every["entities"]}


async def test_old_presence_definitions_api_is_paged_with_rest_labels(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    new = await get_json(http, "/api/v2/presence/definitions", auth_headers)
    page = await get_json(http, "/api/v2/presencedefinitions", auth_headers, pageSize=5)
    assert set(page) >= PAGING_KEYS
    assert page["total"] == new["total"]
    collected = list(page["entities"])
    for number in range(2, page["pageCount"] + 1):
        more = await get_json(
            http, "/api/v2/presencedefinitions", auth_headers, pageSize=5, pageNumber=number
        )
        collected.extend(more["entities"])
    assert {e["id"] for e in collected} == {e["id"] for e in new["entities"]}
    labels = {e["systemPresence"] for e in collected}
    assert "On Queue" in labels
    assert labels <= REST_SYSTEM_PRESENCES
    by_id = {e["id"]: e for e in new["entities"]}
    for old in collected:
        assert norm(old["systemPresence"]) == norm(by_id[old["id"]]["systemPresence"])


async def test_system_presences(http: httpx.AsyncClient, auth_headers: dict[str, str]) -> None:
    body = await get_json(http, "/api/v2/systempresences", auth_headers)
    assert isinstance(body, list)
    assert len(body) == 10
    for item in body:
        assert {"id", "name", "selfUri"} <= set(item)
    assert {norm(i["name"]) for i in body} == {norm(p) for p in NEW_API_SYSTEM_PRESENCES}


# ============================================================================ 6.7 queues
async def test_queues_are_paged(http: httpx.AsyncClient, auth_headers: dict[str, str]) -> None:
    page = await get_json(http, "/api/v2/routing/queues", auth_headers, pageSize=3)
    assert set(page) == PAGING_KEYS
    assert page["total"] == 4
    assert page["pageCount"] == 2
    second = await get_json(http, page["nextUri"], auth_headers)
    ids = [q["id"] for q in page["entities"] + second["entities"]]
    assert len(set(ids)) == 4
    assert second["nextUri"] is None
    for queue in page["entities"]:
        assert {"id", "name", "memberCount", "joinedMemberCount", "selfUri"} <= set(queue)


async def test_queue_name_filter_with_leading_and_trailing_asterisk(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    names = [q["name"] for q in await all_queues(http, auth_headers)]
    target = names[0]
    cases = {
        target: [target],
        target[:3] + "*": [n for n in names if n.startswith(target[:3])],
        "*" + target[-4:]: [n for n in names if n.endswith(target[-4:])],
        "*" + target[1:-1] + "*": [n for n in names if target[1:-1] in n],
    }
    for pattern, expected in cases.items():
        body = await get_json(http, "/api/v2/routing/queues", auth_headers, name=pattern)
        assert sorted(q["name"] for q in body["entities"]) == sorted(expected), pattern
        assert body["total"] == len(expected)
    none = await get_json(http, "/api/v2/routing/queues", auth_headers, name="No such queue*")
    assert none["entities"] == []
    assert none["total"] == 0


async def test_queue_id_list_filter(http: httpx.AsyncClient, auth_headers: dict[str, str]) -> None:
    ids = sorted(q["id"] for q in await all_queues(http, auth_headers))[:2]
    joined = await get_json(http, "/api/v2/routing/queues", auth_headers, id=",".join(ids))
    repeated = await http.get(
        "/api/v2/routing/queues", headers=auth_headers, params=[("id", i) for i in ids]
    )
    assert sorted(q["id"] for q in joined["entities"]) == ids
    assert sorted(q["id"] for q in repeated.json()["entities"]) == ids


async def test_my_queues_are_the_queues_i_am_a_member_of(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    me = await get_json(http, "/api/v2/users/me", auth_headers)
    expected = set()
    for queue in await all_queues(http, auth_headers):
        members = await walk_members(http, auth_headers, queue["id"], pageSize=100)
        if any(m["id"] == me["id"] for m in members):
            expected.add(queue["id"])
    mine = await get_json(http, "/api/v2/routing/queues/me", auth_headers)
    assert expected
    assert {q["id"] for q in mine["entities"]} == expected
    assert mine["total"] == len(expected)


@pytest.mark.sandbox_config(users=260, queues=1)
async def test_queue_members_walk_next_uri_to_collect_every_member_once(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    (queue,) = await all_queues(http, auth_headers)
    assert queue["memberCount"] > 100
    users = await all_users(http, auth_headers)

    first = await http.get(
        f"/api/v2/routing/queues/{queue['id']}/members",
        headers=auth_headers,
        params={"pageSize": 100},
    )
    page = first.json()
    assert set(page) <= MEMBER_PAGING_KEYS | {"previousUri"}
    for absent in ("total", "pageCount", "lastUri"):
        assert absent not in page
    assert len(page["entities"]) == 100
    assert page["nextUri"]

    members = await walk_members(
        http, auth_headers, queue["id"], pageSize=100, expand="presence,routingStatus"
    )
    ids = [m["id"] for m in members]
    assert len(ids) == len(set(ids)) == queue["memberCount"]
    assert set(ids) == {u["id"] for u in users}
    for member in members:
        assert member["user"]["id"] == member["id"]
        system = member["user"]["presence"]["presenceDefinition"]["systemPresence"]
        assert norm(system) in ANY_SPELLING
        assert member["user"]["routingStatus"]["status"] in ROUTING_STATUSES
        assert isinstance(member["joined"], bool)


async def test_queue_members_page_size_above_100_is_400(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue = (await all_queues(http, auth_headers))[0]
    path = f"/api/v2/routing/queues/{queue['id']}/members"
    assert (await http.get(path, headers=auth_headers, params={"pageSize": 100})).status_code == 200
    resp = await http.get(path, headers=auth_headers, params={"pageSize": 101})
    assert_error_body(resp, 400)


# ============================================================================ 6.8 observations
# The voice-only, no-variations contract; the multichannel split is in test_multichannel.py.
@pytest.mark.sandbox_config(multichannel=False, variations=False)
async def test_queue_observations_shape_and_counts_match_truth(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queues = await all_queues(http, auth_headers)
    busy, quiet = queues[0]["id"], queues[1]["id"]
    created = set()
    for _ in range(3):
        resp = await http.post(f"/sandbox/queues/{busy}/conversations")
        assert resp.status_code == 200
        created.add(resp.json()["conversationId"])
    truth = (await http.get("/sandbox/truth")).json()["queues"]
    assert truth[busy]["waiting"] == 3

    resp = await http.post(
        "/api/v2/analytics/queues/observations/query",
        headers=auth_headers,
        json=observation_query(busy, quiet, metrics=ALL_METRICS, detail=["oWaiting"]),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) >= {"systemToOrganizationMappings", "results"}

    seen_groups: set[tuple[str, ...]] = set()
    for result in body["results"]:
        group, data = result["group"], result["data"]
        metrics = {d["metric"] for d in data}
        if set(group) == {"queueId"}:
            assert metrics <= USER_METRICS
        else:
            assert set(group) == {"queueId", "mediaType"}
            assert group["mediaType"] == "voice"
            assert metrics <= CONVERSATION_METRICS
        seen_groups.add(tuple(sorted(group)))
        for item in data:
            assert isinstance(item["stats"]["count"], int)
            if item["metric"] in ("oOnQueueUsers", "oUserRoutingStatuses"):
                assert item["qualifier"] in ROUTING_STATUSES
    assert seen_groups == {("queueId",), ("mediaType", "queueId")}

    def conv(queue_id: str, metric: str) -> Json:
        for result in body["results"]:
            if result["group"] == {"queueId": queue_id, "mediaType": "voice"}:
                return next(d for d in result["data"] if d["metric"] == metric)
        raise AssertionError(f"no voice group for {queue_id}")

    for queue_id in (busy, quiet):
        assert conv(queue_id, "oWaiting")["stats"]["count"] == truth[queue_id]["waiting"]
        assert conv(queue_id, "oInteracting")["stats"]["count"] == truth[queue_id]["interacting"]
    waiting = conv(busy, "oWaiting")
    assert waiting["truncated"] is False
    assert {o["conversationId"] for o in waiting["observations"]} == created
    for observation in waiting["observations"]:
        assert observation["observationDate"].endswith("Z")
        assert observation["direction"] == "inbound"
    assert "observations" not in conv(busy, "oInteracting")


async def test_queue_observations_member_count_matches_members_listing(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue_id = (await all_queues(http, auth_headers))[0]["id"]
    members = await walk_members(http, auth_headers, queue_id, pageSize=100)
    resp = await http.post(
        "/api/v2/analytics/queues/observations/query",
        headers=auth_headers,
        # The nested form of the filter: an "and" of clauses holding "or" predicates.
        json={
            "filter": {
                "type": "and",
                "clauses": [
                    {"type": "or", "predicates": [{"dimension": "queueId", "value": queue_id}]}
                ],
            },
            "metrics": ["oMemberUsers"],
        },
    )
    assert resp.status_code == 200, resp.text
    (result,) = resp.json()["results"]
    assert result["group"] == {"queueId": queue_id}
    (data,) = result["data"]
    assert data["metric"] == "oMemberUsers"
    assert data["stats"]["count"] == len(members)


async def test_queue_observations_mappings_use_upper_snake_system_presences(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue_id = (await all_queues(http, auth_headers))[0]["id"]
    resp = await http.post(
        "/api/v2/analytics/queues/observations/query",
        headers=auth_headers,
        json=observation_query(queue_id, metrics=["oUserPresences"]),
    )
    mappings = resp.json()["systemToOrganizationMappings"]
    assert "ON_QUEUE" in mappings and "AVAILABLE" in mappings
    assert all(UPPER_SNAKE.match(key) for key in mappings)
    definitions = await get_json(http, "/api/v2/presence/definitions", auth_headers)
    by_id = {d["id"]: d for d in definitions["entities"]}
    for key, ids in mappings.items():
        for presence_id in ids:
            assert norm(by_id[presence_id]["systemPresence"]) == norm(key)


async def test_queue_observations_unknown_metric_is_400(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue_id = (await all_queues(http, auth_headers))[0]["id"]
    resp = await http.post(
        "/api/v2/analytics/queues/observations/query",
        headers=auth_headers,
        json=observation_query(queue_id, metrics=["oWaiting", "oNoSuchMetric"]),
    )
    assert_error_body(resp, 400)


async def test_agent_gets_403_missing_permissions_on_observations(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    queue_id = (await all_queues(http, auth_headers))[0]["id"]
    token = await pkce_token(http, user=agent_id(sandbox))
    resp = await http.post(
        "/api/v2/analytics/queues/observations/query",
        headers=bearer(token),
        json=observation_query(queue_id, metrics=["oWaiting"]),
    )
    assert_error_body(resp, 403, "missing.permissions")


# ============================================================================ 3.6 errors
async def test_successful_responses_carry_a_correlation_id(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    a = await http.get("/api/v2/users/me", headers=auth_headers)
    b = await http.get("/api/v2/users/me", headers=auth_headers)
    assert a.headers["ININ-Correlation-Id"]
    assert a.headers["ININ-Correlation-Id"] != b.headers["ININ-Correlation-Id"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/users/00000000-0000-4000-8000-000000000000",
        "/api/v2/users/00000000-0000-4000-8000-000000000000/presences/purecloud",
        "/api/v2/users/00000000-0000-4000-8000-000000000000/routingstatus",
        "/api/v2/routing/queues/00000000-0000-4000-8000-000000000000",
        "/api/v2/routing/queues/00000000-0000-4000-8000-000000000000/members",
        "/api/v2/no/such/route",
    ],
)
async def test_unknown_ids_and_routes_are_404_error_bodies(
    http: httpx.AsyncClient, auth_headers: dict[str, str], path: str
) -> None:
    assert_error_body(await http.get(path, headers=auth_headers), 404, "not.found")


# ============================================================================ 3.7 rate limits
async def test_rate_limit_fault_gives_announced_429_then_recovers(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    armed = await http.post("/sandbox/faults/rate_limit", params={"count": 2, "retry_after": 42})
    assert armed.status_code == 200
    for _ in range(2):
        resp = await http.get("/api/v2/users", headers=auth_headers)
        body = assert_error_body(resp, 429, "too.many.requests.retry.after")
        assert resp.headers["Retry-After"] == "42"
        assert body["message"] == (
            "Rate limit exceeded the maximum. Retry the request in [42] seconds"
        )
    assert (await http.get("/api/v2/users", headers=auth_headers)).status_code == 200


async def test_server_error_fault_gives_503_then_recovers(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    armed = await http.post("/sandbox/faults/server_error", params={"count": 1, "status": 503})
    assert armed.status_code == 200
    assert_error_body(await http.get("/api/v2/routing/queues", headers=auth_headers), 503)
    assert (await http.get("/api/v2/routing/queues", headers=auth_headers)).status_code == 200


@pytest.mark.sandbox_config(client_rate_per_min=5)
async def test_client_credentials_token_is_rate_limited_per_token(
    http: httpx.AsyncClient, service_token: str
) -> None:
    headers = bearer(service_token)
    for _ in range(5):
        assert (await http.get("/api/v2/routing/queues", headers=headers)).status_code == 200
    resp = await http.get("/api/v2/routing/queues", headers=headers)
    body = assert_error_body(resp, 429, "too.many.requests.retry.after")
    retry_after = int(resp.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert f"[{retry_after}]" in body["message"]
    # The limit is per client-credentials token: a fresh token has its own budget.
    fresh = await client_token(http)
    assert (await http.get("/api/v2/routing/queues", headers=bearer(fresh))).status_code == 200


@pytest.mark.sandbox_config(user_rate_per_min=5)
async def test_user_tokens_share_one_rate_limit_per_user_and_client(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    first = await pkce_token(http)
    second = await pkce_token(http)  # same user, same OAuth client, another token
    for token in (first, first, first, second, second):
        assert (await http.get("/api/v2/users/me", headers=bearer(token))).status_code == 200
    for token in (first, second):
        resp = await http.get("/api/v2/users/me", headers=bearer(token))
        assert_error_body(resp, 429, "too.many.requests.retry.after")
        assert int(resp.headers["Retry-After"]) >= 1
    # Another user has a budget of their own.
    other = await pkce_token(http, user=agent_id(sandbox))
    assert (await http.get("/api/v2/users/me", headers=bearer(other))).status_code == 200
