"""The sandbox's user and member listings build only the page asked for (P9's 50,000-user org).

Before, every page of ``GET /api/v2/users`` built the REST body of every user in the org and
sliced it: 500 pages of 100 at 50,000 users meant 25 million bodies, minutes of start-up. The
pages must still say exactly what they said: every user once, in name order, same shapes.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox import shapes
from sandbox.entities import Queue, User
from sandbox.org import Org
from sandbox.server import Sandbox
from tests.integration.test_rest import all_users, get_json, walk_members

Json = dict[str, Any]


class Built:
    """Counts the REST bodies the sandbox builds (wraps the real shape functions)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.users = 0
        self.members = 0
        user_rest, member_rest = shapes.user_rest, shapes.member_rest

        def count_user(org: Org, user: User, expand: set[str], **kw: Any) -> Json:
            self.users += 1
            return user_rest(org, user, expand, **kw)

        def count_member(org: Org, queue: Queue, user: User, expand: set[str]) -> Json:
            self.members += 1
            return member_rest(org, queue, user, expand)

        monkeypatch.setattr(shapes, "user_rest", count_user)
        monkeypatch.setattr(shapes, "member_rest", count_member)


@pytest.mark.sandbox_config(users=600, queues=2, variations=False)
async def test_a_users_page_builds_only_its_own_users(
    sandbox: Sandbox,
    http: httpx.AsyncClient,
    auth_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = Built(monkeypatch)
    page = await get_json(
        http, "/api/v2/users", auth_headers, pageSize=100, pageNumber=3, expand="presence"
    )
    assert len(page["entities"]) == 100
    assert built.users == 100  # was 600: the whole org for each page
    assert (page["total"], page["pageCount"], page["pageNumber"]) == (600, 6, 3)

    built.users = 0
    users = await all_users(http, auth_headers)
    assert built.users == 600  # six pages, each its own hundred
    names = [u["name"] for u in users]
    assert names == sorted(names, key=str.lower)
    assert sorted(u["id"] for u in users) == sorted(sandbox.org.users)
    truth = sorted(sandbox.org.users.values(), key=lambda u: u.name.lower())
    assert users == [shapes.user_rest(sandbox.org, u, set()) for u in truth]


@pytest.mark.sandbox_config(users=600, queues=2, variations=False)
async def test_the_cached_name_order_follows_the_sort_order_asked(
    http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    up = await get_json(http, "/api/v2/users", auth_headers, pageSize=500)
    down = await get_json(http, "/api/v2/users", auth_headers, pageSize=500, sortOrder="desc")
    again = await get_json(http, "/api/v2/users", auth_headers, pageSize=500)
    assert up["entities"] == again["entities"]
    assert [u["id"] for u in down["entities"]][:5] != [u["id"] for u in up["entities"]][:5]
    names = [u["name"].lower() for u in down["entities"]]
    assert names == sorted(names, reverse=True)
    bad = await http.get("/api/v2/users", headers=auth_headers, params={"sortOrder": "sideways"})
    assert bad.status_code == 400


@pytest.mark.sandbox_config(users=600, queues=2, variations=False)
async def test_a_members_page_builds_only_its_own_members(
    sandbox: Sandbox,
    http: httpx.AsyncClient,
    auth_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = max(sandbox.org.queues.values(), key=lambda q: len(q.members))
    assert len(queue.members) > 100
    built = Built(monkeypatch)
    members = await walk_members(http, auth_headers, queue.id, pageSize=100)
    pages = -(-len(queue.members) // 100)
    assert built.members == len(queue.members)  # was pages x members
    assert pages > 1
    assert sorted(m["id"] for m in members) == sorted(queue.members)
    names = [m["name"].lower() for m in members]
    assert names == sorted(names)
