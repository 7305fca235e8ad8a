"""Sleep/resume and network changes → an immediate health check instead of a heartbeat timeout.

Two sources, both ending in ``health_check_requested``:

* :class:`WakeDetector`: a 5 s timer that compares how much wall-clock time passed with how much
  monotonic time passed since its last tick. A suspended machine's monotonic clock stands still
  (Linux CLOCK_MONOTONIC) while the wall clock runs on, and a starved timer fires late: either
  way much more time passed than expected, so the machine was asleep.
* :class:`NetworkWatcher`: Qt's QNetworkInformation (default backend, when the platform has one):
  every reachability change is worth a check (the route may have changed under the socket).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QNetworkInformation

logger = logging.getLogger(__name__)

WAKE_TICK_MS: Final = 5000
JUMP_THRESHOLD_S: Final = 15.0  # this much more time than expected means the machine slept


class WakeDetector(QObject):
    """Notices resume from sleep by a jump of the wall clock against the expected time.

    Signals:
        resumed(float): the machine woke up; about this many seconds were missed.
    """

    resumed = Signal(float)

    def __init__(
        self,
        *,
        interval_ms: int = WAKE_TICK_MS,
        threshold_s: float = JUMP_THRESHOLD_S,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._interval_s = interval_ms / 1000.0
        self._threshold_s = threshold_s
        self._wall = wall
        self._monotonic = monotonic
        self._last_wall = wall()
        self._last_mono = monotonic()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)

    def start(self) -> None:
        """Start ticking (the reference point is now)."""
        self.reset()
        self._timer.start()

    def stop(self) -> None:
        """Stop ticking."""
        self._timer.stop()

    def reset(self) -> None:
        """Take now as the reference point."""
        self._last_wall = self._wall()
        self._last_mono = self._monotonic()

    def check(self, wall: float | None = None, monotonic: float | None = None) -> float:
        """Compare the clocks with the last check; emits ``resumed`` and returns the missed time.

        Args:
            wall: the wall clock now (default: the injected clock).
            monotonic: the monotonic clock now (default: the injected clock).

        Returns:
            Seconds missed beyond the expected tick (0.0 when none).
        """
        wall_now = self._wall() if wall is None else wall
        mono_now = self._monotonic() if monotonic is None else monotonic
        wall_passed = wall_now - self._last_wall
        mono_passed = mono_now - self._last_mono
        self._last_wall, self._last_mono = wall_now, mono_now
        # Slept: the wall clock ran while the monotonic one stood still; or the tick came far
        # too late (monotonic clocks that count suspend, a frozen process).
        missed = max(wall_passed - mono_passed, mono_passed - self._interval_s)
        if missed < self._threshold_s:
            return 0.0
        logger.info("woke up after about %.0f s: checking the connection now", missed)
        self.resumed.emit(missed)
        return missed

    def _on_timer_timeout(self) -> None:
        self.check()


class NetworkWatcher(QObject):
    """Qt's network information, when the platform has a backend.

    Signals:
        reachability_changed(str): the new reachability ("Online", "Disconnected", ...).
    """

    reachability_changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.backend = ""
        self._info: QNetworkInformation | None = None

    def start(self) -> bool:
        """Load the default backend; False (logged) when there is none."""
        try:
            loaded = QNetworkInformation.loadDefaultBackend()
        except Exception as exc:  # a broken plugin must not stop the app
            logger.info("network information unavailable: %s", exc)
            return False
        info = QNetworkInformation.instance() if loaded else None
        if info is None:
            logger.info("no network information backend: network changes are noticed by heartbeat")
            return False
        self._info = info
        self.backend = info.backendName()
        info.reachabilityChanged.connect(self._on_info_reachability_changed)
        logger.info("network information from the %s backend", self.backend)
        return True

    def stop(self) -> None:
        """Stop listening."""
        if self._info is not None:
            try:
                self._info.reachabilityChanged.disconnect(self._on_info_reachability_changed)
            except (RuntimeError, TypeError):
                logger.debug("network information was already disconnected")
            self._info = None

    def _on_info_reachability_changed(self, reachability: QNetworkInformation.Reachability) -> None:
        name = getattr(reachability, "name", str(reachability))
        logger.info("network reachability changed: %s", name)
        self.reachability_changed.emit(name)
