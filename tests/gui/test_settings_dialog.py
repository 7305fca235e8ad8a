"""The Settings dialog: persistence, start at login, sign-out, a diagnostics zip with no secret."""

from __future__ import annotations

import asyncio
import json
import logging
import zipfile
from pathlib import Path

from PySide6.QtCore import QSettings, QTime
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.app.diagnostics import write_diagnostics
from core.app.redact import install
from core.auth.tokens import TokenSet
from core.engine.records import EngineState, GapRecord, StateRecord
from core.engine.timeline import ConnectionTimeline
from core.storage.settings.codec import config_to_json
from core.storage.settings.file import load_config, save_config
from core.storage.settings.model import AppConfig, Profile, QuietHours
from gui.dialogs.settings_dialog import SettingsDialog
from gui.platform.autostart import APP_ICON, Autostart

FAKE_TOKEN = "FAKEtok3n-4b1e0c9d8e7f6a5b4c3d2e1f0a9b8c7d"
FAKE_SECRET = "FAKEs3cret-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
FAKE_REFRESH = "FAKEr3fresh-77aa88bb99cc00dd11ee22ff33"


def _autostart(tmp_path: Path, platform: str = "linux") -> Autostart:
    return Autostart(
        platform=platform,
        environ={"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path / "home")},
        which=lambda _: None,
    )


class Saver:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.saved: list[AppConfig] = []

    async def __call__(self, config: AppConfig) -> None:
        self.saved.append(config)
        await asyncio.to_thread(save_config, self.path, config)


async def test_settings_are_saved_through_the_injected_save(qtbot: QtBot, tmp_path: Path) -> None:
    start = AppConfig(profile=Profile("eu_central_1", "cid"), journal_retention_days=30)
    saver = Saver(tmp_path / "config.json")
    dialog = SettingsDialog(start, save=saver, autostart=_autostart(tmp_path))
    qtbot.addWidget(dialog)
    dialog.minimized_box.setChecked(True)
    dialog.sound_boxes["info"].setChecked(True)
    dialog.sound_boxes["critical"].setChecked(False)
    dialog.quiet_box.setChecked(True)
    dialog.quiet_start.setTime(QTime(21, 30))
    dialog.quiet_end.setTime(QTime(6, 45))
    dialog.busy_box.setChecked(True)
    dialog.retention.setValue(7)
    with qtbot.waitSignal(dialog.saved, timeout=2000):
        assert await dialog.apply()
    config = saver.saved[-1]
    assert config.start_minimized
    assert config.notifications.sound_by_severity == {
        "info": True,
        "warning": False,
        "critical": False,
    }
    assert config.notifications.quiet_hours == QuietHours("21:30", "06:45")
    assert config.notifications.mute_when_busy
    assert config.journal_retention_days == 7
    assert config.profile == start.profile  # untouched
    assert start.journal_retention_days == 30  # the original is not modified
    assert load_config(saver.path).config == config
    assert dialog.result() == SettingsDialog.DialogCode.Accepted


async def test_disabling_notifications_greys_out_their_options(
    qtbot: QtBot, tmp_path: Path
) -> None:
    dialog = SettingsDialog(AppConfig(), save=Saver(tmp_path / "c.json"))
    qtbot.addWidget(dialog)
    dialog.notify_box.setChecked(False)
    assert not dialog.busy_box.isEnabled() and not dialog.sound_boxes["critical"].isEnabled()
    assert dialog.edited_config().notifications.enabled is False


async def test_a_failed_save_is_said_and_the_dialog_stays(qtbot: QtBot, tmp_path: Path) -> None:
    async def failing(_config: AppConfig) -> None:
        raise OSError("disk full")

    dialog = SettingsDialog(AppConfig(), save=failing, autostart=_autostart(tmp_path))
    qtbot.addWidget(dialog)
    dialog.show()
    assert not await dialog.apply()
    assert "could not be saved" in dialog.status.text() and "disk full" in dialog.status.text()
    assert dialog.isVisible()


async def test_start_at_login_writes_the_xdg_autostart_entry(qtbot: QtBot, tmp_path: Path) -> None:
    autostart = _autostart(tmp_path)
    entry = tmp_path / "xdg" / "autostart" / "genesys-tray.desktop"
    assert autostart.entry_path() == entry
    dialog = SettingsDialog(AppConfig(), save=Saver(tmp_path / "c.json"), autostart=autostart)
    qtbot.addWidget(dialog)
    assert not dialog.autostart_box.isChecked()
    dialog.autostart_box.setChecked(True)
    assert await dialog.apply()
    text = entry.read_text()
    assert "[Desktop Entry]" in text
    assert "genesys-tray --minimized" in text.split("Exec=", 1)[1].splitlines()[0]
    assert f"Icon={APP_ICON}" in text and APP_ICON.is_file()
    assert autostart.enabled()
    again = SettingsDialog(AppConfig(), save=Saver(tmp_path / "c.json"), autostart=autostart)
    qtbot.addWidget(again)
    assert again.autostart_box.isChecked()
    again.autostart_box.setChecked(False)
    assert await again.apply()
    assert not entry.exists() and not autostart.enabled()


def test_autostart_falls_back_to_dot_config_and_uses_the_installed_command(tmp_path: Path) -> None:
    autostart = Autostart(
        platform="linux",
        environ={"XDG_CONFIG_HOME": "relative/ignored", "HOME": str(tmp_path)},
        which=lambda _: "/opt/genesys tray/bin/genesys-tray",
    )
    assert autostart.entry_path() == tmp_path / ".config" / "autostart" / "genesys-tray.desktop"
    assert 'Exec="/opt/genesys tray/bin/genesys-tray" --minimized' in autostart.entry_text()


async def test_start_at_login_is_clearly_unavailable_elsewhere(
    qtbot: QtBot, tmp_path: Path
) -> None:
    autostart = _autostart(tmp_path, platform="sunos5")
    dialog = SettingsDialog(AppConfig(), save=Saver(tmp_path / "c.json"), autostart=autostart)
    qtbot.addWidget(dialog)
    assert not dialog.autostart_box.isEnabled()
    assert "not available" in dialog.autostart_note.text()
    assert await dialog.apply()
    assert not (tmp_path / "xdg").exists()


async def test_sign_out_awaits_the_injected_callable(qtbot: QtBot, tmp_path: Path) -> None:
    calls: list[str] = []

    async def sign_out() -> bool:
        await asyncio.sleep(0)
        calls.append("signed out")
        return True

    dialog = SettingsDialog(AppConfig(), save=Saver(tmp_path / "c.json"), sign_out=sign_out)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.signed_out, timeout=2000):
        dialog.sign_out_button.click()
        await dialog.settle()
    assert calls == ["signed out"]
    assert "Signed out" in dialog.status.text()


