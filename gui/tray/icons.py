"""Tray icons: one SVG per health state, a corner plate for pause or snooze, an alert badge.

Every state differs in SHAPE, not only in colour, so the icon reads for colour-blind users and on
monochrome panels: live is a disc with a check cut out, stale an hourglass, reconnecting two
circular arrows, resyncing one long arrow around a dot, starting a spinner of dots, offline a
rounded square with an X cut out, sign_in_needed a warning triangle with "!", stopped a hollow ring.

Overlays are drawn here with QPainter, on whole pixels: paused dims the state glyph and puts a
plate with pause bars in the bottom-left corner; snoozed puts a plate with a "Z" there instead
(only when not paused: a paused feed raises nothing to snooze, and at 16 px a third overlay would
hide the state); a count badge ("1".."9", "9+") sits in the top-right corner. Opposite
corners: at 22 px two 12 px overlays in one column would overlap. A transparent
halo is cut around each overlay so it stands apart from the glyph under it on any panel.

The badge says the queues' state when the tray knows it (``queue_level``): the calls waiting in
all watched queues, on the worst queue's level colour (grey within limits, amber warning, red
critical; "!" when a queue is out of limits with nobody waiting, e.g. a low service level).
Critical is a square-cornered badge, so it differs from warning in shape, not only colour.
Without queue figures the badge is the red count of active alerts, as before.

The "me" mark (only for a signed-in person, never a service account) sits in the bottom-right
corner: my presence's colour (gui.models.presence_style: the org's custom presences take their
system presence's colour) in a shape that says my routing: a solid disc off queue, a ring on
queue, a diamond in the warning red when Not Responding. Health (the glyph), the queues (the
badge) and me (the mark) take three different corners, so all three read at 16 px.

The SVGs under ``resources/icons/`` paint with ``currentColor``; their root ``color=`` is the light
theme default for viewers and is replaced here by the theme's colour before rendering. Glyphs are
cut out of their shapes (even-odd holes), so the panel shows through whatever its colour.

Each size in :data:`ICON_SIZES_PX` is rendered on its own from the vector source (no scaling of
a bitmap). Badge digits up to 22 px icons use a 3x5 pixel font: an anti-aliased outline font at
5 px is mush.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QIcon,
    QImage,
    QPainter,
    QPainterPath,
    QPixmap,
    QPolygonF,
)
from PySide6.QtSvg import QSvgRenderer

from gui.models.presence_style import PRESENCE_COLOURS, RED, UNKNOWN_PRESENCE

STATES: tuple[str, ...] = (
    "live",
    "stale",
    "reconnecting",
    "resyncing",
    "starting",
    "offline",
    "sign_in_needed",
    "stopped",
)
ICON_SIZES_PX: tuple[int, ...] = (16, 22, 24, 32, 64)
BADGE_MAX = 9  # above this the badge reads "9+"

# (light theme, dark theme). Light: dark saturated tones on a light panel; dark: pastel tones.
STATE_COLOURS: dict[str, tuple[str, str]] = {
    "live": ("#188038", "#81c995"),
    "stale": ("#b06000", "#fdd663"),
    "reconnecting": ("#1967d2", "#8ab4f8"),
    "resyncing": ("#8430ce", "#d7aefb"),
    "starting": ("#007b83", "#78d9ec"),
    "offline": ("#455a64", "#b0bec5"),
    "sign_in_needed": ("#c5221f", "#f28b82"),
    "stopped": ("#5f6368", "#bdc1c6"),
}
OVERLAY_INK: tuple[str, str] = ("#3c4043", "#e8eaed")
BADGE_FILL = "#d93025"
BADGE_TEXT = "#ffffff"
QUEUE_LEVELS: tuple[str, ...] = ("ok", "warning", "critical")
# (fill, digits) of the waiting badge by the worst queue's level: readable on light and dark.
LEVEL_BADGE: dict[str, tuple[str, str]] = {
    "ok": ("#5f6368", "#ffffff"),
    "warning": ("#f9ab00", "#202124"),
    "critical": ("#d93025", "#ffffff"),
}
ME_SHAPES: tuple[str, ...] = ("disc", "ring", "diamond")  # off queue, on queue, not responding
ME_ON_QUEUE = frozenset({"IDLE", "INTERACTING", "COMMUNICATING"})
ME_FRACTION = 0.375  # the me mark's size as a part of the icon size (see me_px)
PAUSED_OPACITY = 0.5  # the state glyph under the pause plate
OVERLAY_FRACTION = 0.5625  # badge / plate height as a part of the icon size (see overlay_px)
PIXEL_FONT_MAX_BADGE_PX = 13  # up to this badge height (icons up to 22 px) a pixel font

_RESOURCES = "resources"
_ROOT_COLOR = re.compile(r'color="#[0-9a-fA-F]{6}"')
# 3x5 pixel font for the badge: one string per row, "#" = ink.
_PIXEL_FONT: dict[str, tuple[str, ...]] = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", ".##", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", ".#.", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
    "+": ("...", ".#.", "###", ".#.", "..."),
    "!": (".#.", ".#.", ".#.", "...", ".#."),
}
_PIXEL_FONT_W = 3
_PIXEL_FONT_H = 5


def resource_path(name: str) -> Path:
    """Return the path of ``resources/<name>``, from a source checkout or an installed package.

    A checkout has ``resources/`` beside ``gui/``; an installed copy looks there first (an
    editable install is a checkout) and then under ``<prefix>/share/genesys-tray/``.

    Raises:
        FileNotFoundError: when no candidate holds the file; the message lists where it looked.
    """
    candidates = [
        Path(__file__).resolve().parents[2] / _RESOURCES / name,
        Path(sys.prefix) / "share" / "genesys-tray" / _RESOURCES / name,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"resource {name!r} not found (looked in {tried})")


def is_dark_scheme() -> bool:
    """Whether the desktop uses a dark colour scheme (style hints first, then the palette)."""
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        return False
    scheme = QGuiApplication.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return QGuiApplication.palette().window().color().lightness() < 128


def state_color(state: str, dark: bool) -> QColor:
    """The colour the icon of ``state`` is drawn in on a light or dark panel."""
    _check_state(state)
    return QColor(STATE_COLOURS[state][int(dark)])


def badge_text(alerts: int) -> str:
    """The badge's text: "" for no alerts, "1".."9", then "9+"."""
    if alerts <= 0:
        return ""
    return str(alerts) if alerts <= BADGE_MAX else f"{BADGE_MAX}+"


