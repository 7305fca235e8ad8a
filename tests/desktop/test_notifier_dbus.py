"""The notifier's D-Bus backend against the bed's real notification recorder.

Everything on the wire is real: QtDBus on the session bus of the bed, the recorder
(tests/testbed/notify_recorder.py) answering ``Notify`` and checking its signature
(``susssasa{sv}i``), and its JSON log. The pytest process's QApplication is offscreen: QtDBus
does not depend on the QPA platform, and the first test checks exactly that.

Counting calls: the recorder writes a log line before it replies, so once the notifier has no
``Notify`` waiting for a reply (and no coalescing window open), the log holds every call it
made. "Exactly n" is checked at that point, never after a sleep.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jeepney import DBusAddress, HeaderFields, MatchRule, Message, MessageType, new_method_call
from jeepney.bus_messages import Monitoring
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from PySide6.QtDBus import QDBusConnection
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from gui.notifications.dbus import APP_NAME, NOTIFICATIONS_INTERFACE, DBusNotifier
from gui.notifications.notice import Notice
from gui.notifications.notifier import Notifier

pytestmark = pytest.mark.desktop

DEADLINE_MS = 10_000
BURST_WINDOW_S = 0.3
EXPECTED_ACTIONS = ["open", "Open", "snooze", "Snooze 15 min"]
# The recorder's test control (not part of the notification spec): fire ActionInvoked.
RECORDER_CONTROL = DBusAddress(
    "/org/freedesktop/Notifications",
    bus_name="org.freedesktop.Notifications",
    interface="org.genesys.tray.testbed.NotifyRecorder",
)


class RecorderLog:
    """The recorder's JSON lines written since this object was made, from this app only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = path.stat().st_size

    def entries(self) -> list[dict[str, Any]]:
        with self.path.open("rb") as log:
            log.seek(self.start)
            data = log.read().decode("utf-8")
        complete = data[: data.rfind("\n") + 1]  # ignore a line still being written
        lines = [json.loads(line) for line in complete.splitlines() if line.strip()]
        return [entry for entry in lines if entry["app_name"] == APP_NAME]


class Bed:
    """A notifier on the real D-Bus backend, and the recorder's log from now on."""

    def __init__(self, qtbot: QtBot, log: RecorderLog, notifier: Notifier) -> None:
        self.qtbot = qtbot
        self.log = log
        self.notifier = notifier
        backend = notifier.backend
        assert isinstance(backend, DBusNotifier), notifier.fallback_reason
        self.dbus = backend

    def settle(self) -> None:
        """Wait until no Notify waits for its reply and no coalescing window is open."""
        self.qtbot.waitUntil(
            lambda: self.dbus.pending_calls == 0 and not self.notifier.coalescing,
            timeout=DEADLINE_MS,
        )

    def expect(self, count: int) -> list[dict[str, Any]]:
        """Wait (with a deadline) for ``count`` Notify calls, then check there are no more."""
        self.qtbot.waitUntil(lambda: len(self.log.entries()) >= count, timeout=DEADLINE_MS)
        self.settle()
        entries = self.log.entries()
        assert len(entries) == count, entries
        return entries


MakeBed = Callable[..., Bed]


@pytest.fixture
def wire(session_bus: DBusConnection) -> Iterator[DBusConnection]:
    """A monitor connection: copies of every Notify/CloseNotification call, typed as sent.

    The recorder's log unwraps variants, so it cannot tell a byte from an int32; the monitor
    sees the message as it crossed the bus.
    """
    conn = open_dbus_connection(bus="SESSION")
    with conn:
        rules = [
            MatchRule(type="method_call", interface=NOTIFICATIONS_INTERFACE, member=member)
            for member in ("Notify", "CloseNotification")
        ]
        reply = conn.send_and_get_reply(
            Monitoring().BecomeMonitor([rule.serialise() for rule in rules]), timeout=5
        )
        assert reply.header.message_type == MessageType.method_return, reply.body
        yield conn


def wire_calls(conn: DBusConnection, member: str, count: int) -> list[Message]:
    """The first ``count`` ``member`` calls this process sent, waiting up to the deadline."""
    me = QDBusConnection.sessionBus().baseService()
    deadline = time.monotonic() + DEADLINE_MS / 1000
    found: list[Message] = []
    while len(found) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"saw {len(found)} of {count} {member} calls from {me}"
        message = conn.receive(timeout=remaining)
        fields = message.header.fields
        if fields.get(HeaderFields.member) == member and fields.get(HeaderFields.sender) == me:
            found.append(message)
    return found


