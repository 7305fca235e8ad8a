"""The D-Bus backend never blocks the GUI loop, against a private bus of the test's own.

(The last test needs no bus: a backend still asking holds notices back until it answers.)

A real ``dbus-daemon`` is started for each test (skipped where there is none), with a stand-in
notification server on it: one that owns the name and never answers (hung), or the test bed's
recorder (tests/testbed/notify_recorder.py) that answers as a desktop's server does. The
notifier talks to it over a private QDBusConnection, so the process's session bus is untouched.
A 10 ms QTimer measures the longest stall of the loop meanwhile.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from PySide6.QtDBus import QDBusConnection
from pytestqt.qtbot import QtBot

from core.alerts.model import Severity
from gui.notifications.backend import NotifierBackend
from gui.notifications.dbus import CAPABILITIES_TIMEOUT_MS, NOTIFICATIONS_SERVICE, DBusNotifier
from gui.notifications.notice import Notice
from gui.notifications.notifier import Notifier
from tests.gui.loop_ticks import Ticks

MAX_GAP_S = 0.25
DEADLINE_S = 10.0
DEADLINE_MS = 10_000
RECORDER = Path(__file__).resolve().parents[1] / "testbed" / "notify_recorder.py"

# Owns the notification service's name on the bus and reads every call without answering it.
HUNG_SERVER = """
import sys
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection
conn = open_dbus_connection(bus=sys.argv[1])
conn.send_and_get_reply(message_bus.RequestName(sys.argv[2]), timeout=5)
print("ready", flush=True)
while True:
    conn.receive()
