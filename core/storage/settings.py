"""The settings file: alert rules, feed filters, notification and quiet settings.

One JSON document in the user's config dir (:func:`config_path`), with a ``version``. Loading
never fails and never loses anything silently:

* no file: defaults (the demo org's two example rules when ``demo``);
* not JSON, not a settings object, or written by a *newer* version of the app: the file is kept
  aside as ``config.json.broken-YYYYmmdd-HHMMSS`` (never deleted), defaults are used, and
  :attr:`LoadResult.problem` says so in words for the person;
* an *older* version: migrated step by step (:data:`MIGRATIONS`);
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

import contextlib
import copy
import dataclasses
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, Final

import platformdirs

from core.alerts.rules import (
    ACTIONS,
    DEFAULT_COOLDOWN_S,
    DEFAULT_HYSTERESIS,
    Condition,
    Rule,
    Severity,
    demo_rules,
    finite_number,
    validate_rule,
)
from core.domain.media_names import ALL_MEDIA, rule_media
from core.errors import GenesysTrayError

logger = logging.getLogger(__name__)

APP_DIR_NAME: Final = "genesys-tray"
CONFIG_FILE_NAME: Final = "config.json"
CONFIG_VERSION: Final = 2
# The feed's event kinds (core.feed.builder.KINDS; not imported, core.feed.builder pulls in the
# whole service).
FEED_KINDS: Final = (
    "presence",
    "routing",
    "queue",
    "membership",
    "connection",
    "gap",
    "budget",
    "alert",
)
DEFAULT_COALESCE_WINDOW_S: Final = 5.0
DEFAULT_RETENTION_DAYS: Final = 30
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_CONDITIONS: Final = frozenset(c.value for c in Condition)
_SEVERITIES: Final = frozenset(s.value for s in Severity)


class ConfigError(GenesysTrayError):
    """The settings file could not be written."""


# ------------------------------------------------------------------------------------ values
@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily stretch of local time without notifications ("22:00" to "07:00" wraps midnight)."""

    start: str = "22:00"
    end: str = "07:00"

    def contains(self, moment: time) -> bool:
        """Whether a local time of day falls inside; start == end is an empty window."""
        start, end = parse_hhmm(self.start), parse_hhmm(self.end)
        if start is None or end is None or start == end:
            return False
        now = moment.replace(second=0, microsecond=0, tzinfo=None)
        if start < end:
            return start <= now < end
        return now >= start or now < end


@dataclass(slots=True)
class NotificationSettings:
    """How alerts reach the desktop."""

    enabled: bool = True
    sound_by_severity: dict[str, bool] = field(
        default_factory=lambda: {"info": False, "warning": False, "critical": True}
    )
    coalesce_window_s: float = DEFAULT_COALESCE_WINDOW_S
    mute_when_busy: bool = False
    quiet_hours: QuietHours | None = None

    def sound_for(self, severity: str) -> bool:
        """Whether alerts of this severity play a sound."""
        return self.sound_by_severity.get(str(severity), False)


WATCH_QUEUE_KEYWORDS: Final = ("mine", "all", "none")
WATCH_USER_KEYWORDS: Final = ("members", "all", "none")


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """What to watch, as the person chose it (core.engine.service.Selection's shape, without
    importing
    the service here).

    Attributes:
        queues: ``"mine"``, ``"all"``, ``"none"``, a name pattern with ``*`` or queue ids.
        users: ``"members"`` (of the watched queues), ``"all"``, ``"none"`` or user ids.
    """

    queues: str | tuple[str, ...] = "mine"
    users: str | tuple[str, ...] = "members"


PROFILE_GRANTS: Final = ("pkce", "client_credentials")
THEMES: Final = ("system", "light", "dark")  # "system": follow the desktop's colour scheme


@dataclass(frozen=True, slots=True)
class Profile:
    """Which org to sign in to and how: no secret ever (a client secret lives in the keyring).

    Attributes:
        environment: A region key or domain (``eu_central_1``, ``mypurecloud.de``) or a base URL.
        client_id: The OAuth client id (not a secret).
        grant: ``"pkce"`` (a person in a browser) or ``"client_credentials"``.
    """

    environment: str
    client_id: str
    grant: str = "pkce"


def org_key(profile: Profile | None) -> str:
    """The key of an org's own settings in :attr:`AppConfig.watches`: environment and client.

    ``""`` without a profile: the org of a file that names none (the demo org's own file, or
    an org given by environment variables only).
    """
    return "" if profile is None else f"{profile.environment} {profile.client_id}"


