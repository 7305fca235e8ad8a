"""The notifier's desktop backend (desktop-notifier) against the bed's real notification recorder.

Everything on the wire is real: the library's D-Bus layer (dbus-fast) on the session bus of the
bed, on qasync's loop as in the app, the recorder (tests/testbed/notify_recorder.py) answering
``Notify`` and checking its signature (``susssasa{sv}i``), and its JSON log. The pytest
process's QApplication is offscreen: D-Bus does not depend on the QPA platform.

Counting calls: the recorder writes a log line before it replies, so once the backend has no
library call unfinished (and no coalescing window is open), the log holds every call it made.
"Exactly n" is checked at that point, never after a sleep.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from jeepney import DBusAddress, HeaderFields, MatchRule, Message, MessageType, new_method_call
from jeepney.bus_messages import Monitoring
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from PySide6.QtWidgets import QApplication

from core.alerts.model import Severity
from gui.notifications.desktop_backend import APP_NAME, DesktopBackend
from gui.notifications.notice import Notice
from gui.notifications.notifier import Notifier
from gui.notifications.server_watch import NOTIFICATIONS

pytestmark = [pytest.mark.desktop, pytest.mark.qt_loop]

DEADLINE_S = 10.0
BURST_WINDOW_S = 0.3
# The library adds "default" (a click on the notification itself, which the app reads as Open).
EXPECTED_ACTIONS = ["default", "", "open", "Open", "snooze", "Snooze 15 min"]
# The recorder's test control (not part of the notification spec): fire ActionInvoked.
RECORDER_CONTROL = DBusAddress(
    "/org/freedesktop/Notifications",
    bus_name=NOTIFICATIONS,
    interface="org.genesys.tray.testbed.NotifyRecorder",
)


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Wait on the loop (never blocking it) until ``predicate`` holds, or fail saying ``what``."""
    try:
        async with asyncio.timeout(DEADLINE_S):
            while not predicate():  # noqa: ASYNC110 - the recorder is another process's file
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"not within {DEADLINE_S} s: {what}")


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
    """A notifier on the real desktop backend, and the recorder's log from now on."""

    def __init__(self, log: RecorderLog, notifier: Notifier, desktop: DesktopBackend) -> None:
        self.log = log
        self.notifier = notifier
        self.desktop = desktop

    async def settle(self) -> None:
        """Wait until no library call is unfinished and no coalescing window is open."""
        await until(
            lambda: self.desktop.pending_calls == 0 and not self.notifier.coalescing,
            "the notifier settled",
        )

    async def expect(self, count: int) -> list[dict[str, Any]]:
        """Wait for ``count`` Notify calls, then check there are no more."""
        await until(lambda: len(self.log.entries()) >= count, f"{count} Notify calls")
        await self.settle()
        entries = self.log.entries()
        assert len(entries) == count, entries
        return entries


MakeBed = Callable[..., Awaitable[Bed]]


@pytest.fixture
def wire(session_bus: DBusConnection) -> Iterator[DBusConnection]:
    """A monitor connection: copies of every Notify/CloseNotification call, typed as sent.

    The recorder's log unwraps variants, so it cannot tell a byte from an int32; the monitor
    sees the message as it crossed the bus.
    """
    conn = open_dbus_connection(bus="SESSION")
    with conn:
        rules = [
            MatchRule(type="method_call", interface=NOTIFICATIONS, member=member)
            for member in ("Notify", "CloseNotification")
        ]
        reply = conn.send_and_get_reply(
            Monitoring().BecomeMonitor([rule.serialise() for rule in rules]), timeout=5
        )
        assert reply.header.message_type == MessageType.method_return, reply.body
        yield conn


