"""The window's "last known picture" banner: the boards show old rows until the org answers.

An app started at login often runs before the network. Until the engine is live the window shows
the journal's last known picture (:mod:`core.storage.journal.picture`), greyed, and this banner
says so in plain words, with since when: "Offline: retrying. Showing the last known picture from
18:02 (2 h 5 min ago)." The first live picture replaces it and the banner goes.
"""

from __future__ import annotations

import logging
from datetime import datetime

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from core.domain.format import duration_text
from core.engine.records import EngineState

logger = logging.getLogger(__name__)

# A calm slate blue, not the sign-in banner's amber: nothing to do, only something to know.
BANNER_STYLE = (
    "QFrame#stalePictureBanner { background: #e7edf6; border: 1px solid #7d97bd;"
    " border-radius: 4px; }"
    " QFrame#stalePictureBanner QLabel { color: #1c2b40; }"
)
LEAD = {
    EngineState.OFFLINE: "Offline: retrying.",
    EngineState.SIGN_IN_NEEDED: "Waiting for a sign-in.",
}
LEAD_OTHERWISE = "Connecting…"
DAY_S = 86_400


def ago_text(seconds: float) -> str:
    """How long ago, the way people say it: "2 h 5 min", "3 days"."""
    if seconds >= 2 * DAY_S:
        return f"{int(seconds // DAY_S)} days"
    return duration_text(max(0.0, seconds))


def when_text(moment: datetime, now: datetime) -> str:
    """Local HH:MM today, else with the day: "Thu 3 Dec 18:02"."""
    local, today = moment.astimezone(), now.astimezone()
    if local.date() == today.date():
        return local.strftime("%H:%M")
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def banner_text(state: EngineState, taken_at: datetime, now: datetime) -> str:
    """What the banner says (plain words; the lead in bold)."""
    lead = LEAD.get(state, LEAD_OTHERWISE)
    since = when_text(taken_at, now)
    ago = ago_text((now - taken_at).total_seconds())
    return f"<b>{lead}</b> Showing the last known picture from {since} ({ago} ago)."


class StalePictureBanner(QFrame):
    """A banner above the boards while they show the last known picture (hidden otherwise)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        """Create the (hidden) banner."""
        super().__init__(parent)
        self.setObjectName("stalePictureBanner")
        self.setStyleSheet(BANNER_STYLE)
        self.label = QLabel("")
        self.label.setObjectName("stalePictureLabel")
        self.label.setWordWrap(True)
        self.label.setToolTip(
            "Nothing new can arrive until Genesys Cloud answers; the boards then fill with what "
            "is true now."
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 6)
        row.addWidget(self.label, 1)
        self._taken_at: datetime | None = None
        self._state = EngineState.STARTING
        self.hide()

    @property
    def taken_at(self) -> datetime | None:
        """When the shown picture was last true (None while hidden)."""
        return self._taken_at

    def show_picture(self, taken_at: datetime, state: EngineState, now: datetime) -> None:
        """The boards now show the picture of ``taken_at``."""
        self._taken_at = taken_at
        self._state = state
        self.refresh(now)
        self.show()

    def set_state(self, state: EngineState, now: datetime) -> None:
        """Follow the engine's state (the lead words)."""
        self._state = state
        self.refresh(now)

    def refresh(self, now: datetime) -> None:
        """Say it again with the current "ago" (called with the window's clock tick)."""
        if self._taken_at is None:
            return
        text = banner_text(self._state, self._taken_at, now)
        if text != self.label.text():
            self.label.setText(text)

    def end(self) -> None:
        """The boards are live again: the banner goes."""
        self._taken_at = None
        self.hide()
