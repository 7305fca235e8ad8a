"""Folders of the app are the user's alone, also when they already existed with looser modes."""

from __future__ import annotations

import logging
import os
import stat
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.app.logging_setup import setup_logging
from core.domain.files import private_folder
from core.storage.journal.recovery import StorageOpener
from core.storage.settings.file import save_config
from core.storage.settings.model import AppConfig

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix folder modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_folder_is_created_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "genesys-tray" / "log"
    assert private_folder(folder) is True
    assert _mode(folder) == 0o700


def test_an_existing_loose_app_folder_is_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "genesys-tray" / "log"
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    assert private_folder(folder) is True
    assert _mode(folder) == 0o700


def test_a_folder_that_is_not_the_apps_own_keeps_its_mode(tmp_path: Path) -> None:
    """A log file put in the home folder must not lock the home folder down."""
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    assert private_folder(home) is False
    assert _mode(home) == 0o755
    assert private_folder(home, ours=True) is True
    assert _mode(home) == 0o700


def test_a_symlink_or_a_foreign_folder_is_not_private(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    link = tmp_path / "genesys-tray"
    link.symlink_to(real)
    assert private_folder(link) is False
    if os.getuid() == 0:  # only root can hand a folder to another user
        foreign = tmp_path / "genesys-tray-foreign"
        foreign.mkdir(mode=0o700)
        os.chown(foreign, 65534, 65534)
        assert private_folder(foreign, ours=True) is False


def test_the_apps_folders_are_tightened_where_they_are_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Log, journal and settings folders that exist 0755 from an older version end up 0700."""
    base = tmp_path / "genesys-tray"
    folders = [base / "log", base / "data", base / "config"]
    for folder in folders:
        folder.mkdir(parents=True)
        folder.chmod(0o755)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        setup_logging(False, log_file=folders[0] / "genesys-tray.log")
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
    opened = StorageOpener(
        folders[1] / "journal.sqlite3",
        busy_timeout_s=1.0,
        want_full_text=False,
        clock=lambda: datetime.now(UTC),
    ).open()
    assert not opened.in_memory
    opened.conn.close()
    save_config(folders[2] / "config.json", AppConfig())
    assert [_mode(folder) for folder in folders] == [0o700, 0o700, 0o700]
