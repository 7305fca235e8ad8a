"""Alert notifications: one :class:`Notifier` in front of an ordered chain of backends.

The chain, best first (design.md: platform features are adapters with an ordered fallback chain,
and they say so when they fall back):

1. :class:`DBusNotifier`: ``org.freedesktop.Notifications`` over QtDBus, so alerts are native
   desktop notifications whatever the tray is (an XEmbed tray cannot send them, ci-recipe 5),
   with "Open" and "Snooze 15 min" buttons when the server supports actions.
2. :class:`TrayBalloonNotifier`: ``QSystemTrayIcon.showMessage`` through the
   :class:`~gui.tray.controller.TrayController`; clicking the balloon is the "open" action.
3. :class:`InAppNotifier`: always there; emits ``shown(Notice)`` for the monitor window's banner.

:class:`Notifier` picks the first available backend at :meth:`Notifier.start`, falls back when
the backend fails at run time (re-showing what failed there), comes back when a better backend
returns (the D-Bus backend watches the server's name), and keeps a sentence for the UI in
:attr:`Notifier.fallback_reason`. It also coalesces bursts (the first notice of a quiet period
goes out at once, the rest of the window becomes one summary), replaces a notification whose key
fires again instead of stacking another, and holds notices back while snoozed, in quiet hours or
while the signed-in user is busy (counting them: the app's alert list still has every one).

PySide6 and D-Bus integer types: PySide6 (checked on 6.11) cannot put a D-Bus ``uint32`` or
``byte`` on the wire from Python. A Python ``int`` becomes a QVariant ``int`` (D-Bus ``i``) or
``qlonglong`` (``x``), and every overload of ``QDBusArgument << int`` resolves to the ``ushort``
one (``q``, even for ``True`` and ``1.5``). ``Notify`` needs ``u`` for ``replaces_id``,
``CloseNotification`` needs ``u`` and the spec's ``urgency`` hint is a byte, and servers reject a
wrong signature. :func:`dbus_uint32` and :func:`dbus_byte` therefore call QtDBus's own
``QDBusArgument::operator<<(uint)`` / ``(uchar)`` through ctypes (stable exported symbols of the
Qt 6 ABI) and check the result's signature; if that is impossible the D-Bus backend reports
itself unavailable and the chain falls back, saying why.
"""

from __future__ import annotations

import ctypes
import functools
import html
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock_time
from typing import Final, Literal, Protocol

from PySide6 import QtDBus
from PySide6.QtCore import SLOT, QMetaType, QObject, QTimer, Signal, Slot
from PySide6.QtDBus import (
    QDBus,
    QDBusArgument,
    QDBusConnection,
    QDBusMessage,
    QDBusPendingCallWatcher,
    QDBusServiceWatcher,
)
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
from shiboken6 import Shiboken

from gui.tray.controller import TrayController

logger = logging.getLogger(__name__)

Severity = Literal["info", "warning", "critical"]
SubjectKind = Literal["queue", "agent", "connection"]
SEVERITIES: Final[tuple[str, ...]] = ("info", "warning", "critical")  # quietest first
SUBJECT_KINDS: Final[tuple[str, ...]] = ("queue", "agent", "connection")