def queue_badge(queue_level: str | None, waiting: int) -> str:
    """The waiting badge's text: the count, "!" for a problem with nobody waiting, or ""."""
    if queue_level is None:
        return ""
    if queue_level not in LEVEL_BADGE:
        raise ValueError(
            f"unknown queue level {queue_level!r}; expected one of ok, warning, critical"
        )
    if waiting > 0:
        return badge_text(waiting)
    return "!" if queue_level != "ok" else ""


def tray_icon(
    state: str,
    *,
    alerts: int = 0,
    paused: bool = False,
    snoozed: bool = False,
    dark: bool | None = None,
    queue_level: str | None = None,
    waiting: int = 0,
    me_presence: str | None = None,
    me_routing: str | None = None,
) -> QIcon:
    """Return the tray icon for a health state, with overlays, at every size of ICON_SIZES_PX.

    Icons are cached: the same arguments give the same QIcon object (alert counts above
    BADGE_MAX share one icon, since they look the same). Needs a QGuiApplication.

    Args:
        state: one of :data:`STATES`.
        alerts: number of active alerts for the corner badge (0: no badge).
        paused: the feed is paused: dimmed glyph and a pause plate.
        snoozed: notifications are snoozed: a "z" plate.
        dark: render for a dark panel; ``None`` asks the desktop (:func:`is_dark_scheme`).
        queue_level: the worst watched queue's level (ok, warning, critical); None: unknown.
        waiting: calls waiting in all watched queues (the badge, when ``queue_level`` is set).
        me_presence: my system presence (``AVAILABLE``, ``BREAK``…); with ``me_routing`` None
            too, no me mark (a service account, or nothing known of me yet).
        me_routing: my routing status (``OFF_QUEUE``, ``IDLE``, ``NOT_RESPONDING``…).

    Raises:
        ValueError: for an unknown state or queue level.
    """
    _check_state(state)
    if dark is None:
        dark = is_dark_scheme()
    badge, level = _badge_of(alerts, queue_level, waiting)
    me = me_mark(me_presence, me_routing, dark=dark)
    return _cached_icon(
        state, badge, level, paused=paused, snoozed=snoozed and not paused, dark=dark, me=me
    )


