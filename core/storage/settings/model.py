"""The settings' value types: what the file holds, once read, and the defaults.

A leaf of the settings room: no file, no JSON, so the rest of the app (dialogs, the session
bootstrap) can hold and edit settings without reaching for the file. The file holds no secrets
and must never hold any: tokens live in the OS keyring (core.auth.session).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, Final

from core.alerts.model import Rule
from core.alerts.presets import demo_rules
from core.feed.entry import ENGINEERING_KINDS, KINDS

CONFIG_VERSION: Final = 2
# Every kind but the app's own plumbing (gaps, topic budgets) shows until the person chooses.
FEED_KINDS: Final = tuple(kind for kind in KINDS if kind not in ENGINEERING_KINDS)
DEFAULT_COALESCE_WINDOW_S: Final = 5.0
DEFAULT_RETENTION_DAYS: Final = 30
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


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
    """What to watch, as the person chose it (the shape of core.engine.selection.Selection,
    without importing the engine here).

    Attributes:
        queues: ``"mine"``, ``"all"``, ``"none"``, a name pattern with ``*`` or queue ids.
        users: ``"members"`` (of the watched queues), ``"all"``, ``"none"`` or user ids.
    """

    queues: str | tuple[str, ...] = "mine"
    users: str | tuple[str, ...] = "members"


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


PROFILE_GRANTS: Final = ("pkce", "client_credentials")
THEMES: Final = ("system", "light", "dark")  # "system": follow the desktop's colour scheme


@dataclass(frozen=True, slots=True)
class Profile:
    """Which org to sign in to and how: no secret ever (a client secret lives in the keyring).

    Attributes:
        environment: A region key or domain (``eu_central_1``, ``mypurecloud.de``) or a base URL.
        client_id: The OAuth client id (not a secret).
        grant: ``"pkce"`` (a person in a browser) or ``"client_credentials"``.
        trusted_host: a custom host outside Genesys Cloud the person confirmed may receive the
            client secret (asked once, in the welcome dialog); "" for none.
    """

    environment: str
    client_id: str
    grant: str = "pkce"
    trusted_host: str = ""


@dataclass(frozen=True, slots=True)
class EventBridgeSettings:
    """An org's EventBridge source (issue 15): its SQS queue and how to reach AWS. No secret:
    credentials come from the standard AWS chain, an access key from the keyring only.

    Attributes:
        queue_url: ``https://sqs.<region>.amazonaws.com/<account>/<name>`` ("": no EventBridge).
        aws_profile: a named profile of the shared AWS config ("": the default chain).
        aws_region: the queue's region, when the URL does not say it ("": from the URL).
        org_wide: "What to watch" also follows every user's presence and routing through
            EventBridge, beyond the WebSocket's limits.
    """

    queue_url: str = ""
    aws_profile: str = ""
    aws_region: str = ""
    org_wide: bool = False

    @property
    def configured(self) -> bool:
        """Whether a queue is set (the status bar then shows EventBridge)."""
        return bool(self.queue_url)


def org_key(profile: Profile | None) -> str:
    """The key of an org's own settings in :attr:`AppConfig.watches`: environment and client.

    ``""`` without a profile: the org of a file that names none (the demo org's own file, or
    an org given by environment variables only).
    """
    return "" if profile is None else f"{profile.environment} {profile.client_id}"


def with_profile(profiles: list[Profile], profile: Profile) -> list[Profile]:
    """``profiles`` with ``profile`` in it (in the place of one for the same org and client)."""
    same = (profile.environment, profile.client_id)
    if any((p.environment, p.client_id) == same for p in profiles):
        return [profile if (p.environment, p.client_id) == same else p for p in profiles]
    return [*profiles, profile]


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
    eventbridge: dict[str, EventBridgeSettings] = field(default_factory=dict)  # per org_key
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

    @property
    def eventbridge_settings(self) -> EventBridgeSettings:
        """The EventBridge source of the org of :attr:`profile` (empty: none set up)."""
        return self.eventbridge.get(org_key(self.profile), EventBridgeSettings())

    def with_eventbridge(self, settings: EventBridgeSettings) -> AppConfig:
        """A copy with ``settings`` for the org of :attr:`profile`; other orgs' kept."""
        key = org_key(self.profile)
        bridges = {k: v for k, v in self.eventbridge.items() if k != key}
        if settings != EventBridgeSettings():
            bridges[key] = settings
        return dataclasses.replace(self, eventbridge=bridges)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """The settings to use, and what the person should be told about the file (if anything)."""

    config: AppConfig
    problem: str | None = None
    kept_aside: Path | None = None


def default_config(*, demo: bool = False) -> AppConfig:
    """Fresh settings; the demo org's come with its two example rules enabled."""
    return AppConfig(rules=demo_rules(()) if demo else [])


def parse_hhmm(text: Any) -> time | None:
    """``"07:30"`` → ``time(7, 30)``; None for anything else."""
    if not isinstance(text, str):
        return None
    match = _TIME.fullmatch(text.strip())
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    return time(hour, minute) if hour < 24 and minute < 60 else None
