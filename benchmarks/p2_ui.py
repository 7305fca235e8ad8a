"""P2 UI under load: the live GUI (offscreen) fed RATE events/s for BENCH_P2_S seconds.

The app's own stack runs in this process (benchmarks.gui_rig): the real engine on a real
WebSocket from benchmarks.replay_server, which replays the recorded stream at RATE frames/s (one
event each), and on top of it :class:`gui.app.GuiApp` with its bridge, window and table views,
QT_QPA_PLATFORM=offscreen. socket → engine → bridge → models → views is the app's code throughout.

Measured over the run, after LIVE and WARMUP_S of the stream:

- event-loop lag: a single-shot precise QTimer re-armed every PROBE_MS; its lateness (fired minus
  armed minus PROBE_MS) is how long the loop could not run anything; p50, p99, max.
- dropped frames: probe ticks later than two 60 Hz frames (33.3 ms): the screen would have
  missed at least one frame then. ``frames_missed`` also counts how many (lateness // 16.7 ms).
- model updates/s per model: dataChanged + layoutChanged + rowsInserted + rowsRemoved +
  modelReset signals of each source model and proxy.
- repaints/s per view: Paint events on each view's viewport (an event filter). Only the shown tab
  paints, so the run is split in three and each tab is shown for a third of it; a view's rate is
  over its own third. That rate is the "view updates/s" of the target.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QAbstractItemView, QApplication

from benchmarks.common import cpu_s, median, percentile, rss_mb
from benchmarks.gui_rig import gui_rig, run_gui_benchmark

RATE = float(os.environ.get("BENCH_P2_RATE", "2000"))
DURATION_S = float(os.environ.get("BENCH_P2_S", "60"))
WARMUP_S = 3.0
PROBE_MS = 10
FRAME_MS = 1000 / 60
DROPPED_AFTER_MS = 2 * FRAME_MS
UPDATE_SIGNALS = ("dataChanged", "layoutChanged", "rowsInserted", "rowsRemoved", "modelReset")


class LagProbe(QObject):
    """A precise single-shot timer re-armed every PROBE_MS; records how late each tick was."""

    def __init__(self) -> None:
        super().__init__()
        self.lags_ms: list[float] = []
        self.recording = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(PROBE_MS)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._armed = 0.0

    def start(self) -> None:
        """Arm the first tick."""
        self._armed = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        """No more ticks."""
        self._timer.stop()

    def _on_timer_timeout(self) -> None:
        now = time.perf_counter()
        if self.recording:
            self.lags_ms.append(max(0.0, (now - self._armed) * 1000 - PROBE_MS))
        self._armed = now
        self._timer.start()


class PaintCounter(QObject):
    """Counts Paint events of the viewports it filters, by the name each was watched under."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def watch(self, view: QAbstractItemView, name: str) -> None:
        """Count this view's repaints under ``name``."""
        viewport = view.viewport()
        viewport.setProperty("bench_view", name)
        viewport.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Count, never filter."""
        if event.type() == QEvent.Type.Paint:
            self.counts[str(watched.property("bench_view"))] += 1
        return False


def count_updates(models: dict[str, QAbstractItemModel], counts: Counter[str]) -> None:
    """Count every update signal of these models into ``counts`` by model name."""
    for name, model in models.items():
        for signal in UPDATE_SIGNALS:
            getattr(model, signal).connect(lambda *_, n=name: counts.update((n,)))


async def measure(qapp: QApplication, workdir: Path) -> dict[str, Any]:
    """The GUI on the engine on the paced stream; the figures of one run."""
    async with gui_rig(qapp, workdir, rate=RATE) as rig:
        app, service, window = rig.app, rig.service, rig.app.window
        views = {
            "agents": window.agents_view,
            "queues": window.queues_view,
            "feed": window.feed_view,
        }
        model_updates: Counter[str] = Counter()
        count_updates(
            {
                "agents": window.agents,
                "agents_proxy": window.agents_proxy,
                "queues": window.queues,
                "feed": window.feed,
                "feed_proxy": window.feed_proxy,
            },
            model_updates,
        )
        paints = PaintCounter()
        for name, view in views.items():
            paints.watch(view, name)
        probe = LagProbe()
        try:
            await asyncio.sleep(WARMUP_S)
            probe.start()
            await asyncio.sleep(0.1)
            probe.recording = True
            events0, batches0 = rig.events, app.bridge.batches
            cpu0, wall0 = cpu_s(), time.perf_counter()
            model_updates.clear()
            repaints: dict[str, float] = {}
            phase_s = DURATION_S / len(views)
            for index, name in enumerate(views):
                window.tabs.setCurrentIndex(index)
                await asyncio.sleep(0.2)  # the tab switch's own repaints are not the stream's
                paints.counts.clear()
                started = time.perf_counter()
                await asyncio.sleep(phase_s - 0.2)
                repaints[name] = paints.counts[name] / (time.perf_counter() - started)
            wall = time.perf_counter() - wall0
            cpu = cpu_s() - cpu0
            probe.recording = False
        finally:
            probe.stop()
        fed = rig.events - events0
        batches = app.bridge.batches - batches0
        rss = rss_mb()
        state = service.state.value
        channels = len(service.plan.shards)
        rows = {name: view.model().rowCount() for name, view in views.items()}
    lags = probe.lags_ms
    updates = {name: round(count / wall, 2) for name, count in sorted(model_updates.items())}
    per_view = {
        name: {
            "repaints_per_s": round(repaints[name], 2),
            "model_updates_per_s": updates.get(f"{name}_proxy", updates.get(name, 0.0)),
            "rows": rows[name],
        }
        for name in views
    }
    return {
        "rate_asked_per_s": RATE,
        "duration_s": round(wall, 1),
        "events_per_s": round(fed / wall),
        "events": fed,
        "channels": channels,
        "state_at_end": state,
        "lag_ticks": len(lags),
        "lag_p50_ms": round(median(lags), 2),
        "lag_p99_ms": round(percentile(lags, 0.99), 2),
        "lag_max_ms": round(max(lags, default=0.0), 2),
        "dropped_frames": sum(1 for lag in lags if lag > DROPPED_AFTER_MS),
        "frames_missed": sum(int(lag // FRAME_MS) for lag in lags),
        "dropped_frame_rule": f"probe tick > {DROPPED_AFTER_MS:.1f} ms late",
        "bridge_batches_per_s": round(batches / wall, 2),
        "model_updates_per_s": updates,
        "views": per_view,
        "max_view_repaints_per_s": round(max(repaints.values()), 2),
        "cpu_percent": round(100 * cpu / wall, 1),
        "rss_mb": round(rss, 1),
    }


def main() -> None:
    """Record the stream if needed, run the GUI under load, save the figures."""
    run_gui_benchmark("p2_ui", measure)


if __name__ == "__main__":
    main()