def me_mark(presence: str | None, routing: str | None, *, dark: bool) -> tuple[str, str] | None:
    """(colour, shape) of the me mark for my presence and routing; None: no mark.

    The colour is my presence's; the shape my routing's (see :data:`ME_SHAPES`). Not Responding
    overrides the colour with the warning red: it is the one status that needs me now.
    """
    if presence is None and routing is None:
        return None
    if routing == "NOT_RESPONDING":
        return (RED.dark if dark else RED.light), "diamond"
    shade = PRESENCE_COLOURS.get(presence or "", UNKNOWN_PRESENCE)
    return (shade.dark if dark else shade.light), ("ring" if routing in ME_ON_QUEUE else "disc")


def _badge_of(alerts: int, queue_level: str | None, waiting: int) -> tuple[str, str]:
    """(text, level) of the badge: the queues' when they have something to say, else alerts."""
    text = queue_badge(queue_level, waiting)
    if text and queue_level is not None:
        return text, queue_level
    return badge_text(alerts), ""


def tray_image(
    state: str,
    size: int,
    *,
    alerts: int = 0,
    paused: bool = False,
    snoozed: bool = False,
    dark: bool = False,
    queue_level: str | None = None,
    waiting: int = 0,
    me_presence: str | None = None,
    me_routing: str | None = None,
) -> QImage:
    """Render one size of a tray icon into a transparent ARGB image (not cached)."""
    _check_state(state)
    badge, level = _badge_of(alerts, queue_level, waiting)
    me = me_mark(me_presence, me_routing, dark=dark)
    return _render(
        state, size, badge=badge, level=level, paused=paused, snoozed=snoozed, dark=dark, me=me
    )


def _check_state(state: str) -> None:
    if state not in STATE_COLOURS:
        raise ValueError(f"unknown tray state {state!r}; expected one of {', '.join(STATES)}")


@functools.lru_cache(maxsize=256)
def _cached_icon(
    state: str,
    badge: str,
    level: str,
    *,
    paused: bool,
    snoozed: bool,
    dark: bool,
    me: tuple[str, str] | None = None,
) -> QIcon:
    icon = QIcon()
    for size in ICON_SIZES_PX:
        image = _render(
            state, size, badge=badge, level=level, paused=paused, snoozed=snoozed, dark=dark, me=me
        )
        icon.addPixmap(QPixmap.fromImage(image))
    return icon


@functools.lru_cache(maxsize=32)
def _svg_source(name: str) -> str:
    text = resource_path(f"icons/{name}.svg").read_text(encoding="utf-8")
    if _ROOT_COLOR.search(text) is None:
        raise ValueError(f'icons/{name}.svg has no root color="#rrggbb" to theme')
    return text


def _renderer(name: str, colour: str) -> QSvgRenderer:
    svg = _ROOT_COLOR.sub(f'color="{colour}"', _svg_source(name), count=1)
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    if not renderer.isValid():
        raise ValueError(f"icons/{name}.svg is not a valid SVG")
    return renderer