@pytest.fixture
def make_bed(qtbot: QtBot, notify_recorder: Path) -> Iterator[MakeBed]:
    notifiers: list[Notifier] = []

    def make(*, window_s: float = 0.0, backend: DBusNotifier | None = None) -> Bed:
        log = RecorderLog(notify_recorder)
        notifier = Notifier(
            [backend or DBusNotifier()], coalesce_window_s=window_s, beep=lambda: None
        )
        notifiers.append(notifier)
        # The backend asks the server for its capabilities without blocking; it answers soon.
        with qtbot.waitSignal(notifier.backend_changed, timeout=DEADLINE_MS):
            notifier.start()
        return Bed(qtbot, log, notifier)

    yield make
    for notifier in notifiers:
        notifier.stop()
        notifier.deleteLater()


def unique_notice(severity: str = "critical", *, key: str = "", title: str = "") -> Notice:
    tag = uuid.uuid4().hex[:8]
    return Notice(
        key=key or f"waiting:{tag}",
        title=title or f"Sales EN {tag}: 5 waiting",
        body="Longest wait 4:12, threshold 3:00",
        severity=severity,  # type: ignore[arg-type]
        subject_kind="queue",
        subject_id=f"queue-{tag}",
    )


def test_a_notice_is_exactly_one_notify_with_actions_and_urgency(make_bed: MakeBed) -> None:
    bed = make_bed()
    assert QApplication.instance() is not None
    assert QApplication.platformName() == "offscreen"  # QtDBus does not need a display
    assert bed.notifier.backend_name == "dbus"
    assert bed.notifier.fallback_reason == ""
    assert {"body", "actions"} <= set(bed.dbus.capabilities)

    notice = unique_notice("critical")
    assert bed.notifier.post(notice)
    (entry,) = bed.expect(1)
    assert entry["app_name"] == "Genesys Tray"
    assert entry["replaces_id"] == 0
    assert entry["app_icon"] == "dialog-error"
    assert entry["summary"] == notice.title
    assert entry["body"] == notice.body
    assert entry["actions"] == EXPECTED_ACTIONS
    assert entry["hints"] == {
        "urgency": 2,  # a D-Bus byte on the wire (next test)
        "category": "x-genesys.alert",
        "desktop-entry": "genesys-tray",
    }
    assert entry["expire_timeout"] == -1


def test_the_calls_carry_the_spec_types_on_the_wire(
    make_bed: MakeBed, wire: DBusConnection
) -> None:
    """uint32 replaces_id and ids, a byte urgency: what PySide6 cannot send from a plain int."""
    bed = make_bed()
    notice = unique_notice("critical")
    bed.notifier.post(notice)
    (entry,) = bed.expect(1)
    bed.notifier.withdraw(notice.key)

    (notify,) = wire_calls(wire, "Notify", 1)
    assert notify.header.fields[HeaderFields.signature] == "susssasa{sv}i"
    hints = notify.body[6]
    assert hints["urgency"] == ("y", 2)
    assert hints["category"] == ("s", "x-genesys.alert")
    assert hints["desktop-entry"] == ("s", "genesys-tray")
    (close,) = wire_calls(wire, "CloseNotification", 1)
    assert close.header.fields[HeaderFields.signature] == "u"
    assert close.body == (entry["id"],)


@pytest.mark.parametrize(("severity", "urgency"), [("info", 0), ("warning", 1)])
def test_urgency_follows_the_severity(make_bed: MakeBed, severity: str, urgency: int) -> None:
    bed = make_bed()
    bed.notifier.post(unique_notice(severity))
    (entry,) = bed.expect(1)
    assert entry["hints"]["urgency"] == urgency


def test_a_burst_of_four_is_two_notify_calls(make_bed: MakeBed) -> None:
    bed = make_bed(window_s=BURST_WINDOW_S)
    burst = [unique_notice("warning") for _ in range(4)]
    for notice in burst:
        bed.notifier.post(notice)

    first, summary = bed.expect(2)
    assert first["summary"] == burst[0].title
    assert summary["summary"] == "3 queue alerts"
    assert summary["body"] == "; ".join(notice.title for notice in burst[1:])
    assert summary["actions"] == EXPECTED_ACTIONS
    assert summary["replaces_id"] == 0


