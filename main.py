"""Composition root of the Genesys Cloud tray monitor.

It parses the command line, sets up logging and wires the parts: ``listen`` runs the headless
engine (JSON lines on stdout), ``--demo`` embeds the sandbox org. The Qt application (tray,
windows, the qasync loop) is wired here once ``gui/`` exists; until then a demo run tells the
person how to reach the sandbox, and says clearly when there is no display instead of failing
inside Qt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger("genesys_tray")

EXIT_OK = 0
EXIT_USAGE = 2


def _add_listen_parser(commands: Any) -> None:
    listen = commands.add_parser(
        "listen",
        help="follow the notification stream headless: JSON lines on stdout",
        description=(
            "Keep a Notification Service channel alive and print one JSON object per line for "
            "each event, state change, gap marker and budget report. Client id and secret come "
            "from GENESYS_CLIENT_ID / GENESYS_CLIENT_SECRET (PKCE sign-in when no secret)."
        ),
    )
    where = listen.add_mutually_exclusive_group()
    where.add_argument("--demo", action="store_true", help="embed the sandbox org")
    where.add_argument(
        "--environment",
        metavar="ENV",
        help="region (mypurecloud.de, eu_central_1, ...) or base URL (http://127.0.0.1:8765)",
    )
    listen.add_argument(
        "--users", default="mine", help="all | mine (members of the queues) | ID,ID,..."
    )
    listen.add_argument("--queues", default="mine", help="all | mine | a name with * | ID,ID,...")
    listen.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    listen.add_argument("--state-out", type=Path, metavar="FILE", help="write the final state")
    listen.add_argument(
        "--kinds",
        metavar="KIND,..",
        help="only print these record kinds (state,event,change,gap,budget,watch,sandbox)",
    )
    listen.add_argument("--debug", action="store_true", help="verbose logging on stderr")


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
    _add_listen_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "listen" and args.duration is not None and args.duration <= 0:
        parser.error("--duration must be positive")
    return args


def has_display() -> bool:
    """Whether a Qt window could be shown: an X11/Wayland display or an explicit QPA platform."""
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc"):
        return True
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def setup_logging(debug: bool, *, quiet: bool = False) -> None:
    """Console logging on stderr; third-party HTTP loggers stay at WARNING so URLs never leak."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpcore", "websockets", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from core.redact import install

    install()  # the backstop: no token, code or secret reaches a log line


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


def _install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


async def _follow_redirects(url: str) -> None:
    """The demo's stand-in for a person in a browser: the sandbox auto-consents and redirects."""
    import httpx

    async with httpx.AsyncClient(follow_redirects=True, timeout=15) as client:
        await client.get(url)


class UsageError(Exception):
    """The command line or environment lacks something; the message says what."""


@dataclass
class Engine:
    """A signed-in engine and what must be closed after it, newest first."""

    service: Any
    sandbox_url: str | None = None
    user_id: str | None = None
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    store_warning: str = ""

    async def aclose(self) -> None:
        """Close everything, newest first, whatever fails."""
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                await close()
        self.closers.clear()


