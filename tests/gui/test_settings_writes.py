"""Every part of the app that saves the settings goes through one writer: the last change wins.

The snooze, Filters & alerts and the Settings dialog used to write side by side; with a slow
first write (a held disk), that older snapshot landed last and undid the newer ones. Driven on
the wired app over the demo engine, with real files.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.alerts.presets import demo_rules
from core.storage.settings.file import load_config, save_config
from core.storage.settings.model import AppConfig


class HeldFirstSave:
    """The real save; the first call waits until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.calls = 0
        self.finished = 0

    def __call__(self, path: Path, config: AppConfig) -> None:
        self.calls += 1
        if not self.started.is_set():
            self.started.set()
            assert self.gate.wait(30), "the test never opened the gate"
        save_config(path, config)
        self.finished += 1


async def test_back_to_back_saves_from_every_writer_end_with_the_last(
    qtbot: QtBot, settings: QSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    save = HeldFirstSave()
    monkeypatch.setattr("core.storage.settings.writer.save_config", save)
    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=20.0
    )
    config_file = tmp_path / "config.json"
    options = GuiOptions(
        settings=settings, config=AppConfig(), config_path=config_file, watch_network=False
    )
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    running = asyncio.ensure_future(app.run())
    try:
        held = app.alerts.config
        app.alerts.snooze_for(3600)  # the tray's snooze: its write is held on the disk
        assert held.snooze_until is None  # a copy someone holds is not changed behind its back
        await asyncio.to_thread(save.started.wait, 30)
        rules = demo_rules(())
        app.alerts.apply(rules, ["presence"])  # Filters & alerts: saved while the snooze waits
        edited = AppConfig(journal_retention_days=3, start_minimized=True)
        settings_saved = asyncio.ensure_future(app.save_settings(edited))  # Settings → Save
        while app.alerts.config.journal_retention_days != 3:  # noqa: ASYNC110 - one loop turn
            await asyncio.sleep(0)  # the dialog's save is asked for (in the same step)
        save.gate.set()
        await settings_saved
        await app.alerts.flush()
        on_disk = load_config(config_file).config
        assert on_disk.snooze_until == app.alerts.config.snooze_until is not None
        assert [r.id for r in on_disk.rules] == [r.id for r in rules]
        assert on_disk.feed_kinds == ["presence"]
        assert on_disk.journal_retention_days == 3 and on_disk.start_minimized
        assert on_disk == app.alerts.config
        assert save.calls == 2  # the two saves asked for meanwhile were written as one
    finally:
        save.gate.set()
        app.stop_requested.set()
        assert await asyncio.wait_for(running, 10) == 0
        await engine.aclose()


async def test_a_failed_save_is_shown_and_the_next_one_lands(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=20.0
    )
    folder = tmp_path / "settings"
    folder.write_text("a file where the settings folder should be")  # the write fails
    config_file = folder / "config.json"
    options = GuiOptions(
        settings=settings, config=AppConfig(), config_path=config_file, watch_network=False
    )
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    problems: list[str] = []
    app.alerts.config_problem.connect(problems.append)
    running = asyncio.ensure_future(app.run())
    try:
        app.alerts.snooze_for(3600)
        await app.alerts.flush()
        assert problems and "could not be saved" in problems[0]
        folder.unlink()  # the person fixed it
        app.alerts.apply(demo_rules(()), ["presence"])
        await app.alerts.flush()
        on_disk = load_config(config_file).config
        assert on_disk.feed_kinds == ["presence"] and on_disk.snooze_until is not None
    finally:
        app.stop_requested.set()
        assert await asyncio.wait_for(running, 10) == 0
        await engine.aclose()
