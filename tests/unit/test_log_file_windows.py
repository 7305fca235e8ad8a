"""The log file opens where ``os`` has no ``fchmod`` (Windows before Python 3.13).

Windows cannot run here; what differs for this code is only that ``os.fchmod`` is missing there,
so the test takes it away and starts the handler the way the GUI does at launch.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from core.app.logging_setup import private_log_handler


def test_the_log_file_opens_and_rotates_without_fchmod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "fchmod")
    log_file = tmp_path / "genesys-tray.log"
    handler = private_log_handler(log_file, max_bytes=200, backups=1)
    record = logging.LogRecord("core.test", logging.INFO, __file__, 1, "x" * 120, None, None)
    try:
        for _ in range(4):  # past one rotation: every reopen goes through the same path
            handler.emit(record)
    finally:
        handler.close()
    assert "x" * 120 in log_file.read_text(encoding="utf-8")
    assert log_file.with_name("genesys-tray.log.1").exists()
