"""The desktop backend (desktop-notifier) against a private bus of the test's own, on qasync.

A real ``dbus-daemon`` is started for each test (skipped where there is none), with a stand-in
notification server on it: one that owns the name and never answers (hung), or the test bed's
recorder (tests/testbed/notify_recorder.py) that answers as a desktop's server does and can
"click" an action. The library reads the session bus address from the environment, so the test
points it at the private bus; the process's own session bus is untouched. Every test runs on
qasync's loop (the app's one loop), and a 10 ms QTimer measures the longest stall meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from desktop_notifier import Capability
from jeepney import DBusAddress, HeaderFields, MatchRule, Message, MessageType, new_method_call
from jeepney.bus_messages import Monitoring
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from core.alerts.model import Severity
from gui.notifications.backend import NotifierBackend
from gui.notifications.desktop_backend import PROBE_TIMEOUT_S, DesktopBackend
from gui.notifications.notice import Notice
from gui.notifications.notifier import Notifier
from gui.notifications.server_watch import NOTIFICATIONS
from tests.gui.loop_ticks import Ticks

MAX_GAP_S = 0.25
DEADLINE_S = 10.0
RECORDER = Path(__file__).resolve().parents[1] / "testbed" / "notify_recorder.py"
ACTIONS = ["default", "", "open", "Open", "snooze", "Snooze 15 min"]
RECORDER_CONTROL = DBusAddress(
    "/org/freedesktop/Notifications",
    bus_name=NOTIFICATIONS,
    interface="org.genesys.tray.testbed.NotifyRecorder",
)

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

# The recorder, changed: every Notify refused (as a server out of resources would), and/or
# more capabilities advertised (as GNOME's or KDE's servers do).
WRAPPED_RECORDER = f"""
import sys, json
sys.path.insert(0, {str(RECORDER.parent)!r})
import notify_recorder
refuse, extra = json.loads(sys.argv[1])
if refuse:
    def notify(self, msg):
        raise notify_recorder._InvalidArgsError("refused by the test")
    notify_recorder.Recorder.notify = notify
