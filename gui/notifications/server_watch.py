"""Linux only: who serves ``org.freedesktop.Notifications`` now, and what it says it can do.

Why this exists beside desktop-notifier: the library sends, closes and reports clicks, but it
does not say when a notification server appears or goes away (the app must come back to native
notifications when one starts), and its capability list leaves out ``body-markup`` (a server
that reads markup must get a queue called "R&D <EU>" escaped, or it shows something else). Both
are asked over dbus-fast, the library's own D-Bus layer, on the same asyncio loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusError

logger = logging.getLogger(__name__)

NOTIFICATIONS: Final = "org.freedesktop.Notifications"
NOTIFICATIONS_PATH: Final = "/org/freedesktop/Notifications"
BUS_NAME: Final = "org.freedesktop.DBus"
BUS_PATH: Final = "/org/freedesktop/DBus"


class ServerWatch:
    """Calls ``on_owner_changed(new_owner)`` when the notification server's owner changes.

    ``new_owner`` is "" when the server went away. :meth:`start` connects (raising what the
    connection raised); :meth:`stop` disconnects.
    """

    def __init__(self, on_owner_changed: Callable[[str], None]) -> None:
        """Nothing connected yet."""
        self._on_owner_changed = on_owner_changed
        self._bus: MessageBus | None = None

    async def start(self) -> None:
        """Connect to the session bus and follow the server's name.

        Raises:
            OSError, ValueError, DBusError: no session bus, or the bus refused the match.
        """
        if self._bus is not None:
            return
        bus = await MessageBus().connect()
        try:
            introspection = await bus.introspect(BUS_NAME, BUS_PATH)
            daemon = bus.get_proxy_object(BUS_NAME, BUS_PATH, introspection)
            interface = daemon.get_interface(BUS_NAME)
            interface.on_name_owner_changed(self._on_name_owner_changed)  # type: ignore[attr-defined]
        except BaseException:
            bus.disconnect()
            raise
        self._bus = bus

    async def capabilities(self) -> list[str]:
        """The server's own ``GetCapabilities`` answer.

        Raises:
            DBusError: the server is not there or refused.
            RuntimeError: :meth:`start` was not called.
        """
        if self._bus is None:
            raise RuntimeError("the server watch is not started")
        reply = await self._bus.call(
            Message(
                destination=NOTIFICATIONS,
                path=NOTIFICATIONS_PATH,
                interface=NOTIFICATIONS,
                member="GetCapabilities",
            )
        )
        if reply is None or reply.message_type == MessageType.ERROR:
            name = reply.error_name if reply is not None else "no reply"
            text = str(reply.body[0]) if reply is not None and reply.body else ""
            raise DBusError(name or "unknown error", text)
        return [str(capability) for capability in reply.body[0]]

    def stop(self) -> None:
        """Disconnect (no more owner changes are reported)."""
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None

    def _on_name_owner_changed(self, name: str, _old: str, new: str) -> None:
        if name == NOTIFICATIONS and self._bus is not None:
            logger.info("notification server %s", "appeared" if new else "went away")
            self._on_owner_changed(new)
