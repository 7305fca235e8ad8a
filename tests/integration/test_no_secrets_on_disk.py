"""No token, code, client secret or channel id ever lands in a file the app writes.

The app is driven the way ``main.py`` wires it, with every per-user folder (XDG config, data,
state, cache) in a temporary home and the app's logging set up by
``core.app.logging_setup.setup_logging`` into its log file at DEBUG:

* the demo engine (``core.app.bootstrap.build_engine(demo=True)``: embedded sandbox org, PKCE
  sign-in through the loopback redirect) feeds the journal, survives a drop and a revoked token
  (a second browser sign-in: a second code and token), saves its settings and exports the journal;
* a client-credentials engine against the same org (so a client secret is in play) goes live,
  has its token revoked and renewed silently, and signs out;
* "Export diagnostics" writes its zip (logs, connection timeline, settings) and "Start at login"
  writes its autostart entry.

Every secret the org handed out is read from the sandbox in-process (``auth.tokens``,
``auth.codes``, ``auth.refresh_tokens``, every channel id seen), then every file under the
temporary home is scanned for each of them, and every member of every zip unpacked and scanned
too (deflate would hide a secret from a byte scan): zero hits. The settings file, the journal
and the log files are user-only (0600 in 0700 folders).
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.alerts.presets import demo_rules
from core.app.bootstrap import build_engine
from core.app.diagnostics import write_diagnostics
from core.app.logging_setup import log_files, log_path, setup_logging
from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.engine.records import EngineState, Record, StateRecord
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.feed.builder import FeedBuilder
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.storage.journal.journal import Journal, default_journal_path
from core.storage.settings.codec import config_to_json
from core.storage.settings.file import config_path, save_config
from core.storage.settings.model import AppConfig, Profile
from core.streaming.memory import StoredChannelMemory
from core.streaming.reconnect import ChannelSettings
from gui.platform.autostart import Autostart
from sandbox.server import Sandbox

CLIENT_SECRET = "sandbox-secret"  # the sandbox's demo credential: a secret all the same
WAIT_S = 20.0
SETTINGS = ChannelSettings(first_backoff_s=0.05, max_backoff_s=0.5, healthy_retry_s=0.05)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home with its own XDG folders (created by the app itself, as on a new desktop)."""
    root = tmp_path / "home"
    root.mkdir(mode=0o700)
    monkeypatch.setenv("HOME", str(root))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        monkeypatch.setenv(var, str(root / sub))
    monkeypatch.delenv("GENESYS_TRAY_LOG_DIR", raising=False)
    return root


@pytest.fixture
def app_logging(home: Path) -> Iterator[Path]:
    """``setup_logging`` into the app's log file at DEBUG; undone after the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    log_file = log_path()
    setup_logging(True, log_file=log_file)
    root.setLevel(logging.DEBUG)
    try:
        yield log_file
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in root.handlers:
            handler.filters.clear()
        root.setLevel(level)


class Pulse:
    """Set on every engine record, so a test waits for a condition without polling."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def beat(self) -> None:
        self.event.set()

    async def until(self, condition: Any, what: str) -> None:
        try:
            async with asyncio.timeout(WAIT_S):
                while not condition():
                    self.event.clear()
                    await self.event.wait()
        except TimeoutError:
            raise AssertionError(f"not within {WAIT_S:g} s: {what}") from None


