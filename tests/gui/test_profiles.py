"""Profiles: several orgs, each with its secrets in its own keyring entry, switched in the tray.

The orgs are the sandbox's two OAuth clients (a person's PKCE client and a service account);
the credential store factory is the composition root's seam, one store per keyring service name,
so the test sees exactly which entry each profile's secrets went to.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.app.bootstrap import build_engine
from core.app.sign_in import CLIENT_SECRET_ENTRY, follow_redirects, sign_in_session
from core.auth.credentials import MemoryCredentialStore, credential_service_name
from core.engine.records import EngineState, SelectionProgress
from core.engine.selection import Selection
from core.rest.regions import parse_environment
from core.storage.settings.codec import profile_to_json
from core.storage.settings.file import config_path, load_config, save_config
from core.storage.settings.model import AppConfig, Profile, WatchSettings
from gui.app import GuiApp
from gui.launcher import DEMO_PROFILE, profile_choices, profile_key, start_engine
from gui.options import GuiOptions
from gui.tray.controller import ACTION_PROFILE, TrayController
from main import parse_args
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox

WAIT_S = 20.0


class Keyring:
    """One store per keyring service, kept across sign-ins as the OS keyring keeps them."""

    def __init__(self) -> None:
        self.stores: dict[str, MemoryCredentialStore] = {}

    def __call__(self, service: str) -> MemoryCredentialStore:
        return self.stores.setdefault(service, MemoryCredentialStore(insecure_reason="test"))


@pytest.fixture(autouse=True)
def _config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("GENESYS_CLIENT_ID", raising=False)
    yield
    gc.collect()  # Qt objects of the test die here, on the GUI thread


async def test_switching_profiles_uses_each_orgs_own_keyring_entry(
    qtbot: QtBot, tmp_path: Path
) -> None:
    sandbox = Sandbox(SandboxConfig(port=0, users=30, queues=4, seed=7, simulate=False))
    url = await sandbox.start()
    try:
        await _switch_profiles(sandbox, url, tmp_path)
    finally:
        await sandbox.stop()


async def _signed_in_to(sandbox: Sandbox, person: Profile, service: Profile) -> Keyring:
    """A keyring that remembers one sign-in to each profile (the service account's last)."""
    keyring = Keyring()
    for profile, secret in ((person, None), (service, sandbox.config.client_secret)):
        session = await sign_in_session(
            profile.environment,
            profile.client_id,
            profile.grant,
            secret,
            open_browser=follow_redirects,
            open_store=keyring,
        )
        await session.auth.aclose()
    return keyring


async def _switch_profiles(sandbox: Sandbox, url: str, tmp_path: Path) -> None:
    person = Profile(url, sandbox.config.pkce_client_id, "pkce")
    service = Profile(url, sandbox.config.client_id, "client_credentials")
    # Both orgs were signed in to once (the welcome dialog's sign-in), the service one last.
    keyring = await _signed_in_to(sandbox, person, service)
    path = tmp_path / "genesys-tray" / "config.json"
    save_config(path, AppConfig(profile=service, profiles=[person, service]))
    assert len(keyring.stores) == 2  # one keyring entry per org and client
    env = parse_environment(url)
    person_store = keyring.stores[credential_service_name(env, person.client_id)]
    service_store = keyring.stores[credential_service_name(env, service.client_id)]
    assert await person_store.get("access_token") and await service_store.get("access_token")
    assert await service_store.get(CLIENT_SECRET_ENTRY) == sandbox.config.client_secret
    assert await person_store.get(CLIENT_SECRET_ENTRY) is None  # never shared

    choices = profile_choices(load_config(path).config)
    assert [key for key, _ in choices] == [
        DEMO_PROFILE,
        profile_key(person),
        profile_key(service),
    ]
    args = parse_args([])
    engine, demo, code = await asyncio.wait_for(
        start_engine(args, switch_to=profile_key(person), open_store=keyring),
        WAIT_S,
    )
    try:
        assert engine is not None and not demo and code == 0
        assert sandbox.config.pkce_client_id in engine.account  # the remembered PKCE session
        assert engine.user_id is not None  # a person, signed in without a browser
    finally:
        if engine is not None:
            await engine.aclose()
    remembered = load_config(path).config
    assert remembered.profile == person and not remembered.demo_chosen
    assert remembered.profiles == [person, service]  # switching adds nothing

    engine, demo, code = await asyncio.wait_for(start_engine(args, switch_to=DEMO_PROFILE), WAIT_S)
    try:
        assert engine is not None and demo and engine.sandbox_url != url
    finally:
        if engine is not None:
            await engine.aclose()
    assert load_config(path).config.demo_chosen  # the next launch starts where the tray left


async def test_each_profile_watches_what_was_chosen_in_it(
    qtbot: QtBot, settings: QSettings
) -> None:
    """A settings file from before the per-org choice, then the tray's switch, both ways."""
    sandbox = Sandbox(SandboxConfig(port=0, users=30, queues=4, seed=7, simulate=False))
    url = await sandbox.start()
    try:
        await _watch_per_profile(sandbox, url, settings)
    finally:
        await sandbox.stop()


async def _watch_per_profile(sandbox: Sandbox, url: str, settings: QSettings) -> None:
    person = Profile(url, sandbox.config.pkce_client_id, "pkce")
    service = Profile(url, sandbox.config.client_id, "client_credentials")
    keyring = await _signed_in_to(sandbox, person, service)
    first, second, third = sorted(sandbox.org.queues)[:3]
    # Version 1 kept one "watch" per file: it was chosen while the service account was in.
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "profile": profile_to_json(service),
                "profiles": [profile_to_json(person), profile_to_json(service)],
                "watch": {"queues": [first], "users": "none"},
            }
        )
    )
    args = parse_args([])

    async def run(
        switch_to: Profile, then: Callable[[GuiApp], object]
    ) -> tuple[Selection, set[str]]:
        """Start the org as the tray's switch does, run the app as run_app does: what it
        watches (the selection at start, and the queues it resolved to)."""
        engine, demo, _ = await asyncio.wait_for(
            start_engine(args, switch_to=profile_key(switch_to), open_store=keyring),
            WAIT_S,
        )
        assert engine is not None and not demo
        loaded = load_config(path)
        assert loaded.problem is None and loaded.config.profile == switch_to
        options = GuiOptions(
            settings=settings, config=loaded.config, config_path=path, watch_network=False
        )
        app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
        selection = app.service.selection
        running = asyncio.ensure_future(app.run())
        try:
            await asyncio.wait_for(_until(lambda: app.service.state is EngineState.LIVE), WAIT_S)
            watched = set(app.service.watch.queues)
            result = then(app)
            if asyncio.iscoroutine(result):
                await asyncio.wait_for(result, WAIT_S)
        finally:
            app.stop_requested.set()
            await asyncio.wait_for(running, WAIT_S)
            app.window.deleteLater()
            app.deleteLater()
            await engine.aclose()
        return selection, watched

    def choose(watch: WatchSettings) -> Callable[[GuiApp], object]:
        return lambda app: app.apply_watch(watch, list(app.alerts.config.feed_kinds), _ignore)

    # The service account's org: the migrated choice; then it picks one more queue.
    picked = await run(service, choose(WatchSettings((first, second), "none")))
    assert picked == (Selection((first,), "none"), {first})
    # The person's org: not the service account's ids, the default (my queues); a pick of its own.
    default, _ = await run(person, choose(WatchSettings((third,), "none")))
    assert default == Selection()
    # Back and forth: each org watches exactly what was chosen in it.
    assert await run(service, lambda app: None) == (
        Selection((first, second), "none"),
        {first, second},
    )
    assert await run(person, lambda app: None) == (Selection((third,), "none"), {third})
    watches = json.loads(path.read_text())["watches"]
    assert watches == {
        profile_key(service): {"queues": [first, second], "users": "none"},
        profile_key(person): {"queues": [third], "users": "none"},
    }
    assert "watch" not in json.loads(path.read_text())


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 - the engine and the sandbox move on their own
        await asyncio.sleep(0.05)


