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


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE_NAME = "genesys-tray.log"
LOG_FILE_BYTES = 1_000_000
LOG_FILE_BACKUPS = 3


def log_path() -> Path:
    """The GUI's log file: ``<user log dir>/genesys-tray.log`` (``GENESYS_TRAY_LOG_DIR`` wins)."""
    override = os.environ.get("GENESYS_TRAY_LOG_DIR")
    if override:
        return Path(override) / LOG_FILE_NAME
    import platformdirs

    return Path(platformdirs.user_log_dir("genesys-tray", appauthor=False)) / LOG_FILE_NAME


def log_files(path: Path) -> list[Path]:
    """The log file and its rotated predecessors, newest first."""
    return [path] + [path.with_name(f"{path.name}.{n}") for n in range(1, LOG_FILE_BACKUPS + 1)]


def private_log_handler(
    log_file: Path, *, max_bytes: int = LOG_FILE_BYTES, backups: int = LOG_FILE_BACKUPS
) -> logging.Handler:
    """A rotating log handler whose files are user-only (0600), the rotated ones included.

    The lines are redacted, but still about the person's org: theirs only. The stock handler
    opens each new file with the process umask (0644 on most desktops), so the mode is set at
    ``open`` time rather than fixed up afterwards.
    """
    from logging.handlers import RotatingFileHandler

    class PrivateRotatingFileHandler(RotatingFileHandler):
        def _open(self) -> Any:
            fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.fchmod(fd, 0o600)  # a file left by an older version keeps its old mode otherwise
            return open(fd, self.mode, encoding=self.encoding, errors=self.errors)

    return PrivateRotatingFileHandler(
        log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )


