"""``--demo`` without a desktop: the embedded sandbox org on its own, until SIGINT/SIGTERM.

The tray needs a display; rather than fail inside Qt, a demo run without one keeps the sandbox
org up and tells the person how to reach it (curl, a browser, or ``listen --environment``).
"""

from __future__ import annotations

import asyncio
import os
import sys

from core.cli.process import EXIT_FAILED, EXIT_OK, EXIT_USAGE, install_stop_signals


def has_display() -> bool:
    """Whether a Qt window could be shown: an X11/Wayland display or an explicit QPA platform."""
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc"):
        return True
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main_without_display(demo: bool, port: int) -> int:
    """No desktop: the demo's sandbox org runs alone; anything else says how to run headless."""
    if not demo:
        print(
            "No display found (DISPLAY and WAYLAND_DISPLAY are not set): the tray monitor "
            "needs a desktop session. For a headless run use: python main.py listen\n"
            "Try the embedded sandbox org:  make run   (or: python main.py --demo)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        asyncio.run(run_demo_sandbox(port))
    except OSError as exc:
        print(f"Cannot start the sandbox org: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


async def run_demo_sandbox(port: int) -> None:
    """Run the embedded sandbox org until SIGINT/SIGTERM, telling the user how to reach it."""
    from sandbox.config import SandboxConfig
    from sandbox.server import Sandbox

    stop = asyncio.Event()
    install_stop_signals(stop)
    async with Sandbox(SandboxConfig(port=port)) as sandbox:
        print(sandbox.describe(), flush=True)
        print(
            "\nNo display found (DISPLAY and WAYLAND_DISPLAY are not set): the tray monitor "
            "needs a desktop session to show its icon and window.\n"
            "The sandbox org keeps running so you can explore it with curl or a browser.",
            flush=True,
        )
        await stop.wait()
    print("Stopped.", flush=True)