ACTION_OPEN: Final = "open"
ACTION_SNOOZE: Final = "snooze"
ACTIONS: Final[tuple[tuple[str, str], ...]] = (
    (ACTION_OPEN, "Open"),
    (ACTION_SNOOZE, "Snooze 15 min"),
)
SNOOZE_S: Final = 15 * 60
SUMMARY_KEY: Final = "genesys-tray:summary"  # the key of a coalesced summary notification
SIGN_IN_KEY: Final = "genesys-tray:sign-in"  # the key of the "Sign-in needed" notification
ACTION_SIGN_IN: Final = "sign_in"
MAX_SUMMARY_LINES: Final = 5
DEFAULT_COALESCE_WINDOW_S: Final = 5.0
DEFAULT_SOUNDS: Final[dict[str, bool]] = {"info": False, "warning": False, "critical": True}

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
CAPABILITIES_TIMEOUT_MS: Final = 2000  # a blocking call at start: short, on a local bus
CALL_TIMEOUT_MS: Final = 5000
SERVER_DEFAULT_EXPIRY: Final = -1  # Notify expire_timeout: let the server decide
REASON_USER: Final = 2  # NotificationClosed reason: dismissed by the user


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell the person at the desk.

    Attributes:
        key: what identifies it for replacing and coalescing, e.g. ``"<rule id>:<subject id>"``;
            a notice whose key is still on screen replaces that notification.
        title: short, names the subject and what happened ("Sales EN: 5 waiting"); the lines of
            a coalesced summary are these titles.
        body: the detail ("Longest wait 4:12, threshold 3:00"); may be empty.
        severity: info, warning or critical (urgency, icon, sound).
        subject_kind: queue, agent or connection: which board "Open" goes to.
        subject_id: the queue or user id ("" for the connection).
        sound: beep for this notice (True/False), or None for the per-severity setting.
        actions: the buttons ((key, label) pairs) it offers; None: "Open" and "Snooze 15 min".

    Raises:
        ValueError: for an unknown severity or subject kind, or an empty key.
    """

    key: str
    title: str
    body: str
    severity: Severity
    subject_kind: SubjectKind
    subject_id: str
    sound: bool | None = None
    actions: tuple[tuple[str, str], ...] | None = None

    def __post_init__(self) -> None:
        """Check the enumerations (a typo would otherwise pick a wrong urgency silently)."""
        if not self.key:
            raise ValueError("a notice needs a key")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}; expected {SEVERITIES}")
        if self.subject_kind not in SUBJECT_KINDS:
            raise ValueError(
                f"unknown subject kind {self.subject_kind!r}; expected {SUBJECT_KINDS}"
            )


def summarize(notices: Sequence[Notice]) -> Notice:
    """One notice standing for several: "4 queue alerts" / "Sales EN: 5 waiting; …".

    Its severity is the loudest of them; it beeps if any of them would.
    """
    if not notices:
        raise ValueError("nothing to summarize")
    count = len(notices)
    kinds = {notice.subject_kind for notice in notices}
    kind = next(iter(kinds)) if len(kinds) == 1 else None
    title = f"{count} {kind} alerts" if kind else f"{count} alerts"
    lines = [notice.title for notice in notices[:MAX_SUMMARY_LINES]]
    if count > MAX_SUMMARY_LINES:
        lines.append(f"… and {count - MAX_SUMMARY_LINES} more")
    loudest = max(notices, key=lambda notice: SEVERITIES.index(notice.severity))
    return Notice(
        key=SUMMARY_KEY,
        title=title,
        body="; ".join(lines),
        severity=loudest.severity,
        subject_kind=kind or loudest.subject_kind,
        subject_id="",
        sound=None,
    )


# ---------------------------------------------------------------------------------- time


class Scheduler(Protocol):
    """Runs a callback later; injected so tests drive time by hand."""

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` after ``delay_s`` seconds; returns a function that cancels it."""
        ...


class QtScheduler:
    """:class:`Scheduler` on single-shot QTimers (the app's only event loop is Qt's)."""

    def __init__(self, parent: QObject) -> None:
        """Timers are children of ``parent``, so they die with it."""
        self._parent = parent

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Callable[[], None]:
        """Start a single-shot timer; the returned function stops and deletes it."""
        timer = QTimer(self._parent)
        timer.setSingleShot(True)
        done = False

        def fire() -> None:
            nonlocal done
            done = True
            timer.deleteLater()
            callback()

        def cancel() -> None:
            nonlocal done
            if not done:
                done = True
                timer.stop()
                timer.deleteLater()

        timer.timeout.connect(fire)
        timer.start(max(0, round(delay_s * 1000)))
        return cancel


# ------------------------------------------------------------------ typed D-Bus arguments


