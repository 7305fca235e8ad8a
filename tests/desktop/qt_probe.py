"""Qt checks that must run in their own process on the xcb platform.

Why a subprocess: the suite's QApplication (pytest-qt) runs on ``offscreen``, where
``QSystemTrayIcon`` is never available (recipe gotcha G3), and a process cannot switch QPA
platforms once Qt is up. The tests run ``python -m tests.desktop.qt_probe NAME`` with
``QT_QPA_PLATFORM=xcb`` and read one JSON object from the last line of stdout. Every Qt warning
is captured into ``"qt_messages"`` so the tests can hold the subprocess to the same
``qt_log_level_fail = WARNING`` standard as the in-process suite.

Usage: ``python -m tests.desktop.qt_probe screen``, ``... tray TOOLTIP [SCREENSHOT.png]`` or
``... tray-states OUTDIR STEP...`` where a STEP is a health state with optional overlays, e.g.
``live``, ``live+alerts=12``, ``stale+paused``, ``reconnecting+snoozed``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QEventLoop,
    QMessageLogContext,
    QRect,
    Qt,
    QTimer,
    QtMsgType,
    qInstallMessageHandler,
)
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

TRAY_DEADLINE_MS = 10_000  # generous: the icon normally docks within ~100 ms
POLL_MS = 25
RED_ENOUGH = 0.2  # the part of the docked icon that must be our red (trayer draws a frame)
STATE_COLOUR_ENOUGH = 0.04  # part of the docked area in the state colour (a spinner: ~7 %)
COLOUR_TOLERANCE = 40  # per channel, for antialiased edges
ZOOM = 8  # docked icon crops are saved this many times larger (nearest neighbour), to look at

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


def colour_fraction(image: QImage, colour: QColor) -> float:
    """Share of pixels within COLOUR_TOLERANCE of ``colour`` on every channel."""
    total = image.width() * image.height()
    if total == 0:
        return 0.0
    hits = 0
    for y in range(image.height()):
        for x in range(image.width()):
            c = image.pixelColor(x, y)
            if (
                abs(c.red() - colour.red()) <= COLOUR_TOLERANCE
                and abs(c.green() - colour.green()) <= COLOUR_TOLERANCE
                and abs(c.blue() - colour.blue()) <= COLOUR_TOLERANCE
            ):
                hits += 1
    return hits / total


def image_digest(image: QImage) -> str:
    """A digest of the pixels, to tell "changed" and "back to the same" apart."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB32)
    return hashlib.sha256(bytes(rgb.constBits())).hexdigest()[:16]


def probe_tray_states(outdir: str, steps: list[str]) -> dict[str, Any]:
    """Drive gui.tray.controller.TrayController through ``steps`` and grab the docked icon after
    each.

    A step is ``STATE[+alerts=N][+paused][+snoozed]``. For each step the probe polls (bounded by
    TRAY_DEADLINE_MS) until the icon has a geometry, its pixels differ from the previous step's
    and, unless paused (dimmed), a visible part of it is in the state's colour. It saves the
    docked icon zoomed (``NN_STEP.png``) and the whole screen at the end (``screen.png``).
    """
    from gui.tray.controller import TrayController
    from gui.tray.icons import is_dark_scheme, state_color

    app = QApplication([sys.argv[0]])
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    tray = TrayController()
    result: dict[str, Any] = {
        "platform": app.platformName(),
        "available": TrayController.available(),
        "dark": is_dark_scheme(),
        "steps": [],
    }
    previous = ""
    for index, step in enumerate(steps):
        state, *flags = step.split("+")
        options = dict(flag.partition("=")[::2] for flag in flags)
        tray.set_health(state, "")
        tray.set_alert_count(int(options.get("alerts", "0")))
        tray.set_paused("paused" in options)
        tray.set_snoozed("snoozed" in options)
        if index == 0:
            result["shown"] = tray.show()
        colour = state_color(state, is_dark_scheme())
        need_colour = "paused" not in options
        record: dict[str, Any] = {"step": step, "settled": False}
        started = time.monotonic()
        deadline = started + TRAY_DEADLINE_MS / 1000
        shot = QImage()
        while time.monotonic() < deadline:
            spin(POLL_MS)
            geo = tray.geometry()
            record["geometry"] = [geo.x(), geo.y(), geo.width(), geo.height()]
            if geo.isEmpty():
                continue
            shot = grab(app, geo)
            record["digest"] = image_digest(shot)
            record["colour_fraction"] = round(colour_fraction(shot, colour), 3)
            if record["digest"] != previous and (
                not need_colour or record["colour_fraction"] >= STATE_COLOUR_ENOUGH
            ):
                record["settled"] = True
                break
        record["elapsed_ms"] = round((time.monotonic() - started) * 1000)
        if not shot.isNull():
            zoomed = shot.scaled(
                shot.width() * ZOOM,
                shot.height() * ZOOM,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation,
            )
            name = f"{index:02d}_{step.replace('=', '').replace('+', '_')}.png"
            zoomed.save(str(out / name))
            record["screenshot"] = name
        previous = record.get("digest", "")
        result["steps"].append(record)
    app.primaryScreen().grabWindow(0).save(str(out / "screen.png"))
    tray.hide()
    return result


def grab(app: QGuiApplication, geo: QRect) -> QImage:
    """The screen's pixels inside ``geo`` (what the tray host really shows)."""
    return app.primaryScreen().grabWindow(0, geo.x(), geo.y(), geo.width(), geo.height()).toImage()


def spin(ms: int) -> None:
    """Run the event loop for ``ms`` (events are handled meanwhile: this is a poll, not a sleep)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def probe_grab(path: str) -> dict[str, Any]:
    """Save a screenshot of the whole X screen (what a person would see)."""
    app = QGuiApplication([sys.argv[0]])
    shot = app.primaryScreen().grabWindow(0)
    shot.save(path)
    return {"size": [shot.width(), shot.height()]}


def main(argv: list[str]) -> int:
    """Run one probe and print its JSON result as the last line of stdout."""
    qInstallMessageHandler(_record)
    if argv[:1] == ["screen"]:
        result = probe_screen()
    elif argv[:1] == ["grab"] and len(argv) == 2:
        result = probe_grab(argv[1])
    elif argv[:1] == ["tray"] and len(argv) in (2, 3):
        result = probe_tray(argv[1], argv[2] if len(argv) == 3 else None)
    elif argv[:1] == ["tray-states"] and len(argv) >= 3:
        result = probe_tray_states(argv[1], argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    result["qt_messages"] = messages
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
