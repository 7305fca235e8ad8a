"""The header strip: the contact centre in eight figures, each coloured by its level.

Total waiting, longest wait, service level today, agents on queue, available, interacting, Not
Responding and on break, read from the store through core.state.levels under the thresholds of
Settings (gui.thresholds). It follows the bridge: a batch of queue or user changes, and the
clock tick (a longest wait grows while nothing changes). A figure is a flat button: a click
emits ``filter_requested`` with what it counts, so the window can filter its board to it.

Colour is never alone: a figure out of limits is bold on a strong fill with a level icon (a
triangle or an octagon), and its accessible name and tooltip say the level in words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QEvent, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QFrame, QHBoxLayout, QSizePolicy, QToolButton, QWidget

from core.state.levels import FIGURE_LABELS, FIGURES, CentreSummary, Figure, Level
from core.state.store import Store
from gui.bridge import EngineBridge
from gui.models.level_style import LEVEL_WORDS, level_background, level_foreground, level_icon
from gui.thresholds import glance

logger = logging.getLogger(__name__)

FIGURE_HINTS: dict[str, str] = {
    "waiting": "Calls waiting in all watched queues. Click to show the queues with calls waiting.",
    "longest_wait": "The longest any caller still in a queue has waited (ringing calls are not"
    " waiting). Click to show the queues with calls waiting.",
    "sl": "Calls answered within the queue's target today. Click to show the queues by level.",
    "on_queue": "Agents on queue. Click to show them.",
    "available": "Agents on queue and free for a call. Click to show them.",
    "interacting": "Agents on a call, chat or other interaction. Click to show them.",
    "not_responding": "Agents who let an offered call ring out. Click to show them.",
    "on_break": "Agents on a break or a meal. Click to show them.",
}
# What a click filters to: the longest wait shows what the Waiting figure shows.
FILTER_KEYS: dict[str, str] = {key: key for key in FIGURES} | {"longest_wait": "waiting"}


REFRESH_MS = 250  # changes are shown at most this late, and read at most this often


class HeaderStrip(QFrame):
    """Eight figures in a row, coloured by level; a click asks the board to filter.

    Signals:
        filter_requested(str): what the clicked figure counts ("waiting", "not_responding",
            "on_break", "available", "interacting", "on_queue", "sl").
    """

    filter_requested = Signal(str)
    refreshed = Signal()  # a new summary is shown (the tray follows it: one glance for both)

    def __init__(
        self,
        store: Store,
        settings: QSettings,
        bridge: EngineBridge | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """Build the figures and follow ``bridge`` (None: the owner calls :meth:`refresh`)."""
        super().__init__(parent)
        self.setObjectName("headerStrip")
        self.setAccessibleName("Contact centre summary")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._store = store
        self._settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self._summary: CentreSummary | None = None
        self._buttons: dict[str, QToolButton] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(4)
        for key in FIGURES:
            button = QToolButton(self)
            button.setObjectName(f"figure_{key}")
            button.setAutoRaise(True)
            button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setIconSize(QSize(14, 14))
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            button.clicked.connect(lambda _=False, k=key: self._on_figure_clicked(k))
            layout.addWidget(button)
            self._buttons[key] = button
        # Changes come in batches, up to many a second at scale, and a glance reads every user:
        # they are coalesced into one refresh per REFRESH_MS (P9 found 15 % of the loop here).
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(REFRESH_MS)
        self._soon.timeout.connect(self.refresh)
        if bridge is not None:
            bridge.queues_changed.connect(self._on_bridge_changed)
            bridge.users_changed.connect(self._on_bridge_changed)
            bridge.clock_ticked.connect(self.refresh)
        self.refresh()

    # ------------------------------------------------------------------ queries
    def button(self, key: str) -> QToolButton:
        """The button of one figure (a key of core.state.levels.FIGURES)."""
        return self._buttons[key]

    def summary(self) -> CentreSummary | None:
        """What the strip shows now."""
        return self._summary

    def level_of(self, key: str) -> Level | None:
        """The level one figure is shown at (None: not known)."""
        return None if self._summary is None else self._summary.figure(key).level

    def text_of(self, key: str) -> str:
        """The value one figure shows ("5", "3:10", "87 %", "—")."""
        return "" if self._summary is None else self._summary.figure(key).text

    # ------------------------------------------------------------------ drawing
    def refresh(self) -> None:
        """Read the store again and repaint every figure."""
        summary = glance(self._store, self._settings, self._clock())
        self._summary = summary
        for figure in summary.figures:
            self._show(self._buttons[figure.key], figure)
        self.refreshed.emit()

    def _show(self, button: QToolButton, figure: Figure) -> None:
        level = figure.level
        words = LEVEL_WORDS[level] if level is not None else "not known"
        button.setText(f"{figure.text}  {FIGURE_LABELS[figure.key]}")
        button.setAccessibleName(f"{figure.label}: {figure.text}, {words}")
        button.setToolTip(f"{figure.label}: {figure.text} ({words})\n{FIGURE_HINTS[figure.key]}")
        button.setIcon(level_icon(level, self.palette(), on_fill=True) or QIcon())
        button.setProperty("level", "" if level is None else level.word)
        fill = level_background(level, self.palette())
        ink = level_foreground(level, self.palette())
        if fill is None or ink is None:
            sheet = "QToolButton { padding: 2px 6px; }"
        else:
            sheet = (
                f"QToolButton {{ padding: 2px 6px; font-weight: bold; border-radius: 3px;"
                f" background-color: {fill.name()}; color: {ink.name()}; }}"
            )
        if button.styleSheet() != sheet:
            button.setStyleSheet(sheet)

    # ------------------------------------------------------------------ slots
    def _on_figure_clicked(self, key: str) -> None:
        self.filter_requested.emit(FILTER_KEYS[key])

    def _on_bridge_changed(self, _ids: list[str]) -> None:
        if not self._soon.isActive():
            self._soon.start()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        """Follow the palette (light/dark): the level colours have a variant for each."""
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.refresh()
        super().changeEvent(event)
