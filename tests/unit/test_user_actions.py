"""How core.rest.user_actions reads Genesys' refusals, through a real ApiClient and httpx.

The sandbox always names the missing permission; a real org may word its 403 differently, name
no permission, or refuse for a missing OAuth scope. Each case is an answer served by
``httpx.MockTransport``; the person must get the permission to ask for, or honest words.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from core.errors import NotFoundError
from core.rest import user_actions
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.rest.retry import RetryPolicy
from core.rest.user_actions import ActionRefused

ME = "00000000-0000-4000-8000-000000000001"
OTHER = "00000000-0000-4000-8000-000000000002"
Seen = list[tuple[str, str, Any]]


def error(status: int, code: str, message: str) -> httpx.Response:
    """A Genesys ErrorBody answer."""
    body = {"message": message, "code": code, "status": status, "messageParams": {}}
    return httpx.Response(status, json=body)


async def no_sleep(seconds: float) -> None:
    """No back-off waits in unit tests."""


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[httpx.Response], tuple[ApiClient, Seen]]]:
    """An ApiClient whose change requests all get ``answer``; /users/me says who I am."""
    made: list[ApiClient] = []

    def build(answer: httpx.Response) -> tuple[ApiClient, Seen]:
        seen: Seen = []

        def handle(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content) if request.content else None
            seen.append((request.method, request.url.path, body))
            if request.url.path == "/api/v2/users/me":
                return httpx.Response(200, json={"id": ME, "name": "Me", "authorization": {}})
            return answer

        async def token() -> str:
            return "t"

        client = ApiClient(
            parse_environment("http://127.0.0.1:9"),
            token,
            transport=httpx.MockTransport(handle),
            policy=RetryPolicy(),
            sleep=no_sleep,
            rng=random.Random(1),
        )
        made.append(client)
        return client, seen

    yield build
    for client in made:
        await client.aclose()


async def test_the_requests_are_the_sdk_routes_and_bodies(
    serve: Callable[[httpx.Response], tuple[ApiClient, Seen]],
) -> None:
    assert user_actions.presence_body("def-1") == {"presenceDefinition": {"id": "def-1"}}
    api, seen = serve(httpx.Response(200, json={}))
    await user_actions.set_presence(api, OTHER, "def-1")
    await user_actions.set_routing_status(api, OTHER, "ON_QUEUE")
    await user_actions.set_routing_status(api, OTHER, "OFF_QUEUE")
    api_, seen_ = serve(httpx.Response(204))
    await user_actions.log_off(api_, OTHER)
    assert seen == [
        (
            "PATCH",
            f"/api/v2/users/{OTHER}/presences/purecloud",
            {"presenceDefinition": {"id": "def-1"}},
        ),
        ("PUT", f"/api/v2/users/{OTHER}/routingstatus", {"status": "IDLE"}),
        ("PUT", f"/api/v2/users/{OTHER}/routingstatus", {"status": "OFF_QUEUE"}),
    ]
    assert seen_ == [("DELETE", f"/api/v2/tokens/{OTHER}", None)]


@pytest.mark.parametrize(
    "message",
    [
        "You are missing the following permission(s): presence:userPresence:edit",
        "Unable to perform the requested action. You are missing the following permission(s): "
        "[presence:userPresence:edit]",
    ],
)
async def test_a_named_permission_is_read_from_the_answer(
    serve: Callable[[httpx.Response], tuple[ApiClient, Seen]], message: str
) -> None:
    api, _ = serve(error(403, "missing.permissions", message))
    with pytest.raises(ActionRefused) as caught:
        await user_actions.set_routing_status(api, OTHER, "ON_QUEUE")
    assert caught.value.permission == "presence:userPresence:edit"
    assert "presence:userPresence:edit" in caught.value.message
    assert "/api/v2" not in caught.value.message  # plain words, no plumbing


async def test_an_unnamed_refusal_on_someone_else_is_blamed_on_the_documented_permission(
    serve: Callable[[httpx.Response], tuple[ApiClient, Seen]],
) -> None:
    api, _ = serve(error(403, "not.authorized", "Not authorized"))
    with pytest.raises(ActionRefused) as caught:
        await user_actions.set_presence(api, OTHER, "def-1")
    assert caught.value.permission == "presence:userPresence:edit"
    with pytest.raises(ActionRefused) as caught:
        await user_actions.log_off(api, OTHER)
    assert caught.value.permission == "oauth:token:delete"


async def test_an_unnamed_refusal_of_my_own_change_names_no_permission(
    serve: Callable[[httpx.Response], tuple[ApiClient, Seen]],
) -> None:
    api, _ = serve(error(403, "not.authorized", "Not authorized"))
    with pytest.raises(ActionRefused) as caught:
        await user_actions.set_presence(api, ME, "def-1")
    assert caught.value.permission is None
    assert caught.value.message.startswith("Genesys Cloud did not allow this change")


async def test_a_missing_scope_asks_for_the_oauth_client_to_change(
    serve: Callable[[httpx.Response], tuple[ApiClient, Seen]],
) -> None:
    api, _ = serve(error(403, "missing.any.scopes", "Missing scope: presence"))
    with pytest.raises(ActionRefused) as caught:
        await user_actions.set_presence(api, OTHER, "def-1")
    assert caught.value.scope
    assert caught.value.permission is None
    assert "OAuth client" in caught.value.message


async def test_other_failures_keep_their_own_error_types(
    serve: Callable[[httpx.Response], tuple[ApiClient, Seen]],
) -> None:
    api, _ = serve(error(404, "not.found", "User not found"))
    with pytest.raises(NotFoundError) as caught:
        await user_actions.set_routing_status(api, OTHER, "OFF_QUEUE")
    assert not isinstance(caught.value, ActionRefused)
