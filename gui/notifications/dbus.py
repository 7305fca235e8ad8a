"""Native notifications: :class:`DBusNotifier` speaks ``org.freedesktop.Notifications``.

The best backend of the chain: alerts are native desktop notifications whatever the tray is (an
XEmbed tray cannot send them, ci-recipe 5), with "Open" and "Snooze 15 min" buttons when the
server supports actions. The integers go out typed through :mod:`gui.notifications.dbus_args`.

No call waits for the server on the GUI thread: a notification server that is slow or hung
would freeze the whole app. Every call is asynchronous with a timeout, its answer comes back as
a signal, and until the capabilities are known the backend is :attr:`pending`.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from typing import Final

from PySide6.QtCore import SLOT, QObject, Slot
from PySide6.QtDBus import (
    QDBusConnection,
    QDBusMessage,
    QDBusPendingCallWatcher,
    QDBusServiceWatcher,
)

from gui.notifications.backend import NotifierBackend
from gui.notifications.dbus_args import DBusTypingError, dbus_byte, dbus_string_list, dbus_uint32
from gui.notifications.notice import ACTION_OPEN, Notice

logger = logging.getLogger(__name__)

APP_NAME: Final = "Genesys Tray"
DESKTOP_ENTRY: Final = "genesys-tray"
NOTIFICATIONS_SERVICE: Final = "org.freedesktop.Notifications"
NOTIFICATIONS_PATH: Final = "/org/freedesktop/Notifications"
NOTIFICATIONS_INTERFACE: Final = "org.freedesktop.Notifications"
URGENCY: Final[dict[str, int]] = {
    "info": 0,
    "warning": 1,
    "critical": 2,
}  # spec: low/normal/critical
CATEGORY: Final[dict[str, str]] = {
    "queue": "x-genesys.alert",
    "agent": "presence",
    "connection": "network",
}
DEFAULT_ICON: Final[dict[str, str]] = {
    "info": "dialog-information",
    "warning": "dialog-warning",
    "critical": "dialog-error",
}
CAPABILITIES_TIMEOUT_MS: Final = 2000  # notices wait for it at start: short, on a local bus
CALL_TIMEOUT_MS: Final = 5000
SERVER_DEFAULT_EXPIRY: Final = -1  # Notify expire_timeout: let the server decide
REASON_USER: Final = 2  # NotificationClosed reason: dismissed by the user
WAITING: Final = "waiting for the notification server to answer"
NO_SERVER_ERRORS: Final = frozenset(
    {"org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner"}
)


class DBusNotifier(NotifierBackend):
    """Native notifications: ``org.freedesktop.Notifications`` over QtDBus.

    :meth:`available` is true when the service (running, or started by the bus) answered
    ``GetCapabilities``; the question is asked asynchronously, so until the answer (or the
    timeout) the backend is :attr:`pending` and then emits ``availability_changed``. The
    actions are offered only when the server lists ``actions``. ``Notify`` is sent
    asynchronously too; a second :meth:`show` for a handle whose first ``Notify`` is still in
    flight is sent, with the right ``replaces_id``, when the reply arrives. ``ActionInvoked``
    and ``NotificationClosed`` for ids this backend did not get back from the server (other
    applications') are ignored.
    """

    name = "dbus"
    where = "as desktop notifications"
    what = "Desktop notifications"

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        connection: QDBusConnection | None = None,
        service: str = NOTIFICATIONS_SERVICE,
        app_name: str = APP_NAME,
        desktop_entry: str = DESKTOP_ENTRY,
        expire_timeout_ms: int = SERVER_DEFAULT_EXPIRY,
    ) -> None:
        """Talk to ``service`` on ``connection`` (default: the session bus)."""
        super().__init__(parent)
        self._bus = connection if connection is not None else QDBusConnection.sessionBus()
        self._service = service
        self._app_name = app_name
        self._desktop_entry = desktop_entry
        self._expire_timeout_ms = expire_timeout_ms
        self._capabilities: list[str] | None = None
        self._capabilities_call: QDBusPendingCallWatcher | None = None  # the question in flight
        self._no_answer = ""  # why GetCapabilities failed; cleared when the owner changes
        self._broken = ""  # set by a failed call; cleared when the server's owner changes
        self._connected_signals = False
        self._watcher: QDBusServiceWatcher | None = None
        self._server_ids: dict[int, int] = {}  # handle -> the server's notification id
        self._handles_by_id: dict[int, int] = {}  # the server's id -> handle
        self._in_flight: set[int] = set()  # handles whose Notify has no reply yet
        self._queued: dict[int, tuple[Notice, tuple[tuple[str, str], ...]]] = {}
        self._close_on_reply: set[int] = set()

    @property
    def capabilities(self) -> list[str]:
        """What the server said it can do (empty until :meth:`available` asked)."""
        return list(self._capabilities or [])

    @property
    def pending(self) -> bool:
        """Whether ``GetCapabilities`` was asked and has not been answered yet."""
        return self._capabilities_call is not None

    @property
    def pending_calls(self) -> int:
        """How many ``Notify`` calls still wait for the server's reply."""
        return len(self._in_flight)

    def available(self) -> bool:
        """Bus connected, server present (or activatable), capabilities answered."""
        reason = self._probe()
        self._unavailable_reason = reason
        if reason:
            return False
        self._connect_signals()
        return True

    def _probe(self) -> str:
        if self._broken:
            return self._broken
        if not self._bus.isConnected():
            error = self._bus.lastError().message() or "not connected"
            return f"no D-Bus session bus: {error}"
        self._watch_owner()
        try:  # the typed writers must work before anything is sent
            dbus_uint32(0)
            dbus_byte(0)
        except DBusTypingError as exc:
            return f"this Qt binding cannot marshal D-Bus integers ({exc})"
        if self._no_answer:
            return self._no_answer
        if self._capabilities is None:
            self._ask_capabilities()
            return WAITING
        return ""

    def _ask_capabilities(self) -> None:
        """``GetCapabilities``, asynchronously (the bus starts an activatable server for it)."""
        if self._capabilities_call is not None:
            return
        call = self._bus.asyncCall(self._method("GetCapabilities"), CAPABILITIES_TIMEOUT_MS)
        watcher = QDBusPendingCallWatcher(call, self)
        self._capabilities_call = watcher
        watcher.finished.connect(self._on_capabilities_finished)

    def _on_capabilities_finished(self, watcher: QDBusPendingCallWatcher) -> None:
        watcher.deleteLater()
        if watcher is not self._capabilities_call:
            return  # asked of a server that has gone since, or after stop()
        self._capabilities_call = None
        if watcher.isError():
            error = watcher.error()
            if error.name() in NO_SERVER_ERRORS:
                self._no_answer = "no notification server on the session bus"
            else:
                self._no_answer = f"the notification server did not answer: {error.message()}"
            logger.info("notification server %s: %s", self._service, self._no_answer)
        else:
            args = watcher.reply().arguments()
            self._capabilities = [str(cap) for cap in (args[0] if args else [])]
            logger.info(
                "notification server %s: capabilities %s",
                self._service,
                ", ".join(self._capabilities) or "none",
            )
        self.availability_changed.emit()

    def show(self, notice: Notice, actions: Sequence[tuple[str, str]], replaces: int = 0) -> int:
        """Send ``Notify`` (asynchronously); returns the handle at once."""
        handle = replaces if replaces in self._server_ids or replaces in self._in_flight else 0
        handle = handle or self._next_handle()
        if handle in self._in_flight:  # the server has not told us the id to replace yet
            self._queued[handle] = (notice, tuple(actions))
            return handle
        self._send_notify(handle, notice, tuple(actions))
        return handle

    def close(self, handle: int) -> None:
        """``CloseNotification`` (the server answers with NotificationClosed)."""
        self._queued.pop(handle, None)
        if handle in self._in_flight:
            self._close_on_reply.add(handle)
            return
        server_id = self._server_ids.get(handle)
        if server_id is None:
            return
        message = self._method("CloseNotification")
        message.setArguments([dbus_uint32(server_id)])
        self._bus.send(message)  # fire and forget: nothing to do about a failed close

    def stop(self) -> None:
        """Disconnect the bus signals and the owner watcher; a question in flight is dropped."""
        self._capabilities_call = None
        if self._connected_signals:
            self._listen(attach=False)
            self._connected_signals = False
        if self._watcher is not None:
            self._watcher.deleteLater()
            self._watcher = None

    def notify_arguments(
        self, notice: Notice, actions: Sequence[tuple[str, str]], replaces_id: int
    ) -> list[object]:
        """The eight ``Notify`` arguments, typed for the wire (``susssasa{sv}i``)."""
        offered = [part for pair in actions for part in pair] if self._supports("actions") else []
        body = (
            html.escape(notice.body, quote=False) if self._supports("body-markup") else notice.body
        )
        hints: dict[str, object] = {
            "urgency": dbus_byte(URGENCY[notice.severity]),
            "category": CATEGORY[notice.subject_kind],
            "desktop-entry": self._desktop_entry,
        }
        return [
            self._app_name,
            dbus_uint32(replaces_id),
            DEFAULT_ICON[notice.severity],
            notice.title,
            body,
            dbus_string_list(offered),
            hints,
            self._expire_timeout_ms,
        ]

    # ---------------------------------------------------------------------------- internals
    def _supports(self, capability: str) -> bool:
        return capability in (self._capabilities or [])

    def _method(self, member: str) -> QDBusMessage:
        return QDBusMessage.createMethodCall(
            self._service, NOTIFICATIONS_PATH, NOTIFICATIONS_INTERFACE, member
        )

    def _send_notify(
        self, handle: int, notice: Notice, actions: tuple[tuple[str, str], ...]
    ) -> None:
        message = self._method("Notify")
        try:
            message.setArguments(
                self.notify_arguments(notice, actions, self._server_ids.get(handle, 0))
            )
        except (DBusTypingError, ValueError) as exc:
            self._fail(handle, f"cannot build the Notify call: {exc}")
            return
        self._in_flight.add(handle)
        watcher = QDBusPendingCallWatcher(self._bus.asyncCall(message, CALL_TIMEOUT_MS), self)
        watcher.finished.connect(
            lambda finished: self._on_notify_finished(handle, notice, finished)
        )

    def _on_notify_finished(
        self, handle: int, notice: Notice, watcher: QDBusPendingCallWatcher
    ) -> None:
        watcher.deleteLater()
        self._in_flight.discard(handle)
        if watcher.isError():
            error = watcher.error()
            self._queued.pop(handle, None)
            self._close_on_reply.discard(handle)
            self._fail(handle, f"Notify failed: {error.name()}: {error.message()}")
            return
        args = watcher.reply().arguments()
        server_id = int(args[0]) if args else 0
        previous = self._server_ids.get(handle)
        if previous is not None and previous != server_id:
            self._handles_by_id.pop(previous, None)
        self._server_ids[handle] = server_id
        self._handles_by_id[server_id] = handle
        logger.debug("notification %r is id %d", notice.key, server_id)
        queued = self._queued.pop(handle, None)
        if queued is not None:
            self._send_notify(handle, *queued)
        elif handle in self._close_on_reply:
            self._close_on_reply.discard(handle)
            self.close(handle)

    def _fail(self, handle: int, reason: str) -> None:
        logger.warning("desktop notifications failed: %s", reason)
        self._broken = reason
        self.failed.emit(handle, reason)

    def _forget(self, handle: int) -> None:
        server_id = self._server_ids.pop(handle, None)
        if server_id is not None:
            self._handles_by_id.pop(server_id, None)

    def _listen(self, *, attach: bool) -> None:
        """Connect (or disconnect) the server's signals to this object's slots."""
        # PySide6 6.11's stubs type the slot as bytes, but at run time only the str that SLOT()
        # returns is accepted (bytes raise ValueError), hence the untyped bound method.
        method: Callable[..., bool] = self._bus.connect if attach else self._bus.disconnect
        for member, slot in (
            ("ActionInvoked", SLOT("_on_server_action_invoked(QDBusMessage)")),
            ("NotificationClosed", SLOT("_on_server_notification_closed(QDBusMessage)")),
        ):
            path, iface = NOTIFICATIONS_PATH, NOTIFICATIONS_INTERFACE
            if not method(self._service, path, iface, member, self, slot) and attach:
                logger.warning("could not listen to %s.%s", NOTIFICATIONS_INTERFACE, member)

    def _connect_signals(self) -> None:
        if not self._connected_signals:
            self._listen(attach=True)
            self._connected_signals = True

    def _watch_owner(self) -> None:
        if self._watcher is not None:
            return
        self._watcher = QDBusServiceWatcher(
            self._service, self._bus, QDBusServiceWatcher.WatchModeFlag.WatchForOwnerChange, self
        )
        self._watcher.serviceOwnerChanged.connect(self._on_watcher_service_owner_changed)

    @Slot(str, str, str)
    def _on_watcher_service_owner_changed(self, _name: str, _old: str, new: str) -> None:
        # A new server (or none): its ids and capabilities are not the old one's.
        logger.info("notification server %s %s", self._service, "appeared" if new else "went away")
        self._broken = ""
        self._no_answer = ""
        self._capabilities = None
        self._capabilities_call = None  # an answer still on its way is the old server's
        for handle in list(self._server_ids):
            self._forget(handle)
            self.closed.emit(handle)
        self.availability_changed.emit()

    @Slot(QDBusMessage)
    def _on_server_action_invoked(self, message: QDBusMessage) -> None:
        args = message.arguments()
        if len(args) != 2:
            return
        handle = self._handles_by_id.get(int(args[0]))
        if handle is None:  # another application's notification
            return
        action = str(args[1])
        self.action_invoked.emit(handle, ACTION_OPEN if action == "default" else action)

    @Slot(QDBusMessage)
    def _on_server_notification_closed(self, message: QDBusMessage) -> None:
        args = message.arguments()
        if not args:
            return
        handle = self._handles_by_id.get(int(args[0]))
        if handle is None or handle in self._in_flight:  # not ours, or already being replaced
            return
        self._forget(handle)
        self.closed.emit(handle)
