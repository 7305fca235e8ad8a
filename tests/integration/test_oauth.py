"""OAuth against the sandbox org, checked with a real HTTP client (genesys-api.md section 2).

Authorization code + PKCE (2.2), confidential code + refresh (2.3, 2.4), client credentials
(2.6), token lifetime (2.7), OAuth error answers (2.8), loopback redirect URIs (2.9) and
``/api/v2/tokens/me`` (2.10).
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.server import Sandbox
from tests.integration.helpers import REDIRECT_URI, bearer, pkce_pair, pkce_token

PKCE_CLIENT = "sandbox-desktop"
SERVICE_CLIENT = "sandbox-client"
SERVICE_SECRET = "sandbox-secret"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def _pkce_form(code: str, verifier: str, redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    """The exact five fields of the PKCE exchange (genesys-api.md 2.2 step 4)."""
    return {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "client_id": PKCE_CLIENT,
        "redirect_uri": redirect_uri,
    }


async def _authorize_raw(http: httpx.AsyncClient, **params: str) -> httpx.Response:
    base = {"client_id": PKCE_CLIENT, "response_type": "code", "redirect_uri": REDIRECT_URI}
    base.update(params)
    return await http.get("/oauth/authorize", params=base, follow_redirects=False)


def _redirect_query(resp: httpx.Response, redirect_uri: str = REDIRECT_URI) -> dict[str, str]:
    assert resp.status_code == 302, resp.text
    location = resp.headers["location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == redirect_uri
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def _oauth_error(resp: httpx.Response, error: str, *statuses: int) -> None:
    assert resp.status_code in (statuses or (400,)), resp.text
    body = resp.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert "access_token" not in body


def _assert_error_body(resp: httpx.Response, status: int) -> dict[str, Any]:
    """A Genesys ``ErrorBody`` (3.6) whose contextId is the ININ-Correlation-Id header."""
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["code"], str) and body["code"]
    assert body["contextId"] == resp.headers["ININ-Correlation-Id"]
    assert isinstance(body["details"], list)
    assert isinstance(body["errors"], list)
    return body


async def _code(http: httpx.AsyncClient, challenge: str, **extra: str) -> str:
    resp = await _authorize_raw(
        http, code_challenge=challenge, code_challenge_method="S256", state="s", **extra
    )
    return _redirect_query(resp)["code"]


async def _until_status(
    http: httpx.AsyncClient, token: str, status: int, deadline_s: float = 3.0
) -> httpx.Response:
    """Poll ``GET /api/v2/tokens/me`` until it answers ``status`` or the deadline passes."""
    async with asyncio.timeout(deadline_s):
        while True:
            resp = await http.get("/api/v2/tokens/me", headers=bearer(token))
            if resp.status_code == status:
                return resp
            assert resp.status_code == 200, resp.text
            await asyncio.sleep(0.02)


# ---------------------------------------------------------------------------- PKCE happy path
async def test_pkce_authorize_redirects_to_loopback_with_code_and_state(
    http: httpx.AsyncClient,
) -> None:
    _, challenge = pkce_pair()
    resp = await _authorize_raw(
        http, code_challenge=challenge, code_challenge_method="S256", state="7d1b0c5e2f"
    )
    query = _redirect_query(resp)
    assert query["state"] == "7d1b0c5e2f"
    assert query["code"]
    assert "error" not in query


async def test_pkce_exchange_with_five_form_fields_and_no_auth_header_returns_token(
    http: httpx.AsyncClient,
) -> None:
    verifier, challenge = pkce_pair()
    code = await _code(http, challenge)
    resp = await http.post("/oauth/token", data=_pkce_form(code, verifier))
    assert "authorization" not in resp.request.headers
    assert resp.request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert isinstance(body["access_token"], str) and body["access_token"]
    assert body["token_type"].lower() == "bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    # genesys-api.md 2.2: assume no refresh token for PKCE.
    assert "refresh_token" not in body
    me = await http.get("/api/v2/users/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200


async def test_pkce_default_token_lives_24_hours(http: httpx.AsyncClient) -> None:
    verifier, challenge = pkce_pair()
    code = await _code(http, challenge)
    body = (await http.post("/oauth/token", data=_pkce_form(code, verifier))).json()
    # 2.7: 24 h default when the OAuth client sets no accessTokenValiditySeconds.
    assert 86_000 <= body["expires_in"] <= 86_400


async def test_authorization_code_is_single_use(http: httpx.AsyncClient) -> None:
    verifier, challenge = pkce_pair()
    code = await _code(http, challenge)
    first = await http.post("/oauth/token", data=_pkce_form(code, verifier))
    assert first.status_code == 200
    second = await http.post("/oauth/token", data=_pkce_form(code, verifier))
    _oauth_error(second, "invalid_grant")


@pytest.mark.sandbox_config(code_ttl_s=0.3)
async def test_expired_authorization_code_is_invalid_grant(http: httpx.AsyncClient) -> None:
    verifier, challenge = pkce_pair()
    fresh = await _code(http, challenge)
    assert (await http.post("/oauth/token", data=_pkce_form(fresh, verifier))).status_code == 200

    issued_at = time.time()
    stale = await _code(http, challenge)
    # Wait until the code's lifetime (0.3 s from issue) has certainly passed on the shared clock.
    await asyncio.sleep(max(0.0, issued_at + 0.3 + 0.05 - time.time()))
    _oauth_error(await http.post("/oauth/token", data=_pkce_form(stale, verifier)), "invalid_grant")


async def test_wrong_code_verifier_is_invalid_grant(http: httpx.AsyncClient) -> None:
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    code = await _code(http, challenge)
    resp = await http.post("/oauth/token", data=_pkce_form(code, other_verifier))
    _oauth_error(resp, "invalid_grant")


async def test_wrong_redirect_uri_on_exchange_is_invalid_grant(http: httpx.AsyncClient) -> None:
    verifier, challenge = pkce_pair()
    code = await _code(http, challenge)
    form = _pkce_form(code, verifier, redirect_uri="http://127.0.0.1:53683/callback")
    _oauth_error(await http.post("/oauth/token", data=form), "invalid_grant")


async def test_unknown_client_id_on_exchange_is_invalid_client(http: httpx.AsyncClient) -> None:
    verifier, challenge = pkce_pair()
    code = await _code(http, challenge)
    form = {**_pkce_form(code, verifier), "client_id": "no-such-client"}
    _oauth_error(await http.post("/oauth/token", data=form), "invalid_client", 400, 401)


# ---------------------------------------------------------------------------- authorize errors
async def test_authorize_with_unknown_client_shows_error_page_without_redirect(
    http: httpx.AsyncClient,
) -> None:
    _, challenge = pkce_pair()
    resp = await _authorize_raw(
        http, client_id="no-such-client", code_challenge=challenge, code_challenge_method="S256"
    )
    assert 400 <= resp.status_code < 500
    assert "location" not in resp.headers
    assert resp.headers["content-type"].startswith("text/html")


async def test_pkce_client_without_code_challenge_gets_invalid_request_redirect(
    http: httpx.AsyncClient,
) -> None:
    query = _redirect_query(await _authorize_raw(http, state="abc"))
    assert query["error"] == "invalid_request"
    assert query["error_description"]
    assert query["state"] == "abc"
    assert "code" not in query


async def test_org_without_provider_gets_invalid_request_redirect(
    http: httpx.AsyncClient,
) -> None:
    _, challenge = pkce_pair()
    resp = await _authorize_raw(
        http, code_challenge=challenge, code_challenge_method="S256", org="myorgname"
    )
    query = _redirect_query(resp)
    assert query["error"] == "invalid_request"
    assert "code" not in query


async def test_org_with_provider_signs_in(http: httpx.AsyncClient) -> None:
    _, challenge = pkce_pair()
    resp = await _authorize_raw(
        http,
        code_challenge=challenge,
        code_challenge_method="S256",
        org="myorgname",
        provider="okta",
    )
    assert "code" in _redirect_query(resp)


async def test_denied_consent_redirects_access_denied_with_state(
    http: httpx.AsyncClient,
) -> None:
    _, challenge = pkce_pair()
    resp = await _authorize_raw(
        http,
        code_challenge=challenge,
        code_challenge_method="S256",
        state="keep-me",
        sandbox_deny="1",
    )
    query = _redirect_query(resp)
    assert query["error"] == "access_denied"
    assert query["state"] == "keep-me"
    assert "code" not in query


async def test_prompt_login_shows_html_chooser_whose_links_sign_in(
    http: httpx.AsyncClient,
) -> None:
    verifier, challenge = pkce_pair()
    page = await _authorize_raw(
        http,
        code_challenge=challenge,
        code_challenge_method="S256",
        state="st",
        prompt="login",
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    links = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page.text)]
    sign_in = [link for link in links if "sandbox_user=" in link]
    assert sign_in, page.text
    chosen = await http.get(sign_in[-1], follow_redirects=False)
    code = _redirect_query(chosen)["code"]
    token = await http.post("/oauth/token", data=_pkce_form(code, verifier))
    assert token.status_code == 200


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://example.com/callback", "https://login.example.org:53682/callback"],
)
async def test_non_loopback_redirect_uri_is_refused_without_redirect(
    http: httpx.AsyncClient, redirect_uri: str
) -> None:
    _, challenge = pkce_pair()
    resp = await _authorize_raw(
        http, redirect_uri=redirect_uri, code_challenge=challenge, code_challenge_method="S256"
    )
    assert 400 <= resp.status_code < 500
    assert "location" not in resp.headers


@pytest.mark.sandbox_config(redirect_uris=[REDIRECT_URI])
async def test_registered_redirect_uri_must_match_exactly(http: httpx.AsyncClient) -> None:
    _, challenge = pkce_pair()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    ok = await _authorize_raw(http, **pkce)
    assert "code" in _redirect_query(ok)
    for other in (
        "http://127.0.0.1:53683/callback",  # another port
        "http://127.0.0.1:53682/callback/",  # another path
        REDIRECT_URI + "?x=1",  # extra query text breaks matching (2.9)
    ):
        resp = await _authorize_raw(http, redirect_uri=other, **pkce)
        assert 400 <= resp.status_code < 500, other
        assert "location" not in resp.headers


# ---------------------------------------------------------------------------- client credentials
async def test_client_credentials_with_basic_auth_returns_token_without_refresh(
    http: httpx.AsyncClient,
) -> None:
    resp = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(SERVICE_CLIENT, SERVICE_SECRET),
    )
    assert resp.request.headers["authorization"].startswith("Basic ")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["access_token"]
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert "refresh_token" not in body


async def test_client_credentials_with_wrong_secret_is_401_invalid_client(
    http: httpx.AsyncClient,
) -> None:
    resp = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(SERVICE_CLIENT, "nope")
    )
    _oauth_error(resp, "invalid_client", 401)


async def test_client_credentials_with_unknown_client_is_invalid_client(
    http: httpx.AsyncClient,
) -> None:
    resp = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("ghost", SERVICE_SECRET)
    )
    _oauth_error(resp, "invalid_client", 401)


async def test_token_endpoint_requires_form_encoding(http: httpx.AsyncClient) -> None:
    verifier, challenge = pkce_pair()
    code = await _code(http, challenge)
    resp = await http.post("/oauth/token", json=_pkce_form(code, verifier))
    _oauth_error(resp, "invalid_request")
    # The JSON attempt did not burn the code: the form request still works.
    ok = await http.post("/oauth/token", data=_pkce_form(code, verifier))
    assert ok.status_code == 200


# ---------------------------------------------------------------------------- refresh tokens
@pytest.mark.sandbox_config(pkce_refresh_tokens=True)
async def test_pkce_refresh_grant_rotates_refresh_token(http: httpx.AsyncClient) -> None:
    verifier, challenge = pkce_pair()
    code = await _code(http, challenge)
    first = (await http.post("/oauth/token", data=_pkce_form(code, verifier))).json()
    old_refresh = first["refresh_token"]

    def refresh_form(value: str) -> dict[str, str]:
        return {"grant_type": "refresh_token", "refresh_token": value, "client_id": PKCE_CLIENT}

    resp = await http.post("/oauth/token", data=refresh_form(old_refresh))
    assert resp.status_code == 200, resp.text
    second = resp.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] and second["refresh_token"] != old_refresh
    me = await http.get("/api/v2/users/me", headers=bearer(second["access_token"]))
    assert me.status_code == 200

    _oauth_error(await http.post("/oauth/token", data=refresh_form(old_refresh)), "invalid_grant")
    third = await http.post("/oauth/token", data=refresh_form(second["refresh_token"]))
    assert third.status_code == 200


async def test_confidential_code_grant_with_basic_auth_returns_refresh_token_that_rotates(
    http: httpx.AsyncClient,
) -> None:
    # 2.3: authorize without PKCE params; exchange with Basic auth and three body fields.
    resp = await _authorize_raw(http, client_id=SERVICE_CLIENT, state="c")
    code = _redirect_query(resp)["code"]
    token = await http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(SERVICE_CLIENT, SERVICE_SECRET),
    )
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["access_token"] and body["refresh_token"] and body["expires_in"] > 0

    # 2.4: refresh with Basic auth gives a new access token and a new refresh token.
    refreshed = await http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        auth=(SERVICE_CLIENT, SERVICE_SECRET),
    )
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert new["refresh_token"] != body["refresh_token"]
    again = await http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        auth=(SERVICE_CLIENT, SERVICE_SECRET),
    )
    _oauth_error(again, "invalid_grant")


# ---------------------------------------------------------------------------- token lifetime
@pytest.mark.sandbox_config(token_ttl_s=0.5)
async def test_token_gets_401_error_body_after_its_ttl(http: httpx.AsyncClient) -> None:
    issued_at = time.time()
    token = await pkce_token(http)
    assert (await http.get("/api/v2/tokens/me", headers=bearer(token))).status_code == 200
    resp = await _until_status(http, token, 401)
    assert time.time() >= issued_at + 0.5
    _assert_error_body(resp, 401)
    users = await http.get("/api/v2/users", headers=bearer(token))
    _assert_error_body(users, 401)


# ---------------------------------------------------------------------------- tokens/me
async def test_tokens_me_describes_pkce_token(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    resp = await http.get("/api/v2/tokens/me", headers=bearer(user_token))
    assert resp.status_code == 200
    info = resp.json()
    for key in ("organization", "homeOrganization"):
        assert isinstance(info[key]["id"], str) and info[key]["id"]
        assert isinstance(info[key]["name"], str)
    assert isinstance(info["authorizedScope"], list)
    assert all(isinstance(s, str) for s in info["authorizedScope"])
    assert ISO_Z.match(info["dateTokenIdles"])
    assert "oauthClient" not in info and "oAuthClient" not in info
    client = info["OAuthClient"]
    assert client["id"] == PKCE_CLIENT
    assert isinstance(client["name"], str)
    assert client["authorizedGrantType"] == "CODE"


async def test_tokens_me_reports_client_credentials_grant(
    http: httpx.AsyncClient, service_token: str
) -> None:
    info = (await http.get("/api/v2/tokens/me", headers=bearer(service_token))).json()
    assert info["OAuthClient"]["id"] == SERVICE_CLIENT
    assert info["OAuthClient"]["authorizedGrantType"] == "CLIENT-CREDENTIALS"


async def test_head_tokens_me_is_200_without_body(http: httpx.AsyncClient, user_token: str) -> None:
    resp = await http.head("/api/v2/tokens/me", headers=bearer(user_token))
    assert resp.status_code == 200
    assert resp.content == b""
    bad = await http.head("/api/v2/tokens/me", headers=bearer("not-a-token"))
    assert bad.status_code == 401


async def test_delete_tokens_me_revokes_only_that_token(http: httpx.AsyncClient) -> None:
    doomed = await pkce_token(http)
    other = await pkce_token(http)
    resp = await http.delete("/api/v2/tokens/me", headers=bearer(doomed))
    assert 200 <= resp.status_code < 300
    assert resp.content == b""
    for path in ("/api/v2/tokens/me", "/api/v2/users/me", "/api/v2/routing/queues"):
        _assert_error_body(await http.get(path, headers=bearer(doomed)), 401)
    assert (await http.head("/api/v2/tokens/me", headers=bearer(doomed))).status_code == 401
    assert (await http.get("/api/v2/users/me", headers=bearer(other))).status_code == 200


async def test_users_me_with_client_credentials_token_is_refused(
    http: httpx.AsyncClient, service_token: str
) -> None:
    resp = await http.get("/api/v2/users/me", headers=bearer(service_token))
    assert 400 <= resp.status_code < 500
    _assert_error_body(resp, resp.status_code)


async def test_missing_or_malformed_bearer_is_401(http: httpx.AsyncClient) -> None:
    _assert_error_body(await http.get("/api/v2/users/me"), 401)
    resp = await http.get("/api/v2/users/me", headers={"Authorization": "Basic abc"})
    _assert_error_body(resp, 401)


# ---------------------------------------------------------------------------- token faults
@pytest.mark.parametrize("fault", ["revoke_tokens", "expire_tokens"])
async def test_token_fault_for_one_user_turns_only_their_tokens_401(
    sandbox: Sandbox, http: httpx.AsyncClient, fault: str
) -> None:
    supervisor = await pkce_token(http)
    me = (await http.get("/api/v2/users/me", headers=bearer(supervisor))).json()
    agent_id = next(
        u.id for u in sandbox.org.users.values() if u.role == "agent" and u.id != me["id"]
    )
    agent = await pkce_token(http, user=agent_id)

    resp = await http.post(f"/sandbox/faults/{fault}", params={"user": agent_id})
    assert resp.status_code == 200
    assert resp.json()["count"] == 1
    _assert_error_body(await http.get("/api/v2/users/me", headers=bearer(agent)), 401)
    assert (await http.get("/api/v2/users/me", headers=bearer(supervisor))).status_code == 200


@pytest.mark.parametrize("fault", ["revoke_tokens", "expire_tokens"])
async def test_token_fault_for_everyone_turns_every_token_401(
    http: httpx.AsyncClient, user_token: str, service_token: str, fault: str
) -> None:
    resp = await http.post(f"/sandbox/faults/{fault}")
    assert resp.status_code == 200
    assert resp.json()["count"] >= 2
    for token in (user_token, service_token):
        _assert_error_body(await http.get("/api/v2/tokens/me", headers=bearer(token)), 401)
    # A fresh sign-in works again afterwards.
    fresh = await pkce_token(http)
    assert (await http.get("/api/v2/tokens/me", headers=bearer(fresh))).status_code == 200


# ---------------------------------------------------------------------------- browser logout
async def test_logout_redirects_back_to_loopback_redirect_uri(http: httpx.AsyncClient) -> None:
    resp = await http.get(
        "/logout",
        params={"client_id": PKCE_CLIENT, "redirect_uri": REDIRECT_URI},
        follow_redirects=False,
    )
    assert resp.status_code == 302
    assert resp.headers["location"] == REDIRECT_URI
    elsewhere = await http.get(
        "/logout",
        params={"client_id": PKCE_CLIENT, "redirect_uri": "http://example.com/"},
        follow_redirects=False,
    )
    assert "location" not in elsewhere.headers