class Seen:
    """Every channel id the engines were ever on (channels vanish from the org when they die)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.channel_ids: set[str] = set()

    def look(self) -> None:
        self.channel_ids.update(self.sandbox.hub.channels)

    def secrets(self) -> dict[str, str]:
        auth = self.sandbox.auth
        found = {f"access token {v[:6]}": v for v in auth.tokens}
        found |= {f"authorization code {v[:6]}": v for v in auth.codes}
        found |= {f"refresh token {v[:6]}": v for v in auth.refresh_tokens}
        found |= {f"channel id {v}": v for v in self.channel_ids}
        found["client secret"] = CLIENT_SECRET
        return found


def _read_all(root: Path) -> dict[Path, bytes]:
    """Every file under ``root`` and its bytes; a zip's members too, unpacked (as zip/member)."""
    found: dict[Path, bytes] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        found[path] = path.read_bytes()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as bundle:
                for name in bundle.namelist():
                    found[path / name] = bundle.read(name)
    return found


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_no_secret_reaches_any_file_the_app_writes(
    home: Path, app_logging: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Sandbox] = []
    real_start = Sandbox.start

    async def recording_start(self: Sandbox, **options: bool) -> str:
        started.append(self)
        return await real_start(self, **options)

    monkeypatch.setattr(Sandbox, "start", recording_start)

    # ------------------------------------------------------------ the demo app (PKCE)
    engine = await build_engine(
        demo=True, environment=None, queues="all", users="members", demo_speed=50.0
    )
    journal: Journal | None = None
    try:
        sandbox = started[0]
        seen = Seen(sandbox)
        service: MonitorService = engine.service
        journal = await Journal.open(default_journal_path(), flush_interval_s=0.05)
        feed = FeedBuilder(service.store)
        states: list[EngineState] = []
        pulse = Pulse()
        _until = pulse.until

        def on_record(record: Record) -> None:
            pulse.beat()
            if isinstance(record, StateRecord):
                states.append(record.state)
            assert journal is not None
            for entry in feed.entries(record):
                journal.append(entry)
            seen.look()

        service.add_listener(on_record)
        await service.start()
        await _until(lambda: service.state is EngineState.LIVE, "demo engine live")
        for fault in ("drop", "revoke_tokens"):
            mark = len(states)
            sandbox.hub.drop_all() if fault == "drop" else sandbox.auth.revoke_all()
            await _until(lambda m=mark: len(states) > m, f"{fault} noticed")
            await _until(lambda: service.state is EngineState.LIVE, f"live after {fault}")
        assert len(sandbox.auth.codes) >= 2, "the revoke must have cost a second browser sign-in"

        # ------------------------------------------------------------ a service account
        env = parse_environment(sandbox.base_url)
        store = MemoryCredentialStore()
        auth = Authenticator(env, sandbox.config.client_id, store, client_secret=CLIENT_SECRET)
        api = ApiClient(env, auth.access_token, on_unauthorized=auth.renew_rejected)
        queue_id = sorted(sandbox.org.queues)[0]
        robot = MonitorService(
            api,
            auth,
            Selection(queues=(queue_id,), users="members"),
            settings=SETTINGS,
            memory=StoredChannelMemory(store),
        )
        robot.add_listener(on_record)
        try:
            await auth.sign_in_client_credentials()
            await robot.start()
            await _until(lambda: robot.state is EngineState.LIVE, "service engine live")
            first = auth.token
            sandbox.auth.revoke_all()
            await _until(
                lambda: auth.token is not first and robot.state is EngineState.LIVE,
                "silent renewal",
            )
            seen.look()
        finally:
            await robot.stop()
            await auth.sign_out()
            await api.aclose()
            await auth.aclose()

        # ------------------------------------------------------------ settings and export
        config = AppConfig(
            rules=demo_rules(sorted(service.watch.queues)[:1]),
            profile=Profile(sandbox.base_url, sandbox.config.client_id, "client_credentials"),
        )
        await asyncio.to_thread(save_config, config_path(), config)
        await journal.flush()
        exports = home / "Documents"
        exports.mkdir()
        for handler in logging.getLogger().handlers:
            handler.flush()
        await asyncio.to_thread(
            write_diagnostics,
            exports / "diagnostics.zip",
            log_files=log_files(app_logging),
            timeline=engine.timeline.to_json(),
            settings=config_to_json(config),
            about={"environment": sandbox.base_url},
        )
        autostart = Autostart(environ=os.environ)
        autostart.set_enabled(True)
        assert autostart.enabled()
        for fmt in ("csv", "jsonl"):
            written = await journal.export(exports / f"journal.{fmt}", None, None, fmt)
            assert written > 0
        seen.look()
        # The write-ahead log holds the latest entries while the journal is open: scan it now.
        wal = default_journal_path().with_name(default_journal_path().name + "-wal")
        open_scan = await asyncio.to_thread(_read_all, home)
        assert wal in open_scan or not wal.exists()
    finally:
        await engine.aclose()  # the engine's last records still reach the journal
        if journal is not None:
            await journal.close()
    for handler in logging.getLogger().handlers:
        handler.flush()

    # ------------------------------------------------------------ the scan
    secrets = seen.secrets()
    assert sum(k.startswith("access token") for k in secrets) >= 4
    assert sum(k.startswith("channel id") for k in secrets) >= 3
    contents = open_scan | await asyncio.to_thread(_read_all, home)
    names = {p.relative_to(home).as_posix() for p in contents}
    log_text = contents[app_logging].decode("utf-8")
    assert "engine: live" in log_text and "DEBUG" in log_text, "the log file was not written"
    assert {
        ".config/genesys-tray/config.json",
        ".config/autostart/genesys-tray.desktop",
        "Documents/journal.csv",
        "Documents/diagnostics.zip/timeline.json",
    } <= names, names
    assert any(n.startswith("Documents/diagnostics.zip/logs/") for n in names), names
    assert any(name.endswith("journal.sqlite3") for name in names), names
    hits = [
        f"{what} in {path.relative_to(home)}"
        for path, data in contents.items()
        for what, value in secrets.items()
        if value.encode() in data
    ]
    assert hits == [], hits

    # ------------------------------------------------------------ user-only files
    settings_file, journal_file = config_path(), default_journal_path()
    assert _mode(settings_file) == 0o600, oct(_mode(settings_file))
    assert _mode(settings_file.parent) == 0o700, oct(_mode(settings_file.parent))
    assert _mode(journal_file) == 0o600, oct(_mode(journal_file))
    assert _mode(journal_file.parent) == 0o700, oct(_mode(journal_file.parent))
    assert _mode(app_logging.parent) == 0o700, oct(_mode(app_logging.parent))
    assert _mode(app_logging) == 0o600, oct(_mode(app_logging))
