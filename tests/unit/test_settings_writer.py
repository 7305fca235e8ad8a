"""The one settings writer: back-to-back saves end with the last one on disk, never an older one.

Real files in a temporary folder; the save function is the real one, wrapped so the first write
waits on a gate the test opens (a slow disk, a slow network home folder).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from core.storage.settings.file import ConfigError, load_config, save_config
from core.storage.settings.model import AppConfig
from core.storage.settings.writer import SettingsWriter


class GatedSave:
    """The real save; the first call waits for the gate. Records what it wrote and overlaps."""

    def __init__(self, fail_first: BaseException | None = None) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.written: list[AppConfig] = []
        self.fail_first = fail_first
        self._busy = 0
        self.overlapped = False
        self._lock = threading.Lock()

    def __call__(self, path: Path, config: AppConfig) -> None:
        with self._lock:
            self._busy += 1
            self.overlapped |= self._busy > 1
            first = not self.started.is_set()
            self.started.set()
        try:
            if first:
                assert self.gate.wait(30), "the test never opened the gate"
                if self.fail_first is not None:
                    raise self.fail_first
            save_config(path, config)
            self.written.append(config)
        finally:
            with self._lock:
                self._busy -= 1


async def test_back_to_back_writes_end_with_the_last_one_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    save = GatedSave()
    writer = SettingsWriter(path, save=save)
    first = writer.submit(AppConfig(theme="light"))
    await asyncio.to_thread(save.started.wait, 30)  # the first write is on the disk, held
    second = writer.submit(AppConfig(theme="dark", start_minimized=True))
    third = writer.submit(AppConfig(theme="dark", snooze_until=123.0))
    save.gate.set()
    await asyncio.gather(first, second, third)
    await writer.drain()
    assert load_config(path).config == AppConfig(theme="dark", snooze_until=123.0)
    assert [c.theme for c in save.written] == ["light", "dark"]  # the second was superseded
    assert save.written[-1].snooze_until == 123.0
    assert not save.overlapped  # one write at a time


async def test_a_snapshot_is_taken_when_it_is_submitted(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    save = GatedSave()
    writer = SettingsWriter(path, save=save)
    writer.submit(AppConfig())
    await asyncio.to_thread(save.started.wait, 30)
    config = AppConfig(feed_kinds=["presence"])
    done = writer.submit(config)
    config.feed_kinds.append("routing")  # edited in place after the save was asked for
    config.notifications.sound_by_severity["info"] = True
    save.gate.set()
    await done
    on_disk = load_config(path).config
    assert on_disk.feed_kinds == ["presence"]
    assert on_disk.notifications.sound_by_severity["info"] is False


@pytest.mark.parametrize(
    "failure",
    [ConfigError("The settings could not be saved (disk full)."), RuntimeError("a bug")],
)
async def test_a_failed_write_is_reported_and_the_next_one_lands(
    tmp_path: Path, failure: BaseException
) -> None:
    path = tmp_path / "config.json"
    save = GatedSave(fail_first=failure)
    writer = SettingsWriter(path, save=save)
    failed = writer.submit(AppConfig(theme="light"))
    save.gate.set()
    with pytest.raises(ConfigError, match="could not be saved"):
        await failed
    await writer.submit(AppConfig(theme="dark"))
    assert load_config(path).config.theme == "dark"


async def test_without_a_file_nothing_is_written() -> None:
    save = GatedSave()
    writer = SettingsWriter(None, save=save)
    await writer.submit(AppConfig(theme="dark"))
    await writer.drain()
    assert not save.started.is_set()
