"""What a level (ok, warning, critical) looks like: the header strip and the Queues board share it.

Not only a pale fill: a warning is a strong amber with dark text and an amber triangle, a
critical a strong red with white text and a red octagon, both bold. Each colour has a light and a
dark variant (picked from the palette, as gui.models.presence_style does) and every text/fill
pair keeps a WCAG contrast of 4.5:1 or more, so a level reads in both themes, in greyscale (the
icon shapes differ) and to a screen reader (the words come with the level).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap

from core.state.levels import Level
from gui.models.presence_style import ICON_SIZE_PX, Shade, shade

logger = logging.getLogger(__name__)

LEVEL_BACKGROUND: dict[Level, Shade] = {
    Level.WARNING: Shade("#ffd54f", "#8a5a00"),
    Level.CRITICAL: Shade("#c62828", "#b71c1c"),
}
LEVEL_FOREGROUND: dict[Level, Shade] = {
    Level.WARNING: Shade("#3e2a00", "#fff8e1"),
    Level.CRITICAL: Shade("#ffffff", "#ffffff"),
}
LEVEL_WORDS: dict[Level, str] = {
    Level.OK: "within limits",
    Level.WARNING: "warning",
    Level.CRITICAL: "critical",
}

_icons: dict[tuple[Level, str, int], QIcon] = {}


def level_background(level: Level | None, palette: QPalette | None = None) -> QColor | None:
    """The fill of a figure or cell at ``level``; None when it keeps the normal background."""
    colours = LEVEL_BACKGROUND.get(level) if level is not None else None
    return None if colours is None else shade(colours, palette)


def level_foreground(level: Level | None, palette: QPalette | None = None) -> QColor | None:
    """The text colour on :func:`level_background`; None when the normal text colour is kept."""
    colours = LEVEL_FOREGROUND.get(level) if level is not None else None
    return None if colours is None else shade(colours, palette)


def level_icon(
    level: Level | None,
    palette: QPalette | None = None,
    size: int = ICON_SIZE_PX,
    *,
    on_fill: bool = False,
) -> QIcon | None:
    """A triangle for a warning, an octagon for critical (shapes, not only colours); else None.

    ``on_fill``: the icon sits on the level's own fill (the header strip), so it is drawn in
    the level's text colour with the mark in the fill's, instead of vanishing into it.
    """
    if level is None or level is Level.OK:
        return None
    fill = shade(LEVEL_BACKGROUND[level], palette)
    ink = QColor("#202124") if level is Level.WARNING else QColor("#ffffff")
    if on_fill:
        fill, ink = shade(LEVEL_FOREGROUND[level], palette), fill
    key = (level, f"{fill.name()}{ink.name()}", size)
    icon = _icons.get(key)
    if icon is not None:
        return icon
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = QPainterPath()
    if level is Level.WARNING:
        path.moveTo(size / 2, 1)
        path.lineTo(size - 1, size - 1)
        path.lineTo(1, size - 1)
    else:
        cut = size * 0.29
        points = [
            (cut, 1),
            (size - cut, 1),
            (size - 1, cut),
            (size - 1, size - cut),
            (size - cut, size - 1),
            (cut, size - 1),
            (1, size - cut),
            (1, cut),
        ]
        path.moveTo(*points[0])
        for x, y in points[1:]:
            path.lineTo(x, y)
    path.closeSubpath()
    painter.setPen(QPen(fill.darker(160), 1.0))
    painter.setBrush(QBrush(fill))
    painter.drawPath(path)
    mark = QPen(ink, max(1.5, size / 8))
    mark.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(mark)
    top = size * (0.4 if level is Level.WARNING else 0.25)
    painter.drawLine(QPointF(size / 2, top), QPointF(size / 2, size * 0.62))
    painter.drawPoint(QPointF(size / 2, size * 0.8))
    painter.end()
    icon = _icons[key] = QIcon(pixmap)
    return icon


# A whole row out of limits: a tint under the cells that are not themselves out of limits, so
# the row reads as one, while the figure that caused it keeps the strong fill.
ROW_TINT: dict[Level, Shade] = {
    Level.WARNING: Shade("#fff3c4", "#3d2e00"),
    Level.CRITICAL: Shade("#fcdcd8", "#4a1c1c"),
}


def row_tint(level: Level | None, palette: QPalette | None = None) -> QColor | None:
    """The tint of a row at ``level`` (None for ok and unknown)."""
    colours = ROW_TINT.get(level) if level is not None else None
    return None if colours is None else shade(colours, palette)


def alert_icon(palette: QPalette | None = None, size: int = ICON_SIZE_PX) -> QIcon:
    """A bell: an alert fires for this row (a shape of its own, beside the level icons)."""
    fill = shade(Shade("#c62828", "#ff8a80"), palette)
    key = (Level.OK, f"bell{fill.name()}", size)  # Level.OK never keys a level icon
    icon = _icons.get(key)
    if icon is not None:
        return icon
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    bell = QPainterPath()
    bell.moveTo(size * 0.5, size * 0.08)
    bell.cubicTo(size * 0.22, size * 0.1, size * 0.22, size * 0.4, size * 0.2, size * 0.62)
    bell.lineTo(size * 0.08, size * 0.78)
    bell.lineTo(size * 0.92, size * 0.78)
    bell.lineTo(size * 0.8, size * 0.62)
    bell.cubicTo(size * 0.78, size * 0.4, size * 0.78, size * 0.1, size * 0.5, size * 0.08)
    bell.closeSubpath()
    bell.addEllipse(QPointF(size * 0.5, size * 0.88), size * 0.1, size * 0.1)
    painter.setPen(QPen(fill.darker(160), 1.0))
    painter.setBrush(QBrush(fill))
    painter.drawPath(bell)
    painter.end()
    icon = _icons[key] = QIcon(pixmap)
    return icon
