"""The app's log file and every rotated copy of it are user-only (0600)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from core.app.logging_setup import log_files, private_log_handler


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_log_file_and_rotated_copies_are_user_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # a usual desktop umask: the stock handler would write 0644
    try:
        log_file = tmp_path / "logs" / "genesys-tray.log"
        log_file.parent.mkdir(mode=0o700)
        handler = private_log_handler(log_file, max_bytes=400, backups=2)
        record = logging.LogRecord("core.test", logging.INFO, __file__, 1, "x" * 120, None, None)
        try:
            for _ in range(12):  # well past two rotations
                handler.emit(record)
        finally:
            handler.close()
    finally:
        os.umask(old_umask)
    files = log_files(log_file)[:3]
    assert all(path.exists() for path in files), files
    assert {path.name: _mode(path) for path in files} == {path.name: 0o600 for path in files}


def test_an_old_world_readable_log_file_is_made_private(tmp_path: Path) -> None:
    log_file = tmp_path / "genesys-tray.log"
    log_file.write_text("from an older version\n", encoding="utf-8")
    log_file.chmod(0o644)
    handler = private_log_handler(log_file)
    try:
        assert _mode(log_file) == 0o600
    finally:
        handler.close()
    assert log_file.read_text(encoding="utf-8").startswith("from an older version")