class DBusTypingError(RuntimeError):
    """This Qt binding cannot build a typed D-Bus argument (see the module docstring)."""


# Itanium-mangled QDBusArgument::operator<<(uint) and operator<<(uchar), with their C types.
_WRITER_SYMBOLS: Final = {
    "u": ("_ZN13QDBusArgumentlsEj", ctypes.c_uint32),
    "y": ("_ZN13QDBusArgumentlsEh", ctypes.c_uint8),
}


@functools.cache
def _argument_writers() -> dict[str, Callable[[int, int], object]]:
    """QtDBus's typed ``QDBusArgument`` writers for ``u`` and ``y``, looked up once.

    dlsym on the handle of PySide6's QtDBus module searches its dependencies too, so this
    finds the libQt6DBus the process already uses (never a second copy).

    Raises:
        DBusTypingError: when the symbols are not there (another ABI, another platform).
    """
    writers: dict[str, Callable[[int, int], object]] = {}
    try:
        lib = ctypes.CDLL(QtDBus.__file__)
        for signature, (symbol, c_type) in _WRITER_SYMBOLS.items():
            writer = lib[symbol]
            writer.argtypes = [ctypes.c_void_p, c_type]
            writer.restype = ctypes.c_void_p  # returns *this
            writers[signature] = writer
    except (OSError, AttributeError, TypeError) as exc:
        raise DBusTypingError(f"cannot find QDBusArgument's typed writers: {exc}") from exc
    return writers


def _typed_argument(signature: str, value: int) -> QDBusArgument:
    writer = _argument_writers()[signature]
    argument = QDBusArgument()
    writer(Shiboken.getCppPointer(argument)[0], value)
    if argument.currentSignature() != signature:  # never send something the server will reject
        raise DBusTypingError(
            f"wrote a D-Bus {signature!r} but got {argument.currentSignature()!r}"
        )
    return argument


def dbus_uint32(value: int) -> QDBusArgument:
    """A D-Bus ``u`` argument (a plain Python int would go out as ``i``).

    Raises:
        DBusTypingError: when this Qt binding cannot write one.
        ValueError: for a value outside 0..2**32-1.
    """
    if not 0 <= value < 2**32:
        raise ValueError(f"{value} does not fit a D-Bus uint32")
    return _typed_argument("u", value)


def dbus_byte(value: int) -> QDBusArgument:
    """A D-Bus ``y`` argument (e.g. the ``urgency`` hint, wrapped in a variant by a dict).

    Raises:
        DBusTypingError: when this Qt binding cannot write one.
        ValueError: for a value outside 0..255.
    """
    if not 0 <= value < 256:
        raise ValueError(f"{value} does not fit a D-Bus byte")
    return _typed_argument("y", value)


def dbus_string_list(items: Sequence[str]) -> object:
    """A D-Bus ``as``, also when empty (an empty Python list would go out as ``av``)."""
    if items:
        return list(items)
    argument = QDBusArgument()
    argument.beginArray(QMetaType(QMetaType.Type.QString))
    argument.endArray()
    return argument


# ------------------------------------------------------------------------------ backends


