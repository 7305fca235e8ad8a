"""Closing a socket is quiet about the socket's errors, never about the caller being cancelled.

A shard stopping (or the app quitting) cancels the task that is closing its sockets; a close
that swallowed the CancelledError let that task run on as if nothing had asked it to end.
"""

from __future__ import annotations

import asyncio

from core.streaming.sockets import Live as _Live
from core.streaming.sockets import close_quietly as _close_quietly


class _StuckSocket:
    """A socket whose reads never end and whose close hangs until ``release`` is set."""

    def __init__(self) -> None:
        self.closing = asyncio.Event()
        self.release = asyncio.Event()
        self.closed = False

    async def send(self, message: str) -> None:
        return None

    async def recv(self) -> str:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closing.set()
        await self.release.wait()
        self.closed = True


class _BrokenSocket(_StuckSocket):
    """A socket whose close fails the way a dropped connection does."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        raise ConnectionResetError("gone")


async def _read(socket: _StuckSocket) -> None:
    await socket.recv()


def _live(socket: _StuckSocket) -> _Live:
    return _Live(socket, asyncio.get_running_loop().create_task(_read(socket)))


async def test_cancelling_a_task_blocked_in_close_cancels_it() -> None:
    socket = _StuckSocket()
    live = _live(socket)
    closer = asyncio.create_task(_close_quietly(live))
    await asyncio.wait_for(socket.closing.wait(), 5)
    closer.cancel()
    done, _ = await asyncio.wait([closer], timeout=5)
    assert closer in done
    assert closer.cancelled(), "the close swallowed the cancellation and returned normally"
    assert live.reader.cancelled()


async def test_a_close_that_fails_is_still_quiet() -> None:
    live = _live(_BrokenSocket())
    await asyncio.wait_for(_close_quietly(live), 5)
    assert live.reader.cancelled()


async def test_a_close_that_succeeds_ends_the_reader() -> None:
    socket = _StuckSocket()
    socket.release.set()
    live = _live(socket)
    await asyncio.wait_for(_close_quietly(live), 5)
    assert socket.closed and live.reader.done()


async def test_a_cancelled_close_of_several_leaves_no_reader_running() -> None:
    first, second = _StuckSocket(), _StuckSocket()
    lives = (_live(first), _live(second))
    closer = asyncio.create_task(_close_quietly(*lives))
    await asyncio.wait_for(first.closing.wait(), 5)
    closer.cancel()
    await asyncio.wait([closer, *(live.reader for live in lives)], timeout=5)
    assert closer.cancelled()
    assert all(live.reader.cancelled() for live in lives)
