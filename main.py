"""Composition root of the Genesys Cloud tray monitor: parse the command line, set up logging and
hand over to ``listen`` (:mod:`core.cli.run`), the sandbox org alone when there is no display
(:mod:`core.cli.sandbox_org`), or the tray app (:mod:`gui.launcher`).

Only the chosen room is imported: ``listen`` and a headless demo never load Qt, and the sandbox
org alone loads no engine.
"""

from __future__ import annotations

import argparse
import sys

from core.app.logging_setup import log_path, setup_logging
from core.cli.options import ListenOptions, add_listen_parser
from core.cli.sandbox_org import has_display, main_without_display


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
        "--demo-speed",
        type=float,
        default=2.0,
        metavar="X",
        help="how much faster than real time the demo org's day runs (default %(default)s)",
    )
    parser.add_argument(
        "--sandbox-port",
        type=int,
        default=0,
        metavar="PORT",
        help="port of the embedded sandbox org in --demo (default: any free port)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_listen_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "listen" and args.duration is not None and args.duration <= 0:
        parser.error("--duration must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python main.py`` and the ``genesys-tray`` script."""
    args = parse_args(argv)
    if args.command == "listen":
        setup_logging(args.debug, quiet=True)
        from core.cli.run import main_listen  # the engine is loaded only when it runs

        return main_listen(ListenOptions.from_args(args))
    if not has_display():
        setup_logging(args.debug)
        return main_without_display(args.demo, args.sandbox_port)
    setup_logging(args.debug, log_file=log_path())
    from gui.launcher import run_gui  # Qt is loaded only for the tray app

    return run_gui(args)


if __name__ == "__main__":
    sys.exit(main())
