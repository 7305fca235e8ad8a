"""The diagnostics bundle a person attaches to a support ticket.

One zip: the app's log files with every line passed through :func:`core.app.redact.redact`, the
connection timeline (:mod:`core.engine.timeline`) and the settings (which hold no secret; they are
redacted all the same), plus a short ``about.json``. Blocking: call it from a thread.

The zip is the person's own (0600): it is built in a temporary file in the target's folder and
moved into place, so a failure leaves any older bundle whole, and a symlink at the target is
refused rather than followed (it could point at any file the person owns).
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import zipfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from core.app.redact import redact
from core.domain.files import atomic_private_file
from core.errors import GenesysTrayError

logger = logging.getLogger(__name__)

MAX_LOG_BYTES: Final = 20 * 1024 * 1024  # per file: the newest part of a huge log is enough
TIMELINE_NAME: Final = "timeline.json"
SETTINGS_NAME: Final = "settings.json"
ABOUT_NAME: Final = "about.json"


class DiagnosticsError(GenesysTrayError):
    """The diagnostics bundle could not be written."""


def redact_lines(text: str) -> str:
    """``text`` with :func:`core.app.redact.redact` applied to every line."""
    return "".join(redact(line) for line in text.splitlines(keepends=True))


def _read_tail(path: Path) -> str:
    with path.open("rb") as handle:
        size = path.stat().st_size
        if size > MAX_LOG_BYTES:
            handle.seek(size - MAX_LOG_BYTES)
            handle.readline()  # start at a whole line
        return handle.read().decode("utf-8", errors="replace")


def write_diagnostics(
    target: Path,
    *,
    log_files: Sequence[Path],
    timeline: Iterable[dict[str, Any]],
    settings: dict[str, Any],
    about: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Path:
    """Write the bundle to ``target`` (a .zip) and return it.

    Args:
        target: the zip file to write (replaced if it exists).
        log_files: log files to include; missing ones are listed in ``about.json``.
        timeline: the connection timeline's JSON entries, oldest first.
        settings: the settings document (``core.storage.settings.codec.config_to_json``).
        about: anything else worth knowing (version, environment name); redacted too.
        now: when the bundle was made (tests).

    Raises:
        DiagnosticsError: the zip could not be written.
    """
    made = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    info: dict[str, Any] = {
        "made": made,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        **(about or {}),
    }
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            raise DiagnosticsError(
                f"The diagnostics could not be saved to {target}: it is a link to another file."
                " Choose another name."
            )
        with atomic_private_file(target) as raw:
            _write_bundle(raw, log_files, timeline, settings, info)
    except OSError as exc:
        raise _save_error(target, exc) from exc
    logger.info("diagnostics written to %s", target)
    return target


def _save_error(target: Path, exc: OSError) -> DiagnosticsError:
    return DiagnosticsError(
        f"The diagnostics could not be saved to {target} ({exc.strerror or exc})."
    )


def _write_bundle(
    raw: IO[bytes],
    log_files: Sequence[Path],
    timeline: Iterable[dict[str, Any]],
    settings: dict[str, Any],
    info: dict[str, Any],
) -> None:
    """Write the zip's members to ``raw``: logs, timeline, settings, about (all redacted)."""
    missing: list[str] = []
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        used: set[str] = set()
        for path in log_files:
            try:
                text = _read_tail(path)
            except OSError:
                missing.append(path.name)
                continue
            name = f"logs/{path.name}"
            while name in used:
                name = f"logs/_{name.removeprefix('logs/')}"
            used.add(name)
            bundle.writestr(name, redact_lines(text))
        info["missing_logs"] = missing
        timeline_text = json.dumps(list(timeline), indent=1, ensure_ascii=False)
        bundle.writestr(TIMELINE_NAME, redact_lines(timeline_text) + "\n")
        settings_text = json.dumps(settings, indent=2, ensure_ascii=False)
        bundle.writestr(SETTINGS_NAME, redact_lines(settings_text) + "\n")
        about_text = json.dumps(info, indent=2, ensure_ascii=False)
        bundle.writestr(ABOUT_NAME, redact_lines(about_text) + "\n")
