"""Started before its org answers, the whole app docks Offline in the real tray and goes Live.

An autostart at login on Wi-Fi: ``python main.py --environment http://127.0.0.1:<port>`` with a
service account's id and secret, on xcb under the bed's Xvfb + trayer, while nothing listens on
that port. The app must not exit: its log says offline and its docked icon shows it. Then the
sandbox org starts on that port, and with no action the app signs in, re-syncs and the icon
shows Live.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.desktop.bed import QtProbe
from tests.desktop.test_app_desktop import DEADLINE_S, REPO, _area, _differs, _line

pytestmark = pytest.mark.desktop


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_the_tray_goes_from_offline_to_live_when_the_org_answers(
    tray_host: str, qt_probe: QtProbe, tmp_path: Path
) -> None:
    artifacts = Path(os.environ.get("ARTIFACTS", REPO / "artifacts")) / "desktop" / "offline"
    artifacts.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    org = SandboxConfig(port=port, users=20, queues=3, seed=11, simulate=False)
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "xcb",
        "DISPLAY": tray_host,
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",  # XEmbed docking, as test_app
        "GENESYS_TRAY_INSTANCE": f"desktop-offline-{os.getpid()}",
        "GENESYS_CLIENT_ID": org.client_id,
        "GENESYS_CLIENT_SECRET": org.client_secret,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PYTHONUNBUFFERED": "1",
    }
    empty = tmp_path / "empty.png"
    qt_probe("grab", str(empty))  # the tray before the app docks: the offline icon must differ
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        "--environment",
        f"http://127.0.0.1:{port}",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    sandbox = Sandbox(org)
    try:
        await _line(proc.stdout, "engine: offline", seen)
        await _line(proc.stdout, "engine: offline", seen)  # a second try: it keeps going
        assert proc.returncode is None, "the app gave up while its org was unreachable"
        offline = tmp_path / "offline.png"
        qt_probe("grab", str(offline))
        await sandbox.start()
        await _line(proc.stdout, "engine: live", seen)
        live = tmp_path / "live.png"
        qt_probe("grab", str(live))
    finally:
        proc.terminate()
        rest = await asyncio.wait_for(proc.stdout.read(), DEADLINE_S)
        code = await asyncio.wait_for(proc.wait(), DEADLINE_S)
        await sandbox.stop()
    for shot in (empty, offline, live):
        (artifacts / shot.name).write_bytes(shot.read_bytes())
    assert code == 0, rest.decode(errors="replace")[-2000:]
    assert b"Traceback" not in rest and not any("Traceback" in line for line in seen)
    assert _differs(_area(empty), _area(offline)) > 20, "no icon docked while offline"
    assert _differs(_area(offline), _area(live)) > 20, "the tray icon did not change to Live"
