"""Older settings files, brought up to this version one step at a time.

Each step turns a version N document into version N + 1 and never drops anything it cannot
read: that stays for the codec to name (and the file layer to keep aside).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

from core.storage.settings.codec import WrongShapeError, read_profile
from core.storage.settings.model import CONFIG_VERSION, Profile, org_key


def _migrate_v0(data: dict[str, Any]) -> dict[str, Any]:
    """v0 → v1: v0 wrote thresholds as text (``"3"``); v1 writes numbers.

    A threshold that is not a number stays as it was, so the rule is skipped (and kept) rather
    than silently changed.
    """
    out = dict(data)
    rules = out.get("rules")
    if isinstance(rules, list):
        migrated: list[Any] = []
        for raw in rules:
            rule = raw
            if isinstance(raw, dict) and isinstance(raw.get("threshold"), str):
                text = raw["threshold"].strip()
                try:
                    number = float(text) if text else None
                except ValueError:
                    number = None
                if number is not None and math.isfinite(number):
                    rule = {**raw, "threshold": int(number) if number.is_integer() else number}
                elif not text:
                    rule = {**raw, "threshold": None}
            migrated.append(rule)
        out["rules"] = migrated
    out["version"] = 1
    return out


def _migrate_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v1 → v2: v1 had one ``watch`` per file; v2 keeps one per org (``watches``).

    The watch was chosen in the org the file's ``profile`` names (the one signed in to), so it
    moves under that org's key (:func:`org_key`; ``""`` when the profile is missing or
    unreadable, as the repair then makes it None). An unreadable watch moves as it is: the
    codec names it and the file layer keeps the original file aside.
    """
    out = dict(data)
    watch = out.pop("watch", None)
    if watch is not None:
        profile = read_profile(out.get("profile"))
        key = org_key(profile if isinstance(profile, Profile) else None)
        watches = out.get("watches")
        out["watches"] = {**watches, key: watch} if isinstance(watches, dict) else {key: watch}
    out["version"] = 2
    return out


# version N → the function that turns a version N document into version N + 1
MIGRATIONS: Final[Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    0: _migrate_v0,
    1: _migrate_v1,
}


def migrate(data: Any) -> dict[str, Any]:
    """A decoded document brought up to :data:`CONFIG_VERSION`.

    Raises:
        WrongShapeError: it is not a settings object, its version is unreadable, or it was
            written by a newer version of the app (which this one must not overwrite).
    """
    if not isinstance(data, dict):
        raise WrongShapeError("does not hold this app's settings")
    document: dict[str, Any] = data
    version = document.get("version", 0)  # the first files had no version
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise WrongShapeError("does not hold this app's settings (its version is unreadable)")
    if version > CONFIG_VERSION:
        raise WrongShapeError(f"was written by a newer version of this app (format {version})")
    while version < CONFIG_VERSION:
        document = MIGRATIONS[version](document)
        version += 1
    return document
