"""The wallboard: full screen, one big tile per queue, readable from across the room.

A tile says the queue's name, how many wait (the biggest figure), the longest wait, the service
level today and how many agents are free to take the next call, on the colour of the queue's
level: green within limits, amber for a warning, red for critical (and the word, for those
who cannot tell the colours apart). The fonts follow the tile's size, so a 4-queue board on a
TV and a 20-queue board on a laptop both fill their tiles. Esc (or F11 again) leaves it.

It reads the Queues board's level proxy (:class:`gui.models.queue_levels.QueueLevelsProxy`):
the same queues, figures and levels as the board and the tray.
"""

from __future__ import annotations

import logging
import math
from typing import Final

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QPalette,
    QResizeEvent,
)
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from core.state.levels import Level, QueueGlance, percent_text, short_clock
from core.state.store import Store
from gui.models.queue_levels import QueueLevelsProxy

logger = logging.getLogger(__name__)

UNKNOWN: Final = "\u2014"  # an em dash: the figure is not known (as the board shows it)

REFRESH_MS: Final = 1000
BOARD_BACKGROUND: Final = "#101418"
TILE_COLOURS: Final = {  # (fill, text): strong colours, each pair with a contrast of 4.5:1 or more
    Level.OK: ("#1b5e20", "#ffffff"),
    Level.WARNING: ("#ffb300", "#1a1200"),
    Level.CRITICAL: ("#c62828", "#ffffff"),
}
UNKNOWN_COLOURS: Final = ("#37474f", "#ffffff")
LEVEL_WORDS: Final = {Level.OK: "", Level.WARNING: "WARNING", Level.CRITICAL: "CRITICAL"}
GAP_PX: Final = 12
# Shares of a tile's height: name, the waiting count, its caption, the details (two lines at
# most), the level's word.
NAME_SHARE, WAITING_SHARE, CAPTION_SHARE, DETAILS_SHARE, LEVEL_SHARE = 16, 46, 9, 20, 9
TOTAL_SHARE: Final = NAME_SHARE + WAITING_SHARE + CAPTION_SHARE + DETAILS_SHARE + LEVEL_SHARE


def available_agents(store: Store, queue_id: str) -> int:
    """Agents joined to the queue, on queue and idle: who can take the next call now."""
    return sum(
        1
        for user in store.users.values()
        if user.system_presence == "ON_QUEUE"
        and user.routing_status == "IDLE"
        and queue_id in store.active_queues(user.id)
    )


def level_words(glance: QueueGlance) -> str:
    """``CRITICAL: service level``: the level, and the figures that put the queue there."""
    figures = (
        (glance.waiting_level, "waiting"),
        (glance.longest_wait_level, "longest wait"),
        (glance.service_level_level, "service level"),
    )
    causes = [name for level, name in figures if level is not None and level == glance.level]
    word = LEVEL_WORDS.get(glance.level, "")
    return f"{word}: {', '.join(causes)}" if word and causes else word


def grid_shape(count: int, width: int, height: int) -> tuple[int, int]:
    """(columns, rows) for ``count`` tiles: as close to the screen's shape as they allow."""
    if count <= 0:
        return 1, 1
    best: tuple[float, int, int] | None = None
    for columns in range(1, count + 1):
        rows = math.ceil(count / columns)
        tile_aspect = (width / columns) / max(height / rows, 1)
        score = abs(math.log(tile_aspect / 1.6)) + (columns * rows - count) * 0.05
        if best is None or score < best[0]:
            best = (score, columns, rows)
    return (best[1], best[2]) if best is not None else (1, 1)


