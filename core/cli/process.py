"""Process plumbing shared by the headless commands: exit codes and the stop signals."""

from __future__ import annotations

import asyncio
import contextlib
import signal

EXIT_OK = 0
EXIT_FAILED = 1  # the engine or the sandbox failed; stderr says why
EXIT_USAGE = 2  # the command line or the environment lacks something


def install_stop_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM only set ``stop``: the run then ends in order (state file included)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