class NotifierBackend(QObject):
    """One way of showing notices; the protocol every backend of the chain follows.

    A QObject base class rather than a ``typing.Protocol``: Qt signals only exist on QObject
    subclasses. Handles are the backend's own small ints; :meth:`show` with ``replaces`` updates
    that notification in place and returns the same handle.

    Signals:
        action_invoked(int handle, str action): the user chose an action ("open", "snooze").
        closed(int handle): the notification went away (expired, dismissed, or closed by us).
        failed(int handle, str reason): showing failed (handle 0: not about one notification);
            the Notifier falls back to the next backend and re-shows the notice there.
        availability_changed(): :meth:`available` may answer differently now.
    """

    action_invoked = Signal(int, str)
    closed = Signal(int)
    failed = Signal(int, str)
    availability_changed = Signal()

    name = "backend"
    where = "somewhere"  # completes "showing alerts …" in the UI's fallback sentence
    what = "Notifications"  # starts "… unavailable (reason)"

    def __init__(self, parent: QObject | None = None) -> None:
        """A backend with no reason to be unavailable yet."""
        super().__init__(parent)
        self._handles = itertools.count(1)
        self._unavailable_reason = ""

    @property
    def unavailable_reason(self) -> str:
        """Why the last :meth:`available` said no ("" when it said yes)."""
        return self._unavailable_reason

    def available(self) -> bool:
        """Whether notices can be shown this way now (sets :attr:`unavailable_reason`)."""
        raise NotImplementedError

    def show(self, notice: Notice, actions: Sequence[tuple[str, str]], replaces: int = 0) -> int:
        """Show ``notice`` offering ``actions`` ((key, label) pairs); returns its handle."""
        raise NotImplementedError

    def close(self, handle: int) -> None:
        """Take the notification away, if the backend can."""

    def stop(self) -> None:
        """Let go of anything held outside this object (bus match rules, watchers)."""

    def _next_handle(self) -> int:
        return next(self._handles)