def _render(
    state: str,
    size: int,
    *,
    badge: str,
    level: str,
    paused: bool,
    snoozed: bool,
    dark: bool,
    me: tuple[str, str] | None = None,
) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    try:
        if paused:
            painter.setOpacity(PAUSED_OPACITY)
        _renderer(state, STATE_COLOURS[state][int(dark)]).render(painter, QRectF(0, 0, size, size))
        painter.setOpacity(1.0)
        plate = overlay_px(size)
        halo = max(1, round(size / 16))
        ink = QColor(OVERLAY_INK[int(dark)])
        if paused:  # a paused feed raises no alerts either: the snooze plate would say nothing
            _plate(painter, _pause_glyph(plate), ink=ink, size=size, plate=plate, halo=halo)
        elif snoozed:
            _plate(painter, _snooze_glyph(plate), ink=ink, size=size, plate=plate, halo=halo)
        if badge:
            _badge(painter, badge, size, plate, halo=halo, level=level)
        if me is not None:
            _me(painter, me, size, halo=halo)
    finally:
        painter.end()
    return image


def overlay_px(size: int) -> int:
    """Height of the badge and of the corner plates for an icon of ``size`` px (always even).

    Even, so the plate's glyph (and the badge's digits) centre on whole pixels: 8 px at 16,
    12 at 22, 14 at 24, 18 at 32, 36 at 64.
    """
    return 2 * round(size * OVERLAY_FRACTION / 2)


def me_px(size: int) -> int:
    """Size of the me mark for an icon of ``size`` px (even): 6 at 16, 8 at 22 and 24, 12 at 32.

    Small enough to leave the bottom-left plate and the top-right badge their halo.
    """
    return 2 * round(size * ME_FRACTION / 2)


def me_rect(size: int) -> QRectF:
    """Where the me mark is drawn: the bottom-right corner."""
    mark = me_px(size)
    return QRectF(size - mark, size - mark, mark, mark)


def _me(painter: QPainter, me: tuple[str, str], size: int, *, halo: int) -> None:
    """The me mark: a disc, ring or diamond in the bottom-right corner, with a halo."""
    colour, shape = me
    rect = me_rect(size)
    outline = QPainterPath()
    if shape == "diamond":
        centre = rect.center()
        half = rect.width() / 2 + 0.5  # a diamond looks smaller than a disc of the same width
        outline.addPolygon(
            QPolygonF(
                [
                    QPointF(centre.x(), centre.y() - half),
                    QPointF(centre.x() + half, centre.y()),
                    QPointF(centre.x(), centre.y() + half),
                    QPointF(centre.x() - half, centre.y()),
                ]
            )
        )
        outline.closeSubpath()
    else:
        outline.addEllipse(rect)
    gap = QPainterPath()
    gap.addEllipse(rect.adjusted(-halo, -halo, halo, halo))
    _punch(painter, gap)
    painter.fillPath(outline, QColor(colour))
    if shape == "ring":  # the panel shows through the middle: on queue
        hole = max(2, 2 * round(rect.width() / 5))
        inner = QPainterPath()
        inner.addEllipse(
            QRectF(rect.center().x() - hole / 2, rect.center().y() - hole / 2, hole, hole)
        )
        painter.save()  # on whole pixels: an anti-aliased 2-4 px hole is a smudge, not a hole
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, on=hole > 4)
        _punch(painter, inner)
        painter.restore()


def _punch(painter: QPainter, path: QPainterPath) -> None:
    """Clear ``path`` to transparent, so an overlay stands apart from the glyph under it."""
    painter.save()
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationOut)
    painter.fillPath(path, QColor(0, 0, 0))
    painter.restore()


def _plate(
    painter: QPainter, glyph: QPainterPath, *, ink: QColor, size: int, plate: int, halo: int
) -> None:
    """A round plate in the bottom-left corner with ``glyph`` cut out of it."""
    rect = QRectF(0, size - plate, plate, plate)
    gap = QPainterPath()
    gap.addEllipse(rect.adjusted(-halo, -halo, halo, halo))
    _punch(painter, gap)
    disc = QPainterPath()
    disc.addEllipse(rect)
    painter.fillPath(disc, ink)
    glyph.translate(rect.topLeft())
    _punch(painter, glyph)


