"""The intraday chart of the Queues board: waiting and service level over time, with scales.

Drawn with pyqtgraph: a kept, Qt-native plotting library (PySide6 supported) that gives a time
axis with readable clock ticks, a second value axis and fast redraws of thousands of points
without a hand-written painter (the Trend sparkline showed what a bare painter gives: a line
with no scale). Only the widget lives here; the data is
:class:`core.state.intraday.IntradayHistory`.

The chart shows the queue selected in the table, or the sum of all queues when none is: waiting
as steps on the left axis, the day's service level in percent on the right axis, with the
warning line of the queue's threshold. The window (last 30 min or today) is the person's choice
and remembered.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.state.intraday import IntradayHistory, since_for

logger = logging.getLogger(__name__)

WINDOWS: Final = (("30min", "Last 30 min"), ("today", "Today"))
WINDOW_KEY: Final = "queues/chartWindow"
WAITING_COLOUR: Final = "#1e88e5"
SL_COLOUR: Final = "#2e7d32"
TARGET_COLOUR: Final = "#e65100"
MIN_WAITING_SCALE: Final = 4
LABEL_ROOM_PX: Final = 8.0  # an empty queue still shows a scale of a few calls


def _utc_now() -> datetime:
    return datetime.now(UTC)


class QueueChart(QWidget):
    """Waiting and service level of one queue (or all) over the chosen window.

    ``sl_target(queue_id)`` gives the warning level of the queue's service level in percent
    (None: no line). Call :meth:`refresh` after new samples; the board does, every sample.

    Signals: none of its own.
    """

    def __init__(
        self,
        history: IntradayHistory,
        settings: QSettings,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        sl_target: Callable[[str], float | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("queueChart")
        self.history = history
        self._settings = settings
        self._clock = clock
        self._sl_target = sl_target
        self._queue_id: str | None = None
        self._name = ""
        self._all_ids: list[str] = []

        self.title = QLabel()
        self.title.setObjectName("chartTitle")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.window_choice = QComboBox()
        self.window_choice.setObjectName("chartWindow")
        self.window_choice.setAccessibleName("Chart period")
        for key, text in WINDOWS:
            self.window_choice.addItem(text, key)
        saved = settings.value(WINDOW_KEY)
        self.window_choice.setCurrentIndex(max(0, self.window_choice.findData(saved)))
        self.window_choice.currentIndexChanged.connect(self._on_window_choice_changed)
        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        bar.addWidget(self.window_choice)

        self.time_axis = pg.DateAxisItem(orientation="bottom")
        self.plot = pg.PlotWidget(axisItems={"bottom": self.time_axis})
        self.plot.setObjectName("chartPlot")
        self.plot.setMinimumHeight(160)
        item = self.plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setLabel("left", "Waiting (calls)")
        item.setLabel("bottom", "Time")
        item.setLabel("right", "Service level (%)")
        item.showAxis("right")
        self.sl_box = pg.ViewBox(enableMouse=False)
        item.scene().addItem(self.sl_box)
        item.getAxis("right").linkToView(self.sl_box)
        self.sl_box.setXLink(item)
        self.sl_box.setYRange(0, 100, padding=0.03)
        item.vb.sigResized.connect(self._on_plot_resized)
        self.legend = item.addLegend(offset=(8, 4))
        self.waiting_curve = item.plot(
            [], [], name="Waiting", pen=pg.mkPen(WAITING_COLOUR, width=2), connect="finite"
        )
        self.waiting_curve.setFillLevel(0)
        fill = QColor(WAITING_COLOUR)
        fill.setAlpha(40)
        self.waiting_curve.setBrush(fill)
        self.sl_curve = pg.PlotDataItem(
            [], [], pen=pg.mkPen(SL_COLOUR, width=2), connect="finite", name="Service level"
        )
        self.sl_box.addItem(self.sl_curve)
        self.legend.addItem(self.sl_curve, "Service level")
        self.target_line = pg.InfiniteLine(
            angle=0,
            pen=pg.mkPen(TARGET_COLOUR, width=1, style=Qt.PenStyle.DashLine),
            label="service level warning below {value:.0f} %",
            labelOpts={"position": 0.2, "color": TARGET_COLOUR, "anchors": [(0, 1), (0, 1)]},
        )
        self.target_line.setVisible(False)
        self.sl_box.addItem(self.target_line)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.plot, 1)
        self.restyle()
        self._on_plot_resized()
        self.refresh()

    # ------------------------------------------------------------------ API
    @property
    def period(self) -> str:
        """The chosen window: ``"30min"`` or ``"today"``."""
        return str(self.window_choice.currentData())

    def set_period(self, period: str) -> None:
        """Choose the window (as the person would with the combo box)."""
        self.window_choice.setCurrentIndex(max(0, self.window_choice.findData(period)))

    def show_queue(self, queue_id: str | None, name: str, all_ids: Sequence[str]) -> None:
        """Chart ``queue_id`` (None: the sum of ``all_ids``) from now on."""
        self._queue_id, self._name, self._all_ids = queue_id, name, list(all_ids)
        self.refresh()

    @property
    def queue_id(self) -> str | None:
        """The charted queue (None: all queues)."""
        return self._queue_id

    def refresh(self) -> None:
        """Redraw from the history for the current window, ending now."""
        now_dt = self._clock()
        now = now_dt.timestamp()
        since = since_for(self.period, now_dt).timestamp()
        if self._queue_id is None:
            waiting = self.history.total_waiting(self._all_ids, since, now)
            sl_x: list[float] = []
            sl_y: list[float] = []
            target = None
        else:
            waiting = self.history.waiting(self._queue_id, since, now)
            sl = self.history.service_level(self._queue_id, since, now)
            sl_x, sl_y = sl.x, sl.y
            target = self._sl_target(self._queue_id) if self._sl_target is not None else None
        self.waiting_curve.setData(waiting.x, waiting.y, connect="finite")
        self.sl_curve.setData(sl_x, sl_y, connect="finite")
        self._show_sl(bool(sl_x))
        self.target_line.setVisible(target is not None)
        if target is not None:
            self.target_line.setValue(target)
        peak = max(waiting.finite, default=0)
        top = max(peak, MIN_WAITING_SCALE) * 1.15
        # room below 0 for half a label, so the scale's 0 is written too (the grid clips it)
        below = top * LABEL_ROOM_PX / max(self.plot.getPlotItem().vb.height(), 100.0)
        self.plot.getPlotItem().setYRange(-below, top, padding=0)
        self.plot.getPlotItem().setXRange(since, now, padding=0.01)
        self.title.setText(self._title_text(waiting.finite, [v for v in sl_y if not math.isnan(v)]))

    def restyle(self) -> None:
        """Follow the palette: light or dark background, axis text readable on it."""
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        self.plot.setBackground(base)
        item = self.plot.getPlotItem()
        for name in ("left", "bottom", "right"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
        self.legend.setLabelTextColor(text)
        for _sample, label in self.legend.items:
            label.setText(label.text)  # the colour applies when the text is set again

    # ------------------------------------------------------------------ internals
    def _show_sl(self, shown: bool) -> None:
        """The service level line and its legend entry, only when there is one to show."""
        self.sl_curve.setVisible(shown)
        listed = self.legend.getLabel(self.sl_curve) is not None
        if shown and not listed:
            self.legend.addItem(self.sl_curve, "Service level")
            self.restyle()
        elif not shown and listed:
            self.legend.removeItem(self.sl_curve)

    def _title_text(self, waiting: list[float], sl: list[float]) -> str:
        who = self._name if self._queue_id is not None else "All queues"
        parts = [f"{who}: waiting now {round(waiting[-1])}" if waiting else f"{who}: no data yet"]
        if waiting:
            parts.append(f"peak {round(max(waiting))}")
        if sl:
            parts.append(f"service level {round(sl[-1])} %")
        elif self._queue_id is None:
            parts.append("select a queue for its service level")
        return " · ".join(parts)

    def _on_plot_resized(self) -> None:
        item = self.plot.getPlotItem()
        self.sl_box.setGeometry(item.vb.sceneBoundingRect())
        self.sl_box.linkedViewChanged(item.vb, self.sl_box.XAxis)

    def _on_window_choice_changed(self, _index: int) -> None:
        self._settings.setValue(WINDOW_KEY, self.period)
        self.refresh()
