"""Composition root of the Genesys Cloud tray monitor.

Today it parses the command line, sets up logging and, with ``--demo``, runs the embedded
sandbox org; the Qt application (tray, windows, the qasync loop) is wired here once ``gui/``
exists. Until then a demo run tells the person how to reach the sandbox, and says clearly when
there is no display instead of failing inside Qt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys

logger = logging.getLogger("genesys_tray")

EXIT_OK = 0
EXIT_USAGE = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line shared by ``python main.py`` and ``genesys-tray``."""
    parser = argparse.ArgumentParser(
        prog="genesys-tray",
        description="A desktop tray monitor for Genesys Cloud presence, routing and queues.",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="run against the embedded sandbox org (no Genesys Cloud account needed)",
    )
    parser.add_argument(
        "--environment",
        metavar="REGION",
        help="Genesys Cloud region or base URL, e.g. mypurecloud.de or eu_central_1",
    )
    parser.add_argument("--minimized", action="store_true", help="start hidden in the tray")
    parser.add_argument("--debug", action="store_true", help="verbose logging")
    parser.add_argument(
        "--sandbox-port",
        type=int,
        default=0,
        metavar="PORT",
        help="port of the embedded sandbox org in --demo (default: any free port)",
    )
    return parser.parse_args(argv)


def has_display() -> bool:
    """Whether a Qt window could be shown: an X11/Wayland display or an explicit QPA platform."""
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc"):
        return True
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def setup_logging(debug: bool) -> None:
    """Console logging; third-party HTTP loggers stay at WARNING so URLs never leak."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "websockets", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def run_demo_sandbox(port: int) -> None:
    """Run the embedded sandbox org until SIGINT/SIGTERM, telling the user how to reach it."""
    from sandbox.config import SandboxConfig
    from sandbox.server import Sandbox

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with Sandbox(SandboxConfig(port=port)) as sandbox:
        print(sandbox.describe(), flush=True)
        if not has_display():
            print(
                "\nNo display found (DISPLAY and WAYLAND_DISPLAY are not set): the tray monitor "
                "needs a desktop session to show its icon and window.\n"
                "The sandbox org keeps running so you can explore it with curl or a browser.",
                flush=True,
            )
        else:
            print(
                "\nThe monitor window is not built yet; the sandbox org runs on its own for now.",
                flush=True,
            )
        await stop.wait()
    print("Stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python main.py`` and the ``genesys-tray`` script."""
    args = parse_args(argv)
    setup_logging(args.debug)
    if not args.demo:
        print(
            "Signing in to a real Genesys Cloud org is not available yet.\n"
            "Try the embedded sandbox org instead:  make run   (or: python main.py --demo)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        asyncio.run(run_demo_sandbox(args.sandbox_port))
    except OSError as exc:
        print(f"Cannot start the sandbox org: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
