"""A loopback WebSocket server that replays the recorded frame stream, paced and without end.

Run as a subprocess (``python -m benchmarks.replay_server --rate 2000``) so the process under
test has the other core to itself. It prints its port, then, for every connection, writes the
recorded frames (benchmarks/.data/frames.jsonl, see benchmarks.record_frames) at ``--rate``
frames per second (0: as fast as the client reads), over and over, until ``--total`` frames were
sent (0: until the client hangs up), with a heartbeat frame every ``--heartbeat`` seconds. A
connection to a path containing ``quiet`` gets heartbeats only, so a client sharded over several
channels takes the stream once, at the asked rate, not once per channel.

Why not benchmarks.frame_server: that one sends the stream once, verbatim. A replayed frame
with its recorded timestamps would be stale to the engine's store (it ignores events older than
what it knows), so every pass here shifts every timestamp in the frames forward: pass k's
timestamps all lie after pass k-1's, and the store sees real changes on every pass, as it would
from a live org. The shifting happens here, in the server's process, so it costs the client
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from websockets.asyncio.server import ServerConnection

from benchmarks.common import FRAMES
from benchmarks.frame_server import serve_until_stdin_closes, ws_frame
from benchmarks.record_frames import load_frames

logger = logging.getLogger(__name__)

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
HEARTBEAT = ws_frame(
    json.dumps({"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}})
)
STEP_S = 0.005  # pacing granularity
HIGH_WATER_BYTES = 4 * 1024 * 1024
# A connection to a path with this in it gets heartbeats only (benchmarks.gui_rig's later shards).
QUIET_PATH = "quiet"


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _format(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Replay:
    """The recorded frames and the timestamp shift of each pass over them."""

    def __init__(self, frames: list[str]) -> None:
        self.frames = frames
        stamps = {s for f in frames for s in STAMP.findall(f)}
        moments = [_parse(s) for s in stamps]
        self.first = min(moments)
        self.last = max(moments)
        self.span = self.last - self.first + timedelta(milliseconds=1)
        self.offset = timedelta(0)
        self.passes = 0
        self._cache: dict[str, str] = {}

    def next_pass(self) -> None:
        """Shift so that this pass's newest stamp is about now and after the previous pass."""
        now = datetime.now(UTC)
        wanted = now - self.last
        if self.passes:
            wanted = max(wanted, self.offset + self.span)
        self.offset = wanted
        self.passes += 1
        self._cache.clear()

    def _shift(self, match: re.Match[str]) -> str:
        stamp = match.group(0)
        shifted = self._cache.get(stamp)
        if shifted is None:
            shifted = _format(_parse(stamp) + self.offset)
            self._cache[stamp] = shifted
        return shifted

    def frame(self, index: int) -> bytes:
        """Frame ``index`` of the current pass, framed for the wire."""
        return ws_frame(STAMP.sub(self._shift, self.frames[index]))


async def stream(
    ws: ServerConnection, replay: Replay, rate: float, total: int, beat: float
) -> None:
    """Write frames at ``rate`` per second (0: flat out) until ``total`` or the client goes."""
    transport = ws.transport
    count = len(replay.frames)
    sent = 0
    started = time.perf_counter()
    next_beat = started + beat
    index = count  # start a pass at once
    while (total == 0 or sent < total) and not transport.is_closing():
        if transport.get_write_buffer_size() > HIGH_WATER_BYTES:
            await asyncio.sleep(0.0005)  # the client is behind: let it read
            continue
        now = time.perf_counter()
        due = (int(rate * (now - started)) - sent) if rate > 0 else 256
        if total:
            due = min(due, total - sent)
        if due > 0:
            parts: list[bytes] = []
            for _ in range(due):
                if index >= count:
                    replay.next_pass()
                    index = 0
                parts.append(replay.frame(index))
                index += 1
            try:
                transport.write(b"".join(parts))
                if now >= next_beat:
                    transport.write(HEARTBEAT)
                    next_beat = now + beat
            except RuntimeError:  # the client hung up (write after EOF)
                break
            sent += due
        await asyncio.sleep(STEP_S if rate > 0 else 0)
    took = time.perf_counter() - started
    print(json.dumps({"sent": sent, "seconds": round(took, 3)}), file=sys.stderr, flush=True)


async def heartbeats(ws: ServerConnection, beat: float) -> None:
    """Only heartbeats: a quiet channel of a sharded client (the stream goes to one socket)."""
    transport = ws.transport
    while not transport.is_closing():
        await asyncio.sleep(beat)
        try:
            transport.write(HEARTBEAT)
        except RuntimeError:
            break


async def main() -> None:
    """Serve until stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0.0, help="frames/s; 0 = flat out")
    parser.add_argument("--total", type=int, default=0, help="frames per connection; 0 = no end")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="heartbeat interval, s")
    parser.add_argument("--frames", type=Path, default=FRAMES, help="the recorded stream")
    args = parser.parse_args()
    replay = Replay(load_frames(args.frames))

    async def handler(ws: ServerConnection) -> None:
        if QUIET_PATH in (ws.request.path if ws.request else ""):
            await heartbeats(ws, args.heartbeat)
        else:
            await stream(ws, replay, args.rate, args.total, args.heartbeat)
        await ws.wait_closed()

    await serve_until_stdin_closes(handler)


if __name__ == "__main__":
    asyncio.run(main())
