"""A real org.freedesktop.Notifications call over the session bus reaches the bed's recorder."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from jeepney import MatchRule, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection

from tests.desktop.bed import NOTIFICATIONS

pytestmark = pytest.mark.desktop

LOG_DEADLINE_S = 10
REPLY_TIMEOUT_S = 5


def recorded(log: Path, summary: str) -> list[dict[str, Any]]:
    """Poll the recorder's log until a line has ``summary``; return all such lines."""
    deadline = time.monotonic() + LOG_DEADLINE_S
    while True:
        text = log.read_text(encoding="utf-8")
        complete = text[: text.rfind("\n") + 1]  # ignore a line still being written
        lines = [json.loads(line) for line in complete.splitlines() if line.strip()]
        hits = [entry for entry in lines if entry["summary"] == summary]
        if hits or time.monotonic() > deadline:
            return hits
        time.sleep(0.02)


def test_notify_is_recorded_with_actions_and_hints(
    session_bus: DBusConnection, notify_recorder: Path
) -> None:
    """Exactly one log line, carrying every argument as sent, with the id the reply gave."""
    summary = f"Queue alert {uuid.uuid4().hex}"
    actions = ["default", "Open", "snooze", "Snooze 5 min"]
    hints = {
        "urgency": ("y", 2),
        "category": ("s", "im.received"),
        "transient": ("b", True),
        "x-genesys-queue": ("s", "Support EN"),
    }
    call = new_method_call(
        NOTIFICATIONS,
        "Notify",
        "susssasa{sv}i",
        ("genesys-tray", 0, "dialog-warning", summary, "3 waiting", actions, hints, 5000),
    )
    reply = session_bus.send_and_get_reply(call, timeout=REPLY_TIMEOUT_S)
    assert reply.header.message_type == MessageType.method_return, reply.body
    (notification_id,) = reply.body
    assert notification_id > 0

    entries = recorded(notify_recorder, summary)
    assert len(entries) == 1, entries
    (entry,) = entries
    assert entry == {
        "id": notification_id,
        "app_name": "genesys-tray",
        "replaces_id": 0,
        "app_icon": "dialog-warning",
        "summary": summary,
        "body": "3 waiting",
        "actions": actions,
        "hints": {
            "urgency": 2,
            "category": "im.received",
            "transient": True,
            "x-genesys-queue": "Support EN",
        },
        "expire_timeout": 5000,
        "time": pytest.approx(time.time(), abs=60),
    }


def test_server_capabilities_and_close_signal(
    session_bus: DBusConnection, notify_recorder: Path
) -> None:
    """The recorder advertises actions/body and answers CloseNotification with the signal."""
    caps = session_bus.send_and_get_reply(
        new_method_call(NOTIFICATIONS, "GetCapabilities"), timeout=REPLY_TIMEOUT_S
    ).body[0]
    assert {"body", "actions"} <= set(caps)

    nid = session_bus.send_and_get_reply(
        new_method_call(
            NOTIFICATIONS,
            "Notify",
            "susssasa{sv}i",
            ("genesys-tray", 0, "", f"to close {uuid.uuid4().hex}", "", [], {}, -1),
        ),
        timeout=REPLY_TIMEOUT_S,
    ).body[0]
    rule = MatchRule(
        type="signal",
        interface=NOTIFICATIONS.interface,
        member="NotificationClosed",
        path=NOTIFICATIONS.object_path,
    )
    session_bus.send_and_get_reply(message_bus.AddMatch(rule), timeout=REPLY_TIMEOUT_S)
    with session_bus.filter(rule) as queue:
        session_bus.send_and_get_reply(
            new_method_call(NOTIFICATIONS, "CloseNotification", "u", (nid,)),
            timeout=REPLY_TIMEOUT_S,
        )
        signal = session_bus.recv_until_filtered(queue, timeout=REPLY_TIMEOUT_S)
    assert tuple(signal.body) == (nid, 3)  # 3: closed by a call to CloseNotification
