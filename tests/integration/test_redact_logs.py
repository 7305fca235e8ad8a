"""The redaction filter against real log records of httpx and our own modules."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from core.app.redact import MASK, redact
from sandbox.server import Sandbox
from tests.integration.helpers import REDIRECT_URI, Captured, pkce_pair, redacted_log


@pytest.fixture
def captured() -> Iterator[Captured]:
    with redacted_log("httpx", "httpcore") as handler:
        yield handler


def test_masks_headers_query_parameters_and_json_fields() -> None:
    assert redact("Authorization: Bearer abc.def-123456") == f"Authorization: Bearer {MASK}"
    assert (
        redact("{'authorization': 'Basic c2VjcmV0OnNlY3JldA=='}")
        == f"{{'authorization': 'Basic {MASK}'}}"
    )
    assert redact("GET /cb?code=XyZ123&state=s1 200") == f"GET /cb?code={MASK}&state={MASK} 200"
    assert (
        redact('{"access_token": "tok-1", "expires_in": 3600}')
        == f'{{"access_token": "{MASK}", "expires_in": 3600}}'
    )
    assert redact("grant_type=refresh_token&refresh_token=r1&client_secret=s") == (
        f"grant_type=refresh_token&refresh_token={MASK}&client_secret={MASK}"
    )
    assert redact("nothing secret here: queue Sales EN") == "nothing secret here: queue Sales EN"


async def test_real_httpx_records_of_a_pkce_sign_in_carry_no_secret(
    sandbox: Sandbox, captured: Captured
) -> None:
    verifier, challenge = pkce_pair()
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        resp = await http.get(
            "/oauth/authorize",
            params={
                "client_id": "sandbox-desktop",
                "response_type": "code",
                "redirect_uri": REDIRECT_URI,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": "st-secret-1",
            },
        )
        code = resp.headers["location"].split("code=")[1].split("&")[0]
        logging.getLogger("httpx").info(
            'HTTP Request: GET %s "HTTP/1.1 200 OK"', resp.headers["location"]
        )
        token_resp = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "client_id": "sandbox-desktop",
                "redirect_uri": REDIRECT_URI,
            },
        )
        token = token_resp.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        await http.get("/api/v2/users/me", headers=headers)
        logging.getLogger("core.rest.client").debug(
            "sending %s with headers %s", "/api/v2/users/me", headers
        )
        logging.getLogger("core.auth.session").debug("token answer %s", token_resp.text)
    text = "\n".join(captured.lines)
    assert captured.lines, "no records were captured"
    for secret in (code, token, verifier, "st-secret-1"):
        assert secret not in text
    assert MASK in text
