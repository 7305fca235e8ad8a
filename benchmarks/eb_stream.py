"""A paced stream of EventBridge envelopes of a large org, one SQS message body a line (P9).

Run as a subprocess (``python -m benchmarks.eb_stream --users 50000 --rate 1000``) so building
the envelopes costs the measured process nothing. The recorded 200-user org's presence, routing
and queue-conversation messages (benchmarks.record_frames) are copied onto the large org as
benchmarks.large_stream copies them (copy k speaks for users k*200 ... k*200+199 with the large
org's real ids; interleaved, so every part of the org moves), each wrapped by the sandbox's
envelope builder with every timestamp set to now. Writes ``--rate`` lines a second to stdout,
in steps of 10 ms, until stdin closes or the reader goes away.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from benchmarks.common import FRAMES
from benchmarks.eb_feed import EnvelopeMaker, covered
from benchmarks.large_stream import SEED, id_maps
from benchmarks.record_frames import load_frames

STEP_S = 0.01


def main() -> None:
    """Pace the envelopes to stdout; print nothing else."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--queues", type=int, default=200)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--frames", type=Path, default=FRAMES)
    args = parser.parse_args()
    maps = id_maps(args.users, args.queues)
    maker = EnvelopeMaker(covered(load_frames(args.frames)), "benchmark-org", SEED)
    closed = threading.Event()

    def until_stdin_closes() -> None:
        sys.stdin.read()
        closed.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    out = sys.stdout
    sent = 0
    started = time.perf_counter()
    out.write("ready\n")
    out.flush()
    try:
        while not closed.is_set():
            due = int((time.perf_counter() - started) * args.rate)
            now = time.time()
            while sent < due:
                out.write(maker.live(sent, maps, now) + "\n")
                sent += 1
            out.flush()
            time.sleep(STEP_S)
    except BrokenPipeError:
        pass


if __name__ == "__main__":
    main()