class DBusNotifier(NotifierBackend):
    """Native notifications: ``org.freedesktop.Notifications`` over QtDBus.

    :meth:`available` is true when the service has an owner on the session bus (or can be
    activated) and answered ``GetCapabilities``; the actions are offered only when the server
    lists ``actions``. ``Notify`` is sent asynchronously, so the GUI never waits on the server;
    a second :meth:`show` for a handle whose first ``Notify`` is still in flight is sent, with
    the right ``replaces_id``, when the reply arrives. ``ActionInvoked`` / ``NotificationClosed``
    for ids this backend did not get back from the server (other applications') are ignored.
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
        bus_iface = self._bus.interface()
        owned = bus_iface.isServiceRegistered(self._service)
        if not (owned.isValid() and owned.value()):
            activatable = bus_iface.activatableServiceNames()
            names = activatable.value() if activatable.isValid() else []
            if self._service not in (names or []):
                return "no notification server on the session bus"
        try:  # the typed writers must work before anything is sent
            dbus_uint32(0)
            dbus_byte(0)
        except DBusTypingError as exc:
            return f"this Qt binding cannot marshal D-Bus integers ({exc})"
        if self._capabilities is None:
            reply = self._bus.call(
                self._method("GetCapabilities"), QDBus.CallMode.Block, CAPABILITIES_TIMEOUT_MS
            )
            if reply.type() != QDBusMessage.MessageType.ReplyMessage:
                return f"the notification server did not answer: {reply.errorMessage()}"
            args = reply.arguments()
            self._capabilities = [str(cap) for cap in (args[0] if args else [])]
            logger.info(
                "notification server %s: capabilities %s",
                self._service,
                ", ".join(self._capabilities) or "none",
            )
        return ""

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
        """Disconnect the bus signals and the owner watcher."""
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
        self._capabilities = None
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


class TrayBalloonNotifier(NotifierBackend):
    """``QSystemTrayIcon.showMessage`` through the tray; a click on the balloon is "open".

    A balloon has no buttons and no replace semantics (a new one takes the old one's place),
    and it cannot be withdrawn.
    """

    name = "tray"
    where = "in the tray"
    what = "Tray messages"

    def __init__(
        self,
        tray: TrayController | None,
        parent: QObject | None = None,
        *,
        supports_messages: Callable[[], bool] = QSystemTrayIcon.supportsMessages,
    ) -> None:
        """Show balloons from ``tray`` (None: there is no tray, never available)."""
        super().__init__(parent)
        self._tray = tray
        self._supports_messages = supports_messages
        self._last_handle = 0
        if tray is not None:
            tray.balloon_clicked.connect(self._on_tray_balloon_clicked)

    def available(self) -> bool:
        """A tray exists, the icon is shown, and the platform can show messages from it."""
        if self._tray is None or not self._tray.available():
            self._unavailable_reason = "no system tray"
        elif not self._tray.is_visible():
            self._unavailable_reason = "the tray icon is not shown"
        elif not self._supports_messages():
            self._unavailable_reason = "the tray cannot show messages"
        else:
            self._unavailable_reason = ""
        return not self._unavailable_reason

    def show(self, notice: Notice, actions: Sequence[tuple[str, str]], replaces: int = 0) -> int:
        """Show the balloon (``actions`` cannot be offered: a click means "open")."""
        if self._tray is None:
            self.failed.emit(0, "no system tray")
            return 0
        self._last_handle = replaces or self._next_handle()
        self._tray.show_balloon(notice.title, notice.body, notice.severity)
        return self._last_handle

    def stop(self) -> None:
        """Stop listening to the tray."""
        if self._tray is not None:
            self._tray.balloon_clicked.disconnect(self._on_tray_balloon_clicked)
            self._tray = None

    def _on_tray_balloon_clicked(self) -> None:
        if self._last_handle:
            self.action_invoked.emit(self._last_handle, ACTION_OPEN)


class InAppNotifier(NotifierBackend):
    """The last resort, always available: the monitor window shows the notice itself.

    Signals:
        shown(Notice): show this notice (a banner, the status bar); replaces any with its key.
        withdrawn(str key): take the notice with this key away.
    """

    shown = Signal(object)
    withdrawn = Signal(str)

    name = "in-app"
    where = "in the monitor window"
    what = "In-app alerts"

    def __init__(self, parent: QObject | None = None) -> None:
        """No notice shown yet."""
        super().__init__(parent)
        self._keys: dict[int, str] = {}

    def available(self) -> bool:
        """Always."""
        self._unavailable_reason = ""
        return True

    def show(self, notice: Notice, actions: Sequence[tuple[str, str]], replaces: int = 0) -> int:
        """Emit ``shown(notice)``."""
        handle = replaces if replaces in self._keys else self._next_handle()
        self._keys[handle] = notice.key
        self.shown.emit(notice)
        return handle

    def close(self, handle: int) -> None:
        """Emit ``withdrawn(key)``."""
        key = self._keys.pop(handle, None)
        if key is not None:
            self.withdrawn.emit(key)
            self.closed.emit(handle)


def default_backends(tray: TrayController | None) -> list[NotifierBackend]:
    """The chain, best first: D-Bus, the tray's balloons, the window."""
    return [DBusNotifier(), TrayBalloonNotifier(tray), InAppNotifier()]


# ------------------------------------------------------------------------------ notifier


class Notifier(QObject):
    """Shows notices through the best available backend, coalesced, snoozable, replaceable.

    Signals:
        action_invoked(str key, str action): the user chose "open" (the app opens the row of
            the notice's subject; the key :data:`SUMMARY_KEY` means a summary: open the alerts)
            or "snooze" (already done here: notifications are snoozed for 15 minutes).
        backend_changed(str name, str reason): notices now go to backend ``name``; ``reason``
            is the sentence for the UI ("" when it is the first of the chain).
        snoozed_changed(bool): snoozing started or ended (also when a snooze runs out).
        suppressed_changed(int): the count of notices held back changed.
        displayed(Notice, str backend): a notification went out (after coalescing).
    """

    action_invoked = Signal(str, str)
    backend_changed = Signal(str, str)
    snoozed_changed = Signal(bool)
    suppressed_changed = Signal(int)
    displayed = Signal(object, str)

    def __init__(
        self,
        backends: Sequence[NotifierBackend],
        parent: QObject | None = None,
        *,
        clock: Callable[[], float] = time.time,
        scheduler: Scheduler | None = None,
        coalesce_window_s: float = DEFAULT_COALESCE_WINDOW_S,
        beep: Callable[[], None] = QApplication.beep,
    ) -> None:
        """Use ``backends`` in this order (an :class:`InAppNotifier` is added if none is there).

        Args:
            backends: the fallback chain, best first.
            parent: the QObject parent.
            clock: wall-clock seconds since the epoch (snooze ends, quiet hours).
            scheduler: runs the coalescing window and the snooze end (default: QTimers).
            coalesce_window_s: how long after a notice others are batched into one summary
                (0: never batch).
            beep: the sound for a notice whose severity has one.
        """
        super().__init__(parent)
        chain = list(backends)
        if not any(isinstance(backend, InAppNotifier) for backend in chain):
            chain.append(InAppNotifier())
        self._chain = chain
        for backend in chain:
            backend.setParent(self)
            backend.action_invoked.connect(
                functools.partial(self._on_backend_action_invoked, backend)
            )
            backend.closed.connect(functools.partial(self._on_backend_closed, backend))
            backend.failed.connect(functools.partial(self._on_backend_failed, backend))
            backend.availability_changed.connect(
                functools.partial(self._on_backend_availability_changed, backend)
            )
        self._clock = clock
        self._scheduler: Scheduler = scheduler if scheduler is not None else QtScheduler(self)
        self._window_s = max(0.0, coalesce_window_s)
        self._beep = beep
        self._backend: NotifierBackend | None = None
        self._fallback_reason = ""
        self._failed: dict[NotifierBackend, str] = {}
        self._live: dict[str, int] = {}  # key -> handle on the current backend
        self._notices: dict[int, Notice] = {}  # handle -> what it shows now
        self._window_open = False
        self._cancel_window: Callable[[], None] | None = None
        self._batch: dict[str, Notice] = {}
        self._snoozed_until: float | None = None
        self._cancel_snooze: Callable[[], None] | None = None
        self._quiet: tuple[clock_time, clock_time] | None = None
        self._mute_while_busy = False
        self._self_busy = False
        self._suppressed = 0
        self._sounds = dict(DEFAULT_SOUNDS)
        self._stopped = False

    # ------------------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Pick the first available backend (and say so)."""
        self._stopped = False
        self._select()

    def stop(self) -> None:
        """Cancel timers, close what is on screen, let the backends go."""
        self._stopped = True
        for cancel in (self._cancel_window, self._cancel_snooze):
            if cancel is not None:
                cancel()
        self._cancel_window = self._cancel_snooze = None
        self._window_open = False
        self._batch.clear()
        if self._backend is not None:
            for handle in list(self._live.values()):
                self._backend.close(handle)
        self._live.clear()
        self._notices.clear()
        for backend in self._chain:
            backend.stop()
        self._backend = None

    # --------------------------------------------------------------------------- queries
    @property
    def backend(self) -> NotifierBackend | None:
        """Where notices go now (None before :meth:`start`)."""
        return self._backend

    @property
    def backend_name(self) -> str:
        """The current backend's name ("" before :meth:`start`)."""
        return self._backend.name if self._backend is not None else ""

    @property
    def in_app(self) -> InAppNotifier:
        """The chain's in-app backend: the window connects to its ``shown``/``withdrawn``."""
        return next(b for b in self._chain if isinstance(b, InAppNotifier))

    @property
    def fallback_reason(self) -> str:
        """Why notices do not go to the best backend, as a sentence ("" when they do)."""
        return self._fallback_reason

    @property
    def snoozed(self) -> bool:
        """Whether notifications are snoozed now."""
        return self._snoozed_until is not None and self._clock() < self._snoozed_until

    @property
    def snoozed_until(self) -> float | None:
        """When the snooze ends (epoch seconds), or None."""
        return self._snoozed_until if self.snoozed else None

    @property
    def suppressed(self) -> int:
        """How many notices were held back (snooze, quiet hours, busy) since the last reset."""
        return self._suppressed

    @property
    def coalescing(self) -> bool:
        """Whether a coalescing window is open (notices now are batched into a summary)."""
        return self._window_open

    def suppression(self) -> str:
        """Why a notice would be held back now: "snoozed", "quiet hours", "busy", or ""."""
        if self.snoozed:
            return "snoozed"
        if self.in_quiet_hours():
            return "quiet hours"
        if self._mute_while_busy and self._self_busy:
            return "busy"
        return ""

    def in_quiet_hours(self) -> bool:
        """Whether the local time now is inside the quiet hours (which may wrap midnight)."""
        if self._quiet is None:
            return False
        start, end = self._quiet
        now = datetime.fromtimestamp(self._clock()).time()
        if start < end:
            return start <= now < end
        if start > end:  # e.g. 22:00-07:00
            return now >= start or now < end
        return False  # start == end: an empty span

    # -------------------------------------------------------------------------- settings
    def snooze(self, until_epoch: float) -> None:
        """Hold notifications back until ``until_epoch`` (a time in the past unsnoozes)."""
        if self._cancel_snooze is not None:
            self._cancel_snooze()
            self._cancel_snooze = None
        if until_epoch <= self._clock():
            self.unsnooze()
            return
        was = self.snoozed
        self._snoozed_until = until_epoch
        self._cancel_snooze = self._scheduler.call_later(
            until_epoch - self._clock(), self._on_snooze_timer_expired
        )
        if not was:
            self.snoozed_changed.emit(True)

    def unsnooze(self) -> None:
        """Let notifications through again."""
        if self._cancel_snooze is not None:
            self._cancel_snooze()
            self._cancel_snooze = None
        was = self._snoozed_until is not None
        self._snoozed_until = None
        if was:
            self.snoozed_changed.emit(False)

    def set_quiet_hours(self, start: clock_time | None, end: clock_time | None) -> None:
        """Hold notifications back from ``start`` to ``end`` local time (None: no quiet hours).

        A span that wraps midnight (22:00 to 07:00) is fine; equal times mean no quiet hours.
        """
        self._quiet = None if start is None or end is None else (start, end)

    def mute_while_busy(self, enabled: bool) -> None:
        """Hold notifications back while the signed-in user is busy (see :meth:`set_self_busy`)."""
        self._mute_while_busy = enabled

    def set_self_busy(self, busy: bool) -> None:
        """The signed-in user is on a call or in a meeting (fed from their own status)."""
        self._self_busy = busy

    def set_sound(self, severity: str, enabled: bool) -> None:
        """Beep (or not) for notices of ``severity``.

        Raises:
            ValueError: for an unknown severity.
        """
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}; expected {SEVERITIES}")
        self._sounds[severity] = enabled

    def sounds(self) -> dict[str, bool]:
        """Which severities beep."""
        return dict(self._sounds)

    def reset_suppressed(self) -> None:
        """Start counting held-back notices from zero again."""
        if self._suppressed:
            self._suppressed = 0
            self.suppressed_changed.emit(0)

    # ---------------------------------------------------------------------------- notices
    def post(self, notice: Notice) -> bool:
        """Notify, or batch into the open window, or hold back; False when held back."""
        if self._stopped:
            return False
        if self.suppression():
            self._count_suppressed(1)
            return False
        if self._window_open:
            self._batch[notice.key] = notice  # a key firing again in the window: the newest wins
            return True
        self._display(notice)
        self._open_window()
        return True

    def announce(self, notice: Notice) -> None:
        """Show a notice about the app itself ("Sign-in needed") at once.

        It is not an alert: snooze, quiet hours and the coalescing window do not hold it back,
        since the person has to act on it for the alerts to mean anything again.
        """
        if not self._stopped:
            self._display(notice)

    def withdraw(self, key: str) -> None:
        """Take the notification with ``key`` away (e.g. its alert resolved)."""
        self._batch.pop(key, None)
        handle = self._live.pop(key, None)
        if handle is not None and self._backend is not None:
            self._notices.pop(handle, None)
            self._backend.close(handle)

    def invoke_action(self, key: str, action: str) -> None:
        """The user chose ``action`` on the notice ``key`` (backends and the window call this)."""
        if action == ACTION_SNOOZE:
            self.snooze(self._clock() + SNOOZE_S)
        self.action_invoked.emit(key, action)

    # -------------------------------------------------------------------------- internals
    def _count_suppressed(self, count: int) -> None:
        self._suppressed += count
        self.suppressed_changed.emit(self._suppressed)

    def _display(self, notice: Notice) -> None:
        for _attempt in self._chain:  # each failure moves down the chain: bounded
            backend = self._backend if self._backend is not None else self._select()
            actions = notice.actions if notice.actions is not None else ACTIONS
            handle = backend.show(notice, actions, self._live.get(notice.key, 0))
            if self._backend is backend:
                break
            # it failed synchronously and the chain moved on: show it on the next one
        else:
            return
        if handle:
            self._live[notice.key] = handle
            self._notices[handle] = notice
        self.displayed.emit(notice, backend.name)
        sound = notice.sound if notice.sound is not None else self._sounds[notice.severity]
        if sound:
            self._beep()

    def _open_window(self) -> None:
        if self._window_s <= 0:
            return
        self._window_open = True
        self._cancel_window = self._scheduler.call_later(self._window_s, self._on_window_ended)

    def _on_window_ended(self) -> None:
        self._cancel_window = None
        self._window_open = False
        batch = list(self._batch.values())
        self._batch.clear()
        if not batch or self._stopped:
            return  # a quiet window: the next notice goes out at once
        if self.suppression():
            self._count_suppressed(len(batch))
            return
        self._display(batch[0] if len(batch) == 1 else summarize(batch))
        self._open_window()  # a storm gets at most one notification per window

    def _select(self) -> NotifierBackend:
        skipped: list[str] = []
        chosen: NotifierBackend | None = None
        for backend in self._chain:
            if backend in self._failed:
                skipped.append(f"{backend.what} unavailable ({self._failed[backend]})")
                continue
            if backend.available():
                chosen = backend
                break
            skipped.append(f"{backend.what} unavailable ({backend.unavailable_reason})")
        if chosen is None:  # cannot happen while an InAppNotifier is in the chain
            chosen = self.in_app
        best = self._chain[0] is chosen
        reason = "" if best else "; ".join(skipped) + f"; showing alerts {chosen.where}"
        if chosen is not self._backend or reason != self._fallback_reason:
            previous = self._backend
            if previous is not None and previous is not chosen:
                self._live.clear()
                self._notices.clear()
            self._backend = chosen
            self._fallback_reason = reason
            if reason:
                logger.warning("notifications: %s", reason)
            else:
                logger.info("notifications: %s", chosen.what.lower())
            self.backend_changed.emit(chosen.name, reason)
        return chosen

    def _handle_key(self, backend: NotifierBackend, handle: int) -> str | None:
        if backend is not self._backend:
            return None
        notice = self._notices.get(handle)
        return notice.key if notice is not None else None

    def _on_backend_action_invoked(
        self, backend: NotifierBackend, handle: int, action: str
    ) -> None:
        key = self._handle_key(backend, handle)
        if key is not None:
            self.invoke_action(key, action)

    def _on_backend_closed(self, backend: NotifierBackend, handle: int) -> None:
        key = self._handle_key(backend, handle)
        if key is not None and self._live.get(key) == handle:
            del self._live[key]
            self._notices.pop(handle, None)

    def _on_backend_failed(self, backend: NotifierBackend, handle: int, reason: str) -> None:
        if backend is not self._backend:
            return
        lost = self._notices.get(handle)
        self._failed[backend] = reason
        self._select()
        if lost is not None and not self._stopped:
            self._live.pop(lost.key, None)
            self._display(lost)  # what failed is shown where the chain fell back to

    def _on_backend_availability_changed(self, backend: NotifierBackend) -> None:
        self._failed.pop(backend, None)
        if self._backend is not None and not self._stopped:
            self._select()

    def _on_snooze_timer_expired(self) -> None:
        self._cancel_snooze = None
        if self._snoozed_until is not None:
            self._snoozed_until = None
            self.snoozed_changed.emit(False)
