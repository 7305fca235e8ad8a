"""The loopback redirect listener on real sockets, driven like a browser would (and worse)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from core.auth.loopback import LoopbackListener
from core.errors import AuthError, OAuthError, SignInCancelledError

STATE = "the-state-1234567890"


async def _get(url: str, method: str = "GET") -> httpx.Response:
    async with httpx.AsyncClient(timeout=5.0) as client:
        return await client.request(method, url)


async def _raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


async def test_other_paths_and_methods_do_not_use_up_the_listener() -> None:
    async with LoopbackListener(STATE) as listener:
        base = f"http://127.0.0.1:{listener.port}"
        assert listener.redirect_uri == f"{base}/callback"
        assert (await _get(f"{base}/favicon.ico")).status_code == 404
        assert (await _get(f"{base}/callback?code=c&state={STATE}", "POST")).status_code == 405
        assert (await _raw(listener.port, b"NONSENSE\r\n\r\n")).startswith(b"HTTP/1.1 400")
        page = await _get(f"{base}/callback?code=the-code&state={STATE}")
        assert page.status_code == 200 and "close this window" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert await listener.wait_for_code(1) == "the-code"
        again = await _get(f"{base}/callback?code=other&state={STATE}")
        assert again.status_code == 410  # single use
    assert not listener.serving


async def test_idle_preconnect_does_not_block_or_answer() -> None:
    async with LoopbackListener(STATE) as listener:
        _, idle = await asyncio.open_connection("127.0.0.1", listener.port)  # never sends
        page = await _get(f"{listener.redirect_uri}?code=c&state={STATE}")
        assert page.status_code == 200
        assert await listener.wait_for_code(1) == "c"
        started = time.monotonic()
    assert time.monotonic() - started < 1.0  # closing did not wait for the idle connection
    idle.close()
    await idle.wait_closed()


async def test_oauth_error_on_the_redirect() -> None:
    async with LoopbackListener(STATE) as listener:
        page = await _get(
            f"{listener.redirect_uri}?error=invalid_scope&error_description=No+such+scope"
            f"&state={STATE}"
        )
        assert page.status_code == 400 and "No such scope" in page.text
        with pytest.raises(OAuthError) as caught:
            await listener.wait_for_code(1)
    assert (caught.value.error, caught.value.description) == ("invalid_scope", "No such scope")


async def test_access_denied_is_a_cancellation() -> None:
    async with LoopbackListener(STATE) as listener:
        await _get(f"{listener.redirect_uri}?error=access_denied&state={STATE}")
        with pytest.raises(SignInCancelledError):
            await listener.wait_for_code(1)


async def test_redirect_without_code_fails() -> None:
    async with LoopbackListener(STATE) as listener:
        assert (await _get(f"{listener.redirect_uri}?state={STATE}")).status_code == 400
        with pytest.raises(AuthError, match="no authorization code"):
            await listener.wait_for_code(1)


async def test_forged_state_in_an_error_redirect_still_fails_on_state() -> None:
    async with LoopbackListener(STATE) as listener:
        await _get(f"{listener.redirect_uri}?error=access_denied&state=forged")
        with pytest.raises(AuthError, match="state mismatch"):
            await listener.wait_for_code(1)


async def test_falls_back_to_the_next_registered_port(busy_port: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    async with LoopbackListener(STATE, ports=[busy_port, free]) as listener:
        assert listener.port == free


async def test_all_ports_busy_is_a_clear_error(busy_port: int) -> None:
    with pytest.raises(AuthError, match=f"None of the sign-in ports \\({busy_port}\\)"):
        async with LoopbackListener(STATE, ports=[busy_port]):
            pass


async def test_cancelled_wait_closes_the_listener() -> None:
    listener = LoopbackListener(STATE)

    async def run() -> None:
        async with listener:
            await listener.wait_for_code(30)

    task = asyncio.create_task(run())
    await asyncio.sleep(0.05)
    port = listener.port
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not listener.serving
    with pytest.raises(httpx.ConnectError):
        await _get(f"http://127.0.0.1:{port}/callback")