@dataclass(slots=True)
class AppConfig:
    """Everything the settings file holds.

    Attributes:
        watches: What to watch, per org (:func:`org_key`); see :attr:`watch`.
        skipped: Rules from the file that could not be read, exactly as they were; written
            back on save so a fix in a text editor (or a newer app) can still use them.
        extra: Top-level keys this version does not know, written back unchanged.
    """

    version: int = CONFIG_VERSION
    rules: list[Rule] = field(default_factory=list)
    feed_kinds: list[str] = field(default_factory=lambda: list(FEED_KINDS))
    feed_subjects: list[str] = field(default_factory=list)  # empty: everyone and every queue
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    snooze_until: float | None = None  # epoch seconds
    journal_retention_days: int = DEFAULT_RETENTION_DAYS
    start_minimized: bool = False
    profile: Profile | None = None
    watches: dict[str, WatchSettings] = field(default_factory=dict)
    demo_chosen: bool = False  # the welcome dialog's "Try the demo org": start there next time
    profiles: list[Profile] = field(default_factory=list)  # every org signed in to (the tray)
    theme: str = "system"
    skipped: list[Any] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def snoozed(self, now_epoch: float) -> bool:
        """Whether notifications are snoozed at this moment."""
        return self.snooze_until is not None and now_epoch < self.snooze_until

    @property
    def watch(self) -> WatchSettings | None:
        """What to watch in the org of :attr:`profile`; None: the default (my queues and their
        members)."""
        return self.watches.get(org_key(self.profile))

    def with_watch(self, watch: WatchSettings | None) -> AppConfig:
        """A copy watching ``watch`` in the org of :attr:`profile`; other orgs' choices kept."""
        watches = {k: v for k, v in self.watches.items() if k != org_key(self.profile)}
        if watch is not None:
            watches[org_key(self.profile)] = watch
        return dataclasses.replace(self, watches=watches)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """The settings to use, and what the person should be told about the file (if anything)."""

    config: AppConfig
    problem: str | None = None
    kept_aside: Path | None = None


def default_config(*, demo: bool = False) -> AppConfig:
    """Fresh settings; the demo org's come with its two example rules enabled."""
    return AppConfig(rules=demo_rules(()) if demo else [])


def config_path() -> Path:
    """Where the settings file lives: ``<user config dir>/genesys-tray/config.json``."""
    return Path(platformdirs.user_config_dir(APP_DIR_NAME, appauthor=False)) / CONFIG_FILE_NAME


def parse_hhmm(text: Any) -> time | None:
    """``"07:30"`` → ``time(7, 30)``; None for anything else."""
    if not isinstance(text, str):
        return None
    match = _TIME.fullmatch(text.strip())
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    return time(hour, minute) if hour < 24 and minute < 60 else None


# ------------------------------------------------------------------------------- rules ↔ JSON


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def rule_to_json(rule: Rule) -> dict[str, Any]:
    """A rule as the settings file stores it."""
    return {
        "id": rule.id,
        "name": rule.name,
        "enabled": rule.enabled,
        "condition": str(rule.condition),
        "subjects": list(rule.subjects),
        "threshold": rule.threshold,
        "presence": rule.presence,
        "for_s": rule.for_s,
        "cooldown_s": rule.cooldown_s,
        "severity": str(rule.severity),
        "actions": list(rule.actions),
        "hysteresis": rule.hysteresis,
        "media": rule.media,
    }


