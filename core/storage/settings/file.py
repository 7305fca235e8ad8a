"""The settings file: where it lives, reading it without ever failing, writing it safely.

One JSON document in the user's config dir (:func:`config_path`), with a ``version``. Loading
never fails and never loses anything silently:

* no file: defaults (the demo org's two example rules when ``demo``);
* not JSON, not a settings object, or written by a *newer* version of the app: the file is kept
  aside as ``config.json.broken-YYYYmmdd-HHMMSS`` (never deleted), defaults are used, and
  :attr:`LoadResult.problem` says so in words for the person;
* an *older* version: migrated step by step (core.storage.settings.migrations);
* what to watch is kept per org (:attr:`AppConfig.watches`): queue and user ids of one org mean
  nothing, or the wrong rows, in another;
* a rule that cannot be read: skipped, named in the problem, and kept raw in
  :attr:`AppConfig.skipped`, which :func:`save_config` writes back, so the next save does not
  destroy it;
* a setting that cannot be read (a quiet-hours time like ``"25:00"``): its default is used, the
  original file is kept aside as above and the repaired one is written in its place;
* unknown top-level keys are kept in :attr:`AppConfig.extra` and written back.

The file holds no secrets and must never hold any: tokens live in the OS keyring
(core.auth.session).
Saving is atomic (a temporary file renamed over the old one) and the file is private (0600).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import platformdirs

from core.domain.files import atomic_private_file, private_folder
from core.errors import GenesysTrayError
from core.storage.settings.codec import (
    ParsedConfig,
    WrongShapeError,
    config_from_json,
    config_to_json,
)
from core.storage.settings.migrations import migrate
from core.storage.settings.model import AppConfig, LoadResult, default_config

logger = logging.getLogger(__name__)

APP_DIR_NAME: Final = "genesys-tray"
CONFIG_FILE_NAME: Final = "config.json"


class ConfigError(GenesysTrayError):
    """The settings file could not be written."""


def config_path() -> Path:
    """Where the settings file lives: ``<user config dir>/genesys-tray/config.json``."""
    return Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False)) / CONFIG_FILE_NAME


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _keep_aside(path: Path, now: datetime) -> Path:
    """Rename ``path`` to ``<name>.broken-YYYYmmdd-HHMMSS[-n]`` beside it; never overwrites."""
    base = f"{path.name}.broken-{now.astimezone().strftime('%Y%m%d-%H%M%S')}"
    number = 1
    while True:
        aside = path.with_name(base if number == 1 else f"{base}-{number}")
        if not aside.exists():
            break
        number += 1
    path.rename(aside)
    return aside


def load_config(
    path: Path, *, demo: bool = False, now: Callable[[], datetime] = _utc_now
) -> LoadResult:
    """Read the settings file. Never raises; anything odd is in :attr:`LoadResult.problem`.

    Args:
        path: The file (usually :func:`config_path`).
        demo: Defaults for the demo org (its two example rules) when the file is new or unusable.
        now: The wall clock, for the names of kept-aside files.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return LoadResult(default_config(demo=demo))
    except OSError as exc:
        problem = (
            f"The settings file {path} could not be read ({exc.strerror or exc}); "
            "default settings are used for now."
        )
        logger.warning("%s", problem)
        return LoadResult(default_config(demo=demo), problem)

    reason: str
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        reason = "is damaged (it is not valid JSON)"
    else:
        try:
            parsed = config_from_json(migrate(data), demo=demo)
        except WrongShapeError as exc:
            reason = str(exc)
        except RecursionError:  # absurdly deep nesting inside a rule or an unknown key
            reason = "is damaged (it is nested too deeply)"
        else:
            return _finish(path, parsed, now)

    try:
        aside = _keep_aside(path, now())
    except OSError as exc:
        problem = (
            f"The settings file {path} {reason}. It could not be moved aside "
            f"({exc.strerror or exc}); default settings are used for now."
        )
        logger.warning("%s", problem)
        return LoadResult(default_config(demo=demo), problem)
    problem = (
        f"The settings file {path} {reason}. It was kept as {aside.name} and default settings "
        "are used; your rules are in that file."
    )
    logger.warning("%s", problem)
    return LoadResult(default_config(demo=demo), problem, aside)


def _finish(path: Path, parsed: ParsedConfig, now: Callable[[], datetime]) -> LoadResult:
    """Report skipped rules; keep the original aside and write the repair for bad settings."""
    problems: list[str] = []
    aside: Path | None = None
    if parsed.skipped:
        count = len(parsed.skipped)
        problems.append(
            f"{count} alert rule{'s' if count > 1 else ''} in {path} could not be read and "
            f"{'are' if count > 1 else 'is'} not used: {', '.join(parsed.skipped)}. "
            f"{'They stay' if count > 1 else 'It stays'} in the file, so nothing is lost."
        )
    if parsed.repaired:
        names = ", ".join(dict.fromkeys(parsed.repaired))
        try:
            aside = _keep_aside(path, now())
            save_config(path, parsed.config)
        except (OSError, ConfigError) as exc:
            where = f" (the original was kept as {aside.name})" if aside else ""
            problems.append(
                f"Some settings in {path} could not be read ({names}); their defaults are "
                f"used, but the repaired file could not be written{where}: {exc}"
            )
        else:
            problems.append(
                f"Some settings in {path} could not be read ({names}); their defaults are "
                f"used. The original file was kept as {aside.name}."
            )
    problem = " ".join(problems) or None
    if problem:
        logger.warning("%s", problem)
    return LoadResult(parsed.config, problem, aside)


def save_config(path: Path, config: AppConfig) -> None:
    """Write the settings atomically (temporary file + rename), readable by the owner only.

    Raises:
        ConfigError: the file could not be written.
    """
    text = json.dumps(config_to_json(config), indent=2, ensure_ascii=False) + "\n"
    try:
        private_folder(path.parent)
        with atomic_private_file(path) as out:
            out.write(text.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"The settings could not be saved to {path} ({exc.strerror or exc})."
        ) from exc
