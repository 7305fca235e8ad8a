"""Started before the org answers, the window shows the last known picture, greyed, with since when.

Then the org comes up: the live picture replaces the old one at once, and the banner goes.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from core.auth.credentials import MemoryCredentialStore
from core.engine.records import EngineState, StateRecord, WatchRecord
from core.state.store import Store
from core.storage.journal.journal import Journal
from core.storage.journal.picture import PictureKeeper, load_picture
from core.streaming.events import QueueObserved, RoutingChanged
from gui.models.presence_style import STALE_TEXT, shade
from gui.window.stale_picture import when_text
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox

WAIT_S = 20.0
NAME = 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def _save_earlier_picture(path: Path, sandbox: Sandbox, taken: datetime) -> WatchRecord:
    """A picture from an earlier run: three of the org's agents under old names, one gone since."""
    store = Store()
    users = {u.id: f"Earlier {u.name}" for u in list(sandbox.org.users.values())[:3]}
    users["u-gone"] = "Gone Agent"
    queue = next(iter(sandbox.org.queues.values()))
    queues = {queue.id: "Old queue name"}
    for user_id, name in users.items():
        store.user(user_id).name = name
        store.apply(RoutingChanged(user_id, "IDLE", taken - timedelta(minutes=4)))
    store.queue(queue.id).name = "Old queue name"
    store.apply(QueueObserved(queue.id, waiting=7, interacting=2, on_queue=3, off_queue=1))
    watch = WatchRecord(users, queues)
    journal = await Journal.open(path)
    keeper = PictureKeeper(store, journal, clock=lambda: taken)
    keeper.on_record(watch)
    keeper.on_record(StateRecord(EngineState.LIVE, "live"))
    keeper.stop()
    await journal.close()
    return watch


async def test_an_offline_start_shows_the_last_known_picture_until_the_org_answers(
    tmp_path: Path, settings: QSettings
) -> None:
    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    port = _free_port()
    org = SandboxConfig(port=port, users=30, queues=4, seed=3, simulate=False)
    sandbox = Sandbox(org)
    taken = datetime.now(UTC) - timedelta(hours=2, minutes=5)
    path = tmp_path / "journal.sqlite3"
    saved = await _save_earlier_picture(path, sandbox, taken)

    journal = await Journal.open(path)
    engine = await build_engine(
        demo=False,
        environment=f"http://127.0.0.1:{port}",  # nothing listens there yet
        queues="all",
        users="members",
        client_id=org.client_id,
        client_secret=org.client_secret,
        open_store=lambda _name: MemoryCredentialStore(insecure_reason="test: no keyring"),
    )
    app = GuiApp(
        QApplication.instance(),  # type: ignore[arg-type]
        engine.service,
        GuiOptions(settings=settings, journal=journal, watch_network=False),
    )
    window = app.window
    changed = asyncio.Event()
    for signal in (
        app.bridge.state_changed,
        app.bridge.clock_ticked,
        window.agents.modelReset,
        window.queues.modelReset,
        window.agents.dataChanged,
    ):
        signal.connect(lambda *_: changed.set())

    async def until(condition: Callable[[], bool], what: str) -> None:
        async def wait() -> None:
            while not condition():
                changed.clear()
                await changed.wait()

        try:
            await asyncio.wait_for(wait(), WAIT_S)
        except TimeoutError:
            pytest.fail(f"not within {WAIT_S:g} s: {what} (state {app.service.state})")

    def names() -> set[str]:
        agents = window.agents
        return {agents.data(agents.index(row, NAME)) for row in range(agents.rowCount())}

    running = asyncio.ensure_future(app.run())
    try:
        await until(
            lambda: app.service.state is EngineState.OFFLINE and window.picture_banner.isVisible(),
            "offline, showing the saved picture",
        )
        assert names() == set(saved.users.values())
        first = window.agents.index(0, NAME)
        grey = window.agents.data(first, Qt.ItemDataRole.ForegroundRole)
        assert grey.color() == shade(STALE_TEXT)
        assert window.agents.data(first, Qt.ItemDataRole.FontRole).italic()
        assert window.queues.data(window.queues.index(0, NAME)) == "Old queue name"
        assert window.queues.data(window.queues.index(0, window.queues.WAITING)) == 7
        banner = window.picture_banner.label.text()
        assert "Offline: retrying." in banner
        assert f"from {when_text(taken, datetime.now(UTC))} (2 h 5 min ago)" in banner

        await sandbox.start()
        app.service.check_now()  # what a network change or "Reconnect now" does
        await until(
            lambda: (
                app.service.state is EngineState.LIVE
                and not window.showing_picture
                and window.agents.rowCount() > 0
            ),
            "live, showing the org's truth",
        )
        assert window.picture_banner.isHidden()
        truth = {u.id: u.name for u in sandbox.org.users.values()}
        agents = window.agents
        shown = {
            agents.user_id(row): agents.data(agents.index(row, NAME))
            for row in range(agents.rowCount())
        }
        assert "u-gone" not in shown
        assert shown == {user_id: truth[user_id] for user_id in shown}
        assert agents.data(agents.index(0, NAME), Qt.ItemDataRole.FontRole) is None
        queue_truth = sandbox.org.truth()["queues"]
        queues = window.queues
        for row in range(queues.rowCount()):
            queue_id = queues.queue_id(row)
            assert queues.data(queues.index(row, NAME)) == sandbox.org.queues[queue_id].name
            assert (
                queues.data(queues.index(row, queues.WAITING)) == queue_truth[queue_id]["waiting"]
            )
    finally:
        app.stop_requested.set()
        assert await asyncio.wait_for(running, 10) == 0
        await engine.aclose()
        await journal.close()
        await sandbox.stop()
    # The stop saved the live picture: the next offline start shows today's names.
    journal = await Journal.open(path)
    try:
        picture = await load_picture(journal)
    finally:
        await journal.close()
    assert picture is not None and picture.taken_at > taken
    assert "u-gone" not in picture.watch().users
    assert {row.name for row in picture.users} == {truth[row.subject_id] for row in picture.users}