async def test_a_failed_sign_out_is_said(qtbot: QtBot, tmp_path: Path) -> None:
    async def sign_out() -> bool:
        raise RuntimeError("the keyring is locked")

    dialog = SettingsDialog(AppConfig(), save=Saver(tmp_path / "c.json"), sign_out=sign_out)
    qtbot.addWidget(dialog)
    assert not await dialog.sign_out()
    assert "did not finish" in dialog.status.text() and dialog.sign_out_button.isEnabled()


def _every_file_text(paths: list[Path]) -> str:
    texts: list[str] = []
    for path in paths:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as bundle:
                texts.extend(bundle.read(name).decode() for name in bundle.namelist())
        else:
            texts.append(path.read_text())
    return "\n".join(texts)


async def test_no_file_the_settings_dialog_writes_holds_a_token_or_secret(
    qtbot: QtBot, tmp_path: Path
) -> None:
    # A log with secrets in it: through the app's own redacting handler, and raw lines as a
    # third-party library might have written them before the filter existed.
    log_file = tmp_path / "logs" / "genesys-tray.log"
    log_file.parent.mkdir()
    handler = logging.FileHandler(log_file, encoding="utf-8")
    install(handler)
    probe = logging.getLogger("tests.settings.probe")
    probe.addHandler(handler)
    probe.setLevel(logging.INFO)
    try:
        probe.info("sending Authorization: Bearer %s", FAKE_TOKEN)
        probe.info("token answer {'access_token': '%s'}", FAKE_TOKEN)
    finally:
        probe.removeHandler(handler)
        handler.close()
    with log_file.open("a", encoding="utf-8") as raw:
        raw.write(f"DEBUG httpx: headers [('authorization', 'Bearer {FAKE_TOKEN}')]\n")
        raw.write(
            f"DEBUG httpcore: body grant_type=client_credentials&client_secret={FAKE_SECRET}\n"
        )
        raw.write(
            f'DEBUG oauth: {{"access_token": "{FAKE_TOKEN}", "refresh_token": "{FAKE_REFRESH}"}}\n'
        )
        raw.write(f"DEBUG loopback: GET /callback?code={FAKE_TOKEN}&state={FAKE_SECRET}\n")
    rotated = log_file.with_name("genesys-tray.log.1")
    rotated.write_text(f"INFO old: token={FAKE_REFRESH}\n")

    timeline = ConnectionTimeline()
    timeline.on_token(TokenSet(FAKE_TOKEN, 2e9, FAKE_REFRESH, "pkce", 1.9e9))
    timeline.on_record(StateRecord(EngineState.LIVE, "live"))
    from datetime import UTC, datetime

    timeline.on_record(GapRecord("start", "close 1006", datetime.now(UTC)))
    config_file = tmp_path / "config" / "config.json"
    saver = Saver(config_file)
    start = AppConfig(profile=Profile("mypurecloud.de", "client-id-1", "client_credentials"))

    async def export(target: Path) -> Path:
        return await asyncio.to_thread(
            write_diagnostics,
            target,
            log_files=[log_file, rotated, log_file.with_name("genesys-tray.log.2")],
            timeline=timeline.to_json(),
            settings=config_to_json(saver.saved[-1] if saver.saved else start),
        )

    autostart = _autostart(tmp_path)
    zip_path = tmp_path / "out" / "diagnostics.zip"
    dialog = SettingsDialog(
        start,
        save=saver,
        export=export,
        autostart=autostart,
        choose_export_path=lambda _suggested: zip_path,
    )
    qtbot.addWidget(dialog)
    dialog.autostart_box.setChecked(True)
    assert await dialog.apply()
    with qtbot.waitSignal(dialog.exported, timeout=5000):
        dialog.export_button.click()
        await dialog.settle()
    assert "Diagnostics saved" in dialog.status.text()

    with zipfile.ZipFile(zip_path) as bundle:
        names = set(bundle.namelist())
        assert {"logs/genesys-tray.log", "logs/genesys-tray.log.1", "timeline.json"} <= names
        assert {"settings.json", "about.json"} <= names
        about = json.loads(bundle.read("about.json"))
        assert about["missing_logs"] == ["genesys-tray.log.2"]
        kinds = [entry["kind"] for entry in json.loads(bundle.read("timeline.json"))]
        assert kinds == ["token", "state", "gap"]
        settings = json.loads(bundle.read("settings.json"))
        assert settings["profile"]["client_id"] == "client-id-1"
        log_text = bundle.read("logs/genesys-tray.log").decode()
        assert log_text.count("[redacted]") >= 6  # every secret line is still there, masked

    written = [config_file, autostart.entry_path(), zip_path]
    everything = _every_file_text(written)
    for secret in (FAKE_TOKEN, FAKE_SECRET, FAKE_REFRESH):
        assert secret not in everything
    assert "client_secret" not in config_file.read_text()