def setup_logging(debug: bool, *, quiet: bool = False, log_file: Path | None = None) -> None:
    """Console logging on stderr, and a rotating log file for the GUI ("Export diagnostics").

    Third-party HTTP loggers stay at WARNING so URLs never leak, and the redaction filter sits on
    every handler, the file's included.
    """
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO,
        stream=sys.stderr,
        format=LOG_FORMAT,
    )
    for noisy in ("httpx", "httpcore", "websockets", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if log_file is not None:
        try:
            log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handler = private_log_handler(log_file)
        except OSError as exc:
            logger.warning("no log file at %s (%s)", log_file, exc.strerror or exc)
        else:
            handler.setFormatter(logging.Formatter(LOG_FORMAT))
            logging.getLogger().addHandler(handler)
    from core.app.redact import install

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


CLIENT_SECRET_ENTRY = "client_secret"  # noqa: S105 - a keyring entry name, not a secret


@dataclass
class SignedIn:
    """A session signed in before the engine is built (the welcome dialog's sign-in)."""

    env: Any
    client_id: str
    secret: str | None = field(repr=False)
    store: Any
    auth: Any
    store_warning: str = ""


async def sign_in_session(
    environment: str,
    client_id: str,
    grant: str,
    secret: str | None = None,
    *,
    open_browser: Callable[[str], Awaitable[None] | None] | None = None,
    open_store: Callable[[str], Any] | None = None,
) -> SignedIn:
    """Sign in to an org (PKCE through the browser, or client credentials).

    A client secret goes only into the credential store (the OS keyring when there is a secure
    one; memory otherwise, and ``store_warning`` says so), never into the settings file.
    ``open_browser`` and ``open_store`` are seams for tests and the demo.

    Raises:
        InvalidEnvironmentError, OAuthError, SignInCancelledError, SignInTimedOutError,
        TransportError, CredentialStoreError: for the welcome dialog to explain.
    """
    from core.auth.credentials import credential_service_name, open_credential_store
    from core.auth.session import Authenticator
    from core.rest.regions import parse_environment

    env = parse_environment(environment)
    store = await asyncio.to_thread(
        open_store or open_credential_store, credential_service_name(env, client_id)
    )
    warning = "" if store.secure else (getattr(store, "insecure_reason", "") or store.description)
    auth = Authenticator(
        env,
        client_id,
        store,
        client_secret=secret if grant == "client_credentials" else None,
        open_browser=open_browser,
    )
    try:
        if grant == "client_credentials":
            await auth.sign_in_client_credentials()
            assert secret is not None
            await store.set(CLIENT_SECRET_ENTRY, secret)
        else:
            await auth.sign_in_pkce()
    except BaseException:
        await auth.aclose()
        raise
    return SignedIn(env, client_id, secret, store, auth, warning)


@dataclass
class Engine:
    """A signed-in engine and what must be closed after it, newest first."""

    service: Any
    sandbox_url: str | None = None
    user_id: str | None = None
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    store_warning: str = ""
    timeline: Any = None
    sign_out: Callable[[], Awaitable[object]] | None = None
    sign_in_again: Callable[[], Awaitable[object]] | None = None
    account: str = ""

    async def aclose(self) -> None:
        """Close everything, newest first, whatever fails."""
        for close in reversed(self.closers):
            with contextlib.suppress(Exception):
                await close()
        self.closers.clear()


async def build_engine(
    *,
    demo: bool,
    environment: str | None,
    queues: str,
    users: str,
    demo_speed: float = 1.0,
    client_id: str | None = None,
    client_secret: str | None = None,
    grant: str | None = None,
    session: SignedIn | None = None,
    interactive_sign_in: bool = True,
    auto_sign_in: bool = True,
    open_store: Callable[[str], Any] | None = None,
) -> Engine:
    """Sign in and assemble the engine for ``listen`` and the GUI alike.

    ``--demo`` embeds the sandbox org and signs in through the real PKCE code path with a
    stand-in for the person's browser. Otherwise the OAuth client comes from the arguments (the
    settings' profile) with the ``GENESYS_CLIENT_ID`` / ``GENESYS_CLIENT_SECRET`` environment
    variables as an override; a service account's secret may also come from the keyring (the
    welcome dialog put it there). ``session`` is an already signed-in session to use as it is.
    Tokens live in the OS keyring.

    Args:
        interactive_sign_in: False: without a remembered session raise SignInRequiredError
            instead of opening the browser (the GUI then shows its sign-in dialog).
        auto_sign_in: True (``listen``): open the browser by itself when a PKCE session needs
            a new sign-in. False (the GUI): only ``Engine.sign_in_again``, when the person asks.
        open_store: the credential store factory for an org (default: the OS keyring).
    """
    from core.auth.credentials import (
        MemoryCredentialStore,
        credential_service_name,
        open_credential_store,
    )
    from core.auth.session import Authenticator
    from core.engine.service import MonitorService, Selection, parse_selection_arg
    from core.engine.timeline import ConnectionTimeline
    from core.errors import CredentialStoreError, GenesysTrayError, SignInRequiredError
    from core.rest.client import ApiClient
    from core.rest.regions import parse_environment
    from core.streaming.shard import StoredChannelMemory

    engine = Engine(service=None, timeline=ConnectionTimeline())
    try:
        browser: Callable[[str], Awaitable[None]] | None = None
        auth: Any = None
        store: Any
        if session is not None:
            env, client_id, secret, store = (
                session.env,
                session.client_id,
                session.secret,
                session.store,
            )
            auth = session.auth
            engine.store_warning = session.store_warning
        elif demo:
            from sandbox.config import SandboxConfig
            from sandbox.server import Sandbox

            sandbox = Sandbox(SandboxConfig(port=0, speed=demo_speed))
            engine.sandbox_url = await sandbox.start()
            engine.closers.append(sandbox.stop)
            env = parse_environment(engine.sandbox_url)
            client_id, secret = sandbox.config.pkce_client_id, None
            store = MemoryCredentialStore()
            browser = _follow_redirects
        else:
            env = parse_environment(environment or os.environ.get("GENESYS_ENVIRONMENT", ""))
            env_client_id = os.environ.get("GENESYS_CLIENT_ID", "")
            if env_client_id and env_client_id != client_id:
                client_id, client_secret, grant = env_client_id, None, None
            secret = os.environ.get("GENESYS_CLIENT_SECRET") or client_secret or None
            if not client_id:
                raise UsageError(
                    "set GENESYS_CLIENT_ID (and GENESYS_CLIENT_SECRET for a service account), "
                    "or try the demo org with --demo"
                )
            store = await asyncio.to_thread(
                open_store or open_credential_store, credential_service_name(env, client_id)
            )
            if not store.secure:
                engine.store_warning = store.description
            if secret is None and grant == "client_credentials":
                try:
                    secret = await store.get(CLIENT_SECRET_ENTRY)
                except CredentialStoreError as exc:
                    logger.warning("could not read the client secret: %s", exc)
                if not secret:
                    raise SignInRequiredError(
                        "The service account's client secret is not in the keyring (any more). "
                        "Enter it again."
                    )
        if auth is None:
            auth = Authenticator(env, client_id, store, client_secret=secret, open_browser=browser)
        engine.closers.append(auth.aclose)
        auth.add_listener(engine.timeline.on_token)
        if session is None and await auth.restore() is None:
            if secret is not None:
                await auth.sign_in_client_credentials()
            elif not interactive_sign_in:
                raise SignInRequiredError("Your sign-in was not remembered. Sign in again.")
            else:
                await auth.sign_in_pkce()
        elif session is not None and auth.token is not None:
            engine.timeline.on_token(auth.token)
        engine.account = (
            "The demo org on this computer"
            if demo
            else f"Signed in to {_environment_words(env)} with OAuth client {client_id}"
        )
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
        signing_out = asyncio.Event()
        if secret is None and auto_sign_in:
            service.add_listener(_sign_in_again_when_needed(auth, signing_out))

        async def sign_in_again() -> object:
            # The same org and client: a new token makes the service roll its channels over.
            if secret is not None:
                return await auth.sign_in_client_credentials()
            return await auth.sign_in_pkce()

        async def sign_out() -> bool:
            signing_out.set()  # no browser pops up for the sign-in this just ended
            try:
                return bool(await auth.sign_out())
            finally:
                with contextlib.suppress(CredentialStoreError):
                    await store.delete(CLIENT_SECRET_ENTRY)

        engine.sign_out = sign_out
        engine.sign_in_again = sign_in_again
        engine.service = service
        engine.closers.append(service.stop)
        return engine
    except BaseException:
        await engine.aclose()
        raise


async def run_listen(args: argparse.Namespace) -> int:
    """``listen``: sign in, follow the stream, print records, write the state on exit."""
    from core.cli.listen import JsonLinesWriter, state_snapshot, write_state

    stop = asyncio.Event()
    _install_stop_signals(stop)
    kinds = frozenset(k.strip() for k in args.kinds.split(",")) if args.kinds else None
    from core.errors import InvalidEnvironmentError

    try:
        engine = await build_engine(
            demo=args.demo, environment=args.environment, queues=args.queues, users=args.users
        )
    except (UsageError, InvalidEnvironmentError) as exc:  # what the person typed: exit 2
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


def _environment_words(env: Any) -> str:
    region = getattr(env, "region", None)
    return f"{region.location} ({region.domain})" if region is not None else str(env.api_base)


def _sign_in_again_when_needed(
    auth: Any, signed_out: asyncio.Event | None = None
) -> Callable[[Any], None]:
    """A PKCE session cannot renew itself: open the browser again when the engine asks.

    Not after the person signed out on purpose (``signed_out`` set).
    """
    from core.engine.service import EngineState, StateRecord
    from core.errors import AuthError

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
            and not (signed_out is not None and signed_out.is_set())
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
    if not has_display():
        setup_logging(args.debug)
        if not args.demo:
            print(
                "No display found (DISPLAY and WAYLAND_DISPLAY are not set): the tray monitor "
                "needs a desktop session. For a headless run use: python main.py listen\n"
                "Try the embedded sandbox org:  make run   (or: python main.py --demo)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        try:
            asyncio.run(run_demo_sandbox(args.sandbox_port))
        except OSError as exc:
            print(f"Cannot start the sandbox org: {exc.strerror or exc}", file=sys.stderr)
            return 1
        return EXIT_OK
    setup_logging(args.debug, log_file=log_path())
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
    from gui.platform.single_instance import SingleInstance

    qapp = create_qapp()
    instance = SingleInstance()
    if not instance.claim(instance_name()):
        print("Genesys Tray is already running; its window was brought forward.")
        return EXIT_OK
    try:
        return run_qasync(qapp, lambda: gui_main(args, qapp, instance))
    finally:
        instance.release()


async def open_journal(*, demo: bool, retention_days: float = 30.0) -> Any:
    """The event journal: one SQLite file per org kind, retention from the settings."""
    from core.storage.journal import Journal, default_journal_path

    path = default_journal_path()
    if demo:
        path = path.with_name("journal-demo.sqlite3")
    return await Journal.open(path, retention_days=max(0.0, float(retention_days)))


async def welcome(
    profile: Any = None, problem: str = "", *, open_store: Callable[[str], Any] | None = None
) -> Any:
    """Show the first-run dialog on the running loop; its WelcomeChoice, or None if dismissed."""
    from gui.dialogs.welcome_dialog import SignInRequest, SignInResult, WelcomeDialog, run_welcome

    async def sign_in(request: SignInRequest) -> SignInResult:
        session = await sign_in_session(
            request.environment,
            request.client_id,
            request.grant,
            request.client_secret,
            open_store=open_store,
        )
        return SignInResult(store_warning=session.store_warning, session=session)

    import shiboken6

    dialog = WelcomeDialog(sign_in, profile=profile, problem=problem)
    try:
        return await run_welcome(dialog)
    finally:
        # Delete it here, on the GUI thread: left to Python's cycle collector, it could be
        # freed on a worker thread (asyncio.to_thread), where Qt cannot stop its timers.
        dialog.close()
        shiboken6.delete(dialog)


_KEEP: Any = object()  # _remember_choice: leave the remembered org as it is
DEMO_PROFILE = "demo"  # the tray's "Profile" key of the demo org


def profile_key(profile: Any) -> str:
    """A profile's key in the tray's "Profile" submenu: its org and OAuth client."""
    return f"{profile.environment} {profile.client_id}"


def profile_choices(config: Any) -> list[tuple[str, str]]:
    """The tray's "Profile" submenu: the demo org and every org signed in to, as (key, label)."""
    from core.errors import InvalidEnvironmentError
    from core.rest.regions import parse_environment
    from core.storage.settings import with_profile

    profiles = list(config.profiles)
    if config.profile is not None:  # a settings file from before the list
        profiles = with_profile(profiles, config.profile)
    choices = [(DEMO_PROFILE, "Demo org")]
    for profile in profiles:
        try:
            where = _environment_words(parse_environment(profile.environment))
        except InvalidEnvironmentError:
            where = profile.environment
        choices.append((profile_key(profile), f"{where} · {profile.client_id}"))
    return choices


async def _remember_choice(path: Path, *, demo: bool, profile: Any = _KEEP) -> None:
    """Put the welcome dialog's choice into the settings file, so the next start goes straight in.

    The demo org, or an org's profile (no secret); choosing the demo keeps the org's profile, so
    "Connect to Genesys Cloud…" later finds it filled in.
    """
    import dataclasses

    from core.storage.settings import ConfigError, load_config, save_config, with_profile

    def update() -> None:
        config = load_config(path).config
        config = dataclasses.replace(config, demo_chosen=demo)
        if profile is not _KEEP:
            config = dataclasses.replace(config, profile=profile)
            if profile is not None:  # one more org for the tray's "Profile" submenu
                config.profiles = with_profile(config.profiles, profile)
        save_config(path, config)

    try:
        await asyncio.to_thread(update)
    except ConfigError as exc:
        logger.warning("the choice of org could not be remembered: %s", exc)


async def start_engine(
    args: argparse.Namespace,
    *,
    choose: bool = False,
    switch_to: str | None = None,
    open_store: Callable[[str], Any] | None = None,
) -> tuple[Engine | None, bool, int]:
    """Decide demo vs an org (welcome dialog when needed), sign in and build the engine.

    Args:
        args: the command line.
        choose: show the welcome dialog whatever was remembered (the person asked to leave the
            demo org, or signed out).
        switch_to: a key of :func:`profile_choices`: start that org (the tray's "Profile").
        open_store: the credential store factory (default: the OS keyring); a seam for tests.

    Returns:
        (engine, demo, exit code); the engine is None when the person quit or it failed.
    """
    from core.errors import AuthError, GenesysTrayError
    from core.storage.settings import config_path, load_config

    demo = bool(args.demo) and not choose and switch_to is None
    from_env = bool(os.environ.get("GENESYS_CLIENT_ID"))
    profile: Any = None
    session: SignedIn | None = None
    if switch_to is not None:
        loaded = await asyncio.to_thread(load_config, config_path())
        known = {profile_key(p): p for p in [*loaded.config.profiles, loaded.config.profile] if p}
        demo = switch_to == DEMO_PROFILE or switch_to not in known
        profile = None if demo else known[switch_to]
        await _remember_choice(config_path(), demo=demo, profile=_KEEP if demo else profile)
    elif not demo and not from_env:
        loaded = await asyncio.to_thread(load_config, config_path())
        profile = loaded.config.profile
        if loaded.config.demo_chosen and not choose:
            demo = True  # the last choice was the demo org: straight there
        elif profile is None or choose:
            choice = await welcome(profile if choose else None, open_store=open_store)
            if choice is None:
                return None, demo, EXIT_OK
            demo = choice.demo
            if not demo:
                profile, session = choice.profile, choice.result.session
            await _remember_choice(config_path(), demo=demo, profile=_KEEP if demo else profile)
    if demo:
        profile = None  # the demo org signs in by itself
    while True:
        try:
            engine = await build_engine(
                demo=demo,
                environment=args.environment or (profile.environment if profile else None),
                queues="mine",
                users="mine",
                demo_speed=args.demo_speed,
                client_id=profile.client_id if profile else None,
                grant=profile.grant if profile else None,
                session=session,
                interactive_sign_in=profile is None,
                auto_sign_in=False,  # the GUI asks first: a notification, the tray, the banner
                open_store=open_store,
            )
            return engine, demo, EXIT_OK
        except (UsageError, GenesysTrayError) as exc:
            if session is not None:
                await session.auth.aclose()
                session = None
            if profile is None or not isinstance(exc, AuthError):
                print(f"Genesys Tray could not start: {exc}", file=sys.stderr)
                return None, demo, EXIT_USAGE if isinstance(exc, UsageError) else 1
            logger.info("the remembered sign-in cannot be used: %s", exc)
            choice = await welcome(profile, str(exc), open_store=open_store)
            if choice is None:
                return None, demo, EXIT_OK
            demo = choice.demo
            profile = choice.profile
            session = None if demo else choice.result.session
            await _remember_choice(config_path(), demo=demo, profile=_KEEP if demo else profile)


async def gui_main(args: argparse.Namespace, qapp: Any, instance: Any) -> int:
    """Welcome (first run), sign in, build the engine and run the GUI until asked to stop.

    Leaving an org (sign out, or "Connect to Genesys Cloud…" in the demo org) stops its engine
    and shows the welcome dialog again, in the same process.
    """
    from core.storage.settings import config_path

    choose = False
    switch_to: str | None = None
    while True:
        engine, demo, code = await start_engine(args, choose=choose, switch_to=switch_to)
        if engine is None:
            return code
        code, back_to_welcome, switch_to = await run_app(args, qapp, instance, engine, demo)
        if not back_to_welcome and switch_to is None:
            return code
        if back_to_welcome and demo:  # the person left the demo org: not straight back there
            await _remember_choice(config_path(), demo=False)
        choose = back_to_welcome


async def run_app(
    args: argparse.Namespace, qapp: Any, instance: Any, engine: Engine, demo: bool
) -> tuple[int, bool, str | None]:
    """Run the GUI over one engine until asked to stop.

    Returns:
        (exit code, back to the welcome dialog?, the profile key the tray switched to or None).
    """
    from core.storage.settings import config_path, load_config
    from gui.app import GuiApp, GuiOptions

    settings_file = config_path()
    if demo:  # rule subjects are org-specific ids: the demo org keeps its own settings
        settings_file = settings_file.with_name("config-demo.json")
    loaded = await asyncio.to_thread(load_config, settings_file, demo=demo)
    orgs = (
        loaded.config if not demo else (await asyncio.to_thread(load_config, config_path())).config
    )
    journal = await open_journal(demo=demo, retention_days=loaded.config.journal_retention_days)
    engine.closers.insert(0, journal.close)  # closed last, after the engine's final records
    try:
        if engine.sandbox_url:
            print(f"Sandbox Genesys Cloud org: {engine.sandbox_url}", flush=True)
        if engine.store_warning:
            logger.warning("%s", engine.store_warning)
        options = GuiOptions(
            minimized=args.minimized,
            title_suffix="demo org" if demo else "",
            journal=journal,
            config=loaded.config,
            config_path=settings_file,
            config_problem=loaded.problem,
            self_user_id=engine.user_id,
            timeline=engine.timeline,
            sign_out=engine.sign_out,
            sign_in_again=engine.sign_in_again,
            log_files=log_files(log_path()),
            account=engine.account,
            demo=demo,
            profiles=profile_choices(orgs),
            active_profile=DEMO_PROFILE
            if demo or orgs.profile is None
            else profile_key(orgs.profile),
        )
        app = GuiApp(qapp, engine.service, options)
        instance.activation_requested.connect(app.show_window)
        try:
            code = await app.run()
        finally:
            instance.activation_requested.disconnect(app.show_window)
            app.window.deleteLater()  # a top-level window: nothing else would delete it
            app.deleteLater()
        return code, app.back_to_welcome, app.next_profile
    finally:
        await engine.aclose()


if __name__ == "__main__":
    sys.exit(main())
