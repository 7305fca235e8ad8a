"""The whole app with both sources, on a real X display: the status bar names both, and a gap in
the WebSocket comes back in the feed from EventBridge (issue 15's desktop done-when).

``python main.py --environment http://127.0.0.1:<port>`` signs in with a service account's id and
secret to a sandbox org started with EventBridge on (moto's SQS server on loopback), on xcb under
the bed's Xvfb + trayer. The org's queue URL is in the settings file, as Settings or the guide
save it, and "What to watch" is every queue and every user. The window's state is read from the
app's log, which says what the status bar shows whenever a source changes state and which feed
lines came back from EventBridge (gui/eventbridge_ui.py); a screenshot goes to the artifacts.

The gap: every REST call fails and the sockets drop, so the app cannot open a new channel; while
it is disconnected three agents change presence; then the org answers again. Those changes must
arrive in the feed marked "recovered from EventBridge", and one line must say what came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from core.storage.settings.file import APP_DIR_NAME, CONFIG_FILE_NAME, save_config
from core.storage.settings.model import EventBridgeSettings, WatchSettings, default_config
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.desktop.bed import QtProbe
from tests.desktop.test_app_desktop import REPO

pytestmark = [pytest.mark.desktop, pytest.mark.timeout(90)]

DEADLINE_S = 30.0
RECOVERED = "recovered from EventBridge"
GAP_PRESENCES = ("AWAY", "BREAK", "MEAL")  # one agent each, changed while disconnected


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class AppLog:
    """Every line the app printed (its log), read in the background; waits are conditions."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.lines: list[str] = []
        self.ended = False
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while raw := await stream.readline():
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self._changed.set()
        self.ended = True
        self._changed.set()

    def after(self, mark: int, needle: str) -> list[str]:
        """The lines from index ``mark`` on that contain ``needle``."""
        return [line for line in self.lines[mark:] if needle in line]

    async def until(
        self, what: str, check: Callable[[], object], timeout_s: float = DEADLINE_S
    ) -> None:
        """Wait until ``check()`` holds, re-checked on every new line."""
        try:
            async with asyncio.timeout(timeout_s):
                while not check():
                    assert not self.ended, f"the app exited before {what}:\n" + self.tail()
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout_s} s:\n{self.tail()}") from None

    def tail(self) -> str:
        return "\n".join(self.lines[-40:])

    async def finish(self) -> None:
        await asyncio.wait_for(self._task, DEADLINE_S)


def _both_live(line: str) -> bool:
    """A status-bar line naming the WebSocket live and EventBridge live (a lag is live too)."""
    words = line.split("status bar: ", 1)[-1]
    return words.startswith("WebSocket live · ") and (
        "EventBridge lag " in words or "EventBridge live" in words
    )


async def test_status_bar_names_both_sources_and_a_gap_comes_back_in_the_feed(
    tray_host: str, qt_probe: QtProbe, tmp_path: Path
) -> None:
    started = time.monotonic()
    artifacts = Path(os.environ.get("ARTIFACTS", REPO / "artifacts")) / "desktop" / "eventbridge"
    artifacts.mkdir(parents=True, exist_ok=True)
    org = SandboxConfig(
        port=_free_port(),
        users=20,
        queues=3,
        seed=15,
        simulate=False,  # only the test's changes: the gap's events are known
        eventbridge=True,
        eventbridge_delay_min_s=0.05,
        eventbridge_delay_max_s=0.5,
    )
    sandbox = Sandbox(org)
    await sandbox.start()
    try:
        await _run_the_app_through_a_gap(sandbox, tray_host, qt_probe, tmp_path, artifacts)
    finally:
        await sandbox.stop()
    print(f"eventbridge desktop: {time.monotonic() - started:.1f} s")


