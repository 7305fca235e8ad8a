"""Alert notifications: one :class:`Notifier` in front of an ordered chain of backends.

The chain, best first (design.md: platform features are adapters with an ordered fallback chain,
and they say so when they fall back):

1. :class:`~gui.notifications.desktop_backend.DesktopBackend`: native desktop notifications
   through desktop-notifier (freedesktop D-Bus, Windows toasts, macOS).
2. :class:`~gui.notifications.fallbacks.TrayBalloonNotifier`: ``QSystemTrayIcon.showMessage``
   through the :class:`~gui.tray.controller.TrayController`; clicking the balloon is "open".
3. :class:`~gui.notifications.fallbacks.InAppNotifier`: always there; emits ``shown(Notice)``
   for the monitor window's banner.

:class:`Notifier` picks the first available backend at :meth:`Notifier.start` (waiting, with
notices held, for one that is still asking: the desktop backend never blocks on its server),
falls back when the backend fails at run time (re-showing what failed there), comes back when a
better backend returns (the desktop backend follows the notification server's name on Linux),
and keeps a sentence for the UI in :attr:`Notifier.fallback_reason`. It also coalesces bursts
(the first notice of a quiet period goes out at once, the rest of the window becomes one summary
per rule, never mixing a queue alert with an agent alert), replaces a notification whose key
fires again instead of stacking another, and holds notices back while snoozed, in quiet hours or
while the signed-in user is busy (counting them: the app's alert list still has every one).
Those decisions are :mod:`core.alerts.delivery`'s (Qt-free); this class owns the timers.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Sequence
from datetime import time as clock_time
from typing import Final

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from core.alerts.delivery import (
    DEFAULT_COALESCE_WINDOW_S,
    SNOOZE_S,
    CoalescingWindow,
    DeliveryPolicy,
)
from gui.notifications.backend import NotifierBackend
from gui.notifications.fallbacks import InAppNotifier
from gui.notifications.notice import ACTION_SNOOZE, ACTIONS, SEVERITIES, Notice, coalesce
from gui.notifications.scheduler import QtScheduler, Scheduler

logger = logging.getLogger(__name__)

DEFAULT_SOUNDS: Final[dict[str, bool]] = {"info": False, "warning": False, "critical": True}


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
        self._window = CoalescingWindow[Notice](max(0.0, coalesce_window_s))
        self._policy = DeliveryPolicy()
        self._beep = beep
        self._backend: NotifierBackend | None = None
        self._fallback_reason = ""
        self._failed: dict[NotifierBackend, str] = {}
        self._live: dict[str, int] = {}  # key -> handle on the current backend
        self._notices: dict[int, Notice] = {}  # handle -> what it shows now
        self._cancel_window: Callable[[], None] | None = None
        self._cancel_snooze: Callable[[], None] | None = None
        self._suppressed = 0
        self._sounds = dict(DEFAULT_SOUNDS)
        self._stopped = False
        self._started = False
        self._held: dict[str, Notice] = {}  # while the best backend has not answered yet

    # ------------------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Pick the first available backend (and say so), or wait for one still asking."""
        self._stopped = False
        self._started = True
        self._select()

    def stop(self) -> None:
        """Cancel timers, close what is on screen, let the backends go."""
        self._stopped = True
        self._started = False
        self._held.clear()
        for cancel in (self._cancel_window, self._cancel_snooze):
            if cancel is not None:
                cancel()
        self._cancel_window = self._cancel_snooze = None
        self._window.close()
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
        """Where notices go now (None before :meth:`start`, or while the best is asked)."""
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
        return self._policy.snoozed(self._clock())

    @property
    def snoozed_until(self) -> float | None:
        """When the snooze ends (epoch seconds), or None."""
        return self._policy.snoozed_until if self.snoozed else None

    @property
    def suppressed(self) -> int:
        """How many notices were held back (snooze, quiet hours, busy) since the last reset."""
        return self._suppressed

    @property
    def coalescing(self) -> bool:
        """Whether a coalescing window is open (notices now are batched into a summary)."""
        return self._window.is_open

    def suppression(self) -> str:
        """Why a notice would be held back now: "snoozed", "quiet hours", "busy", or ""."""
        return self._policy.suppression(self._clock())

    def in_quiet_hours(self) -> bool:
        """Whether the local time now is inside the quiet hours (which may wrap midnight)."""
        return self._policy.in_quiet_hours(self._clock())

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
        self._policy.snoozed_until = until_epoch
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
        was = self._policy.snoozed_until is not None
        self._policy.snoozed_until = None
        if was:
            self.snoozed_changed.emit(False)

    def set_quiet_hours(self, start: clock_time | None, end: clock_time | None) -> None:
        """Hold notifications back from ``start`` to ``end`` local time (None: no quiet hours).

        A span that wraps midnight (22:00 to 07:00) is fine; equal times mean no quiet hours.
        """
        self._policy.quiet_hours = None if start is None or end is None else (start, end)

    def mute_while_busy(self, enabled: bool) -> None:
        """Hold notifications back while the signed-in user is busy (see :meth:`set_self_busy`)."""
        self._policy.mute_while_busy = enabled

    def set_self_busy(self, busy: bool) -> None:
        """The signed-in user is on a call or in a meeting (fed from their own status)."""
        self._policy.self_busy = busy

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
        if not self._window.admit(notice.key, notice):
            return True  # batched: a key firing again in the window, the newest wins
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
        self._window.discard(key)
        self._held.pop(key, None)
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
        sound = notice.sound if notice.sound is not None else self._sounds[notice.severity]
        for _attempt in self._chain:  # each failure moves down the chain: bounded
            backend = self._backend if self._backend is not None else self._select()
            if backend is None:  # the best backend answers soon (within its timeout)
                self._held[notice.key] = notice  # a key posted again: the newest wins
                return
            actions = notice.actions if notice.actions is not None else ACTIONS
            shown = dataclasses.replace(notice, sound=sound) if backend.takes_sound else notice
            handle = backend.show(shown, actions, self._live.get(notice.key, 0))
            if self._backend is backend:
                break
            # it failed synchronously and the chain moved on: show it on the next one
        else:
            return
        if handle:
            self._live[notice.key] = handle
            self._notices[handle] = notice
        self.displayed.emit(notice, backend.name)
        if sound and not backend.plays_sounds:
            self._beep()

    def _open_window(self) -> None:
        if self._window.open():
            self._cancel_window = self._scheduler.call_later(
                self._window.window_s, self._on_window_ended
            )

    def _on_window_ended(self) -> None:
        self._cancel_window = None
        batch = self._window.close()
        if not batch or self._stopped:
            return  # a quiet window: the next notice goes out at once
        if self.suppression():
            self._count_suppressed(len(batch))
            return
        for notice in coalesce(batch):  # one per rule and kind: subjects are never mixed
            self._display(notice)
        self._open_window()  # a storm gets at most one notification per rule per window

    def _select(self) -> NotifierBackend | None:
        """The first available backend of the chain, said when it changes.

        A better backend still asking (:attr:`NotifierBackend.pending`) is waited for: the
        current backend stays meanwhile, or, with none that works, None (notices are held
        until it answers and ``availability_changed`` comes).
        """
        skipped: list[str] = []
        chosen: NotifierBackend | None = None
        for backend in self._chain:
            if backend in self._failed:
                skipped.append(f"{backend.what} unavailable ({self._failed[backend]})")
                continue
            if backend.available():
                chosen = backend
                break
            if backend.pending:
                if self._backend is not None and self._backend not in self._failed:
                    return self._backend
                if self._backend is not None:
                    self._live.clear()
                    self._notices.clear()
                self._backend = None
                return None
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
        if self._started and not self._stopped:
            self._select()
            self._release_held()

    def _release_held(self) -> None:
        """Show what was held while the best backend was being asked (now it answered)."""
        if self._backend is None or not self._held:
            return
        held = list(self._held.values())
        self._held.clear()
        for notice in held:
            self._display(notice)

    def _on_snooze_timer_expired(self) -> None:
        self._cancel_snooze = None
        if self._policy.snoozed_until is not None:
            self._policy.snoozed_until = None
            self.snoozed_changed.emit(False)