def _pause_glyph(plate: int) -> QPainterPath:
    """Two bars on whole pixels, bar and gap equally wide, centred on the plate."""
    bar = max(1, round(plate / 6))
    height = max(3, plate // 2)
    left, top = (plate - 3 * bar) // 2, (plate - height) // 2
    glyph = QPainterPath()
    glyph.addRect(QRectF(left, top, bar, height))
    glyph.addRect(QRectF(left + 2 * bar, top, bar, height))
    return glyph


def _snooze_glyph(plate: int) -> QPainterPath:
    """A "Z": top and bottom bars on whole pixels, joined by a diagonal."""
    stroke = max(1, round(plate * 0.15))
    margin = max(1, round(plate * 0.25))
    right, bottom = plate - margin, plate - margin
    diagonal = stroke * 1.5
    glyph = QPainterPath()
    glyph.setFillRule(Qt.FillRule.WindingFill)
    glyph.addRect(QRectF(margin, margin, right - margin, stroke))
    glyph.addRect(QRectF(margin, bottom - stroke, right - margin, stroke))
    glyph.addPolygon(
        QPolygonF(
            [
                QPointF(right - diagonal, margin + stroke),
                QPointF(right, margin + stroke),
                QPointF(margin + diagonal, bottom - stroke),
                QPointF(margin, bottom - stroke),
            ]
        )
    )
    glyph.closeSubpath()
    return glyph


def _badge(painter: QPainter, text: str, size: int, height: int, *, halo: int, level: str) -> None:
    """The badge pill in the top-right corner; ``level`` "" is the red alert count."""
    fill, ink = LEVEL_BADGE.get(level, (BADGE_FILL, BADGE_TEXT))
    radius = height / 5 if level == "critical" else height / 2  # critical: square corners
    glyphs = QPainterPath()
    if height <= PIXEL_FONT_MAX_BADGE_PX or not QFontDatabase.families():
        scale = max(1, round(height * 0.4 / _PIXEL_FONT_H))
        pixels = _pixel_text(text, scale)
        text_w = (len(text) * (_PIXEL_FONT_W + 1) - 1) * scale
    else:
        pixels = []
        font = QFont()
        font.setBold(True)
        font.setPixelSize(round(height * 0.62))
        glyphs.addText(QPointF(0, 0), font, text)
        text_w = round(glyphs.boundingRect().width())
    # One character: a circle. More: a pill just wide enough, with the same round ends; its
    # free width has the parity of the text width, so pixel glyphs land on whole pixels.
    width = max(height, text_w + 2 * max(2, height // 6))
    width = min(width + (width - text_w) % 2, size)
    rect = QRectF(size - width, 0, width, height)
    gap = QPainterPath()
    outer = rect.adjusted(-halo, -halo, halo, halo)
    outer_radius = radius + halo
    gap.addRoundedRect(outer, outer_radius, outer_radius)
    _punch(painter, gap)
    pill = QPainterPath()
    pill.addRoundedRect(rect, radius, radius)
    painter.fillPath(pill, QColor(fill))
    if pixels:
        left = int(rect.x()) + (width - text_w) // 2
        top = (height - _PIXEL_FONT_H * scale + 1) // 2
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, on=False)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(ink))
        painter.drawRects([r.translated(left, top) for r in pixels])
        painter.restore()
    else:
        glyphs.translate(rect.center() - glyphs.boundingRect().center())
        painter.fillPath(glyphs, QColor(ink))


def _pixel_text(text: str, scale: int) -> list[QRect]:
    """The ink squares of ``text`` in the 3x5 pixel font, from the text's top-left corner."""
    rects = []
    for index, char in enumerate(text):
        left = index * (_PIXEL_FONT_W + 1) * scale
        for row, bits in enumerate(_PIXEL_FONT[char]):
            for col, bit in enumerate(bits):
                if bit == "#":
                    rects.append(QRect(left + col * scale, row * scale, scale, scale))
    return rects