async def _run_the_app_through_a_gap(
    sandbox: Sandbox, tray_host: str, qt_probe: QtProbe, tmp_path: Path, artifacts: Path
) -> None:
    org = sandbox.config
    assert sandbox.eventbridge is not None
    queue_url = sandbox.eventbridge.queue_url
    config = (
        default_config()
        .with_watch(WatchSettings(queues="all", users="all"))
        .with_eventbridge(EventBridgeSettings(queue_url=queue_url))
    )
    save_config(tmp_path / "config" / APP_DIR_NAME / CONFIG_FILE_NAME, config)
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "xcb",
        "DISPLAY": tray_host,
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",  # XEmbed docking, as test_app
        "GENESYS_TRAY_INSTANCE": f"desktop-eventbridge-{os.getpid()}",
        "GENESYS_CLIENT_ID": org.client_id,
        "GENESYS_CLIENT_SECRET": org.client_secret,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PYTHONUNBUFFERED": "1",
    }
    for name in [k for k in env if k.startswith("AWS_")]:
        del env[name]  # the loopback queue: the app's own dummy keys, never a real AWS chain
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        "--environment",
        sandbox.base_url,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    log = AppLog(proc.stdout)
    shot = tmp_path / "eventbridge-gap.png"
    try:
        await log.until(
            "a status bar with both sources live",
            lambda: any(_both_live(line) for line in log.after(0, "status bar: ")),
        )
        assert not log.after(0, RECOVERED), "nothing was missed yet, so nothing is recovered"
        people = sandbox.org.users.values()
        users = [u for u in people if sandbox.org.presence_key(u) == "AVAILABLE"]
        assert len(users) >= len(GAP_PRESENCES), "the org needs agents who are Available"
        agents = users[: len(GAP_PRESENCES)]
        async with httpx.AsyncClient(base_url=sandbox.base_url, timeout=10) as control:
            await control.post("/sandbox/faults/server_error", params={"count": 100_000})
            await control.post("/sandbox/faults/drop")
            cut = len(log.lines)
            await log.until("the cut noticed", lambda: log.after(cut, "engine: reconnecting"))
            for agent, key in zip(agents, GAP_PRESENCES, strict=True):
                sandbox.org.set_presence(agent, sandbox.org.system_presence_id(key))
            names = [agent.name for agent in agents]
            await log.until(
                "the gap's changes in the feed, recovered from EventBridge",
                lambda: all(
                    any(name in line for line in log.after(cut, RECOVERED)) for name in names
                ),
            )
            assert not log.after(cut, "engine: live"), "the gap must last until the org answers"
            await control.post("/sandbox/faults/server_error", params={"count": 0})
        back = len(log.lines)
        await log.until("the app live again", lambda: log.after(back, "engine: live"))
        await log.until(
            "the gap's line saying what came back",
            lambda: log.after(back, "events recovered from EventBridge"),
        )
        await log.until(
            "both sources live again",
            lambda: any(_both_live(line) for line in log.after(back, "status bar: ")),
        )
        qt_probe("grab", str(shot))
    finally:
        proc.terminate()
        with contextlib.suppress(TimeoutError):
            await log.finish()
        code = await asyncio.wait_for(proc.wait(), DEADLINE_S)
    (artifacts / shot.name).write_bytes(shot.read_bytes())
    assert code == 0, log.tail()
    assert not any("Traceback" in line for line in log.lines), log.tail()
    gap_line = log.after(back, "events recovered from EventBridge")[0]
    assert "Disconnected " in gap_line, gap_line
    count = int(gap_line.split("events recovered", 1)[0].rsplit(", ", 1)[1])
    assert count >= len(GAP_PRESENCES), gap_line  # at least the three changes (routing may add)
    for agent, key in zip(agents, GAP_PRESENCES, strict=True):  # each change once, recovered
        lines = [line for line in log.after(cut, RECOVERED) if f"{agent.name}:" in line]
        assert len(lines) == 1 and key.title() in lines[0], (agent.name, key, lines)
    print(f"gap line: {gap_line.split('feed: ', 1)[-1]}")