async def build_engine(
    *, demo: bool, environment: str | None, queues: str, users: str, demo_speed: float = 1.0
) -> Engine:
    """Sign in and assemble the engine for ``listen`` and the GUI alike.

    ``--demo`` embeds the sandbox org and signs in through the real PKCE code path with a
    stand-in for the person's browser; otherwise the region and OAuth client come from the
    command line and ``GENESYS_*`` environment variables, and tokens live in the OS keyring.
    """
    from core.api import ApiClient
    from core.auth import Authenticator
    from core.channel import StoredChannelMemory
    from core.credentials import (
        MemoryCredentialStore,
        credential_service_name,
        open_credential_store,
    )
    from core.errors import GenesysTrayError
    from core.regions import parse_environment
    from core.service import MonitorService, Selection, parse_selection_arg

    engine = Engine(service=None)
    try:
        browser: Callable[[str], Awaitable[None]] | None = None
        if demo:
            from sandbox.config import SandboxConfig
            from sandbox.server import Sandbox

            sandbox = Sandbox(SandboxConfig(port=0, speed=demo_speed))
            engine.sandbox_url = await sandbox.start()
            engine.closers.append(sandbox.stop)
            env = parse_environment(engine.sandbox_url)
            client_id, secret = sandbox.config.pkce_client_id, None
            store: Any = MemoryCredentialStore()
            browser = _follow_redirects
        else:
            env = parse_environment(environment or os.environ.get("GENESYS_ENVIRONMENT", ""))
            client_id = os.environ.get("GENESYS_CLIENT_ID", "")
            secret = os.environ.get("GENESYS_CLIENT_SECRET") or None
            if not client_id:
                raise UsageError(
                    "set GENESYS_CLIENT_ID (and GENESYS_CLIENT_SECRET for a service account), "
                    "or try the demo org with --demo"
                )
            store = await asyncio.to_thread(
                open_credential_store, credential_service_name(env, client_id)
            )
            if not store.secure:
                engine.store_warning = store.description
        auth = Authenticator(env, client_id, store, client_secret=secret, open_browser=browser)
        engine.closers.append(auth.aclose)
        if await auth.restore() is None:
            if secret is not None:
                await auth.sign_in_client_credentials()
            else:
                await auth.sign_in_pkce()
        api = ApiClient(env, auth.access_token, on_unauthorized=auth.renew_rejected)
        engine.closers.append(api.aclose)
        if secret is None:  # a person, not a service account: who is it (mute while busy)?
            try:
                engine.user_id = (await api.me()).id
            except GenesysTrayError as exc:
                logger.warning("could not read the signed-in user: %s", exc)
        selection = Selection(
            queues=parse_selection_arg(queues, keywords=("all", "mine", "none")),
            users=parse_selection_arg(
                "members" if users == "mine" else users, keywords=("all", "members", "none")
            ),
        )
        service = MonitorService(api, auth, selection, memory=StoredChannelMemory(store))
        if secret is None:
            service.add_listener(_sign_in_again_when_needed(auth))
        engine.service = service
        engine.closers.append(service.stop)
        return engine
    except BaseException:
        await engine.aclose()
        raise


async def run_listen(args: argparse.Namespace) -> int:
    """``listen``: sign in, follow the stream, print records, write the state on exit."""
    from core.listen import JsonLinesWriter, state_snapshot, write_state

    stop = asyncio.Event()
    _install_stop_signals(stop)
    kinds = frozenset(k.strip() for k in args.kinds.split(",")) if args.kinds else None
    try:
        engine = await build_engine(
            demo=args.demo, environment=args.environment, queues=args.queues, users=args.users
        )
    except UsageError as exc:
        print(f"listen: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if engine.store_warning:
            print(f"listen: {engine.store_warning}", file=sys.stderr)
        if engine.sandbox_url and (kinds is None or "sandbox" in kinds):
            print(json.dumps({"kind": "sandbox", "url": engine.sandbox_url}), flush=True)
        service = engine.service
        service.add_listener(JsonLinesWriter(sys.stdout, kinds=kinds))
        await service.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=args.duration)
        await service.stop()
        if args.state_out is not None:
            document = state_snapshot(service.store, service.watch.users, service.watch.queues)
            await asyncio.to_thread(write_state, args.state_out, document)
        return EXIT_OK
    finally:
        await engine.aclose()