async def test_the_app_opens_settings_from_the_tray_and_exports_its_own_diagnostics(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    """The wired app: real demo engine, its real token in the timeline, nothing on disk."""
    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=20.0
    )
    log_file = tmp_path / "genesys-tray.log"
    signed_in = engine.service.session.token
    assert signed_in is not None  # the demo engine is signed in once built
    token = signed_in.access_token
    log_file.write_text(f"DEBUG leaked: Authorization: Bearer {token}\n")
    autostart = _autostart(tmp_path)
    options = GuiOptions(
        settings=settings,
        config=AppConfig(),
        config_path=tmp_path / "config.json",
        timeline=engine.timeline,
        sign_out=engine.sign_out,
        log_files=[log_file],
        account=engine.account,
        autostart=autostart,
        watch_network=False,
    )
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    running = asyncio.ensure_future(app.run())
    try:
        await asyncio.wait_for(_until(lambda: app.service.state is EngineState.LIVE), 20)
        dialog = app.open_settings()
        assert "demo org" in dialog.account_label.text()
        dialog.retention.setValue(3)
        dialog.autostart_box.setChecked(True)
        assert await dialog.apply()
        assert app.alerts.config.journal_retention_days == 3
        zip_path = await app.export_diagnostics(tmp_path / "d.zip")
        with zipfile.ZipFile(zip_path) as bundle:
            timeline = json.loads(bundle.read("timeline.json"))
        assert any(e["kind"] == "token" for e in timeline)
        assert any(e["kind"] == "state" and e["state"] == "live" for e in timeline)
        everything = _every_file_text([tmp_path / "config.json", autostart.entry_path(), zip_path])
        assert token not in everything
        dialog = app.open_settings()
        await dialog.sign_out()  # revokes, and the app stops
        assert await asyncio.wait_for(running, 10) == 0
    finally:
        app.stop_requested.set()
        await asyncio.wait_for(running, 10)
        await engine.aclose()


async def _until(condition: object) -> None:
    assert callable(condition)
    while not condition():  # noqa: ASYNC110 - the state changes on the engine's own schedule
        await asyncio.sleep(0.05)
