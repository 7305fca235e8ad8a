"""A painted status timeline: one coloured stretch per status, over a labelled time axis.

Colours are the boards' (gui.models.presence_style): the presence chip colour, and within On
Queue a lighter shade for Idle, the full one for Interacting, red for Not Responding. Time the
app did not watch is hatched grey, never left looking like a status. Hovering a stretch says
what it was, from when to when, and for how long.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from PySide6.QtCore import QEvent, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QHelpEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from core.domain.format import duration_text
from core.storage.journal.day import ON_QUEUE, AgentDay, Segment, Status
from gui.models.presence_style import GREY, presence_colour, routing_colour, shade

logger = logging.getLogger(__name__)

BAR_HEIGHT_PX = 34
AXIS_HEIGHT_PX = 22
MARGIN_PX = 8
MIN_SPAN_S = 900.0
GRAIN = ((3600.0, 5), (3 * 3600.0, 15))  # (watched under, round to minutes); else hours
TICK_MINUTES = (5, 10, 15, 30, 60, 120, 180, 240, 360, 720)
BUSY_ROUTING = frozenset({"INTERACTING", "COMMUNICATING"})


def status_colour(status: Status, palette: QPalette | None = None) -> QColor:
    """The colour of a stretch (the chip colours of the boards)."""
    if not status.known:
        return shade(GREY, palette)
    alert = routing_colour(status.routing, palette)
    if alert is not None:
        return alert
    if status.presence in (None, ON_QUEUE):
        base = presence_colour(ON_QUEUE, palette)
        if status.routing in BUSY_ROUTING:
            return base
        return base.lighter(150) if status.routing == "IDLE" else base.lighter(125)
    return presence_colour(status.presence, palette)


def _floor(when: datetime, minutes: int) -> datetime:
    """``when`` (local) down to a multiple of ``minutes`` past the hour (or whole hours)."""
    when = when.astimezone().replace(second=0, microsecond=0)
    return (
        when.replace(minute=when.minute - when.minute % minutes)
        if minutes < 60
        else (when.replace(minute=0))
    )


def axis_span(day: AgentDay) -> tuple[datetime, datetime]:
    """The bar's time axis: from what was first watched to the end, on round local times.

    Whole hours for a long day, quarter hours or five minutes for a short one (at least a
    quarter of an hour), so the bar is neither night before the app started nor empty future,
    and its ticks fall on round times.
    """
    known = [s for s in day.segments if s.status.known]
    first = known[0].start if known else day.start
    watched_s = (day.end - first).total_seconds()
    minutes = next((m for limit, m in GRAIN if watched_s < limit), 60)
    left = max(_floor(first, minutes), day.start.astimezone())
    right = _floor(day.end, minutes)
    if right < day.end:
        right += timedelta(minutes=minutes)
    if (right - left).total_seconds() < MIN_SPAN_S:
        left = right - timedelta(seconds=MIN_SPAN_S)
    return left, right


class DayBar(QWidget):
    """The timeline of one :class:`AgentDay`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dayBar")
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.day: AgentDay | None = None
        self.labels: Mapping[str, str] = {}
        self.span: tuple[datetime, datetime] | None = None

    def set_day(self, day: AgentDay | None, labels: Mapping[str, str] | None = None) -> None:
        """Show ``day`` (None: an empty bar)."""
        self.day, self.labels = day, dict(labels or {})
        self.span = axis_span(day) if day is not None else None
        self.setAccessibleDescription(self._words())
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(600, BAR_HEIGHT_PX + AXIS_HEIGHT_PX + 2 * MARGIN_PX)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(240, BAR_HEIGHT_PX + AXIS_HEIGHT_PX + 2 * MARGIN_PX)

    # ------------------------------------------------------------------ geometry
    def _bar_rect(self) -> QRectF:
        return QRectF(MARGIN_PX, MARGIN_PX, max(1, self.width() - 2 * MARGIN_PX), BAR_HEIGHT_PX)

    def x_of(self, when: datetime) -> float:
        """The x of a moment on the bar."""
        rect = self._bar_rect()
        if self.span is None:
            return rect.left()
        left, right = self.span
        total = (right - left).total_seconds()
        share = (when - left).total_seconds() / total if total > 0 else 0.0
        return rect.left() + rect.width() * min(1.0, max(0.0, share))

    def segment_at(self, x: float) -> Segment | None:
        """The stretch under an x, if any."""
        if self.day is None:
            return None
        for segment in self.day.segments:
            if (
                self.x_of(segment.start)
                <= x
                < max(self.x_of(segment.end), self.x_of(segment.start) + 1)
            ):
                return segment
        return None

    # ------------------------------------------------------------------ painting
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        palette = self.palette()
        rect = self._bar_rect()
        painter.fillRect(rect, palette.color(QPalette.ColorRole.Base))
        if self.day is not None and self.span is not None:
            for segment in self.day.segments:
                x0, x1 = self.x_of(segment.start), self.x_of(segment.end)
                if x1 <= rect.left() or x0 >= rect.right():
                    continue
                part = QRectF(x0, rect.top(), max(1.0, x1 - x0), rect.height())
                colour = status_colour(segment.status, palette)
                if segment.status.known:
                    painter.fillRect(part, colour)
                else:
                    painter.fillRect(part, QBrush(colour, Qt.BrushStyle.BDiagPattern))
            self._paint_axis(painter, rect, palette)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)
        painter.end()

    def _paint_axis(self, painter: QPainter, rect: QRectF, palette: QPalette) -> None:
        assert self.span is not None
        left, right = self.span
        minutes = (right - left).total_seconds() / 60
        fm = painter.fontMetrics()
        room = max(1, int(rect.width() // (fm.horizontalAdvance("00:00") + 16)))
        step = next((m for m in TICK_MINUTES if minutes / m <= room), TICK_MINUTES[-1])
        painter.setPen(QPen(palette.color(QPalette.ColorRole.WindowText), 1))
        tick = _floor(left, step)
        if tick < left:
            tick += timedelta(minutes=step)
        while tick <= right:
            x = self.x_of(tick)
            painter.drawLine(int(x), int(rect.bottom()), int(x), int(rect.bottom()) + 4)
            text = f"{tick:%H:%M}"
            width = fm.horizontalAdvance(text)
            tx = min(max(x - width / 2, 0.0), self.width() - width)
            painter.drawText(int(tx), int(rect.bottom()) + 6 + fm.ascent(), text)
            tick += timedelta(minutes=step)

    # ------------------------------------------------------------------ words
    def describe(self, segment: Segment) -> str:
        """Words for a stretch: "On Queue · Idle, 09:12 to 09:40 (28 min)"."""
        start, end = segment.start.astimezone(), segment.end.astimezone()
        return (
            f"{segment.status.label(self.labels)}, {start:%H:%M} to {end:%H:%M} "
            f"({duration_text(segment.seconds)})"
        )

    def _words(self) -> str:
        if self.day is None:
            return ""
        return "; ".join(self.describe(s) for s in self.day.segments)

    def event(self, event: QEvent) -> bool:
        if isinstance(event, QHelpEvent) and event.type() == QEvent.Type.ToolTip:
            segment = self.segment_at(event.pos().x())
            if segment is not None:
                QToolTip.showText(event.globalPos(), self.describe(segment), self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)
