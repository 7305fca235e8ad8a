"""The GUI's launch: one instance per desktop user, the choice of org, and one app per engine.

Which org starts is a small state machine over the settings file: a remembered demo choice goes
straight to the demo org, a remembered profile straight to its sign-in, and otherwise (or when
that sign-in cannot be used) the welcome dialog asks. Leaving an org (sign out, "Connect to
Genesys Cloud…", the tray's "Profile") stops its engine and starts the next in the same process.
The engine itself is built by :mod:`core.app.bootstrap`; this module only decides and shows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import enum
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import shiboken6
from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QApplication

from core.alerts.presets import starter_rules
from core.app.bootstrap import Engine, UsageError, build_engine, environment_words
from core.app.eventbridge_wiring import EventBridgeLink
from core.app.heap import settle_heap_once_live
from core.app.logging_setup import log_files, log_path
from core.app.sign_in import CredentialStoreFactory, SignedIn, sign_in_session
from core.errors import AuthError, GenesysTrayError, InvalidEnvironmentError
from core.rest.regions import parse_environment
from core.storage.journal.journal import Journal, default_journal_path
from core.storage.settings.file import ConfigError, config_path, load_config, save_config
from core.storage.settings.model import AppConfig, Profile, with_profile
from gui.app import GuiApp
from gui.dialogs.welcome_dialog import (
    SignInRequest,
    SignInResult,
    WelcomeChoice,
    WelcomeDialog,
    run_welcome,
)
from gui.options import GuiOptions, create_qapp, run_qasync
from gui.platform.single_instance import SingleInstance

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
DEMO_PROFILE = "demo"  # the tray's "Profile" key of the demo org
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ActivationSource(Protocol):
    """The single-instance guard as an app sees it: a second launch asks for the window."""

    @property
    def activation_requested(self) -> SignalInstance:
        """Emitted when another launch asks this instance to come forward."""


def instance_name() -> str:
    """The single-instance key: one monitor per desktop user (tests may override it)."""
    override = os.environ.get("GENESYS_TRAY_INSTANCE")
    if override:
        return override
    return f"genesys-tray-{os.getuid() if hasattr(os, 'getuid') else os.getlogin()}"


def run_gui(args: argparse.Namespace) -> int:
    """The tray app: a second launch brings the first one's window forward and exits."""
    qapp = create_qapp()
    instance = SingleInstance()
    if not instance.claim(instance_name()):
        print("Genesys Tray is already running; its window was brought forward.")
        return EXIT_OK
    try:
        return run_qasync(qapp, lambda: gui_main(args, qapp, instance))
    finally:
        instance.release()


async def gui_main(args: argparse.Namespace, qapp: QApplication, instance: ActivationSource) -> int:
    """Welcome (first run), sign in, build the engine and run the GUI until asked to stop.

    Leaving an org (sign out, or "Connect to Genesys Cloud…" in the demo org) stops its engine
    and shows the welcome dialog again, in the same process.
    """
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


# --- which org: the welcome/profile state machine ---------------------------------------------


class _Keep(enum.Enum):
    """_remember_choice: leave the remembered org as it is."""

    KEEP = enum.auto()


@dataclass(frozen=True)
class _Start:
    """The org to start: the demo, or a profile (with its session when the welcome signed in)."""

    demo: bool
    profile: Profile | None = None
    session: SignedIn | None = None


def profile_key(profile: Profile) -> str:
    """A profile's key in the tray's "Profile" submenu: its org and OAuth client."""
    return f"{profile.environment} {profile.client_id}"


def profile_choices(config: AppConfig) -> list[tuple[str, str]]:
    """The tray's "Profile" submenu: the demo org and every org signed in to, as (key, label)."""
    profiles = list(config.profiles)
    if config.profile is not None:  # a settings file from before the list
        profiles = with_profile(profiles, config.profile)
    choices = [(DEMO_PROFILE, "Demo org")]
    for profile in profiles:
        try:
            where = environment_words(parse_environment(profile.environment))
        except InvalidEnvironmentError:
            where = profile.environment
        choices.append((profile_key(profile), f"{where} · {profile.client_id}"))
    return choices