def _ignore(progress: SelectionProgress) -> None:
    """The apply's progress: the test looks at the result instead."""


async def test_the_app_stops_its_engine_for_the_profile_chosen(
    qtbot: QtBot, settings: QSettings
) -> None:
    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=20.0
    )
    other = "https://api.mypurecloud.de other-client"
    options = GuiOptions(
        settings=settings,
        profiles=[(DEMO_PROFILE, "Demo org"), (other, "EU (Frankfurt) · other")],
        active_profile=DEMO_PROFILE,
        watch_network=False,
    )
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    running = asyncio.ensure_future(app.run())
    try:
        await asyncio.sleep(0)  # let run() start the engine
        app.switch_profile(DEMO_PROFILE)  # the active one: nothing happens
        assert (app.stop_requested.is_set(), app.next_profile) == (False, None)
        app.switch_profile(other)
        assert await asyncio.wait_for(running, WAIT_S) == 0
        assert app.next_profile == other and not app.back_to_welcome
    finally:
        app.stop_requested.set()
        await asyncio.wait_for(running, WAIT_S)
        await engine.aclose()


def test_the_tray_lists_the_profiles_with_the_active_one_checked(qtbot: QtBot) -> None:
    tray = TrayController()
    try:

        def submenu() -> list[tuple[str, bool]]:
            tray.menu().aboutToShow.emit()
            if tray.profile_menu().menuAction() not in tray.menu().actions():
                return []
            return [(a.text(), a.isChecked()) for a in tray.profile_menu().actions()]

        tray.set_profiles([("demo", "Demo org")], "demo")
        assert submenu() == []  # nothing to switch to
        tray.set_profiles([("demo", "Demo org"), ("eu cid", "EU (Frankfurt) · cid")], "eu cid")
        assert submenu() == [("Demo org", False), ("EU (Frankfurt) · cid", True)]
        assert tray.profile_menu().title() == ACTION_PROFILE
        demo_action, active_action = tray.profile_menu().actions()
        with qtbot.waitSignal(tray.profile_requested, timeout=1000) as blocker:
            demo_action.trigger()
        assert blocker.args == ["demo"]
        with qtbot.waitSignal(tray.profile_requested, timeout=200, raising=False) as again:
            active_action.trigger()  # the active one: no switch
        assert not again.signal_triggered
    finally:
        tray.deleteLater()