def _sign_in_again_when_needed(auth: Any) -> Callable[[Any], None]:
    """A PKCE session cannot renew itself: open the browser again when the engine asks."""
    from core.errors import AuthError
    from core.service import EngineState, StateRecord

    running: set[asyncio.Task[None]] = set()

    async def sign_in() -> None:
        try:
            await auth.sign_in_pkce()
        except AuthError as exc:
            print(f"listen: sign-in failed: {exc}", file=sys.stderr)

    def on_record(record: Any) -> None:
        if (
            isinstance(record, StateRecord)
            and record.state is EngineState.SIGN_IN_NEEDED
            and not running
        ):
            task = asyncio.get_running_loop().create_task(sign_in())
            running.add(task)
            task.add_done_callback(running.discard)

    return on_record


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python main.py`` and the ``genesys-tray`` script."""
    args = parse_args(argv)
    if args.command == "listen":
        setup_logging(args.debug, quiet=True)
        from core.errors import GenesysTrayError

        try:
            return asyncio.run(run_listen(args))
        except GenesysTrayError as exc:
            print(f"listen: {exc}", file=sys.stderr)
            return 1
    setup_logging(args.debug)
    if not args.demo and not os.environ.get("GENESYS_CLIENT_ID"):
        print(
            "Signing in to your own Genesys Cloud org needs an OAuth client: set "
            "GENESYS_CLIENT_ID (and --environment). The sign-in dialog comes in a later release.\n"
            "Try the embedded sandbox org instead:  make run   (or: python main.py --demo)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not has_display():
        if not args.demo:
            print(
                "No display found (DISPLAY and WAYLAND_DISPLAY are not set): the tray monitor "
                "needs a desktop session. For a headless run use: python main.py listen",
                file=sys.stderr,
            )
            return EXIT_USAGE
        try:
            asyncio.run(run_demo_sandbox(args.sandbox_port))
        except OSError as exc:
            print(f"Cannot start the sandbox org: {exc.strerror or exc}", file=sys.stderr)
            return 1
        return EXIT_OK
    return run_gui(args)


def instance_name() -> str:
    """The single-instance key: one monitor per desktop user (tests may override it)."""
    override = os.environ.get("GENESYS_TRAY_INSTANCE")
    if override:
        return override
    return f"genesys-tray-{os.getuid() if hasattr(os, 'getuid') else os.getlogin()}"


def run_gui(args: argparse.Namespace) -> int:
    """The tray app: a second launch brings the first one's window forward and exits."""
    from gui.app import create_qapp, run_qasync
    from gui.single_instance import SingleInstance

    qapp = create_qapp()
    instance = SingleInstance()
    if not instance.claim(instance_name()):
        print("Genesys Tray is already running; its window was brought forward.")
        return EXIT_OK
    try:
        return run_qasync(qapp, lambda: gui_main(args, qapp, instance))
    finally:
        instance.release()


async def open_journal(*, demo: bool) -> Any:
    """The event journal: one SQLite file per org kind, retention from the settings."""
    from PySide6.QtCore import QSettings

    from core.journal import Journal, default_journal_path

    path = default_journal_path()
    if demo:
        path = path.with_name("journal-demo.sqlite3")
    raw = QSettings().value("journal/retention_days", 30)
    try:
        days = max(0.0, float(raw))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        days = 30.0
    return await Journal.open(path, retention_days=days)


async def gui_main(args: argparse.Namespace, qapp: Any, instance: Any) -> int:
    """Sign in, build the engine and run the GUI until it is asked to stop."""
    from core.errors import GenesysTrayError
    from gui.app import GuiApp, GuiOptions

    try:
        engine = await build_engine(
            demo=args.demo,
            environment=args.environment,
            queues="mine",
            users="mine",
            demo_speed=args.demo_speed,
        )
    except (UsageError, GenesysTrayError) as exc:
        print(f"Genesys Tray could not start: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, UsageError) else 1
    from core.config import config_path, load_config

    settings_file = config_path()
    if args.demo:  # rule subjects are org-specific ids: the demo org keeps its own settings
        settings_file = settings_file.with_name("config-demo.json")
    loaded = await asyncio.to_thread(load_config, settings_file, demo=args.demo)
    journal = await open_journal(demo=args.demo)
    engine.closers.insert(0, journal.close)  # closed last, after the engine's final records
    try:
        if engine.sandbox_url:
            print(f"Sandbox Genesys Cloud org: {engine.sandbox_url}", flush=True)
        if engine.store_warning:
            logger.warning("%s", engine.store_warning)
        options = GuiOptions(
            minimized=args.minimized,
            title_suffix="demo org" if args.demo else "",
            journal=journal,
            config=loaded.config,
            config_path=settings_file,
            config_problem=loaded.problem,
            self_user_id=engine.user_id,
        )
        app = GuiApp(qapp, engine.service, options)
        instance.activation_requested.connect(app.show_window)
        return await app.run()
    finally:
        await engine.aclose()


if __name__ == "__main__":
    sys.exit(main())
