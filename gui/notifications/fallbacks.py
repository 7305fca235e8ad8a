"""The chain's fallbacks: the tray's balloons and, always there, the monitor window itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QSystemTrayIcon

from core.domain.text import plain_line
from gui.notifications.backend import NotifierBackend
from gui.notifications.desktop_backend import DesktopBackend
from gui.notifications.notice import ACTION_OPEN, Notice
from gui.tray.controller import TrayController


def balloon_body(body: str) -> str:
    """A balloon's body as plain lines: its own line breaks stay, nothing hidden in a line does.

    The balloon shows text as it is (Qt's XEmbed balloon is plain text), so no escaping: what
    goes is every bidi override and control character a line could hide, and overlong lines.
    """
    return "\n".join(plain_line(line) for line in body.split("\n"))


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
        title, body = plain_line(notice.title), balloon_body(notice.body)
        self._tray.show_balloon(title, body, notice.severity)
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
    """The chain, best first: the desktop's own notifications, the tray's balloons, the window."""
    return [DesktopBackend(), TrayBalloonNotifier(tray), InAppNotifier()]
