"""The whole app on a real X display with a real tray host: docked icon, live data, a drop.

Runs ``python main.py --demo`` on xcb under the bed's Xvfb + trayer, watches its log for the
engine's states, and reads the screen through the qt_probe ``grab`` probe. The session bus is
hidden from the app so Qt docks through XEmbed (ci-recipe section 4), as on most Linux panels.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest
from PySide6.QtGui import QImage

from tests.desktop.bed import QtProbe

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 40.0
TRAY_AREA = (1280 - 200, 0, 200, 32)  # trayer: --edge top --align right --width 200 --height 32

pytestmark = pytest.mark.desktop


def _area(path: Path) -> QImage:
    image = QImage(str(path))
    assert not image.isNull(), path
    return image.copy(*TRAY_AREA)


def _differs(a: QImage, b: QImage) -> int:
    return sum(
        1 for y in range(a.height()) for x in range(a.width()) if a.pixel(x, y) != b.pixel(x, y)
    )


async def _line(stream: asyncio.StreamReader, needle: str, seen: list[str]) -> str:
    async with asyncio.timeout(DEADLINE_S):
        while True:
            raw = await stream.readline()
            assert raw, f"the app exited before logging {needle!r}:\n" + "".join(seen[-30:])
            text = raw.decode(errors="replace")
            seen.append(text)
            if needle in text:
                return text


async def _settled_grab(qt_probe: QtProbe, path: Path) -> None:
    """Grab the screen once the tray area stops changing (XEmbed repaints after the icon is set)."""
    async with asyncio.timeout(DEADLINE_S):
        qt_probe("grab", str(path))
        while True:
            await asyncio.sleep(0.3)
            before = _area(path)
            qt_probe("grab", str(path))
            if _differs(before, _area(path)) == 0:
                return


async def test_tray_icon_docks_and_follows_a_drop(
    tray_host: str, qt_probe: QtProbe, tmp_path: Path
) -> None:
    artifacts = Path(os.environ.get("ARTIFACTS", REPO / "artifacts")) / "desktop" / "app"
    artifacts.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "xcb",
        "DISPLAY": tray_host,
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
        "GENESYS_TRAY_INSTANCE": f"desktop-test-{os.getpid()}",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONUNBUFFERED": "1",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        "--demo",
        "--demo-speed",
        "5",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        url = (
            (await _line(proc.stdout, "Sandbox Genesys Cloud org:", seen)).split(": ", 1)[1].strip()
        )
        async with httpx.AsyncClient(base_url=url, timeout=10) as control:
            # Still figures: the icon's waiting badge must not move between the grabs.
            await control.post("/sandbox/simulation/pause")
        await _line(proc.stdout, "tray icon shows live", seen)
        live = tmp_path / "live.png"
        await _settled_grab(qt_probe, live)
        async with httpx.AsyncClient(base_url=url, timeout=10) as control:
            await control.post("/sandbox/faults/server_error", params={"count": 100_000})
            await control.post("/sandbox/faults/drop")
            await _line(proc.stdout, "tray icon shows reconnecting", seen)
            broken = tmp_path / "reconnecting.png"
            await _settled_grab(qt_probe, broken)
            await control.post("/sandbox/faults/server_error", params={"count": 0})
            await _line(proc.stdout, "tray icon shows live", seen)
        back = tmp_path / "back.png"
        await _settled_grab(qt_probe, back)
    finally:
        proc.terminate()
        rest = await asyncio.wait_for(proc.stdout.read(), DEADLINE_S)
        code = await asyncio.wait_for(proc.wait(), DEADLINE_S)
    for shot in (live, broken, back):
        (artifacts / shot.name).write_bytes(shot.read_bytes())
    assert code == 0, rest.decode(errors="replace")[-2000:]
    assert b"Traceback" not in rest and not any("Traceback" in line for line in seen)
    live_area, broken_area, back_area = _area(live), _area(broken), _area(back)
    assert _differs(live_area, broken_area) > 20, "the tray icon did not change on the drop"
    assert _differs(live_area, back_area) < _differs(live_area, broken_area), "not back to live"
