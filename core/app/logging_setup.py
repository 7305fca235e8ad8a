"""Logging for the app and ``listen``: stderr, a private rotating file, and the redaction backstop.

The GUI's log file feeds "Export diagnostics", so it lives where the person's other per-user logs
live and only they can read it. Third-party HTTP loggers stay at WARNING (their lines carry URLs).
"""

from __future__ import annotations

import logging
import os
import sys
from io import TextIOWrapper
from logging.handlers import RotatingFileHandler
from pathlib import Path

from core.app.redact import install
from core.domain.files import private_folder

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE_NAME = "genesys-tray.log"
LOG_FILE_BYTES = 1_000_000
LOG_FILE_BACKUPS = 3
NOISY_LOGGERS = ("httpx", "httpcore", "websockets", "aiohttp.access")


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


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating handler that opens every file (the rotated ones included) user-only, 0600.

    The stock handler opens each new file with the process umask (0644 on most desktops), so the
    mode is set at ``open`` time rather than fixed up afterwards.
    """

    def _open(self) -> TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if hasattr(os, "fchmod"):  # Windows has none before Python 3.13 (the ACL decides there)
            os.fchmod(fd, 0o600)  # a file left by an older version keeps its old mode otherwise
        return open(fd, "a", encoding=self.encoding, errors=self.errors)  # O_APPEND: always "a"


def private_log_handler(
    log_file: Path, *, max_bytes: int = LOG_FILE_BYTES, backups: int = LOG_FILE_BACKUPS
) -> logging.Handler:
    """A rotating log handler whose files are user-only (0600).

    The lines are redacted, but still about the person's org: theirs only.
    """
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
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if log_file is not None:
        try:
            private_folder(log_file.parent)
            handler = private_log_handler(log_file)
        except OSError as exc:
            logger.warning("no log file at %s (%s)", log_file, exc.strerror or exc)
        else:
            handler.setFormatter(logging.Formatter(LOG_FORMAT))
            logging.getLogger().addHandler(handler)
    install()  # the backstop: no token, code or secret reaches a log line
