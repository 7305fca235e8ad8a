"""The loopback redirect listener on real sockets, driven like a browser would (and worse)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from core.auth.loopback import LoopbackListener
from core.errors import AuthError, OAuthError, SignInCancelledError, SignInTimedOutError

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


async def test_mismatched_state_is_ignored_and_the_real_answer_still_counts() -> None:
    """A forged, missing or stale state gets a plain 400 page and does not end the sign-in."""
    async with LoopbackListener(STATE) as listener:
        uri = listener.redirect_uri
        for forged in (
            f"{uri}?code=evil&state=forged",
            f"{uri}?code=evil",
            f"{uri}?error=access_denied&state=forged",
            f"{uri}?error=access_denied",
        ):
            page = await _get(forged)
            assert page.status_code == 400, forged
            assert "does not belong to the current sign-in" in page.text
            assert "evil" not in page.text
        page = await _get(f"{uri}?code=the-code&state={STATE}")
        assert page.status_code == 200
        assert await listener.wait_for_code(1) == "the-code"


async def test_mismatched_state_alone_ends_in_a_timeout_that_says_so() -> None:
    """Only forged answers came: the sign-in waits its time out, then says what it ignored."""
    async with LoopbackListener(STATE) as listener:
        assert (await _get(f"{listener.redirect_uri}?code=evil")).status_code == 400
        with pytest.raises(SignInTimedOutError, match="ignored"):
            await listener.wait_for_code(0.2)


async def test_requests_for_another_host_are_refused() -> None:
    """DNS rebinding or a hand-made request: only Host 127.0.0.1:<port> is served."""
    async with LoopbackListener(STATE) as listener:
        port = listener.port
        target = f"/callback?code=c&state={STATE}"
        for head in (
            f"GET {target} HTTP/1.1\r\nHost: evil.example:{port}\r\n\r\n",
            f"GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n",
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port + 1}\r\n\r\n",
            f"GET {target} HTTP/1.1\r\n\r\n",
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\n\r\n",
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Origin: https://evil.example\r\n\r\n",
        ):
            answer = await _raw(port, head.encode())
            assert answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 403")), head
        ok = await _raw(port, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        assert ok.startswith(b"HTTP/1.1 200")
        assert await listener.wait_for_code(1) == "c"