def test_the_same_key_replaces_the_notification(make_bed: MakeBed) -> None:
    bed = make_bed()
    first = unique_notice("warning")
    bed.notifier.post(first)
    bed.expect(1)
    again = unique_notice("critical", key=first.key)
    bed.notifier.post(again)

    shown, replaced = bed.expect(2)
    assert replaced["summary"] == again.title
    assert replaced["replaces_id"] == shown["id"]  # a D-Bus uint32, accepted by the recorder
    assert replaced["id"] == shown["id"]


def test_a_replacement_posted_before_the_server_answered_waits_for_the_id(
    make_bed: MakeBed,
) -> None:
    bed = make_bed()
    first = unique_notice("warning")
    again = unique_notice("critical", key=first.key)
    bed.notifier.post(first)
    bed.notifier.post(again)  # the first Notify's reply cannot have been handled yet
    assert bed.dbus.pending_calls == 1

    shown, replaced = bed.expect(2)
    assert (shown["summary"], replaced["summary"]) == (first.title, again.title)
    assert replaced["replaces_id"] == shown["id"]


def test_snoozed_notices_make_no_call_and_unsnooze_lets_the_next_through(
    make_bed: MakeBed,
) -> None:
    bed = make_bed()
    bed.notifier.snooze(time.time() + 900)
    assert bed.notifier.post(unique_notice()) is False
    assert bed.notifier.post(unique_notice()) is False
    assert bed.dbus.pending_calls == 0  # nothing was even sent
    assert bed.log.entries() == []
    assert bed.notifier.suppressed == 2

    bed.notifier.unsnooze()
    after = unique_notice()
    bed.notifier.post(after)
    (entry,) = bed.expect(1)  # exactly one: the snoozed two never went out
    assert entry["summary"] == after.title


def test_an_action_invoked_on_the_server_reaches_the_app(
    make_bed: MakeBed, session_bus: DBusConnection, qtbot: QtBot
) -> None:
    bed = make_bed()
    notice = unique_notice()
    bed.notifier.post(notice)
    (entry,) = bed.expect(1)

    with qtbot.waitSignal(bed.notifier.action_invoked, timeout=DEADLINE_MS) as invoked:
        reply = session_bus.send_and_get_reply(
            new_method_call(RECORDER_CONTROL, "InvokeAction", "us", (entry["id"], "snooze")),
            timeout=5,
        )
        assert reply.header.message_type == MessageType.method_return, reply.body
    assert invoked.args == [notice.key, "snooze"]
    assert bed.notifier.snoozed  # the snooze action snoozes for 15 minutes
    assert bed.notifier.post(unique_notice()) is False


def test_withdraw_closes_the_notification_on_the_server(make_bed: MakeBed, qtbot: QtBot) -> None:
    bed = make_bed()
    notice = unique_notice()
    bed.notifier.post(notice)
    bed.expect(1)

    # CloseNotification takes a uint32 too; the server answers with NotificationClosed.
    with qtbot.waitSignal(bed.dbus.closed, timeout=DEADLINE_MS):
        bed.notifier.withdraw(notice.key)
    bed.notifier.post(unique_notice(key=notice.key))
    (_first, second) = bed.expect(2)
    assert second["replaces_id"] == 0  # closed: a new notification, not a replacement


class Int32ReplacesId(DBusNotifier):
    """Sends replaces_id as a plain Python int, which PySide6 marshals as int32 (``i``)."""

    def notify_arguments(self, *args: Any, **kwargs: Any) -> list[object]:
        arguments = super().notify_arguments(*args, **kwargs)
        arguments[1] = 0
        return arguments


def test_a_rejected_call_falls_back_in_app_and_says_why(make_bed: MakeBed, qtbot: QtBot) -> None:
    bed = make_bed(backend=Int32ReplacesId())
    notice = unique_notice()
    with qtbot.waitSignal(bed.notifier.in_app.shown, timeout=DEADLINE_MS) as shown:
        bed.notifier.post(notice)
    assert shown.args == [notice]  # the notice was not lost
    assert bed.notifier.backend_name == "in-app"
    reason = bed.notifier.fallback_reason
    assert reason.startswith("Desktop notifications unavailable (Notify failed: ")
    assert "org.freedesktop.DBus.Error.InvalidArgs" in reason
    assert reason.endswith("showing alerts in the monitor window")
    assert bed.log.entries() == []  # the recorder refused it before logging
