"""The words of "What to watch": topic budgets, refused topics, what to ask an admin for.

Qt-free so each phrase can be tested on its own, and so the dialog keeps only the widgets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.engine.records import BudgetRecord
from core.engine.selection import Selection
from core.rest.schema import RejectedTopic
from core.storage.settings.model import WatchSettings

KIND_LABELS = {
    "presence": "Presence changes",
    "routing": "Routing status changes",
    "queue": "Queue activity (waiting, answered)",
    "membership": "Queue membership changes",
    "connection": "Connection state",
    "gap": "Gaps and re-syncs",
    "budget": "Topic budget and refusals",
    "alert": "Alerts fired and resolved",
}
# What each permission gives the board: the words an admin needs to decide.
PERMISSION_USES = {
    "analytics:queueObservation:view": "queue counters (waiting, interacting, on queue)",
    "conversation:communication:view": "the calls waiting in a queue and agents' call counts",
    "routing:queue:view": "queues and their membership",
    "directory:user:view": "agents' names",
    "analytics:userAggregate:view": "agents' statistics",
}
STEP_TEXT = {
    "resolving": "Finding the queues and agents…",
    "planning": "Planning channels…",
    "subscribing": "Subscribing: {done} of {total} channels",
    "resyncing": "Reading the current state of the new subjects…",
    "done": "Re-synced: the board is live with the new selection.",
}


def selection_of(watch: WatchSettings) -> Selection:
    """The engine's selection for what the person chose."""
    return Selection(queues=watch.queues, users=watch.users)


def admin_request(rejected: Iterable[RejectedTopic]) -> str:
    """What to ask a Genesys Cloud admin for, in words, for these refused topics ("" for none)."""
    missing = sorted({p for r in rejected for p in r.missing_permissions})
    if not missing:
        return ""
    lines = [
        f"• {p}" + (f" — for {PERMISSION_USES[p]}" if p in PERMISSION_USES else "") for p in missing
    ]
    return (
        "Ask your Genesys Cloud admin to add these permissions to one of your roles:\n"
        + "\n".join(lines)
    )


TOPIC_KINDS = (
    (".observations", "queue counters"),
    (".conversations", "calls in the queue"),
    (".users", "queue membership"),
)


def topic_label(topic: str, names: Mapping[str, str]) -> str:
    """A refused topic in words: whose it is (by name when known) and what it carries."""
    parts = topic.split("?", 1)[0].split(".")
    subject = parts[3] if topic.startswith(("v2.analytics.queues.", "v2.routing.queues.")) else ""
    if topic.startswith("v2.users.") and len(parts) > 2:
        subject = parts[2]
    if not subject:
        return topic
    what = next((words for suffix, words in TOPIC_KINDS if topic.endswith(suffix)), "")
    if topic.startswith("v2.users."):
        what = "presence and routing status"
    name = names.get(subject) or f"{subject[:8]}…"
    return f"{name}: {what}" if what else name


def subjects_text(users: int, queues: int) -> str:
    """How many agents and queues, in words ("1 agent and 3 queues")."""
    return (
        f"{users} agent{'s' if users != 1 else ''} and {queues} queue{'s' if queues != 1 else ''}"
    )


def budget_text(record: BudgetRecord) -> str:
    """Topics and channels in use, and how many topics do not fit, in words."""
    plural = "s" if record.channels != 1 else ""
    text = f"{record.topics} topics on {record.channels} channel{plural}"
    if record.over_budget:
        text += f"; {len(record.over_budget)} do not fit and will not be watched"
    return text


def matches_pattern(pattern: str, name: str) -> bool:
    """Genesys Cloud's queue name filter: ``*`` at either end, otherwise exact (any case)."""
    text, subject = pattern.strip().lower(), name.lower()
    start, end = text.startswith("*"), text.endswith("*")
    core_text = text.strip("*")
    if start and end:
        return core_text in subject
    if start:
        return subject.endswith(core_text)
    if end:
        return subject.startswith(core_text)
    return subject == core_text
