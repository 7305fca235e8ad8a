"""The sandbox starts, signs a user in through PKCE and answers the API."""

from __future__ import annotations

import httpx

from sandbox.server import Sandbox


async def test_pkce_user_reads_users_me(
    sandbox: Sandbox, http: httpx.AsyncClient, auth_headers: dict[str, str]
) -> None:
    resp = await http.get("/api/v2/users/me", headers=auth_headers)
    assert resp.status_code == 200
    me = resp.json()
    assert me["id"] in sandbox.org.users
    assert me["name"] == "Sam Supervisor"
