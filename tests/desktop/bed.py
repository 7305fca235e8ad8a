"""Names shared by the desktop tests and their fixtures (importable, unlike conftest)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jeepney import DBusAddress

NOTIFICATIONS = DBusAddress(
    "/org/freedesktop/Notifications",
    bus_name="org.freedesktop.Notifications",
    interface="org.freedesktop.Notifications",
)
SECRETS_BUS_NAME = "org.freedesktop.secrets"
RECORDER_SERVER_NAME = "notify-recorder"  # tests/testbed/notify_recorder.py SERVER_INFO[0]

# qt_probe fixture: run ``tests.desktop.qt_probe`` with these args on xcb, return its JSON.
QtProbe = Callable[..., dict[str, Any]]
