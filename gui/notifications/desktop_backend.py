"""Native notifications on every desktop: :class:`DesktopBackend` over desktop-notifier.

The best backend of the chain. desktop-notifier speaks freedesktop D-Bus on Linux (through
dbus-fast on asyncio, so on the app's one qasync loop), Windows toasts and macOS's notification
centre. This module maps a :class:`Notice` onto the library's notification (title, body,
urgency from the severity, a button per action, a sound when the Notifier chose one) and the
library's callbacks back onto the chain's signals.

No call waits on the GUI thread: every library call is a task on the running loop, bounded by a
timeout, and the calls run one after another in the order they were asked for (a replacement
closes the old notification before the new one goes out; a close follows its show). Until the
library has answered whether notifications work, the backend is :attr:`pending`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import logging
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Final

from desktop_notifier import (
    DEFAULT_SOUND,
    Button,
    Capability,
    DesktopNotifier,
    Icon,
    Notification,
    Sound,
    Urgency,
)
from PySide6.QtCore import QObject

from gui.notifications.backend import NotifierBackend
from gui.notifications.notice import ACTION_OPEN, Notice

if TYPE_CHECKING:  # dbus-fast is there on Linux only: imported when used
    from gui.notifications.server_watch import ServerWatch

logger = logging.getLogger(__name__)

APP_NAME: Final = "Genesys Tray"
URGENCY: Final[dict[str, Urgency]] = {
    "info": Urgency.Low,
    "warning": Urgency.Normal,
    "critical": Urgency.Critical,
}
ICON_NAME: Final[dict[str, str]] = {  # freedesktop icon names (Linux only)
    "info": "dialog-information",
    "warning": "dialog-warning",
    "critical": "dialog-error",
}
SOUND_NAME: Final[dict[str, str]] = {  # freedesktop sound names (Linux only)
    "info": "dialog-information",
    "warning": "dialog-warning",
    "critical": "dialog-error",
}
PROBE_TIMEOUT_S: Final = 2.0  # notices wait for it at start: short
CALL_TIMEOUT_S: Final = 5.0
WAITING: Final = "waiting for the notification server to answer"
NOTHING_OFFERED: Final = "this system offers no notifications to this app"
NO_SERVER_ERRORS: Final = frozenset(
    {"org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner"}
)

LibraryFactory = Callable[[], DesktopNotifier]


def _library() -> DesktopNotifier:
    return DesktopNotifier(app_name=APP_NAME, app_icon=None)


def _disconnect(library: DesktopNotifier | None) -> None:
    """Close the library's D-Bus connection, if it has one (it offers no public way)."""
    bus = getattr(getattr(library, "_backend", None), "bus", None)
    disconnect = getattr(bus, "disconnect", None)
    if callable(disconnect):
        disconnect()


def describe_failure(exc: BaseException) -> str:
    """Why asking the notification system failed, in a short phrase."""
    error_type = getattr(exc, "type", "")
    if error_type in NO_SERVER_ERRORS:
        return "no notification server on the session bus"
    if isinstance(exc, TimeoutError):
        return "the notification server did not answer in time"
    if isinstance(exc, OSError) or type(exc).__name__ == "InvalidAddressError":
        return f"no D-Bus session bus: {exc}"
    text = getattr(exc, "text", "") or str(exc) or type(exc).__name__
    return f"the notification server did not answer: {text}"


