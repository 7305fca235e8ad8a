"""Item delegates that draw what text cannot say well."""

from __future__ import annotations

import logging

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from gui.models.presence_style import AMBER, shade, visible_on
from gui.models.queues import MEDIA_SPLIT_ROLE
from gui.models.table_base import HISTORY_POINTS, HISTORY_ROLE, SORT_ROLE

logger = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex

SPARKLINE_WIDTH_PX = 96
SPARKLINE_MARGIN_PX = 4
LINE_WIDTH_PX = 1.5
DOT_RADIUS_PX = 2.5
FILL_ALPHA = 56
BASELINE_ALPHA = 90
COUNT_SLOT_TEXT = "888"  # the totals' column inside a split cell: three digits wide
SPLIT_GAP_PX = 5


class SparklineDelegate(QStyledItemDelegate):
    """Draws a queue's waiting now, then its history as a compact sparkline beside it.

    The series is :data:`gui.models.table_base.HISTORY_ROLE`. The current count is written first
    (bold while anyone waits), so the cell says the value, not only a shape. The line sits in a
    fixed :data:`SPARKLINE_WIDTH_PX` area whatever the column's width (a stretched last column
    used to spread it over half the window, its data a smear at the right edge). The x axis is
    fixed: ``capacity`` slots with the newest sample at the right edge, and a faint baseline
    spans the whole period, so a short history reads as "started recently", and a slope means
    the same in every row. The y axis runs from 0 to the row's own peak (at least 1); the
    tooltip and the chart below the table give the scale. A dot marks the last value, amber
    while anyone is waiting.

    Colours come from the view's palette: the line is the palette's Highlight colour when it
    stands out from Base (contrast >= 3), else its Text colour, and HighlightedText on a
    selected row, so it stays visible in light, dark and high-contrast themes.

    Signals: only those of QStyledItemDelegate.
    """

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        capacity: int = HISTORY_POINTS,
        live_column: int | None = None,
    ) -> None:
        """``live_column``: the row's live count (its SORT_ROLE) for the value and the last point.

        The history is sampled every few seconds; without the live count the cell could say
        0 beside a Waiting cell that says 3.
        """
        super().__init__(parent)
        self.capacity = max(2, capacity)
        self.live_column = live_column

    def layout(self, cell: QRect, font: QFont) -> tuple[QRect, QRectF, QRect]:
        """Where the value, the line and the scale (the period's peak) go inside ``cell``."""
        slot = _value_slot(font)
        value = QRect(cell.left() + SPARKLINE_MARGIN_PX, cell.top(), slot, cell.height())
        left = value.right() + 1 + SPLIT_GAP_PX
        width = max(0, min(SPARKLINE_WIDTH_PX, cell.right() - SPARKLINE_MARGIN_PX - left))
        line = QRectF(
            left,
            cell.top() + SPARKLINE_MARGIN_PX,
            width,
            max(0, cell.height() - 2 * SPARKLINE_MARGIN_PX),
        )
        scale_left = int(line.right()) + SPLIT_GAP_PX
        scale = QRect(
            scale_left,
            cell.top(),
            max(0, min(_scale_slot(font), cell.right() - scale_left)),
            cell.height(),
        )
        return value, line, scale

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        """Background and selection as the style draws them, then the value, line and dot."""
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
        if self.live_column is not None:
            live = index.model().index(index.row(), self.live_column).data(SORT_ROLE)
            if isinstance(live, int) and live >= 0:
                values[-1] = live  # the current slot holds the count now
        value_rect, rect, scale_rect = self.layout(opt.rect, opt.font)

        palette: QPalette = opt.palette
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        peak = max(*values, 1)
        if max(values) > 0:  # a row where nobody waited all period stays a quiet baseline
            self._paint_texts(painter, opt, (values[-1], peak), (value_rect, scale_rect))
        if rect.width() < 4 or rect.height() < 4:
            return

        if selected:
            line = palette.color(QPalette.ColorRole.HighlightedText)
        else:
            line = visible_on(
                palette.color(QPalette.ColorRole.Highlight),
                palette.color(QPalette.ColorRole.Text),
                palette.color(QPalette.ColorRole.Base),
            )
        step = rect.width() / (self.capacity - 1)
        last = len(values) - 1
        points = [
            QPointF(rect.right() - (last - i) * step, rect.bottom() - v / peak * rect.height())
            for i, v in enumerate(values)
        ]

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        base = QColor(line)
        base.setAlpha(BASELINE_ALPHA)
        painter.setPen(QPen(base, 1.0, Qt.PenStyle.DotLine))
        painter.drawLine(QPointF(rect.left(), rect.bottom()), QPointF(rect.right(), rect.bottom()))
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

    @staticmethod
    def _paint_texts(
        painter: QPainter,
        opt: QStyleOptionViewItem,
        figures: tuple[int, int],
        rects: tuple[QRect, QRect],
    ) -> None:
        """The value now (bold while anyone waits) and the line's scale, its peak."""
        now, peak = figures
        value_rect, scale_rect = rects
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.save()
        painter.setPen(opt.palette.color(role))
        font = QFont(opt.font)
        font.setBold(now > 0)
        painter.setFont(font)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(value_rect, int(right), str(now))
        if scale_rect.width() > 0:
            painter.setFont(_scale_font(opt.font))
            left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
            painter.drawText(scale_rect, int(left), f"max {peak}")
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802
        """Room for the value, a readable line and its scale, and no more."""
        base = super().sizeHint(option, index)
        font = option.font
        width = _value_slot(font) + SPARKLINE_WIDTH_PX + _scale_slot(font) + 2 * SPLIT_GAP_PX
        return QSize(width + 2 * SPARKLINE_MARGIN_PX, base.height())


