"""The settings ↔ JSON: rules, profiles, what to watch, and the whole (migrated) document.

Reading never raises for a part: a rule that cannot be read is skipped (and kept raw, so the
next save does not destroy it); a setting that cannot be read takes its default and is named in
:attr:`ParsedConfig.repaired`, so the file layer can keep the original aside and write the
repair. Unknown top-level keys are kept in :attr:`AppConfig.extra` and written back.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from core.alerts.model import (
    ACTIONS,
    DEFAULT_COOLDOWN_S,
    DEFAULT_HYSTERESIS,
    Condition,
    Rule,
    Severity,
)
from core.alerts.validation import finite_number, validate_rule
from core.domain.media_names import ALL_MEDIA, rule_media
from core.storage.settings.model import (
    CONFIG_VERSION,
    PROFILE_GRANTS,
    THEMES,
    WATCH_QUEUE_KEYWORDS,
    WATCH_USER_KEYWORDS,
    AppConfig,
    EventBridgeSettings,
    Profile,
    QuietHours,
    WatchSettings,
    default_config,
    parse_hhmm,
    queue_pattern_problem,
)

_CONDITIONS: Final = frozenset(c.value for c in Condition)
_SEVERITIES: Final = frozenset(s.value for s in Severity)


class WrongShapeError(Exception):
    """The document is not a settings file this version can read (message for the person)."""


@dataclass(slots=True)
class ParsedConfig:
    """A document as read: the settings to use, and what the person must be told about it."""

    config: AppConfig
    skipped: list[str] = field(default_factory=list)  # "name (reason)" per skipped rule
    repaired: list[str] = field(default_factory=list)  # settings replaced by their defaults


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
    if config.eventbridge:  # only once set: older files stay exactly as they were
        known["eventbridge"] = {k: eventbridge_to_json(v) for k, v in config.eventbridge.items()}
    skip = known.keys() | OPTIONAL_KEYS
    extra = {k: copy.deepcopy(v) for k, v in config.extra.items() if k not in skip}
    return {**known, **extra}


def profile_to_json(profile: Profile) -> dict[str, str]:
    """A profile as the settings file stores it (it holds no secret)."""
    data = {
        "environment": profile.environment,
        "client_id": profile.client_id,
        "grant": profile.grant,
    }
    if profile.trusted_host:
        data["trusted_host"] = profile.trusted_host
    return data


def eventbridge_to_json(settings: EventBridgeSettings) -> dict[str, str | bool]:
    """An org's EventBridge source as the file stores it: only the parts that are set."""
    data: dict[str, str | bool] = {}
    for key in ("queue_url", "aws_profile", "aws_region"):
        value = getattr(settings, key)
        if value:
            data[key] = value
    if settings.org_wide:
        data["org_wide"] = True
    return data


def watch_to_json(watch: WatchSettings) -> dict[str, str | list[str]]:
    """What to watch as the settings file stores it (a keyword or pattern, or a list of ids)."""

    def one(value: str | tuple[str, ...]) -> str | list[str]:
        return value if isinstance(value, str) else list(value)

    return {"queues": one(watch.queues), "users": one(watch.users)}


def _rule_label(raw: Any, index: int) -> str:
    if isinstance(raw, dict):
        name = raw.get("name")
        if isinstance(name, str) and name.strip():
            return f'"{name.strip()[:60]}"'
    return f"rule {index + 1}"


def config_from_json(data: dict[str, Any], *, demo: bool = False) -> ParsedConfig:
    """Read a document of this version (core.storage.settings.migrations.migrate brings older
    ones up to it). Raises WrongShapeError when it cannot be used at all."""
    rules_raw = data.get("rules", [])
    if not isinstance(rules_raw, list):
        raise WrongShapeError("does not hold this app's settings (its rules are not a list)")

    defaults = default_config(demo=demo)
    parsed = ParsedConfig(AppConfig(rules=[]))
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
    config.profile = setting("profile", read_profile, None, data)
    config.watches, unreadable = _watches(data.get("watches"))
    if unreadable:
        parsed.repaired.append("watches")  # only the unreadable orgs' choices are dropped
    config.demo_chosen = setting("demo_chosen", _bool, defaults.demo_chosen, data)
    config.profiles = setting("profiles", _profiles, [], data)
    config.theme = setting("theme", _theme, defaults.theme, data)
    config.eventbridge, unreadable = _eventbridges(data.get("eventbridge"))
    if unreadable:
        parsed.repaired.append("eventbridge")
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
    known = set(config_to_json(AppConfig())) | OPTIONAL_KEYS
    config.extra = {k: copy.deepcopy(v) for k, v in data.items() if k not in known}
    return parsed


_BAD: Final = object()  # a setting's reader saw a value it cannot use
OPTIONAL_KEYS: Final = frozenset({"eventbridge"})  # written only when set


def _eventbridge(value: Any) -> EventBridgeSettings | None:
    """One org's EventBridge source; None when it cannot be read."""
    if not isinstance(value, dict):
        return None
    texts = {}
    for key in ("queue_url", "aws_profile", "aws_region"):
        raw = value.get(key, "")
        if not isinstance(raw, str):
            return None
        texts[key] = raw.strip()
    org_wide = value.get("org_wide", False)
    if not isinstance(org_wide, bool):
        return None
    return EventBridgeSettings(org_wide=org_wide, **texts)


def _eventbridges(value: Any) -> tuple[dict[str, EventBridgeSettings], bool]:
    """Each org's EventBridge source that can be read, and whether any could not."""
    if value is None:
        return {}, False
    if not isinstance(value, dict):
        return {}, True
    out: dict[str, EventBridgeSettings] = {}
    unreadable = False
    for key, raw in value.items():
        settings = _eventbridge(raw)
        if settings is None:
            unreadable = True
        else:
            out[str(key)] = settings
    return out, unreadable


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


def read_profile(value: Any) -> Any:
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
    trusted = value.get("trusted_host")  # a confirmed custom host; anything else: none
    trusted = trusted.strip() if isinstance(trusted, str) else ""
    return Profile(environment.strip(), client_id.strip(), str(grant), trusted)


def _profiles(value: Any) -> Any:
    if not isinstance(value, list):
        return _BAD
    profiles = [read_profile(item) for item in value]
    if any(p is None or p is _BAD for p in profiles):
        return _BAD
    return profiles


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
