"""The protocol every backend of the notification chain follows: :class:`NotifierBackend`."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal

from gui.notifications.notice import Notice


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
    takes_sound = False  # True: show() gets the notice with ``sound`` decided (True/False)

    def __init__(self, parent: QObject | None = None) -> None:
        """A backend with no reason to be unavailable yet."""
        super().__init__(parent)
        self._handles = itertools.count(1)
        self._unavailable_reason = ""

    @property
    def unavailable_reason(self) -> str:
        """Why the last :meth:`available` said no ("" when it said yes)."""
        return self._unavailable_reason

    @property
    def pending(self) -> bool:
        """Whether :meth:`available` cannot tell yet: it asked without waiting for the answer
        (the D-Bus backend asks the server), and emits ``availability_changed`` when it comes."""
        return False

    @property
    def plays_sounds(self) -> bool:
        """Whether a notice shown with ``sound=True`` makes the sound itself (the Notifier
        beeps otherwise)."""
        return False

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