def _value_slot(font: QFont) -> int:
    """The width of the value text: three bold digits, the same in every row."""
    bold = QFont(font)
    bold.setBold(True)
    return QFontMetrics(bold).horizontalAdvance(COUNT_SLOT_TEXT)


def _scale_font(font: QFont) -> QFont:
    small = QFont(font)
    size = font.pointSizeF()
    if size > 0:
        small.setPointSizeF(max(6.0, size * 0.8))
    return small


def _scale_slot(font: QFont) -> int:
    """The width of the scale text, "max 888"."""
    return QFontMetrics(_scale_font(font)).horizontalAdvance(f"max {COUNT_SLOT_TEXT}")


class CountSplitDelegate(QStyledItemDelegate):
    """Draws a count with its split by media beside it: ``4 (Voice 3, Chat 1)``.

    Only columns where some row has a split (the model's ``headerData`` with
    :data:`gui.models.queues.MEDIA_SPLIT_ROLE`) change layout; elsewhere the cell paints as usual,
    right-aligned. In a split column every total sits right-aligned in a three-digit slot at
    the left, so totals still line up down the column, and the split follows in regular weight.
    A narrow column elides the split, never the total (the tooltip has it all).

    Signals: only those of QStyledItemDelegate.
    """

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        """The style's background and selection, then the total and the split."""
        if not self._split_column(index):
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        total, opt.text = opt.text, ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        rect = self._text_rect(opt, widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.save()
        painter.setPen(opt.palette.color(role))
        painter.setFont(opt.font)
        slot = self._slot(opt.font, total)
        centre = Qt.AlignmentFlag.AlignVCenter
        painter.drawText(
            QRect(rect.left(), rect.top(), slot, rect.height()),
            int(Qt.AlignmentFlag.AlignRight | centre),
            total,
        )
        split = index.data(MEDIA_SPLIT_ROLE)
        if isinstance(split, str) and split:
            regular = QFont(opt.font)
            regular.setBold(False)
            painter.setFont(regular)
            left = rect.left() + slot + SPLIT_GAP_PX
            room = max(0, rect.right() - left)
            text = QFontMetrics(regular).elidedText(split, Qt.TextElideMode.ElideRight, room)
            painter.drawText(
                QRect(left, rect.top(), room, rect.height()),
                int(Qt.AlignmentFlag.AlignLeft | centre),
                text,
            )
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:  # noqa: N802
        """Room for the total's slot and the whole split, so fitting a column shows it all."""
        base = super().sizeHint(option, index)
        split = index.data(MEDIA_SPLIT_ROLE)
        if not self._split_column(index) or not isinstance(split, str) or not split:
            return base
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        regular = QFont(opt.font)
        regular.setBold(False)
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, opt.widget) + 1
        width = (
            self._slot(opt.font, opt.text)
            + SPLIT_GAP_PX
            + QFontMetrics(regular).horizontalAdvance(split)
            + 2 * margin
            + 4
        )
        return QSize(max(base.width(), width), base.height())

    @staticmethod
    def _split_column(index: Index) -> bool:
        return bool(
            index.model().headerData(index.column(), Qt.Orientation.Horizontal, MEDIA_SPLIT_ROLE)
        )

    @staticmethod
    def _slot(font: QFont, total: str) -> int:
        bold = QFont(font)
        bold.setBold(True)  # the same slot whether or not this row's total is bold
        metrics = QFontMetrics(bold)
        return max(metrics.horizontalAdvance(COUNT_SLOT_TEXT), metrics.horizontalAdvance(total))

    @staticmethod
    def _text_rect(opt: QStyleOptionViewItem, widget: QWidget | None) -> QRect:
        style = widget.style() if widget is not None else QApplication.style()
        rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, opt, widget)
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, widget) + 1
        return rect.adjusted(margin, 0, -margin, 0)
