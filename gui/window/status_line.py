"""The status bar's words for a supervisor: what is watched and how fresh it is.

"1 channel, 74 topics · last frame 0 s ago" was the app's plumbing, and it kept counting frames
while signed out. The bar now reads "Watching 65 agents and 9 queues · updated just now" while
the connection is up, and "65 agents and 9 queues · not updating" while it is not (signed out,
offline, reconnecting); the channels, topics and event rate are in the tooltip for whoever
diagnoses a problem.
"""

from __future__ import annotations

import logging
from typing import Final

from PySide6.QtWidgets import QLabel, QWidget

from core.domain.format import duration_text
from core.engine.records import BudgetRecord, EngineState
from gui.bridge import LinkHealth

logger = logging.getLogger(__name__)

UPDATING_STATES: Final = frozenset({EngineState.LIVE, EngineState.STALE, EngineState.RESYNCING})
"""States in which the boards are being updated (a frame's age means something)."""
HALTED_STATES: Final = frozenset(
    {
        EngineState.OFFLINE,
        EngineState.RECONNECTING,
        EngineState.SIGN_IN_NEEDED,
        EngineState.STOPPED,
    }
)
"""States in which nothing new arrives: the bar says so instead of how fresh things are."""
JUST_NOW_S: Final = 5.0


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def freshness_text(age_s: float | None) -> str:
    """ "updated just now", "updated 12 s ago"; empty when nothing arrived yet."""
    if age_s is None:
        return ""
    if age_s < JUST_NOW_S:
        return "updated just now"
    return f"updated {duration_text(age_s)} ago"


class WatchLabel(QLabel):
    """``Watching 65 agents and 9 queues · updated just now``; details in the tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("watchLabel")
        self._agents: int | None = None
        self._queues = 0
        self._state = EngineState.STARTING
        self._health: LinkHealth | None = None
        self._budget: BudgetRecord | None = None

    def set_watch(self, agents: int, queues: int) -> None:
        """How many agents and queues are watched."""
        self._agents, self._queues = agents, queues
        self._refresh()

    def set_state(self, state: EngineState) -> None:
        """The engine's state: only an updating one speaks of freshness."""
        self._state = state
        self._refresh()

    def set_health(self, health: LinkHealth) -> None:
        """The link's figures (polled once a second)."""
        self._health = health
        self._refresh()

    def set_budget(self, budget: BudgetRecord) -> None:
        """Channels and topics in use, and any refused (said in plain words when so)."""
        self._budget = budget
        self._refresh()

    def _refresh(self) -> None:
        self.setText(self.text_now())
        self.setToolTip(self.details())

    def text_now(self) -> str:
        """The bar's words for the current state."""
        if self._agents is None:
            return ""
        what = f"{_plural(self._agents, 'agent')} and {_plural(self._queues, 'queue')}"
        budget = self._budget
        partial = budget is not None and bool(budget.rejected or budget.over_budget)
        missing = " · some changes cannot be watched (see tooltip)" if partial else ""
        if self._state in HALTED_STATES:
            return f"{what} · not updating{missing}"
        age = self._health.last_frame_age_s if self._health else None
        fresh = freshness_text(age) if self._state in UPDATING_STATES else ""
        return f"Watching {what}" + (f" · {fresh}" if fresh else "") + missing

    def details(self) -> str:
        """The diagnostics: channels, topics, refused topics, the event rate."""
        lines: list[str] = []
        budget = self._budget
        if budget is not None:
            lines.append(
                f"{_plural(budget.channels, 'notification channel')},"
                f" {_plural(budget.topics, 'topic')} subscribed"
            )
            if budget.rejected:
                lines.append(f"{len(budget.rejected)} topics refused (missing permissions)")
            if budget.over_budget:
                lines.append(f"{len(budget.over_budget)} topics over the channel budget")
        health = self._health
        if health is not None and self._state in UPDATING_STATES:
            lines.append(f"{health.events_per_s:.1f} events a second")
            if health.last_frame_age_s is not None:
                lines.append(f"Last message {duration_text(health.last_frame_age_s)} ago")
        return "\n".join(lines)