class DesktopBackend(NotifierBackend):
    """Native notifications through :class:`desktop_notifier.DesktopNotifier`.

    :meth:`available` asks the library for its capabilities (asynchronously: :attr:`pending`
    meanwhile, then ``availability_changed``). On Linux a :class:`ServerWatch` follows the
    server's name: when a server appears or goes away, everything is asked again (with a fresh
    library object: its capabilities are the old server's) and what was on screen is
    reported closed. A failed send makes the backend unavailable until the server changes.
    """

    name = "desktop"
    where = "as desktop notifications"
    what = "Desktop notifications"
    takes_sound = True

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        library: LibraryFactory = _library,
        platform: str = sys.platform,
        probe_timeout_s: float = PROBE_TIMEOUT_S,
        call_timeout_s: float = CALL_TIMEOUT_S,
    ) -> None:
        """Use notifiers made by ``library`` (tests pass one over their own bus or a fake)."""
        super().__init__(parent)
        self._make_library = library
        self._linux = platform.startswith("linux")
        self._probe_timeout_s = probe_timeout_s
        self._call_timeout_s = call_timeout_s
        self._library: DesktopNotifier | None = None
        self._capabilities: frozenset[Capability] | None = None
        self._server_capabilities: list[str] = []
        self._probe_result: str | None = None  # None: not asked yet; "": works; else why not
        self._probe: asyncio.Task[None] | None = None
        self._broken = ""  # set by a failed send; cleared when the server changes
        self._watch: ServerWatch | None = None  # Linux, once started
        self._live: dict[int, str] = {}  # handle -> the library's identifier shown for it
        self._lock: asyncio.Lock | None = None
        self._calls: set[asyncio.Task[None]] = set()
        self._stopped = False

    # ---------------------------------------------------------------------------- queries
    @property
    def pending(self) -> bool:
        """Whether the library was asked and has not answered yet."""
        return self._probe is not None

    @property
    def pending_calls(self) -> int:
        """How many library calls (show, replace, close) have not finished yet."""
        return len(self._calls)

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the library says notifications can do here (empty until answered)."""
        return self._capabilities or frozenset()

    @property
    def server_capabilities(self) -> list[str]:
        """Linux: the server's own ``GetCapabilities`` list (empty elsewhere)."""
        return list(self._server_capabilities)

    @property
    def plays_sounds(self) -> bool:
        """Whether the notification itself makes the sound (else the Notifier beeps)."""
        return Capability.SOUND in self.capabilities

    def available(self) -> bool:
        """The library answered that notifications work here, and no send has failed since."""
        self._stopped = False
        if self._broken:
            reason = self._broken
        elif self._probe_result is not None:
            reason = self._probe_result
        else:
            reason = self._start_probe()
        self._unavailable_reason = reason
        return not reason

    # ---------------------------------------------------------------------------- actions
    def show(self, notice: Notice, actions: Sequence[tuple[str, str]], replaces: int = 0) -> int:
        """Send the notification (asynchronously); returns the handle at once.

        ``notice.sound`` is the Notifier's decision (True: with a sound). A ``replaces`` handle
        still shown is closed first: the library has no in-place update.
        """
        handle = replaces if replaces in self._live else self._next_handle()
        previous = self._live.get(handle)
        identifier = str(uuid.uuid4())
        self._live[handle] = identifier
        notification = self._notification(notice, actions, handle, identifier)
        self._submit(self._send(handle, notification, previous))
        return handle

    def close(self, handle: int) -> None:
        """Take the notification away; ``closed`` follows when the library has done it."""
        identifier = self._live.pop(handle, None)
        if identifier is not None:
            self._submit(self._close(handle, identifier))

    def stop(self) -> None:
        """Stop asking and following the server; calls already asked for still go out.

        A later :meth:`available` asks everything afresh (the Notifier may start again).
        """
        self._stopped = True
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        self._probe_result = None
        self._capabilities = None
        self._stop_watch()
        library, self._library = self._library, None
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            _disconnect(library)
        else:
            self._submit(self._release(library))

    async def _release(self, library: DesktopNotifier | None) -> None:
        """After the calls asked before :meth:`stop`: let go of the library's connection."""
        _disconnect(library)

    # -------------------------------------------------------------------------- internals
    def _notification(
        self, notice: Notice, actions: Sequence[tuple[str, str]], handle: int, identifier: str
    ) -> Notification:
        def pressed(action: str) -> Callable[[], None]:
            return lambda: self._on_action(handle, identifier, action)

        offered = actions if Capability.BUTTONS in self.capabilities else ()
        buttons = tuple(
            Button(title=label, identifier=key, on_pressed=pressed(key)) for key, label in offered
        )
        body = notice.body
        if "body-markup" in self._server_capabilities:
            body = html.escape(body, quote=False)
        sound: Sound | None = None
        if notice.sound:
            sound = Sound(name=SOUND_NAME[notice.severity]) if self._linux else DEFAULT_SOUND
        return Notification(
            title=notice.title,
            message=body,
            urgency=URGENCY[notice.severity],
            icon=Icon(name=ICON_NAME[notice.severity]) if self._linux else None,
            buttons=buttons,
            on_clicked=pressed(ACTION_OPEN),
            on_dismissed=lambda: self._on_dismissed(handle, identifier),
            sound=sound,
            identifier=identifier,
        )

    def _start_probe(self) -> str:
        if self._probe is not None:
            return WAITING
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return "no event loop is running to talk to the notification system"
        self._probe = loop.create_task(self._ask())
        return WAITING

    async def _ask(self) -> None:
        """Ask the library (and, on Linux, the server) what works; then say it changed."""
        try:
            async with asyncio.timeout(self._probe_timeout_s):
                if self._linux:
                    await self._start_watch()
                if self._library is None:
                    self._library = self._make_library()
                capabilities = await self._library.get_capabilities()
                server = await self._watch_capabilities() if self._linux else []
        except Exception as exc:  # any failure means "not available", and says why
            logger.debug("asking the notification system failed", exc_info=True)
            self._probe_result = describe_failure(exc)
        else:
            self._capabilities = capabilities
            self._server_capabilities = server
            # The library's stand-in (macOS outside an app bundle, an old Windows) offers
            # nothing and shows nothing: not a way to show notices.
            self._probe_result = "" if capabilities else NOTHING_OFFERED
        self._probe = None
        if self._probe_result:
            logger.info("desktop notifications: %s", self._probe_result)
        else:
            names = sorted(capability.name.lower() for capability in self.capabilities)
            logger.info("desktop notifications: %s", ", ".join(names) or "no capabilities")
        if not self._stopped:
            self.availability_changed.emit()

    async def _start_watch(self) -> None:
        from gui.notifications.server_watch import ServerWatch

        if self._watch is None:
            watch = ServerWatch(self._on_server_changed)
            await watch.start()
            self._watch = watch

    async def _watch_capabilities(self) -> list[str]:
        return await self._watch.capabilities() if self._watch is not None else []

    def _stop_watch(self) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None

    def _drop_library(self) -> None:
        """Forget the library object (a server change: its answers are the old server's)."""
        library, self._library = self._library, None
        _disconnect(library)

    def _submit(self, call: Awaitable[None]) -> None:
        """Run ``call`` after every call asked for before it (on the running loop)."""

        async def in_order() -> None:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                await call

        try:
            task = asyncio.get_running_loop().create_task(in_order())
        except RuntimeError:  # no loop: nothing can be sent
            if asyncio.iscoroutine(call):
                call.close()
            self._fail(0, "no event loop is running to talk to the notification system")
            return
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _send(self, handle: int, notification: Notification, previous: str | None) -> None:
        library = self._library
        if library is None:
            self._fail(handle, "the notification system was not asked yet")
            return
        if previous is not None:
            await self._clear(library, previous)
        dispatched = asyncio.Event()
        notification = dataclasses.replace(notification, on_dispatched=dispatched.set)
        try:
            async with asyncio.timeout(self._call_timeout_s):
                await library.send_notification(notification)
        except TimeoutError as exc:
            self._fail(handle, describe_failure(exc))
            return
        if not dispatched.is_set():  # the library logged why (a warning with the error)
            self._fail(handle, "the notification server refused the notification")

    async def _close(self, handle: int, identifier: str) -> None:
        if self._library is not None:
            await self._clear(self._library, identifier)
        if not self._stopped:
            self.closed.emit(handle)

    async def _clear(self, library: DesktopNotifier, identifier: str) -> None:
        try:
            async with asyncio.timeout(self._call_timeout_s):
                await library.clear(identifier)
        except Exception as exc:
            logger.debug("clearing notification %s: %s", identifier, describe_failure(exc))

    def _fail(self, handle: int, reason: str) -> None:
        if self._live.get(handle) is not None:
            del self._live[handle]
        logger.warning("desktop notifications failed: %s", reason)
        self._broken = reason
        if not self._stopped:
            self.failed.emit(handle, reason)

    def _on_action(self, handle: int, identifier: str, action: str) -> None:
        if self._live.get(handle) == identifier and not self._stopped:
            self.action_invoked.emit(handle, action)

    def _on_dismissed(self, handle: int, identifier: str) -> None:
        if self._live.get(handle) == identifier:
            del self._live[handle]
            if not self._stopped:
                self.closed.emit(handle)

    def _on_server_changed(self, _new_owner: str) -> None:
        """A new server (or none): its ids and capabilities are not the old one's."""
        self._broken = ""
        self._probe_result = None
        self._capabilities = None
        self._server_capabilities = []
        if self._probe is not None:
            probe, self._probe = self._probe, None
            probe.cancel()
        self._drop_library()  # its cached capabilities are the old server's
        for handle in list(self._live):
            del self._live[handle]
            self.closed.emit(handle)
        if not self._stopped:
            self.availability_changed.emit()
