"""The value a notification shows: :class:`Notice`, its actions and keys, and summaries.

A leaf (no Qt) so the app, the alert controller and every backend share one notice type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from core.alerts.model import Severity, SubjectKind

SEVERITIES: Final[tuple[Severity, ...]] = tuple(Severity)  # quietest first
SUBJECT_KINDS: Final[tuple[str, ...]] = ("queue", "agent", "connection")

ACTION_OPEN: Final = "open"
ACTION_SNOOZE: Final = "snooze"
ACTIONS: Final[tuple[tuple[str, str], ...]] = (
    (ACTION_OPEN, "Open"),
    (ACTION_SNOOZE, "Snooze 15 min"),
)
SUMMARY_KEY: Final = "genesys-tray:summary"  # the key of a coalesced summary notification
SIGN_IN_KEY: Final = "genesys-tray:sign-in"  # the key of the "Sign-in needed" notification
ACTION_SIGN_IN: Final = "sign_in"
MAX_SUMMARY_LINES: Final = 5


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell the person at the desk.

    Attributes:
        key: what identifies it for replacing and coalescing (an alert's is
            :func:`core.alerts.delivery.notice_key`); a notice whose key is still on screen
            replaces that notification.
        title: short, names the subject and what happened ("Sales EN: 5 waiting"); the lines of
            a coalesced summary are these titles.
        body: the detail ("Longest wait 4:12, threshold 3:00"); may be empty.
        severity: info, warning or critical (urgency, icon, sound).
        subject_kind: queue, agent or connection: which board "Open" goes to.
        subject_id: the queue or user id ("" for the connection).
        sound: beep for this notice (True/False), or None for the per-severity setting.
        actions: the buttons ((key, label) pairs) it offers; None: "Open" and "Snooze 15 min".
        group: what it may be coalesced with (an alert's rule id); notices of different groups
            never share a summary. "" groups by subject kind alone.
        topic: what people call the group (the rule's name), said in a summary's title.

    Raises:
        ValueError: for an unknown severity or subject kind, or an empty key.
    """

    key: str
    title: str
    body: str
    severity: Severity
    subject_kind: SubjectKind
    subject_id: str
    sound: bool | None = None
    actions: tuple[tuple[str, str], ...] | None = None
    group: str = ""
    topic: str = ""

    def __post_init__(self) -> None:
        """Check the enumerations (a typo would otherwise pick a wrong urgency silently)."""
        if not self.key:
            raise ValueError("a notice needs a key")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}; expected {SEVERITIES}")
        if self.subject_kind not in SUBJECT_KINDS:
            raise ValueError(
                f"unknown subject kind {self.subject_kind!r}; expected {SUBJECT_KINDS}"
            )


def _plural(kind: str, count: int) -> str:
    return f"{count} {kind}" if count == 1 else f"{count} {kind}s"


def coalesce(notices: Sequence[Notice]) -> list[Notice]:
    """What a coalescing window's batch becomes: one notice per group, never mixed subjects.

    Notices of one rule (their ``group``) and one subject kind go out as one summary ("Calls
    waiting: 3 queues"); a queue alert and an agent alert never share one. Groups come in the
    order their first notice came; a group of one goes out as itself.
    """
    groups: dict[tuple[str, str], list[Notice]] = {}
    for notice in notices:
        groups.setdefault((notice.group, notice.subject_kind), []).append(notice)
    return [batch[0] if len(batch) == 1 else summarize(batch) for batch in groups.values()]


def summarize(notices: Sequence[Notice]) -> Notice:
    """One notice standing for several: "Not responding: 3 agents" / "4 queue alerts".

    Its severity is the loudest of them; it beeps if any of them would. Notices of one group
    (:func:`coalesce` makes them) are titled by their topic, the rule's name.
    """
    if not notices:
        raise ValueError("nothing to summarize")
    count = len(notices)
    kinds = {notice.subject_kind for notice in notices}
    kind = next(iter(kinds)) if len(kinds) == 1 else None
    groups = {(notice.group, notice.topic) for notice in notices}
    group, topic = next(iter(groups)) if len(groups) == 1 else ("", "")
    if topic and kind:
        title = f"{topic}: {_plural(kind, count)}"
    else:
        title = f"{count} {kind} alerts" if kind else f"{count} alerts"
    lines = [notice.title for notice in notices[:MAX_SUMMARY_LINES]]
    if count > MAX_SUMMARY_LINES:
        lines.append(f"… and {count - MAX_SUMMARY_LINES} more")
    loudest = max(notices, key=lambda notice: SEVERITIES.index(notice.severity))
    return Notice(
        key=f"{SUMMARY_KEY}:{group}" if group else SUMMARY_KEY,
        title=title,
        body="; ".join(lines),
        severity=loudest.severity,
        subject_kind=kind or loudest.subject_kind,
        subject_id="",
        sound=True if any(notice.sound for notice in notices) else None,
        group=group,
        topic=topic,
    )


def sentence(text: str) -> str:
    """``text`` as a sentence: a capital first letter and a full stop ("signed out" → "Signed
    out."), so an engine's short state words read right in front of the next sentence."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else f"{text}."


def sign_in_body(detail: str) -> str:
    """The "Sign-in needed" notification's body: why (as a sentence), then what it means."""
    why = "You were signed out" if detail.strip().lower() == "signed out" else detail
    first = sentence(why) or "Your Genesys Cloud sign-in ended."
    return f"{first} The boards are stale until you sign in again."
