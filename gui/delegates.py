"""Item delegates that draw what text cannot say well."""

from __future__ import annotations

import logging

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from gui.models import HISTORY_POINTS, HISTORY_ROLE
from gui.presence_style import AMBER, shade, visible_on

logger = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex

SPARKLINE_WIDTH_PX = 120
SPARKLINE_MARGIN_PX = 4
LINE_WIDTH_PX = 1.5
DOT_RADIUS_PX = 2.5
FILL_ALPHA = 56


class SparklineDelegate(QStyledItemDelegate):
    """Draws a queue's waiting history (:data:`gui.models.HISTORY_ROLE`) as a sparkline.

    The x axis is fixed: ``capacity`` slots with the newest sample at the right edge, so the
    line's length shows how much history there is and a slope means the same in every row.
    The y axis runs from 0 to the row's own peak (at least 1), so "nobody waiting" is a flat
    baseline. A dot marks the last value, amber while anyone is waiting.

    Colours come from the view's palette: the line is the palette's Highlight colour when it
    stands out from Base (contrast >= 3), else its Text colour, and HighlightedText on a
    selected row, so it stays visible in light, dark and high-contrast themes.

    Signals: only those of QStyledItemDelegate.
    """

    def __init__(self, parent: QObject | None = None, *, capacity: int = HISTORY_POINTS) -> None:
        super().__init__(parent)
        self.capacity = max(2, capacity)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        """Background and selection as the style draws them, then the line and the dot."""
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)

        series = index.data(HISTORY_ROLE)
        if not isinstance(series, list) or not series:
            return
        values = [int(v) for v in series[-self.capacity :]]
        rect = QRectF(opt.rect).adjusted(
            SPARKLINE_MARGIN_PX, SPARKLINE_MARGIN_PX, -SPARKLINE_MARGIN_PX, -SPARKLINE_MARGIN_PX
        )
        if rect.width() < 4 or rect.height() < 4:
            return

        palette: QPalette = opt.palette
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        if selected:
            line = palette.color(QPalette.ColorRole.HighlightedText)
        else:
            line = visible_on(
                palette.color(QPalette.ColorRole.Highlight),
                palette.color(QPalette.ColorRole.Text),
                palette.color(QPalette.ColorRole.Base),
            )
        peak = max(*values, 1)
        step = rect.width() / (self.capacity - 1)
        last = len(values) - 1
        points = [
            QPointF(rect.right() - (last - i) * step, rect.bottom() - v / peak * rect.height())
            for i, v in enumerate(values)
        ]

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if len(points) > 1:
            area = QPolygonF(
                [
                    *points,
                    QPointF(points[-1].x(), rect.bottom()),
                    QPointF(points[0].x(), rect.bottom()),
                ]
            )
            fill = QColor(line)
            fill.setAlpha(FILL_ALPHA)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawPolygon(area)
            pen = QPen(line, LINE_WIDTH_PX)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPolyline(QPolygonF(points))
        dot = shade(AMBER, palette) if values[-1] > 0 and not selected else line
        painter.setPen(QPen(line, 1.0))
        painter.setBrush(dot)
        painter.drawEllipse(points[-1], DOT_RADIUS_PX, DOT_RADIUS_PX)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802
        """Room for a readable line: a fixed width, the row's usual height."""
        base = super().sizeHint(option, index)
        return QSize(max(base.width(), SPARKLINE_WIDTH_PX), base.height())
