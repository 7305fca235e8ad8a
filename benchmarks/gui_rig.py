"""The app's GUI on its engine, fed by benchmarks.replay_server (shared by P2 and P5).

The rig is the app's own stack in this process, on one qasync loop as main.py runs it: a real
:class:`core.engine.service.MonitorService` whose REST calls go to a sandbox org in its own process
(the
org benchmarks.record_frames recorded: 200 users, 20 queues, seed 5; every user and queue is
watched) and whose one channel is a real WebSocket to benchmarks.replay_server, which replays the
recorded stream (timestamps moved forward on every pass, so the store keeps seeing real changes).
On top, :class:`gui.app.GuiApp`: bridge, window and its table views, the demo org's alert rules,
the notifier, and a real on-disk journal. Only the channel's own REST calls (create, subscribe)
are answered here, as in P1, since the replay server is not a Genesys org.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from benchmarks.common import (
    CLIENT_ID,
    CLIENT_SECRET,
    FRAMES,
    ROOT,
    FixedChannel,
    get_json,
    sandbox_process,
    save_result,
    wait_until,
)
from benchmarks.replay_server import QUIET_PATH
from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.engine.records import EngineState, EventRecord, Record
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.rest.schema import ChannelInfo
from core.storage.journal.journal import Journal
from core.storage.settings.model import default_config
from gui.app import GuiApp
from gui.options import GuiOptions, create_qapp, run_qasync

logger = logging.getLogger(__name__)

ORG = ("--users", "200", "--queues", "20", "--seed", "5")  # benchmarks.record_frames' org
PY = sys.executable


class ReplayApi(FixedChannel, ApiClient):
    """The real REST client, except that channels are the replay server (nothing to subscribe).

    The first channel carries the stream; a large selection's further shards get a quiet
    connection (heartbeats only), so the engine takes the stream once at the asked rate.
    """

    def __init__(self, *args: Any, uri: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.uri = uri
        self.stream_uri = uri

    async def create_channel(self) -> ChannelInfo:
        """The replay server; quiet from the second channel on."""
        self.uri = self.stream_uri if self.channels == 0 else f"{self.stream_uri}{QUIET_PATH}"
        return await super().create_channel()


@dataclass
class Rig:
    """A running GuiApp on a live engine, and a count of the events it has taken in."""

    app: GuiApp
    service: MonitorService
    journal: Journal
    events: int = 0

    def on_record(self, record: Record) -> None:
        """Service listener: count typed events."""
        if isinstance(record, EventRecord):
            self.events += 1


def ensure_frames(path: Path = FRAMES, **org: int) -> None:
    """Record a frame stream once (benchmarks.record_frames) if it is not there yet."""
    if not path.exists():
        from benchmarks.record_frames import record

        asyncio.run(record(path=path, **org))


@asynccontextmanager
async def replay_server(rate: float, total: int = 0, frames: Path = FRAMES) -> AsyncIterator[str]:
    """benchmarks.replay_server in its own process; its ws:// URI. Stopped by closing stdin."""
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
        [
            PY,
            "-m",
            "benchmarks.replay_server",
            "--rate",
            str(rate),
            "--total",
            str(total),
            "--frames",
            str(frames),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None and server.stdin is not None
    try:
        port = await asyncio.to_thread(server.stdout.readline)
        yield f"ws://127.0.0.1:{port.strip()}/"
    finally:
        server.stdin.close()
        try:
            await asyncio.to_thread(server.wait, 10)
        except subprocess.TimeoutExpired:
            server.kill()
            await asyncio.to_thread(server.wait)


@asynccontextmanager
async def gui_rig(
    qapp: QApplication,
    workdir: Path,
    *,
    rate: float,
    total: int = 0,
    org: tuple[str, ...] = ORG,
    frames: Path = FRAMES,
) -> AsyncIterator[Rig]:
    """The GUI on the engine on the replayed stream, LIVE when yielded; stopped in stages after.

    ``org`` is the sandbox's command line and ``frames`` a stream recorded from that org.
    """
    async with (
        replay_server(rate, total, frames) as uri,
        sandbox_process(*org, "--no-simulation") as (base_url, http),
    ):
        truth = await get_json(http, "/sandbox/truth")
        selection = Selection(queues=tuple(sorted(truth["queues"])), users="all")
        del truth
        env = parse_environment(base_url)
        auth = Authenticator(env, CLIENT_ID, MemoryCredentialStore(), client_secret=CLIENT_SECRET)
        api = ReplayApi(env, auth.access_token, on_unauthorized=auth.renew_rejected, uri=uri)
        try:
            await auth.sign_in_client_credentials()
            service = MonitorService(api, auth, selection)
            journal = await Journal.open(workdir / "journal.sqlite3")
            options = GuiOptions(
                journal=journal,
                settings=QSettings(str(workdir / "gui.ini"), QSettings.Format.IniFormat),
                config=default_config(demo=True),
                watch_network=False,
            )
            rig = Rig(GuiApp(qapp, service, options), service, journal)
            service.add_listener(rig.on_record)
            running = asyncio.get_running_loop().create_task(rig.app.run())
            try:
                await wait_until(lambda: service.state is EngineState.LIVE, 60, 0.05)
                yield rig
            finally:
                rig.app.stop_requested.set()
                await running
                await journal.close()
        finally:
            await api.aclose()
            await auth.aclose()


def run_gui_benchmark(
    name: str,
    measure: Callable[[QApplication, Path], Awaitable[dict[str, Any]]],
    *,
    prepare: Callable[[], None] = ensure_frames,
) -> None:
    """Record the stream if needed (``prepare``), run ``measure`` on qasync (offscreen) in a
    scratch folder, save its figures as benchmark ``name``."""
    prepare()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    qapp = create_qapp()
    figures: dict[str, Any] = {}

    async def go() -> int:
        with tempfile.TemporaryDirectory() as workdir:
            figures.update(await measure(qapp, Path(workdir)))
        return 0

    run_qasync(qapp, go)
    save_result(name, figures)
