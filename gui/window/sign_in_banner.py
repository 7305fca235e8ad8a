"""The window's "Sign-in needed" banner: the boards are stale until the person signs in again.

When the session cannot be renewed silently (a PKCE sign-in ends, the org revoked the refresh
token) the engine goes to ``sign_in_needed`` and nothing new arrives. The banner says so with the
time the picture froze ("stale since 14:03") and offers one "Sign in" button; it only asks
(``sign_in_requested``) and shows progress and errors the app reports back. The sign-in itself is
a core coroutine the app runs (design.md: widgets never call the network).
"""

from __future__ import annotations

import html
import logging
from datetime import datetime

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from core.engine.records import EngineState
from gui.plain_text import plain_tooltip

logger = logging.getLogger(__name__)

BUTTON_TEXT = "Sign in"
# Amber with dark text: readable on light and dark palettes alike.
BANNER_STYLE = (
    "QFrame#signInBanner { background: #fff4ce; border: 1px solid #d6a700; border-radius: 4px; }"
    " QFrame#signInBanner QLabel { color: #3b2f00; }"
)


def _clock(moment: datetime) -> str:
    """HH:MM in local time (the banner is a glance: minutes are enough)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%H:%M")


class SignInBanner(QFrame):
    """A banner above the boards while sign-in is needed.

    Signals:
        sign_in_requested(): the person clicked "Sign in".
    """

    sign_in_requested = Signal()

    def __init__(self, dims: QWidget | None = None, parent: QWidget | None = None) -> None:
        """Create the (hidden) banner; while shown it greys ``dims`` (the boards)."""
        super().__init__(parent)
        self._dims = dims
        self._dimmed = False
        self.setObjectName("signInBanner")
        self.setStyleSheet(BANNER_STYLE)
        self._stale_since: datetime | None = None
        self._detail = ""
        self.label = QLabel("")
        self.label.setObjectName("signInLabel")
        self.label.setWordWrap(True)
        self.button = QPushButton(BUTTON_TEXT)
        self.button.setObjectName("signInButton")
        self.button.clicked.connect(self._on_button_clicked)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 6)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        self.hide()

    @property
    def stale_since(self) -> datetime | None:
        """When the picture froze (None while the engine is not waiting for a sign-in)."""
        return self._stale_since

    def set_state(self, state: str, detail: str, now: datetime) -> None:
        """Follow the engine's state: shown from ``sign_in_needed`` until any other state."""
        if state != EngineState.SIGN_IN_NEEDED:
            self._stale_since = None
            self.hide()
            self._dim(False)
            return
        if self._stale_since is None:
            self._stale_since = now
        self._detail = detail
        self.button.setEnabled(True)
        self._say(self._needed_text())
        self.show()
        self._dim(True)

    def dimmed(self) -> bool:
        """Whether the boards are greyed as stale now."""
        return self._dimmed

    def _dim(self, on: bool) -> None:
        """Grey the boards' text (their rows are old) or give them the inherited palette back."""
        if self._dims is None or on == self._dimmed:
            return
        self._dimmed = on
        if not on:
            self._dims.setPalette(QPalette())  # an empty palette: inherit (and follow themes)
            return
        palette = self._dims.palette()
        for role in (
            QPalette.ColorRole.Text,
            QPalette.ColorRole.WindowText,
            QPalette.ColorRole.ButtonText,
        ):
            grey = palette.color(QPalette.ColorGroup.Disabled, role)
            for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
                palette.setColor(group, role, grey)
        self._dims.setPalette(palette)

    def set_busy(self, text: str) -> None:
        """A sign-in runs: say what the person should do, and keep the button from a second one."""
        self.button.setEnabled(False)
        self._say(f"<b>Signing in…</b> {html.escape(text)}")

    def set_failed(self, message: str) -> None:
        """The sign-in did not finish: say why and offer the button again."""
        self.button.setEnabled(True)
        failed = f"<b>The sign-in did not finish:</b> {html.escape(message)}"
        self._say(f"{self._needed_text()}<br>{failed}")

    def _needed_text(self) -> str:
        since = _clock(self._stale_since) if self._stale_since is not None else "now"
        return (
            f"<b>Sign-in needed.</b> The boards are stale since {since}: nothing new arrives "
            "until you sign in again."
        )

    def _say(self, rich_text: str) -> None:
        self.label.setText(rich_text)
        self.label.setToolTip(plain_tooltip(self._detail) or "")

    def _on_button_clicked(self) -> None:
        self.sign_in_requested.emit()
