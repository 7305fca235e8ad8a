"""A loopback WebSocket server that pushes the recorded frame stream at full speed.

Run as a subprocess (``python -m benchmarks.frame_server``) so the client under test has the
other core to itself. It prints its port, then, for every connection, writes every recorded frame
(pre-framed: server frames are unmasked, so the framing is a header and the text) straight onto
the transport, keeping at most a few MB buffered, and waits for the client to hang up. The
server's own cost per frame is therefore a memcpy, so the figure measured is the client's.
"""

from __future__ import annotations

import asyncio
import struct
import sys
from collections.abc import Awaitable, Callable

from websockets.asyncio.server import ServerConnection, serve

from benchmarks.record_frames import load_frames

CHUNK_BYTES = 256 * 1024
HIGH_WATER_BYTES = 4 * 1024 * 1024


def ws_frame(text: str) -> bytes:
    """One unmasked, final text frame."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def chunks(frames: list[str]) -> list[bytes]:
    """The whole stream as ~CHUNK_BYTES pieces of whole frames."""
    out: list[bytes] = []
    buffer = bytearray()
    for text in frames:
        buffer += ws_frame(text)
        if len(buffer) >= CHUNK_BYTES:
            out.append(bytes(buffer))
            buffer.clear()
    if buffer:
        out.append(bytes(buffer))
    return out


async def serve_until_stdin_closes(handler: Callable[[ServerConnection], Awaitable[None]]) -> None:
    """Serve ``handler`` on a free loopback port, print the port, stop when stdin closes (the
    parent benchmark's way to stop this process)."""
    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


async def main() -> None:
    """Serve until stdin closes."""
    stream = chunks(load_frames())

    async def handler(ws: ServerConnection) -> None:
        transport = ws.transport
        for chunk in stream:
            while transport.get_write_buffer_size() > HIGH_WATER_BYTES:
                await asyncio.sleep(0.0005)
                if transport.is_closing():
                    return
            transport.write(chunk)
        await ws.wait_closed()

    await serve_until_stdin_closes(handler)


if __name__ == "__main__":
    asyncio.run(main())