"""


@pytest.fixture
def bus_address() -> Iterator[str]:
    """A private dbus-daemon's address (the test is skipped without dbus-daemon)."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        pytest.skip("no dbus-daemon on this machine")
    proc = subprocess.Popen(
        [daemon, "--session", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        assert address, "dbus-daemon printed no address"
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def bus(bus_address: str) -> Iterator[QDBusConnection]:
    """A QDBusConnection of the test's own to the private bus."""
    name = f"test-{uuid.uuid4().hex}"
    connection = QDBusConnection.connectToBus(bus_address, name)
    assert connection.isConnected(), connection.lastError().message()
    yield connection
    QDBusConnection.disconnectFromBus(name)


def start_hung_server(address: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HUNG_SERVER, address, NOTIFICATIONS_SERVICE],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def start_recorder(address: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log, ready = tmp_path / "notify.jsonl", tmp_path / "ready"
    log.touch()
    proc = subprocess.Popen(
        [sys.executable, str(RECORDER), "--log", str(log), "--ready", str(ready)],
        env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": address},
    )
    deadline = time.monotonic() + DEADLINE_S
    while not ready.exists():  # the recorder writes it once it owns the name
        assert proc.poll() is None, "the recorder ended"
        assert time.monotonic() < deadline, "the recorder did not get ready"
        time.sleep(0.01)
    return proc, log


def stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


def notice(key: str = "waiting:q1") -> Notice:
    return Notice(
        key=key,
        title="Sales EN: 5 waiting",
        body="Longest wait 4:12",
        severity=Severity.CRITICAL,
        subject_kind="queue",
        subject_id="q1",
    )


def test_a_hung_server_times_out_without_blocking_the_loop(
    qtbot: QtBot, bus_address: str, bus: QDBusConnection
) -> None:
    hung = start_hung_server(bus_address)
    notifier = Notifier([DBusNotifier(connection=bus)], beep=lambda: None)
    shown: list[Notice] = []
    notifier.in_app.shown.connect(shown.append)
    ticks = Ticks()
    ticks.start()
    try:
        with qtbot.waitSignal(notifier.backend_changed, timeout=DEADLINE_MS) as changed:
            started = time.monotonic()
            notifier.start()
            assert time.monotonic() - started < MAX_GAP_S  # asked, not waited for
            assert notifier.backend is None  # the server may still answer: nothing chosen yet
            assert notifier.post(notice())  # held until the chain settles, not lost
            assert shown == []
        ticks.stop()
        assert ticks.longest < MAX_GAP_S, f"the loop stalled for {ticks.longest:.3f} s"
        assert time.monotonic() - started >= CAPABILITIES_TIMEOUT_MS / 1000 * 0.9
        assert changed.args[0] == "in-app"
        reason = notifier.fallback_reason
        assert reason.startswith("Desktop notifications unavailable (the notification server did")
        assert reason.endswith("showing alerts in the monitor window")
        assert shown == [notice()]  # the held notice went out where the chain fell back to
    finally:
        ticks.stop()
        notifier.stop()
        stop(hung)


def test_a_server_that_answers_is_used_with_its_capabilities(
    qtbot: QtBot, bus_address: str, bus: QDBusConnection, tmp_path: Path
) -> None:
    recorder, log = start_recorder(bus_address, tmp_path)
    dbus = DBusNotifier(connection=bus)
    notifier = Notifier([dbus], coalesce_window_s=0, beep=lambda: None)
    try:
        with qtbot.waitSignal(notifier.backend_changed, timeout=DEADLINE_MS) as changed:
            notifier.start()
        assert changed.args == ["dbus", ""]
        assert {"body", "actions"} <= set(dbus.capabilities)
        assert notifier.post(notice())
        qtbot.waitUntil(lambda: log.read_text().count("\n") >= 1, timeout=DEADLINE_MS)
        (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
        assert entry["summary"] == "Sales EN: 5 waiting"
        assert entry["actions"] == ["open", "Open", "snooze", "Snooze 15 min"]
    finally:
        notifier.stop()
        stop(recorder)


def test_no_server_falls_back_then_a_server_that_appears_is_used(
    qtbot: QtBot, bus_address: str, bus: QDBusConnection, tmp_path: Path
) -> None:
    notifier = Notifier([DBusNotifier(connection=bus)], coalesce_window_s=0, beep=lambda: None)
    recorder: subprocess.Popen[bytes] | None = None
    try:
        with qtbot.waitSignal(notifier.backend_changed, timeout=DEADLINE_MS) as changed:
            notifier.start()
        assert changed.args[0] == "in-app"
        assert "no notification server on the session bus" in notifier.fallback_reason
        with qtbot.waitSignal(notifier.backend_changed, timeout=DEADLINE_MS) as back:
            recorder, log = start_recorder(bus_address, tmp_path)
        assert back.args == ["dbus", ""]
        notifier.post(notice())
        qtbot.waitUntil(lambda: log.read_text().count("\n") >= 1, timeout=DEADLINE_MS)
    finally:
        notifier.stop()
        if recorder is not None:
            stop(recorder)


class Asking(NotifierBackend):
    """A backend that has asked whether it can show notices and waits for the answer."""

    name = "asking"
    where = "where it asked"
    what = "Asking notifications"

    def __init__(self) -> None:
        super().__init__()
        self.answer: bool | None = None
        self.shown: list[Notice] = []

    @property
    def pending(self) -> bool:
        return self.answer is None

    def available(self) -> bool:
        self._unavailable_reason = "" if self.answer else "asking" if self.answer is None else "no"
        return bool(self.answer)

    def show(self, notice: Notice, actions: Sequence[tuple[str, str]], replaces: int = 0) -> int:
        self.shown.append(notice)
        return replaces or self._next_handle()

    def answer_with(self, answer: bool) -> None:
        self.answer = answer
        self.availability_changed.emit()


@pytest.mark.parametrize("answer", [True, False])
def test_notices_wait_for_a_backend_that_is_asking_then_go_where_the_chain_settles(
    qtbot: QtBot, answer: bool
) -> None:
    asking = Asking()
    notifier = Notifier([asking], coalesce_window_s=0, beep=lambda: None)
    in_app: list[Notice] = []
    notifier.in_app.shown.connect(in_app.append)
    notifier.start()
    try:
        assert notifier.backend is None
        assert notifier.post(notice("waiting:a"))
        assert notifier.post(notice("waiting:b"))
        notifier.withdraw("waiting:b")  # withdrawn while held: never shown
        assert asking.shown == in_app == []
        asking.answer_with(answer)
        shown = asking.shown if answer else in_app
        assert [n.key for n in shown] == ["waiting:a"]
        assert notifier.backend_name == ("asking" if answer else "in-app")
    finally:
        notifier.stop()