def rule_from_json(raw: Any) -> tuple[Rule | None, list[str]]:
    """Read one rule; ``(None, reasons)`` when it cannot be used. Never raises."""
    if not isinstance(raw, dict):
        return None, ["it is not a rule"]
    reasons: list[str] = []
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id.strip():
        reasons.append("it has no id")
    name = raw.get("name", "")
    if not isinstance(name, str):
        reasons.append("its name is not text")
    condition_text = raw.get("condition")
    condition = (
        Condition(condition_text)
        if isinstance(condition_text, str) and condition_text in _CONDITIONS
        else None
    )
    if condition is None:
        reasons.append(f"it watches something this version does not know ({condition_text!r})")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        reasons.append("'enabled' is not true or false")
    subjects = _strings(raw.get("subjects", []))
    if subjects is None:
        reasons.append("its subjects are not a list of ids")
    threshold_raw = raw.get("threshold")
    threshold = finite_number(threshold_raw)
    if threshold_raw is not None and threshold is None:
        reasons.append("its threshold is not a number")
    presence = raw.get("presence")
    if presence is not None and not isinstance(presence, str):
        reasons.append("its presence is not text")
    numbers: dict[str, float] = {}
    for key, default in (
        ("for_s", 0.0),
        ("cooldown_s", DEFAULT_COOLDOWN_S),
        ("hysteresis", DEFAULT_HYSTERESIS),
    ):
        value = finite_number(raw.get(key, default))
        if value is None:
            reasons.append(f"'{key}' is not a number")
        numbers[key] = value if value is not None else default
    severity_text = raw.get("severity", str(Severity.WARNING))
    severity = (
        Severity(severity_text)
        if isinstance(severity_text, str) and severity_text in _SEVERITIES
        else None
    )
    if severity is None:
        reasons.append(f"its severity is not one of {', '.join(Severity)}")
    media = rule_media(raw.get("media", ALL_MEDIA))  # files before the media filter: all media
    if media is None:
        reasons.append(f"it watches a media type this version does not know ({raw['media']!r})")
    actions = _strings(raw.get("actions", ["notify"]))
    if actions is None or any(a not in ACTIONS for a in actions):
        reasons.append(f"its actions are not among {', '.join(ACTIONS)}")
    if reasons or condition is None or severity is None:
        return None, reasons
    rule = Rule(
        id=str(rule_id),
        name=str(name),
        condition=condition,
        enabled=bool(enabled),
        subjects=tuple(subjects or ()),
        threshold=threshold,
        presence=presence,
        for_s=numbers["for_s"],
        cooldown_s=numbers["cooldown_s"],
        severity=severity,
        actions=tuple(actions or ()),
        hysteresis=numbers["hysteresis"],
        media=media or ALL_MEDIA,
    )
    problems = validate_rule(rule, queues=None, users=None, presences=None)
    return (None, [p.message for p in problems]) if problems else (rule, [])


