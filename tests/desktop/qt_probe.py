"""Qt checks that must run in their own process on the xcb platform.

Why a subprocess: the suite's QApplication (pytest-qt) runs on ``offscreen``, where
``QSystemTrayIcon`` is never available (recipe gotcha G3), and a process cannot switch QPA
platforms once Qt is up. The tests run ``python -m tests.desktop.qt_probe NAME`` with
``QT_QPA_PLATFORM=xcb`` and read one JSON object from the last line of stdout. Every Qt warning
is captured into ``"qt_messages"`` so the tests can hold the subprocess to the same
``qt_log_level_fail = WARNING`` standard as the in-process suite.

Usage: ``python -m tests.desktop.qt_probe screen`` or ``... tray TOOLTIP [SCREENSHOT.png]``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from PySide6.QtCore import QMessageLogContext, QRect, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

TRAY_DEADLINE_MS = 10_000  # generous: the icon normally docks within ~100 ms
POLL_MS = 25
RED_ENOUGH = 0.2  # the part of the docked icon that must be our red (trayer draws a frame)

messages: list[str] = []


def _record(kind: QtMsgType, _ctx: QMessageLogContext, text: str) -> None:
    if kind not in (QtMsgType.QtDebugMsg, QtMsgType.QtInfoMsg):
        messages.append(f"{kind.name}: {text}")


def red_fraction(image: QImage) -> float:
    """Share of pixels that are (nearly) pure red, i.e. our icon and not trayer's background."""
    total = image.width() * image.height()
    if total == 0:
        return 0.0
    red = 0
    for y in range(image.height()):
        for x in range(image.width()):
            c = image.pixelColor(x, y)
            if c.red() > 200 and c.green() < 60 and c.blue() < 60:
                red += 1
    return red / total


def probe_screen() -> dict[str, Any]:
    """Open a GUI application on $DISPLAY and describe the screen Qt sees."""
    app = QGuiApplication([sys.argv[0]])
    geo = app.primaryScreen().geometry()
    return {"platform": app.platformName(), "screen": [geo.width(), geo.height()]}


def probe_tray(tooltip: str, screenshot: str | None) -> dict[str, Any]:
    """Show a red tray icon and wait (bounded) until it is docked and painted on the screen."""
    app = QApplication([sys.argv[0]])
    result: dict[str, Any] = {
        "platform": app.platformName(),
        "available": QSystemTrayIcon.isSystemTrayAvailable(),
        "geometry": [0, 0, 0, 0],
        "red_fraction": 0.0,
    }
    pixmap = QPixmap(64, 64)
    pixmap.fill(QColor(255, 0, 0))
    tray = QSystemTrayIcon(QIcon(pixmap))
    tray.setToolTip(tooltip)
    tray.show()
    result["visible_after_show"] = tray.isVisible()

    def poll() -> None:
        geo: QRect = tray.geometry()
        result["geometry"] = [geo.x(), geo.y(), geo.width(), geo.height()]
        if geo.isEmpty():
            return
        shot = app.primaryScreen().grabWindow(0, geo.x(), geo.y(), geo.width(), geo.height())
        result["red_fraction"] = red_fraction(shot.toImage())
        if result["red_fraction"] >= RED_ENOUGH:
            app.quit()

    timer = QTimer(interval=POLL_MS)
    timer.timeout.connect(poll)
    timer.start()
    QTimer.singleShot(TRAY_DEADLINE_MS, app.quit)
    app.exec()
    timer.stop()
    if screenshot:
        app.primaryScreen().grabWindow(0).save(screenshot)
    tray.hide()
    return result


def main(argv: list[str]) -> int:
    """Run one probe and print its JSON result as the last line of stdout."""
    qInstallMessageHandler(_record)
    if argv[:1] == ["screen"]:
        result = probe_screen()
    elif argv[:1] == ["tray"] and len(argv) in (2, 3):
        result = probe_tray(argv[1], argv[2] if len(argv) == 3 else None)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    result["qt_messages"] = messages
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
