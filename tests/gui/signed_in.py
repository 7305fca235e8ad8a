"""The GUI's way in for tests: a PKCE sign-in to the sandbox as one of its users, then the engine.

One place for what the supervisor-action, My status and triggers tests each wrote again.
"""

from __future__ import annotations

from core.app.bootstrap import Engine, build_engine
from core.app.sign_in import follow_redirects, sign_in_session
from core.auth.credentials import MemoryCredentialStore
from sandbox.server import Sandbox


async def engine_signed_in_as(sandbox: Sandbox, user_id: str, *, queues: str = "all") -> Engine:
    """Signed in as ``user_id`` (the sandbox's authorize page picks them), no auto sign-in."""

    async def browser(url: str) -> None:
        await follow_redirects(f"{url}&sandbox_user={user_id}")

    session = await sign_in_session(
        sandbox.base_url,
        sandbox.config.pkce_client_id,
        "pkce",
        open_browser=browser,
        open_store=lambda _service: MemoryCredentialStore(insecure_reason="test: no keyring"),
    )
    return await build_engine(
        demo=False,
        environment=sandbox.base_url,
        queues=queues,
        users="mine",
        session=session,
        auto_sign_in=False,
    )