# ------------------------------------------------------------------------------- migrations
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
    reading below names it and keeps the original file aside.
    """
    out = dict(data)
    watch = out.pop("watch", None)
    if watch is not None:
        profile = _profile(out.get("profile"))
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


# ----------------------------------------------------------------------------- config ↔ JSON
def config_to_json(config: AppConfig) -> dict[str, Any]:
    """The settings as the file stores them (skipped rules and unknown keys included)."""
    notifications = config.notifications
    quiet = notifications.quiet_hours
    known = {
        "version": CONFIG_VERSION,
        "rules": [rule_to_json(rule) for rule in config.rules] + copy.deepcopy(config.skipped),
        "feed_kinds": list(config.feed_kinds),
        "feed_subjects": list(config.feed_subjects),
        "notifications": {
            "enabled": notifications.enabled,
            "sound_by_severity": dict(notifications.sound_by_severity),
            "coalesce_window_s": notifications.coalesce_window_s,
            "mute_when_busy": notifications.mute_when_busy,
            "quiet_hours": None if quiet is None else {"start": quiet.start, "end": quiet.end},
        },
        "snooze_until": config.snooze_until,
        "journal_retention_days": config.journal_retention_days,
        "start_minimized": config.start_minimized,
        "profile": None if config.profile is None else profile_to_json(config.profile),
        "watches": {key: watch_to_json(w) for key, w in config.watches.items()},
        "demo_chosen": config.demo_chosen,
        "profiles": [profile_to_json(p) for p in config.profiles],
        "theme": config.theme,
    }
    extra = {k: copy.deepcopy(v) for k, v in config.extra.items() if k not in known}
    return {**known, **extra}


def profile_to_json(profile: Profile) -> dict[str, str]:
    """A profile as the settings file stores it (it holds no secret)."""
    return {
        "environment": profile.environment,
        "client_id": profile.client_id,
        "grant": profile.grant,
    }


def queue_pattern_problem(pattern: str) -> str | None:
    """Why a queue name pattern cannot be used, in words; None when it can.

    Genesys Cloud matches queue names exactly, with ``*`` allowed only at the start or the end
    (``Sales*``, ``*Support``); a keyword of :class:`WatchSettings` would be read as that keyword.
    """
    text = pattern.strip()
    if not text:
        return "Type a queue name or a pattern such as Sales*."
    core_text = text.strip("*")
    if not core_text:
        return "A pattern needs more than *: choose All queues to watch every queue."
    if "*" in core_text:
        return "A * can only stand at the start or the end of a pattern (Sales*, *Support)."
    if text.lower() in WATCH_QUEUE_KEYWORDS:
        return f"'{text}' is a reserved word here: add a * ({text}*) to match queue names."
    return None


def watch_to_json(watch: WatchSettings) -> dict[str, str | list[str]]:
    """What to watch as the settings file stores it (a keyword or pattern, or a list of ids)."""

    def one(value: str | tuple[str, ...]) -> str | list[str]:
        return value if isinstance(value, str) else list(value)

    return {"queues": one(watch.queues), "users": one(watch.users)}


class _WrongShapeError(Exception):
    """The document is not a settings file this version can read (message for the person)."""


@dataclass(slots=True)
class _Parsed:
    config: AppConfig
    skipped: list[str] = field(default_factory=list)  # "name (reason)" per skipped rule
    repaired: list[str] = field(default_factory=list)  # settings replaced by their defaults


def _rule_label(raw: Any, index: int) -> str:
    if isinstance(raw, dict):
        name = raw.get("name")
        if isinstance(name, str) and name.strip():
            return f'"{name.strip()[:60]}"'
    return f"rule {index + 1}"


def _config_from_json(data: Any, *, demo: bool = False) -> _Parsed:
    """Read a decoded document. Raises _WrongShapeError when it cannot be used at all."""
    if not isinstance(data, dict):
        raise _WrongShapeError("does not hold this app's settings")
    version = data.get("version", 0)  # the first files had no version
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise _WrongShapeError("does not hold this app's settings (its version is unreadable)")
    if version > CONFIG_VERSION:
        raise _WrongShapeError(f"was written by a newer version of this app (format {version})")
    while version < CONFIG_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
    rules_raw = data.get("rules", [])
    if not isinstance(rules_raw, list):
        raise _WrongShapeError("does not hold this app's settings (its rules are not a list)")

    defaults = default_config(demo=demo)
    parsed = _Parsed(AppConfig(rules=[]))
    config = parsed.config
    seen_ids: set[str] = set()
    for index, raw in enumerate(rules_raw):
        rule, reasons = rule_from_json(raw)
        if rule is not None and rule.id in seen_ids:
            reasons = [f"another rule already has the id {rule.id!r}"]
            rule = None
        if rule is None:
            config.skipped.append(copy.deepcopy(raw))
            parsed.skipped.append(f"{_rule_label(raw, index)} ({'; '.join(reasons)})")
            continue
        seen_ids.add(rule.id)
        config.rules.append(rule)

    def setting(key: str, read: Callable[[Any], Any], default: Any, source: Any) -> Any:
        if key not in source:
            return default  # missing: the default, as for a file from before the setting
        value = read(source[key])
        if value is _BAD:
            parsed.repaired.append(key)
            return default
        return value

    config.feed_kinds = setting("feed_kinds", _strings_or_bad, defaults.feed_kinds, data)
    config.feed_subjects = setting("feed_subjects", _strings_or_bad, defaults.feed_subjects, data)
    config.snooze_until = setting("snooze_until", _optional_number, None, data)
    config.journal_retention_days = setting(
        "journal_retention_days", _retention, defaults.journal_retention_days, data
    )
    config.start_minimized = setting("start_minimized", _bool, defaults.start_minimized, data)
    config.profile = setting("profile", _profile, None, data)
    config.watches, unreadable = _watches(data.get("watches"))
    if unreadable:
        parsed.repaired.append("watches")  # only the unreadable orgs' choices are dropped
    config.demo_chosen = setting("demo_chosen", _bool, defaults.demo_chosen, data)
    config.profiles = setting("profiles", _profiles, [], data)
    config.theme = setting("theme", _theme, defaults.theme, data)
    raw_notifications = data.get("notifications", {})
    if not isinstance(raw_notifications, dict):
        parsed.repaired.append("notifications")
        raw_notifications = {}
    base = defaults.notifications
    n = config.notifications

    def sub(key: str, read: Callable[[Any], Any], default: Any) -> Any:
        before = len(parsed.repaired)
        value = setting(key, read, default, raw_notifications)
        if len(parsed.repaired) > before:
            parsed.repaired[-1] = f"notifications.{key}"
        return value

    n.enabled = sub("enabled", _bool, base.enabled)
    n.sound_by_severity = {
        **base.sound_by_severity,
        **sub("sound_by_severity", _sounds, base.sound_by_severity),
    }
    n.coalesce_window_s = sub("coalesce_window_s", _non_negative, base.coalesce_window_s)
    n.mute_when_busy = sub("mute_when_busy", _bool, base.mute_when_busy)
    n.quiet_hours = sub("quiet_hours", _quiet_hours, base.quiet_hours)
    known = set(config_to_json(AppConfig()))
    config.extra = {k: copy.deepcopy(v) for k, v in data.items() if k not in known}
    return parsed


_BAD: Final = object()  # a setting's reader saw a value it cannot use


def _strings_or_bad(value: Any) -> Any:
    strings = _strings(value)
    return _BAD if strings is None else strings


def _optional_number(value: Any) -> Any:
    if value is None:
        return None
    number = finite_number(value)
    return _BAD if number is None else number


def _bool(value: Any) -> Any:
    return value if isinstance(value, bool) else _BAD


def _non_negative(value: Any) -> Any:
    number = finite_number(value)
    return number if number is not None and number >= 0 else _BAD


def _retention(value: Any) -> Any:
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 36_500
    return value if ok else _BAD


def _profile(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        return _BAD
    environment, client_id = value.get("environment"), value.get("client_id")
    grant = value.get("grant", "pkce")
    if (
        not isinstance(environment, str)
        or not environment.strip()
        or not isinstance(client_id, str)
        or not client_id.strip()
        or grant not in PROFILE_GRANTS
    ):
        return _BAD
    return Profile(environment.strip(), client_id.strip(), str(grant))


def _profiles(value: Any) -> Any:
    if not isinstance(value, list):
        return _BAD
    profiles = [_profile(item) for item in value]
    if any(p is None or p is _BAD for p in profiles):
        return _BAD
    return profiles


def with_profile(profiles: list[Profile], profile: Profile) -> list[Profile]:
    """``profiles`` with ``profile`` in it (in the place of one for the same org and client)."""
    same = (profile.environment, profile.client_id)
    if any((p.environment, p.client_id) == same for p in profiles):
        return [profile if (p.environment, p.client_id) == same else p for p in profiles]
    return [*profiles, profile]


def _theme(value: Any) -> Any:
    return value if isinstance(value, str) and value in THEMES else _BAD


def _watch(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        return _BAD
    queues = _watch_part(value.get("queues", "mine"), WATCH_QUEUE_KEYWORDS, pattern=True)
    users = _watch_part(value.get("users", "members"), WATCH_USER_KEYWORDS, pattern=False)
    if queues is _BAD or users is _BAD:
        return _BAD
    return WatchSettings(queues, users)


def _watches(value: Any) -> tuple[dict[str, WatchSettings], bool]:
    """Each org's choice that can be read, and whether any could not (it then takes the default,
    leaving the other orgs' choices as they were)."""
    if value is None:
        return {}, False
    if not isinstance(value, dict):
        return {}, True
    watches: dict[str, WatchSettings] = {}
    unreadable = False
    for key, raw in value.items():
        watch = _watch(raw)
        if isinstance(watch, WatchSettings):
            watches[key] = watch
        elif watch is not None:
            unreadable = True
    return watches, unreadable