async def _remember_choice(
    path: Path,
    *,
    demo: bool,
    profile: Profile | _Keep | None = _Keep.KEEP,
    starter: bool = False,
) -> None:
    """Put the welcome dialog's choice into the settings file, so the next start goes straight in.

    The demo org, or an org's profile (no secret); choosing the demo keeps the org's profile, so
    "Connect to Genesys Cloud…" later finds it filled in. ``starter``: the person kept "Start
    with suggested alerts" ticked; an org without rules gets the starter set (ordinary rules,
    turned off or changed in Filters & alerts; rules already there are never touched).
    """

    def update() -> None:
        config = load_config(path).config
        config = dataclasses.replace(config, demo_chosen=demo)
        if starter and not demo and not config.rules:
            config = dataclasses.replace(config, rules=starter_rules())
        if not isinstance(profile, _Keep):
            config = dataclasses.replace(config, profile=profile)
            if profile is not None:  # one more org for the tray's "Profile" submenu
                config.profiles = with_profile(config.profiles, profile)
        save_config(path, config)

    try:
        await asyncio.to_thread(update)
    except ConfigError as exc:
        logger.warning("the choice of org could not be remembered: %s", exc)


async def _remembered(start: _Start, *, starter: bool = False) -> _Start:
    """``start``, written to the settings file as the org the next launch goes to."""
    await _remember_choice(
        config_path(),
        demo=start.demo,
        profile=_Keep.KEEP if start.demo else start.profile,
        starter=starter,
    )
    return start


async def welcome(
    profile: Profile | None = None,
    problem: str = "",
    *,
    open_store: CredentialStoreFactory | None = None,
) -> WelcomeChoice | None:
    """Show the first-run dialog on the running loop; its WelcomeChoice, or None if dismissed."""

    async def sign_in(request: SignInRequest) -> SignInResult:
        session = await sign_in_session(
            request.environment,
            request.client_id,
            request.grant,
            request.client_secret,
            open_store=open_store,
            trusted_hosts=(request.trusted_host,),
        )
        return SignInResult(store_warning=session.credentials_warning, session=session)

    dialog = WelcomeDialog(sign_in, profile=profile, problem=problem)
    loop = asyncio.get_running_loop()
    # SIGTERM/SIGINT while the dialog is open: it closes as if dismissed, and the app exits 0
    # (GuiApp.run installs its own handlers once an org runs).
    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, dialog.reject)
    logger.info("the welcome dialog is open")
    try:
        return await run_welcome(dialog)
    finally:
        for sig in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        # Delete it here, on the GUI thread: left to Python's cycle collector, it could be
        # freed on a worker thread (asyncio.to_thread), where Qt cannot stop its timers.
        dialog.close()
        shiboken6.delete(dialog)


async def _ask(
    profile: Profile | None, problem: str, open_store: CredentialStoreFactory | None
) -> _Start | None:
    """The welcome dialog's choice, remembered; None when the person dismissed it."""
    choice = await welcome(profile, problem, open_store=open_store)
    if choice is None:
        return None
    if choice.demo:
        return await _remembered(_Start(demo=True))
    session = choice.result.session if choice.result is not None else None
    return await _remembered(
        _Start(False, choice.profile, session if isinstance(session, SignedIn) else None),
        starter=choice.starter_rules,
    )


async def _switch(switch_to: str) -> _Start:
    """The tray's "Profile" choice: the demo org, or a remembered org (unknown keys: the demo)."""
    loaded = await asyncio.to_thread(load_config, config_path())
    known = {profile_key(p): p for p in [*loaded.config.profiles, loaded.config.profile] if p}
    if switch_to == DEMO_PROFILE or switch_to not in known:
        return await _remembered(_Start(demo=True))
    return await _remembered(_Start(False, known[switch_to]))


async def _first_start(
    args: argparse.Namespace,
    choose: bool,
    switch_to: str | None,
    open_store: CredentialStoreFactory | None,
) -> _Start | None:
    """The org to try first: the tray's switch, ``--demo``, the environment, or the settings."""
    if switch_to is not None:
        return await _switch(switch_to)
    if args.demo and not choose:
        return _Start(demo=True)
    if os.environ.get("GENESYS_CLIENT_ID"):
        return _Start(demo=False)  # build_engine reads the OAuth client from the environment
    config = (await asyncio.to_thread(load_config, config_path())).config
    if config.demo_chosen and not choose:
        return _Start(demo=True)  # the last choice was the demo org: straight there
    if config.profile is None or choose:
        return await _ask(config.profile if choose else None, "", open_store)
    return _Start(False, config.profile)


