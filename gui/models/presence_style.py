"""The one place that decides what presence, routing and warnings look like.

Every colour comes in a light and a dark variant, chosen from the palette the widget (or the
application) is drawn with, so the same table reads well in both. Colour is never the only
signal: whatever needs attention also gets a bold font, a distinct icon shape (a warning
triangle) and words, so it survives colour blindness, greyscale screenshots and screen readers.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QGuiApplication,
    QIcon,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
)

logger = logging.getLogger(__name__)


class Shade(NamedTuple):
    """One colour for light palettes and one for dark palettes (``#rrggbb``)."""

    light: str
    dark: str


GREEN = Shade("#2e7d32", "#66bb6a")
TEAL = Shade("#00838f", "#4dd0e1")
RED = Shade("#c62828", "#ef5350")
AMBER = Shade("#e68a00", "#ffca28")
PURPLE = Shade("#6a1b9a", "#ce93d8")
GREY = Shade("#757575", "#9e9e9e")

#: System presence (upper snake, as :mod:`core.streaming.events` normalises it) -> colour. The
#: org's own
#: presence definitions ("Lunch", "Coaching") map onto one of these system presences, so the
#: chip colour stays meaningful whatever the org calls its presences.
PRESENCE_COLOURS: dict[str, Shade] = {
    "AVAILABLE": GREEN,
    "ON_QUEUE": TEAL,
    "BUSY": RED,
    "MEETING": RED,
    "AWAY": AMBER,
    "BREAK": AMBER,
    "MEAL": AMBER,
    "IDLE": AMBER,  # away from the keyboard: same family as Away, as Genesys shows it
    "TRAINING": PURPLE,
    "OFFLINE": GREY,
}
UNKNOWN_PRESENCE = GREY

#: Routing statuses that get a colour of their own (all others use the default text colour).
ROUTING_COLOURS: dict[str, Shade] = {"NOT_RESPONDING": RED}

#: Routing statuses that need a supervisor's attention (bold, warning colours, warning icon).
ALERT_ROUTING = frozenset({"NOT_RESPONDING"})

WARNING_FOREGROUND = Shade("#b71c1c", "#ff8a80")
WARNING_BACKGROUND = Shade("#ffebee", "#4a1c1c")
#: Tint for a queue cell with callers waiting: noticeable, not alarming.
WAITING_TINT = Shade("#fff3d6", "#4a3a12")
# The text of a board that shows the last known picture (old rows): grey, yet over 5:1 on the
# base and the alternate rows of both palettes, so it reads as stale, not as disabled.
STALE_TEXT = Shade("#5f5f5f", "#a3a3a3")

CHIP_SIZE_PX = 12
ICON_SIZE_PX = 16

_icons: dict[tuple[str, str, int], QIcon] = {}


def current_palette() -> QPalette:
    """The application palette (the palette models answer colour roles for)."""
    return QGuiApplication.palette()


def is_dark(palette: QPalette | None = None) -> bool:
    """True when the palette draws light text on a dark window (a dark theme)."""
    palette = palette or current_palette()
    window = palette.color(QPalette.ColorRole.Window)
    text = palette.color(QPalette.ColorRole.WindowText)
    return window.lightnessF() < text.lightnessF()


def shade(colours: Shade, palette: QPalette | None = None) -> QColor:
    """The variant of ``colours`` that fits ``palette`` (default: the application palette)."""
    return QColor(colours.dark if is_dark(palette) else colours.light)


def presence_colour(system_presence: str | None, palette: QPalette | None = None) -> QColor:
    """The chip colour of a system presence (grey when unknown)."""
    colours = PRESENCE_COLOURS.get(system_presence or "", UNKNOWN_PRESENCE)
    return shade(colours, palette)


def routing_colour(status: str | None, palette: QPalette | None = None) -> QColor | None:
    """The colour of a routing status, or None when it has no colour of its own."""
    colours = ROUTING_COLOURS.get(status or "")
    return None if colours is None else shade(colours, palette)


def relative_luminance(colour: QColor) -> float:
    """WCAG 2 relative luminance of a colour (0 black .. 1 white)."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF())
        + 0.7152 * channel(colour.greenF())
        + 0.0722 * channel(colour.blueF())
    )


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio between two colours (1 .. 21)."""
    la, lb = relative_luminance(a), relative_luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def visible_on(preferred: QColor, fallback: QColor, background: QColor) -> QColor:
    """``preferred`` when it stands out from ``background`` (ratio >= 3), else ``fallback``."""
    return preferred if contrast_ratio(preferred, background) >= 3.0 else fallback


def colour_chip(colour: QColor, size: int = CHIP_SIZE_PX) -> QIcon:
    """A round chip of ``colour`` with a darker rim, so light chips show on light rows."""
    key = ("chip", colour.name(QColor.NameFormat.HexArgb), size)
    icon = _icons.get(key)
    if icon is None:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(colour.darker(160), 1.0))
        painter.setBrush(QBrush(colour))
        painter.drawEllipse(QPointF(size / 2, size / 2), size / 2 - 1, size / 2 - 1)
        painter.end()
        icon = _icons[key] = QIcon(pixmap)
    return icon


def warning_icon(palette: QPalette | None = None, size: int = ICON_SIZE_PX) -> QIcon:
    """A warning triangle with an exclamation mark: a shape, not just a colour."""
    fill = shade(RED, palette)
    key = ("warning", fill.name(), size)
    icon = _icons.get(key)
    if icon is None:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        triangle = QPainterPath()
        triangle.moveTo(size / 2, 1)
        triangle.lineTo(size - 1, size - 1)
        triangle.lineTo(1, size - 1)
        triangle.closeSubpath()
        painter.setPen(QPen(fill.darker(150), 1.0))
        painter.setBrush(QBrush(fill))
        painter.drawPath(triangle)
        mark = QPen(QColor("#ffffff"), max(1.5, size / 8))
        mark.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(mark)
        painter.drawLine(QPointF(size / 2, size * 0.38), QPointF(size / 2, size * 0.66))
        painter.drawPoint(QPointF(size / 2, size * 0.82))
        painter.end()
        icon = _icons[key] = QIcon(pixmap)
    return icon