def wire_call(conn: DBusConnection, member: str, match: Callable[[Message], bool]) -> Message:
    """The first ``member`` call that ``match`` accepts (already sent: the calls finished)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"saw no matching {member} call"
        message = conn.receive(timeout=remaining)
        if message.header.fields.get(HeaderFields.member) == member and match(message):
            return message


@pytest_asyncio.fixture
async def make_bed(notify_recorder: Path) -> AsyncIterator[MakeBed]:
    made: list[Bed] = []

    async def make(*, window_s: float = 0.0) -> Bed:
        log = RecorderLog(notify_recorder)
        desktop = DesktopBackend()
        notifier = Notifier([desktop], coalesce_window_s=window_s, beep=lambda: None)
        bed = Bed(log, notifier, desktop)
        made.append(bed)
        notifier.start()  # the backend asks the library without blocking; it answers soon
        await until(lambda: notifier.backend is not None, "the chain settled")
        return bed

    yield make
    for bed in made:
        bed.notifier.stop()
        await bed.settle()
        bed.notifier.deleteLater()


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


async def test_a_notice_is_exactly_one_notify_with_actions_urgency_and_sound(
    make_bed: MakeBed,
) -> None:
    bed = await make_bed()
    assert QApplication.platformName() == "offscreen"  # D-Bus does not need a display
    assert bed.notifier.backend_name == "desktop"
    assert bed.notifier.fallback_reason == ""

    notice = unique_notice("critical")
    assert bed.notifier.post(notice)
    (entry,) = await bed.expect(1)
    assert entry["app_name"] == "Genesys Tray"
    assert entry["replaces_id"] == 0
    assert entry["app_icon"] == "dialog-error"
    assert entry["summary"] == notice.title
    assert entry["body"] == notice.body
    assert entry["actions"] == EXPECTED_ACTIONS
    assert entry["hints"] == {"urgency": 2, "sound-name": "dialog-error"}  # a byte (next test)
    assert entry["expire_timeout"] == -1


async def test_the_calls_carry_the_spec_types_on_the_wire(
    make_bed: MakeBed, wire: DBusConnection
) -> None:
    """A uint32 id to close and a byte urgency, as the specification types them."""
    bed = await make_bed()
    notice = unique_notice("critical")
    bed.notifier.post(notice)
    (entry,) = await bed.expect(1)
    bed.notifier.withdraw(notice.key)
    await bed.settle()

    notify = wire_call(wire, "Notify", lambda m: m.body[3] == notice.title)
    assert notify.header.fields[HeaderFields.signature] == "susssasa{sv}i"
    assert notify.body[6]["urgency"] == ("y", 2)
    close = wire_call(wire, "CloseNotification", lambda m: m.body == (entry["id"],))
    assert close.header.fields[HeaderFields.signature] == "u"


@pytest.mark.parametrize(("severity", "urgency"), [("info", 0), ("warning", 1)])
async def test_urgency_follows_the_severity(make_bed: MakeBed, severity: str, urgency: int) -> None:
    bed = await make_bed()
    bed.notifier.post(unique_notice(severity))
    (entry,) = await bed.expect(1)
    assert entry["hints"] == {"urgency": urgency}  # no sound for these by default


async def test_a_burst_of_four_is_two_notify_calls(make_bed: MakeBed) -> None:
    bed = await make_bed(window_s=BURST_WINDOW_S)
    burst = [unique_notice("warning") for _ in range(4)]
    for notice in burst:
        bed.notifier.post(notice)

    first, summary = await bed.expect(2)
    assert first["summary"] == burst[0].title
    assert summary["summary"] == "3 queue alerts"
    assert summary["body"] == "; ".join(notice.title for notice in burst[1:])
    assert summary["actions"] == EXPECTED_ACTIONS


async def test_the_same_key_replaces_the_notification(
    make_bed: MakeBed, wire: DBusConnection
) -> None:
    """The library has no in-place update: the old one is closed, then the new one shown."""
    bed = await make_bed()
    first = unique_notice("warning")
    bed.notifier.post(first)
    again = dataclasses.replace(first, title=f"{first.title} (again)", severity=Severity.CRITICAL)
    bed.notifier.post(again)  # before the first call finished: it waits its turn

    shown, replaced = await bed.expect(2)
    assert (shown["summary"], replaced["summary"]) == (first.title, again.title)
    assert replaced["id"] != shown["id"]
    wire_call(wire, "Notify", lambda m: m.body[3] == first.title)
    close = wire_call(wire, "CloseNotification", lambda _m: True)
    assert close.body == (shown["id"],)  # closed before the replacement went out
    wire_call(wire, "Notify", lambda m: m.body[3] == again.title)


async def test_snoozed_notices_make_no_call_and_unsnooze_lets_the_next_through(
    make_bed: MakeBed,
) -> None:
    bed = await make_bed()
    bed.notifier.snooze(time.time() + 900)
    assert bed.notifier.post(unique_notice()) is False
    assert bed.notifier.post(unique_notice()) is False
    assert bed.desktop.pending_calls == 0  # nothing was even sent
    assert bed.log.entries() == []
    assert bed.notifier.suppressed == 2

    bed.notifier.unsnooze()
    after = unique_notice()
    bed.notifier.post(after)
    (entry,) = await bed.expect(1)  # exactly one: the snoozed two never went out
    assert entry["summary"] == after.title


async def test_an_action_invoked_on_the_server_reaches_the_app(
    make_bed: MakeBed, session_bus: DBusConnection
) -> None:
    bed = await make_bed()
    notice = unique_notice()
    bed.notifier.post(notice)
    (entry,) = await bed.expect(1)
    invoked: list[tuple[str, str]] = []
    bed.notifier.action_invoked.connect(lambda key, action: invoked.append((key, action)))

    reply = session_bus.send_and_get_reply(
        new_method_call(RECORDER_CONTROL, "InvokeAction", "us", (entry["id"], "snooze")),
        timeout=5,
    )
    assert reply.header.message_type == MessageType.method_return, reply.body
    await until(lambda: bool(invoked), "the action reached the notifier")
    assert invoked == [(notice.key, "snooze")]
    assert bed.notifier.snoozed  # the snooze action snoozes for 15 minutes
    assert bed.notifier.post(unique_notice()) is False


async def test_withdraw_closes_the_notification_on_the_server(make_bed: MakeBed) -> None:
    bed = await make_bed()
    notice = unique_notice()
    bed.notifier.post(notice)
    await bed.expect(1)
    closed: list[int] = []
    bed.desktop.closed.connect(closed.append)

    bed.notifier.withdraw(notice.key)
    await until(lambda: bool(closed), "the close was done")
    bed.notifier.post(unique_notice(key=notice.key))
    (_first, second) = await bed.expect(2)
    assert second["replaces_id"] == 0  # closed: a new notification