async def _build(
    args: argparse.Namespace, start: _Start, open_store: CredentialStoreFactory | None
) -> Engine:
    """The engine of ``start``; the GUI asks before any browser sign-in (no auto sign-in)."""
    profile = start.profile
    return await build_engine(
        demo=start.demo,
        environment=args.environment or (profile.environment if profile else None),
        queues="mine",
        users="mine",
        demo_speed=args.demo_speed,
        client_id=profile.client_id if profile else None,
        grant=profile.grant if profile else None,
        session=start.session,
        interactive_sign_in=profile is None,
        auto_sign_in=False,  # the GUI asks first: a notification, the tray, the banner
        open_store=open_store,
        trusted_hosts=(profile.trusted_host,) if profile else (),
        demo_eventbridge=start.demo,  # a newcomer sees both sources
    )


async def start_engine(
    args: argparse.Namespace,
    *,
    choose: bool = False,
    switch_to: str | None = None,
    open_store: CredentialStoreFactory | None = None,
) -> tuple[Engine | None, bool, int]:
    """Decide demo vs an org (welcome dialog when needed), sign in and build the engine.

    A remembered sign-in that cannot be used (an auth error) shows the welcome dialog again,
    with the problem, until an engine starts or the person gives up.

    Args:
        args: the command line.
        choose: show the welcome dialog whatever was remembered (the person asked to leave the
            demo org, or signed out).
        switch_to: a key of :func:`profile_choices`: start that org (the tray's "Profile").
        open_store: the credential store factory (default: the OS keyring); a seam for tests.

    Returns:
        (engine, demo, exit code); the engine is None when the person quit or it failed.
    """
    start = await _first_start(args, choose, switch_to, open_store)
    while start is not None:
        try:
            return await _build(args, start, open_store), start.demo, EXIT_OK
        except (UsageError, GenesysTrayError) as exc:
            if start.session is not None:
                await start.session.auth.aclose()
            if start.profile is None or not isinstance(exc, AuthError):
                print(f"Genesys Tray could not start: {exc}", file=sys.stderr)
                return None, start.demo, EXIT_USAGE if isinstance(exc, UsageError) else EXIT_FAILED
            logger.info("the remembered sign-in cannot be used: %s", exc)
            start = await _ask(start.profile, str(exc), open_store)
    return None, False, EXIT_OK


# --- one app per engine -------------------------------------------------------------------------


async def open_journal(*, demo: bool, retention_days: float = 30.0) -> Journal:
    """The event journal: one SQLite file per org kind, retention from the settings."""
    path = default_journal_path()
    if demo:
        path = path.with_name("journal-demo.sqlite3")
    return await Journal.open(path, retention_days=max(0.0, float(retention_days)))


def eventbridge_link(engine: Engine, config: AppConfig) -> EventBridgeLink | None:
    """The org's EventBridge source: the demo org's own queue, or the queue in its settings."""
    if engine.demo_queue is not None:
        return EventBridgeLink(engine.demo_queue)
    bridge = config.eventbridge_settings
    if not bridge.configured:
        return None
    return EventBridgeLink(
        bridge.queue_url,
        profile=bridge.aws_profile,
        region=bridge.aws_region,
        credentials=engine.credentials,
    )


async def run_app(
    args: argparse.Namespace,
    qapp: QApplication,
    instance: ActivationSource,
    engine: Engine,
    demo: bool,
) -> tuple[int, bool, str | None]:
    """Run the GUI over one engine until asked to stop.

    Returns:
        (exit code, back to the welcome dialog?, the profile key the tray switched to or None).
    """
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
        if engine.sandbox_url:  # the demo: where its org listens and how to sign in to it
            print(
                engine.sandbox_banner or f"Sandbox Genesys Cloud org: {engine.sandbox_url}",
                flush=True,
            )
        if engine.credentials_warning:
            logger.warning("%s", engine.credentials_warning)
        link = eventbridge_link(engine, loaded.config)
        options = GuiOptions(
            eventbridge=link,
            eventbridge_stop=link.stop if link is not None else None,
            eventbridge_credentials=engine.credentials,  # a queue saved later starts with them
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
        settle_heap_once_live(engine.service.add_listener)  # start-up's heap out of GC passes
        if link is not None:  # the app's pipeline listens to the engine by now
            link.attach(engine.service, app.pipeline, journal.flush)
            if engine.demo_queue is not None:  # moto's start waits until the demo is live
                link.start_once_live(engine.service)
            else:  # an org's queue: at once (it matters most while the socket is down)
                link.start()
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