notify_recorder.CAPABILITIES = notify_recorder.CAPABILITIES + extra
sys.exit(notify_recorder.main(sys.argv[2:]))
"""


@pytest.fixture
def bus_address(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private dbus-daemon, made the session bus of this test (skipped without one)."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        pytest.skip("no dbus-daemon on this machine")
    proc = subprocess.Popen(
        [daemon, "--session", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        assert address, "dbus-daemon printed no address"
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def start_hung_server(address: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HUNG_SERVER, address, NOTIFICATIONS],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def start_recorder(
    address: str,
    tmp_path: Path,
    *,
    refuse_notify: bool = False,
    extra_capabilities: Sequence[str] = (),
) -> tuple[subprocess.Popen[bytes], Path]:
    """The bed's recorder on ``address``; ``refuse_notify``: one that answers every ``Notify``
    with an error; ``extra_capabilities``: advertised besides the recorder's own."""
    log, ready = tmp_path / "notify.jsonl", tmp_path / "ready"
    log.touch()
    ready.unlink(missing_ok=True)
    args = ["--log", str(log), "--ready", str(ready)]
    changes = json.dumps([refuse_notify, list(extra_capabilities)])
    changed = refuse_notify or extra_capabilities
    command = (
        [sys.executable, "-c", WRAPPED_RECORDER, changes, *args]
        if changed
        else [sys.executable, str(RECORDER), *args]
    )
    proc = subprocess.Popen(command, env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": address})
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


def entries(log: Path) -> list[dict[str, Any]]:
    text = log.read_text(encoding="utf-8")
    complete = text[: text.rfind("\n") + 1]  # ignore a line still being written
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def notice(key: str = "waiting:q1", severity: Severity = Severity.CRITICAL) -> Notice:
    return Notice(
        key=key,
        title="Sales EN: 5 waiting",
        body="Longest wait 4:12 & <rising>",
        severity=severity,
        subject_kind="queue",
        subject_id="q1",
    )


async def until(predicate: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
    """Wait on the loop (never blocking it) until ``predicate`` holds, or fail saying ``what``."""
    try:
        async with asyncio.timeout(deadline_s):
            while not predicate():  # noqa: ASYNC110 - D-Bus and another process's file
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(f"not within {deadline_s} s: {what}")


class Desk:
    """A notifier over a real desktop backend, with what it said recorded."""

    def __init__(self, backends: Sequence[NotifierBackend] | None = None) -> None:
        self.desktop = DesktopBackend()
        self.beeps = 0
        self.notifier = Notifier(
            list(backends) if backends is not None else [self.desktop],
            coalesce_window_s=0,
            beep=self._beep,
        )
        self.changes: list[tuple[str, str]] = []
        self.actions: list[tuple[str, str]] = []
        self.shown: list[Notice] = []
        self.notifier.backend_changed.connect(lambda n, why: self.changes.append((n, why)))
        self.notifier.action_invoked.connect(lambda k, a: self.actions.append((k, a)))
        self.notifier.in_app.shown.connect(self.shown.append)

    def _beep(self) -> None:
        self.beeps += 1

    async def settle(self) -> None:
        await until(lambda: self.desktop.pending_calls == 0, "the library calls finished")


@pytest_asyncio.fixture
async def desk() -> AsyncIterator[Desk]:
    """A desk whose notifier is stopped on the loop, its connections closed before the next."""
    made = Desk()
    yield made
    made.notifier.stop()
    await made.settle()


async def test_a_hung_server_times_out_without_blocking_the_loop(
    bus_address: str, desk: Desk
) -> None:
    hung = start_hung_server(bus_address)
    ticks = Ticks()
    ticks.start()
    try:
        started = time.monotonic()
        desk.notifier.start()
        assert time.monotonic() - started < MAX_GAP_S  # asked, not waited for
        assert desk.notifier.backend is None  # the server may still answer: nothing chosen yet
        assert desk.notifier.post(notice())  # held until the chain settles, not lost
        assert desk.shown == []
        await until(lambda: bool(desk.changes), "the chain settled")
        ticks.stop()
        assert ticks.longest < MAX_GAP_S, f"the loop stalled for {ticks.longest:.3f} s"
        assert ticks.count > 10  # the loop really ran meanwhile
        assert time.monotonic() - started >= PROBE_TIMEOUT_S * 0.9
        assert desk.changes[0][0] == "in-app"
        reason = desk.notifier.fallback_reason
        assert reason.startswith(
            "Desktop notifications unavailable (the notification server did not answer in time)"
        )
        assert reason.endswith("showing alerts in the monitor window")
        assert desk.shown == [notice()]  # the held notice went out where the chain fell back to
    finally:
        ticks.stop()
        stop(hung)


async def test_a_notice_goes_out_through_the_library_with_buttons_urgency_and_sound(
    bus_address: str, desk: Desk, tmp_path: Path
) -> None:
    recorder, log = start_recorder(bus_address, tmp_path)
    try:
        desk.notifier.start()
        await until(lambda: bool(desk.changes), "the chain settled")
        assert desk.changes == [("desktop", "")]
        assert {Capability.BUTTONS, Capability.MESSAGE} <= desk.desktop.capabilities
        assert "body-markup" not in desk.desktop.server_capabilities  # the recorder's list
        assert not desk.desktop.plays_sounds  # no "sound" capability: the app beeps

        assert desk.notifier.post(notice())
        await until(lambda: len(entries(log)) == 1, "one Notify")
        await desk.settle()
        (entry,) = entries(log)
        assert entry["app_name"] == "Genesys Tray"
        assert entry["summary"] == "Sales EN: 5 waiting"
        assert entry["body"] == "Longest wait 4:12 & <rising>"  # no markup server: as it is
        assert entry["app_icon"] == "dialog-error"
        assert entry["actions"] == ACTIONS  # a click on the body is "default": open
        assert entry["hints"] == {"urgency": 2, "sound-name": "dialog-error"}
        assert entry["expire_timeout"] == -1
        assert desk.beeps == 1  # critical sounds by default, and the server cannot play it

        desk.notifier.post(notice("waiting:q2", Severity.INFO))
        await until(lambda: len(entries(log)) == 2, "the second Notify")
        info = entries(log)[1]
        assert info["hints"] == {"urgency": 0}  # info: quiet by default, low urgency
        assert info["app_icon"] == "dialog-information"
        assert desk.beeps == 1
    finally:
        stop(recorder)


async def test_a_server_that_reads_markup_gets_the_body_escaped_and_plays_the_sound(
    bus_address: str, desk: Desk, tmp_path: Path
) -> None:
    recorder, log = start_recorder(
        bus_address, tmp_path, extra_capabilities=["body-markup", "sound"]
    )
    try:
        desk.notifier.start()
        await until(lambda: desk.notifier.backend_name == "desktop", "the desktop backend")
        assert desk.desktop.plays_sounds
        desk.notifier.post(notice())
        await until(lambda: len(entries(log)) == 1, "one Notify")
        (entry,) = entries(log)
        assert entry["body"] == "Longest wait 4:12 &amp; &lt;rising&gt;"  # text, not markup
        assert entry["hints"]["sound-name"] == "dialog-error"
        assert desk.beeps == 0  # the notification makes the sound: no second one
    finally:
        stop(recorder)


@pytest.mark.parametrize(("action", "reported"), [("snooze", "snooze"), ("default", "open")])
async def test_an_action_clicked_on_the_server_reaches_the_app(
    bus_address: str, desk: Desk, tmp_path: Path, action: str, reported: str
) -> None:
    recorder, log = start_recorder(bus_address, tmp_path)
    try:
        desk.notifier.start()
        await until(lambda: desk.notifier.backend_name == "desktop", "the desktop backend")
        desk.notifier.post(notice())
        await until(lambda: len(entries(log)) == 1, "one Notify")
        await desk.settle()
        (entry,) = entries(log)
        with open_dbus_connection(bus="SESSION") as control:
            reply = control.send_and_get_reply(
                new_method_call(RECORDER_CONTROL, "InvokeAction", "us", (entry["id"], action)),
                timeout=5,
            )
        assert reply.header.message_type == MessageType.method_return, reply.body
        await until(lambda: bool(desk.actions), "the action reached the notifier")
        assert desk.actions == [("waiting:q1", reported)]
        assert desk.notifier.snoozed is (reported == "snooze")
    finally:
        stop(recorder)


def monitor(address: str) -> DBusConnection:
    """A monitor connection: copies of every Notify/CloseNotification call on the bus."""
    conn = open_dbus_connection(bus=address)
    rules = [
        MatchRule(type="method_call", interface=NOTIFICATIONS, member=member).serialise()
        for member in ("Notify", "CloseNotification")
    ]
    reply = conn.send_and_get_reply(Monitoring().BecomeMonitor(rules), timeout=5)
    assert reply.header.message_type == MessageType.method_return, reply.body
    return conn


def calls(conn: DBusConnection, count: int) -> list[Message]:
    """The next ``count`` monitored calls (already sent: the library calls have finished)."""
    found: list[Message] = []
    while len(found) < count:
        message = conn.receive(timeout=DEADLINE_S)
        if message.header.message_type == MessageType.method_call:  # not NameLost and the like
            found.append(message)
    return found


async def test_the_same_key_replaces_and_withdraw_closes(
    bus_address: str, desk: Desk, tmp_path: Path
) -> None:
    recorder, log = start_recorder(bus_address, tmp_path)
    wire = monitor(bus_address)
    try:
        desk.notifier.start()
        await until(lambda: desk.notifier.backend_name == "desktop", "the desktop backend")
        first = notice()
        again = dataclasses.replace(first, title="Sales EN: 9 waiting")
        desk.notifier.post(first)
        desk.notifier.post(again)  # before the first call finished: it waits its turn
        await until(lambda: len(entries(log)) == 2, "two Notify calls")
        await desk.settle()
        shown, replaced = entries(log)
        closed: list[int] = []
        desk.desktop.closed.connect(closed.append)
        desk.notifier.withdraw(first.key)
        await desk.settle()
        assert closed  # the close went out and was reported

        members = [m.header.fields[HeaderFields.member] for m in calls(wire, 4)]
        assert members == ["Notify", "CloseNotification", "Notify", "CloseNotification"]
        assert replaced["summary"] == "Sales EN: 9 waiting"
        assert replaced["id"] != shown["id"]  # the old one was closed first: never two on screen
    finally:
        wire.close()
        stop(recorder)


async def test_no_server_falls_back_then_a_server_that_appears_is_used(
    bus_address: str, desk: Desk, tmp_path: Path
) -> None:
    recorder: subprocess.Popen[bytes] | None = None
    try:
        desk.notifier.start()
        await until(lambda: bool(desk.changes), "the chain settled")
        assert desk.changes[0][0] == "in-app"
        assert "no notification server on the session bus" in desk.notifier.fallback_reason
        recorder, log = start_recorder(bus_address, tmp_path)
        await until(lambda: desk.notifier.backend_name == "desktop", "back to the desktop")
        assert desk.changes[-1] == ("desktop", "")
        desk.notifier.post(notice())
        await until(lambda: len(entries(log)) == 1, "one Notify")
        stop(recorder)
        recorder = None
        await until(lambda: desk.notifier.backend_name == "in-app", "the server went away")
        desk.notifier.post(notice("waiting:q9"))
        assert [n.key for n in desk.shown] == ["waiting:q9"]
    finally:
        if recorder is not None:
            stop(recorder)


async def test_a_refused_notification_falls_back_in_app_and_is_not_lost(
    bus_address: str, desk: Desk, tmp_path: Path
) -> None:
    refusing, log = start_recorder(bus_address, tmp_path, refuse_notify=True)
    try:
        desk.notifier.start()
        await until(lambda: desk.notifier.backend_name == "desktop", "the desktop backend")
        desk.notifier.post(notice())
        await until(lambda: desk.notifier.backend_name == "in-app", "the fallback")
        assert desk.shown == [notice()]  # what failed was shown where the chain fell back to
        reason = desk.notifier.fallback_reason
        assert reason == (
            "Desktop notifications unavailable (the notification server refused the "
            "notification); showing alerts in the monitor window"
        )
        assert entries(log) == []
    finally:
        stop(refusing)


async def test_without_a_running_loop_it_is_unavailable_and_says_why() -> None:
    """Outside any event loop the library cannot be asked: unavailable, not pending."""
    backend = DesktopBackend()
    assert not await asyncio.to_thread(backend.available)
    assert not backend.pending
    assert backend.unavailable_reason == (
        "no event loop is running to talk to the notification system"
    )


class Nothing:
    """The library's stand-in where it cannot notify (macOS outside a bundle): offers nothing."""

    async def get_capabilities(self) -> frozenset[Capability]:
        return frozenset()


async def test_a_library_that_offers_nothing_is_not_used() -> None:
    backend = DesktopBackend(library=Nothing, platform="darwin")  # type: ignore[arg-type]
    notifier = Notifier([backend], beep=lambda: None)
    notifier.start()
    try:
        await until(lambda: notifier.backend is not None, "the chain settled")
        assert notifier.backend_name == "in-app"
        assert "(this system offers no notifications to this app)" in notifier.fallback_reason
    finally:
        notifier.stop()


async def test_the_notifier_starts_again_after_a_stop_and_asks_afresh(
    bus_address: str, desk: Desk, tmp_path: Path
) -> None:
    recorder, log = start_recorder(bus_address, tmp_path)
    try:
        desk.notifier.start()
        await until(lambda: desk.notifier.backend_name == "desktop", "the desktop backend")
        desk.notifier.stop()
        await desk.settle()
        assert desk.notifier.backend is None
        desk.notifier.start()
        await until(lambda: desk.notifier.backend_name == "desktop", "the desktop backend again")
        desk.notifier.post(notice())
        await until(lambda: len(entries(log)) == 1, "one Notify after the restart")
    finally:
        stop(recorder)