def _watch_part(value: Any, keywords: tuple[str, ...], *, pattern: bool) -> Any:
    """A keyword, a queue name pattern (queues only) or a list of ids."""
    if isinstance(value, str):
        text = value.strip()
        ok = text in keywords or (pattern and queue_pattern_problem(text) is None)
        return text if ok else _BAD
    ids = _strings(value)
    if ids is None or any(not i.strip() for i in ids):
        return _BAD
    return tuple(i.strip() for i in ids)


def _sounds(value: Any) -> Any:
    if not isinstance(value, dict) or any(
        k not in _SEVERITIES or not isinstance(v, bool) for k, v in value.items()
    ):
        return _BAD
    return dict(value)


def _quiet_hours(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        return _BAD
    start, end = value.get("start"), value.get("end")
    if parse_hhmm(start) is None or parse_hhmm(end) is None:
        return _BAD
    return QuietHours(str(start).strip(), str(end).strip())


# ---------------------------------------------------------------------------------- the file
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
            parsed = _config_from_json(data, demo=demo)
        except _WrongShapeError as exc:
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


def _finish(path: Path, parsed: _Parsed, now: Callable[[], datetime]) -> LoadResult:
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
    tmp: str | None = None
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise ConfigError(
            f"The settings could not be saved to {path} ({exc.strerror or exc})."
        ) from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
