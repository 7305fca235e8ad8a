"""Fixtures that run a real sandbox org on a loopback port inside the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.integration.helpers import bearer, client_token, pkce_token

# Small, quiet and fast by default: tests steer the org through the control API. A test changes
# any setting with @pytest.mark.sandbox_config(users=..., heartbeat_s=..., simulate=True, ...).
DEFAULTS: dict[str, Any] = {
    "users": 30,
    "queues": 4,
    "seed": 7,
    "heartbeat_s": 30.0,
    "simulate": False,
    "observation_min_interval_s": 0.05,
}


@pytest.fixture
async def sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    """A running sandbox org (simulation paused unless the test asks for it)."""
    settings = dict(DEFAULTS)
    marker = request.node.get_closest_marker("sandbox_config")
    if marker is not None:
        settings.update(marker.kwargs)
    async with Sandbox(SandboxConfig(**settings)) as running:
        yield running


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client pointed at the sandbox's base URL."""
    async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10.0) as client:
        yield client


@pytest.fixture
async def user_token(http: httpx.AsyncClient) -> str:
    """A PKCE token of the default login user (a supervisor with every permission)."""
    return await pkce_token(http)


@pytest.fixture
async def service_token(http: httpx.AsyncClient) -> str:
    """A client-credentials token."""
    return await client_token(http)


@pytest.fixture
def auth_headers(user_token: str) -> dict[str, str]:
    """Bearer headers of the default user."""
    return bearer(user_token)