class Tile(QFrame):
    """One queue's tile: name, waiting (big), and a line of the other figures."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("wallboardTile")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.name = QLabel()
        self.waiting = QLabel()
        self.caption = QLabel("waiting")
        self.details = QLabel()
        self.level_word = QLabel()
        layout = QVBoxLayout(self)
        layout.setSpacing(0)
        # The labels' own size hints are ignored (their fonts follow the tile, so letting the
        # fonts set a minimum would hold the tile at its old size): the share of the height
        # each gets is its stretch, the same share the fonts are fitted to.
        for label, share in (
            (self.name, NAME_SHARE),
            (self.waiting, WAITING_SHARE),
            (self.caption, CAPTION_SHARE),
            (self.details, DETAILS_SHARE),
            (self.level_word, LEVEL_SHARE),
        ):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
            layout.addWidget(label, share)
        self.level: Level | None = None
        self.fill = QColor(UNKNOWN_COLOURS[0])

    def show_glance(self, glance: QueueGlance, available: int) -> None:
        """Fill the tile from one queue's figures and level."""
        self.name.setText(glance.name)
        self.waiting.setText(UNKNOWN if glance.waiting is None else str(glance.waiting))
        longest = UNKNOWN if glance.longest_wait_s is None else short_clock(glance.longest_wait_s)
        sl = UNKNOWN if glance.service_level is None else percent_text(glance.service_level)
        free = "agent" if available == 1 else "agents"
        self.details.setText(f"Longest {longest} · SL {sl}\n{available} {free} free")
        known = glance.waiting is not None or glance.service_level is not None
        self.level = glance.level if known else None
        self.level_word.setText(level_words(glance) if self.level else "")
        fill, ink = TILE_COLOURS[self.level] if self.level is not None else UNKNOWN_COLOURS
        self.fill = QColor(fill)
        self.setStyleSheet(
            f"#wallboardTile {{ background: {fill}; border-radius: 10px; }}"
            f" QLabel {{ color: {ink}; background: transparent; }}"
        )
        self.setAccessibleName(
            f"{glance.name}: {self.waiting.text()} waiting, "
            + self.details.text().replace("\n", ", ")
            + (f", {self.level_word.text().lower()}" if self.level_word.text() else "")
        )
        self._fit_fonts()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        """The fonts follow the tile's size."""
        super().resizeEvent(event)
        self._fit_fonts()

    def _fit_fonts(self) -> None:
        height, width = max(self.height(), 40) / TOTAL_SHARE, max(self.width(), 60)
        self._fit(self.name, height * NAME_SHARE * 0.75, width * 0.92, bold=True)
        self._fit(self.waiting, height * WAITING_SHARE * 0.8, width * 0.9, bold=True)
        self._fit(self.caption, height * CAPTION_SHARE * 0.75, width * 0.9)
        self._fit(self.details, height * DETAILS_SHARE * 0.4, width * 0.95)
        self._fit(self.level_word, height * LEVEL_SHARE * 0.75, width * 0.9, bold=True)

    @staticmethod
    def _fit(label: QLabel, height: float, width: float, *, bold: bool = False) -> None:
        """The largest pixel size (up to ``height``) at which every line fits in ``width``."""
        font = QFont(label.font())
        font.setBold(bold)
        size = max(8, int(height))
        font.setPixelSize(size)
        metrics = QFontMetrics(font)
        advance = max(metrics.horizontalAdvance(line) for line in (label.text() or "0").split("\n"))
        if advance > width:
            font.setPixelSize(max(8, int(size * width / advance)))
        label.setFont(font)


class Wallboard(QWidget):
    """Full-screen tiles of every queue on the board, refreshed every second.

    Signals:
        closed(): the person left the wallboard (Esc, F11, or the window closed).
    """

    closed = Signal()

    def __init__(
        self, levels: QueueLevelsProxy, store: Store, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("wallboard")
        self.setWindowTitle("Wallboard")
        self.levels = levels
        self.store = store
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor(BOARD_BACKGROUND))
        self.setPalette(palette)
        self.setAutoFillBackground(True)
        self.tiles: list[Tile] = []
        self.grid = QGridLayout(self)
        self.grid.setSpacing(GAP_PX)
        self.grid.setContentsMargins(GAP_PX, GAP_PX, GAP_PX, GAP_PX)
        self.empty = QLabel("No queues are watched. Choose some in What to watch.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: #ffffff; font-size: 28px;")
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self._shape: tuple[int, int, int] | None = None

    def open(self) -> None:
        """Go full screen and start refreshing."""
        self.refresh()
        self.showFullScreen()
        self.raise_()
        self.activateWindow()
        self.timer.start()

    def refresh(self) -> None:
        """Read every queue's figures again; rebuild the grid when the queues changed."""
        levels = self.levels
        if not shiboken6.isValid(levels):  # the board went first (at quit)
            self.timer.stop()
            return
        levels.refresh()
        glances = [levels.glance(row) for row in range(levels.rowCount())]
        known = [g for g in glances if g is not None]
        self._layout_tiles(len(known))
        for tile, glance in zip(self.tiles, known, strict=True):
            tile.show_glance(glance, available_agents(self.store, glance.id))

    def _layout_tiles(self, count: int) -> None:
        columns, rows = grid_shape(count, self.width(), self.height())
        if self._shape == (count, columns, rows):
            return
        self._shape = (count, columns, rows)
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None and widget is not self.empty:
                widget.deleteLater()
        self.tiles = [Tile(self) for _ in range(count)]
        for i, tile in enumerate(self.tiles):
            self.grid.addWidget(tile, i // columns, i % columns)
        self.empty.setVisible(count == 0)
        if count == 0:
            self.grid.addWidget(self.empty, 0, 0)
        for column in range(columns):
            self.grid.setColumnStretch(column, 1)
        for row in range(rows):
            self.grid.setRowStretch(row, 1)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        """A new screen shape may want another grid."""
        super().resizeEvent(event)
        self.refresh()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """Esc or F11 leaves the wallboard."""
        if event.key() in (Qt.Key.Key_Escape, Qt.Key.Key_F11):
            self.leave()
            return
        super().keyPressEvent(event)

    def leave(self) -> None:
        """Stop refreshing and close."""
        self.timer.stop()
        self.hide()
        self.closed.emit()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Closed by the window manager: the same as Esc."""
        self.timer.stop()
        self.closed.emit()
        super().closeEvent(event)

    def tile_texts(self) -> list[str]:
        """Every tile's words, in order (what a test, or a screen reader, reads)."""
        return [tile.accessibleName() for tile in self.tiles]
