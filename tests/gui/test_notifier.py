"""The notifier's logic, offscreen and in-process: the fallback chain, coalescing, snooze, quiet
hours, busy mute and sounds.

Time is a :class:`FakeTime` (clock and scheduler in one), so windows and snoozes run by hand.
The desktop backend's real behaviour against a notification server is in
tests/gui/test_notifier_desktop.py (a private bus) and tests/desktop/test_notifier_dbus.py (the
bed's); here it only appears as a real backend that finds no session bus.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as clock_time

import pytest
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from core.alerts.delivery import SNOOZE_S
from core.alerts.model import Severity
from gui.notifications.backend import NotifierBackend
from gui.notifications.desktop_backend import DesktopBackend
from gui.notifications.fallbacks import InAppNotifier, TrayBalloonNotifier
from gui.notifications.notice import (
    ACTION_OPEN,
    ACTION_SNOOZE,
    ACTIONS,
    SUMMARY_KEY,
    Notice,
    summarize,
)
from gui.notifications.notifier import Notifier
from gui.notifications.scheduler import QtScheduler
from gui.tray.controller import TrayController

WINDOW_S = 5.0
DEADLINE_S = 10.0
T0 = datetime(2025, 3, 10, 12, 0).timestamp()  # local noon: outside any quiet hours used here


class FakeTime:
    """A wall clock and a scheduler that only move when the test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cancelled: set[int] = set()

    def __call__(self) -> float:
        return self.now

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Callable[[], None]:
        seq = next(self._seq)
        heapq.heappush(self._queue, (self.now + delay_s, seq, callback))
        return lambda: self._cancelled.add(seq)

    def advance(self, seconds: float) -> None:
        """Move time on, running every callback that falls due, in order."""
        end = self.now + seconds
        while self._queue and self._queue[0][0] <= end:
            due, seq, callback = heapq.heappop(self._queue)
            self.now = max(self.now, due)
            if seq not in self._cancelled:
                callback()
        self.now = end

    def set_local(self, hour: int, minute: int = 0) -> None:
        self.now = datetime(2025, 3, 10, hour, minute).timestamp()


@dataclass
class Shown:
    notice: Notice
    actions: tuple[tuple[str, str], ...]
    replaces: int
    handle: int


class FakeBackend(NotifierBackend):
    """A backend whose availability and failures the test decides; it records what it showed."""

    def __init__(self, name: str, *, up: bool = True, reason: str = "down") -> None:
        super().__init__()
        self.name = name
        self.what = f"{name} notifications"
        self.where = f"via {name}"
        self.up = up
        self.reason = reason
        self.fail_show = ""  # fail synchronously with this reason
        self.shown: list[Shown] = []
        self.closed_handles: list[int] = []

    def available(self) -> bool:
        self._unavailable_reason = "" if self.up else self.reason
        return self.up

    def show(self, notice: Notice, actions: Sequence[tuple[str, str]], replaces: int = 0) -> int:
        if self.fail_show:
            self.failed.emit(0, self.fail_show)
            return 0
        handle = replaces or self._next_handle()
        self.shown.append(Shown(notice, tuple(actions), replaces, handle))
        return handle

    def close(self, handle: int) -> None:
        self.closed_handles.append(handle)


class FakeTray(TrayController):
    """A TrayController that believes it is docked (offscreen has no tray, gotcha G3)."""

    def __init__(self) -> None:
        super().__init__()
        self.balloons: list[tuple[str, str, str]] = []

    @staticmethod
    def available() -> bool:
        return True

    def is_visible(self) -> bool:
        return True

    def show_balloon(self, title: str, body: str, severity: str = "info") -> None:
        self.balloons.append((title, body, severity))


@dataclass
class Bed:
    """A notifier over two fake backends (+ the in-app one), with its signals recorded."""

    notifier: Notifier
    best: FakeBackend
    second: FakeBackend
    time: FakeTime
    beeps: list[int] = field(default_factory=list)
    actions: list[tuple[str, str]] = field(default_factory=list)
    changes: list[tuple[str, str]] = field(default_factory=list)
    snoozes: list[bool] = field(default_factory=list)


def notice(n: int = 1, *, key: str = "", severity: str = "warning", kind: str = "queue") -> Notice:
    return Notice(
        key=key or f"waiting:q{n}",
        title=f"Queue {n}: {n + 4} waiting",
        body=f"Longest wait {n}:00",
        severity=severity,  # type: ignore[arg-type]
        subject_kind=kind,  # type: ignore[arg-type]
        subject_id=f"q{n}",
    )


@pytest.fixture
def bed(qtbot: QtBot) -> Iterator[Bed]:
    time = FakeTime()
    best, second = FakeBackend("best"), FakeBackend("second")
    beeps: list[int] = []
    notifier = Notifier(
        [best, second],
        clock=time,
        scheduler=time,
        coalesce_window_s=WINDOW_S,
        beep=lambda: beeps.append(1),
    )
    result = Bed(notifier, best, second, time, beeps)
    notifier.action_invoked.connect(lambda key, action: result.actions.append((key, action)))
    notifier.backend_changed.connect(lambda name, why: result.changes.append((name, why)))
    notifier.snoozed_changed.connect(result.snoozes.append)
    notifier.start()
    yield result
    notifier.stop()
    notifier.deleteLater()


def quiet_period(bed: Bed) -> None:
    """Let any coalescing window run out (twice: a flushed window opens another)."""
    bed.time.advance(WINDOW_S + 0.1)
    bed.time.advance(WINDOW_S + 0.1)
    assert not bed.notifier.coalescing


# ------------------------------------------------------------------------------- the chain


def test_picks_the_first_available_backend(bed: Bed) -> None:
    assert bed.notifier.backend_name == "best"
    assert bed.notifier.fallback_reason == ""
    assert bed.changes == [("best", "")]


async def _until(predicate: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while not predicate():  # noqa: ASYNC110 - the backend answers on the bus
            await asyncio.sleep(0.01)


@pytest.fixture
def no_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    """A session bus address where there is none (the desktop backend cannot connect)."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path=/nonexistent/{uuid.uuid4().hex}")


async def test_falls_back_to_the_tray_balloon_and_says_why(qtbot: QtBot, no_bus: None) -> None:
    """The real desktop backend finds no notification system; the tray takes over."""
    tray = FakeTray()
    notifier = Notifier(
        [DesktopBackend(), TrayBalloonNotifier(tray, supports_messages=lambda: True)]
    )
    changes: list[tuple[str, str]] = []
    notifier.backend_changed.connect(lambda name, why: changes.append((name, why)))
    notifier.start()
    try:
        await _until(lambda: bool(changes), "the chain settled")
        assert notifier.backend_name == "tray"
        reason = notifier.fallback_reason
        assert reason.startswith("Desktop notifications unavailable (")
        assert reason.endswith("); showing alerts in the tray")
        assert "no D-Bus session bus" in reason
        assert changes == [("tray", reason)]

        notifier.post(notice(1, severity="critical"))
        assert tray.balloons == [("Queue 1: 5 waiting", "Longest wait 1:00", "critical")]
        invoked: list[tuple[str, str]] = []
        notifier.action_invoked.connect(lambda key, action: invoked.append((key, action)))
        tray.balloon_clicked.emit()  # what QSystemTrayIcon.messageClicked forwards
        assert invoked == [("waiting:q1", ACTION_OPEN)]
    finally:
        notifier.stop()


async def test_falls_back_to_in_app_without_a_tray(qtbot: QtBot, no_bus: None) -> None:
    """Offscreen has no system tray, so a real TrayController cannot show balloons either."""
    tray = TrayController()
    notifier = Notifier([DesktopBackend(), TrayBalloonNotifier(tray)])  # in-app is appended
    changes: list[str] = []
    notifier.backend_changed.connect(lambda name, _why: changes.append(name))
    shown: list[Notice] = []
    notifier.in_app.shown.connect(shown.append)
    notifier.start()  # the desktop backend answers asynchronously
    try:
        await _until(lambda: bool(changes), "the chain settled")
        assert notifier.backend_name == "in-app"
        assert "Tray messages unavailable (no system tray)" in notifier.fallback_reason
        assert notifier.fallback_reason.endswith("showing alerts in the monitor window")
        notifier.post(notice(2))
        assert shown == [notice(2)]
    finally:
        notifier.stop()


def test_a_failing_backend_falls_back_and_the_notice_is_shown_there(bed: Bed) -> None:
    bed.notifier.post(notice(1))
    (first,) = bed.best.shown
    bed.best.failed.emit(first.handle, "org.freedesktop.DBus.Error.NoReply: no answer")

    assert bed.notifier.backend_name == "second"
    assert bed.notifier.fallback_reason == (
        "best notifications unavailable (org.freedesktop.DBus.Error.NoReply: no answer); "
        "showing alerts via second"
    )
    assert bed.changes[-1] == ("second", bed.notifier.fallback_reason)
    assert [s.notice for s in bed.second.shown] == [notice(1)]  # not lost


def test_a_synchronous_failure_moves_down_the_chain_at_once(bed: Bed) -> None:
    bed.best.fail_show = "cannot build the call"
    bed.notifier.post(notice(1))
    assert [s.notice for s in bed.second.shown] == [notice(1)]
    assert bed.notifier.backend_name == "second"


def test_the_better_backend_is_used_again_when_it_comes_back(bed: Bed) -> None:
    bed.best.up = False
    bed.best.failed.emit(0, "server went away")
    assert bed.notifier.backend_name == "second"

    bed.best.up = True
    bed.best.availability_changed.emit()  # e.g. the notification server's name got an owner
    assert bed.notifier.backend_name == "best"
    assert bed.notifier.fallback_reason == ""
    assert bed.changes == [("best", ""), ("second", bed.changes[1][1]), ("best", "")]


def test_unavailable_at_start_skips_to_the_next_with_its_reason(qtbot: QtBot) -> None:
    best = FakeBackend("best", up=False, reason="no notification server on the session bus")
    notifier = Notifier([best, FakeBackend("second")])
    notifier.start()
    try:
        assert notifier.backend_name == "second"
        assert notifier.fallback_reason == (
            "best notifications unavailable (no notification server on the session bus); "
            "showing alerts via second"
        )
    finally:
        notifier.stop()


# ------------------------------------------------------------------------------ coalescing


def test_a_burst_is_one_immediate_notification_and_one_summary(bed: Bed) -> None:
    for n in range(1, 5):
        assert bed.notifier.post(notice(n))
    assert [s.notice for s in bed.best.shown] == [notice(1)]  # the first goes out at once

    bed.time.advance(WINDOW_S)
    assert len(bed.best.shown) == 2
    summary = bed.best.shown[1].notice
    assert summary.key == SUMMARY_KEY
    assert summary.title == "3 queue alerts"
    assert summary.body == "Queue 2: 6 waiting; Queue 3: 7 waiting; Queue 4: 8 waiting"
    assert bed.best.shown[1].actions == ACTIONS

    quiet_period(bed)
    assert len(bed.best.shown) == 2  # nothing more came
    bed.notifier.post(notice(5))
    assert [s.notice for s in bed.best.shown][-1] == notice(5)  # a quiet period: at once again


def test_a_storm_gets_at_most_one_notification_per_window(bed: Bed) -> None:
    for second in range(20):
        bed.notifier.post(notice(second))
        bed.time.advance(1.0)
    # 20 s of one notice a second: the first at once, then one summary per 5 s window
    assert len(bed.best.shown) == 5
    assert all(s.notice.key == SUMMARY_KEY for s in bed.best.shown[1:])
    assert bed.best.shown[2].replaces == bed.best.shown[1].handle  # a summary replaces the last


def test_a_single_batched_notice_goes_out_as_itself(bed: Bed) -> None:
    bed.notifier.post(notice(1))
    bed.notifier.post(notice(2))
    bed.time.advance(WINDOW_S)
    assert [s.notice for s in bed.best.shown] == [notice(1), notice(2)]


def test_the_same_key_replaces_rather_than_stacks(bed: Bed) -> None:
    bed.notifier.post(notice(1))
    quiet_period(bed)
    updated = Notice(
        "waiting:q1", "Queue 1: 9 waiting", "Longest wait 6:00", Severity.CRITICAL, "queue", "q1"
    )
    bed.notifier.post(updated)

    first, second = bed.best.shown
    assert second.notice == updated
    assert second.replaces == first.handle
    assert second.handle == first.handle


def test_a_key_firing_again_inside_the_window_replaces_the_first(bed: Bed) -> None:
    bed.notifier.post(notice(1))
    again = Notice("waiting:q1", "Queue 1: 7 waiting", "", Severity.WARNING, "queue", "q1")
    bed.notifier.post(again)
    bed.time.advance(WINDOW_S)
    first, second = bed.best.shown
    assert (second.notice, second.replaces) == (again, first.handle)


def test_a_notification_closed_by_the_user_is_not_replaced(bed: Bed) -> None:
    bed.notifier.post(notice(1))
    bed.best.closed.emit(bed.best.shown[0].handle)
    quiet_period(bed)
    bed.notifier.post(notice(1))
    assert bed.best.shown[1].replaces == 0


def test_withdraw_closes_the_notification(bed: Bed) -> None:
    bed.notifier.post(notice(1))
    bed.notifier.withdraw("waiting:q1")
    assert bed.best.closed_handles == [bed.best.shown[0].handle]


def test_withdraw_in_app_tells_the_window(qtbot: QtBot) -> None:
    notifier = Notifier([], coalesce_window_s=0)
    notifier.start()
    try:
        notifier.post(notice(1))
        with qtbot.waitSignal(notifier.in_app.withdrawn) as withdrawn:
            notifier.withdraw("waiting:q1")
        assert withdrawn.args == ["waiting:q1"]
    finally:
        notifier.stop()


def test_summaries_name_the_kind_cap_the_lines_and_take_the_loudest_severity() -> None:
    mixed = [notice(1), notice(2, severity="critical", kind="agent")]
    assert summarize(mixed).title == "2 alerts"
    assert summarize(mixed).severity == "critical"
    many = summarize([notice(n) for n in range(8)])
    assert many.title == "8 queue alerts"
    assert many.body.endswith("Queue 4: 8 waiting; … and 3 more")
    with pytest.raises(ValueError, match="nothing"):
        summarize([])


# --------------------------------------------------------------------- holding notices back


def test_snooze_holds_notices_back_and_unsnooze_lets_the_next_through(bed: Bed) -> None:
    bed.notifier.snooze(bed.time.now + SNOOZE_S)
    assert bed.notifier.snoozed
    assert bed.notifier.suppression() == "snoozed"
    assert bed.notifier.post(notice(1)) is False
    assert bed.notifier.post(notice(2)) is False
    assert bed.best.shown == []
    assert bed.notifier.suppressed == 2

    bed.notifier.unsnooze()
    assert bed.notifier.post(notice(3))
    assert [s.notice for s in bed.best.shown] == [notice(3)]
    assert bed.snoozes == [True, False]


def test_a_snooze_runs_out_by_itself(bed: Bed) -> None:
    bed.notifier.snooze(bed.time.now + 60)
    bed.time.advance(59)
    assert bed.notifier.suppression() == "snoozed"
    bed.time.advance(2)
    assert not bed.notifier.snoozed
    assert bed.notifier.snoozed_until is None
    assert bed.snoozes == [True, False]
    bed.notifier.post(notice(1))
    assert len(bed.best.shown) == 1


def test_snoozing_in_the_past_is_an_unsnooze(bed: Bed) -> None:
    bed.notifier.snooze(bed.time.now + 60)
    bed.notifier.snooze(bed.time.now - 1)
    assert not bed.notifier.snoozed
    assert bed.snoozes == [True, False]


def test_batched_notices_are_held_back_if_snoozed_before_the_window_ends(bed: Bed) -> None:
    for n in range(1, 4):
        bed.notifier.post(notice(n))
    bed.notifier.snooze(bed.time.now + SNOOZE_S)
    bed.time.advance(WINDOW_S)
    assert len(bed.best.shown) == 1
    assert bed.notifier.suppressed == 2


def test_the_snooze_action_snoozes_for_15_minutes_and_is_reported(bed: Bed) -> None:
    bed.notifier.post(notice(1))
    bed.best.action_invoked.emit(bed.best.shown[0].handle, ACTION_SNOOZE)
    assert bed.actions == [("waiting:q1", ACTION_SNOOZE)]
    assert bed.notifier.snoozed_until == pytest.approx(T0 + SNOOZE_S)


def test_the_open_action_is_reported_with_the_key(bed: Bed) -> None:
    bed.notifier.post(notice(1))
    bed.best.action_invoked.emit(bed.best.shown[0].handle, ACTION_OPEN)
    bed.best.action_invoked.emit(999, ACTION_OPEN)  # a handle this notifier never saw
    assert bed.actions == [("waiting:q1", ACTION_OPEN)]
    assert not bed.notifier.snoozed


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [
        (21, 59, False),
        (22, 0, True),
        (23, 30, True),
        (0, 0, True),
        (3, 0, True),
        (6, 59, True),
        (7, 0, False),
        (12, 0, False),
    ],
)
def test_quiet_hours_wrap_midnight(bed: Bed, hour: int, minute: int, quiet: bool) -> None:
    bed.notifier.set_quiet_hours(clock_time(22, 0), clock_time(7, 0))
    bed.time.set_local(hour, minute)
    assert bed.notifier.in_quiet_hours() is quiet
    assert bed.notifier.post(notice(1)) is not quiet
    assert len(bed.best.shown) == (0 if quiet else 1)
    assert bed.notifier.suppressed == (1 if quiet else 0)


def test_quiet_hours_within_a_day_and_switched_off(bed: Bed) -> None:
    bed.notifier.set_quiet_hours(clock_time(12, 0), clock_time(13, 0))
    bed.time.set_local(12, 30)
    assert bed.notifier.in_quiet_hours()
    bed.time.set_local(13, 0)
    assert not bed.notifier.in_quiet_hours()
    bed.notifier.set_quiet_hours(clock_time(9, 0), clock_time(9, 0))  # an empty span
    bed.time.set_local(9, 0)
    assert not bed.notifier.in_quiet_hours()
    bed.notifier.set_quiet_hours(None, None)
    assert not bed.notifier.in_quiet_hours()


def test_busy_mute_holds_notices_back_only_while_busy_and_enabled(bed: Bed) -> None:
    bed.notifier.set_self_busy(True)
    bed.notifier.post(notice(1))  # mute not enabled: goes out
    bed.notifier.mute_while_busy(True)
    quiet_period(bed)
    assert bed.notifier.post(notice(2)) is False
    assert bed.notifier.suppression() == "busy"
    bed.notifier.set_self_busy(False)  # the call ended
    assert bed.notifier.post(notice(3))
    assert [s.notice for s in bed.best.shown] == [notice(1), notice(3)]
    assert bed.notifier.suppressed == 1
    bed.notifier.reset_suppressed()
    assert bed.notifier.suppressed == 0


# ----------------------------------------------------------------------------------- sound


def test_sound_follows_the_severity_settings_and_the_notice(bed: Bed) -> None:
    bed.notifier.post(notice(1, severity="critical"))  # critical beeps by default
    quiet_period(bed)
    bed.notifier.post(notice(2, severity="info"))
    quiet_period(bed)
    assert len(bed.beeps) == 1

    bed.notifier.set_sound("info", True)
    bed.notifier.post(notice(3, severity="info"))
    quiet_period(bed)
    silent = Notice("k", "t", "", Severity.CRITICAL, "connection", "", sound=False)
    bed.notifier.post(silent)
    assert len(bed.beeps) == 2
    assert bed.notifier.sounds() == {"info": True, "warning": False, "critical": True}
    with pytest.raises(ValueError, match="severity"):
        bed.notifier.set_sound("loud", True)


def test_held_back_notices_make_no_sound(bed: Bed) -> None:
    bed.notifier.snooze(bed.time.now + 60)
    bed.notifier.post(notice(1, severity="critical"))
    assert bed.beeps == []


# ------------------------------------------------------------------------- values and types


def test_notices_reject_unknown_severities_and_kinds() -> None:
    with pytest.raises(ValueError, match="severity"):
        Notice("k", "t", "b", "urgent", "queue", "q1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="subject kind"):
        Notice("k", "t", "b", "info", "team", "q1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="key"):
        Notice("", "t", "b", Severity.INFO, "queue", "q1")


class SoundingBackend(FakeBackend):
    """A backend that takes the Notifier's sound decision and may play it itself."""

    takes_sound = True

    def __init__(self, *, plays: bool) -> None:
        super().__init__("sounding")
        self.plays = plays

    @property
    def plays_sounds(self) -> bool:
        return self.plays


@pytest.mark.parametrize("plays", [True, False])
def test_a_backend_that_takes_the_sound_gets_the_decision_and_the_beep_only_if_it_cannot(
    qtbot: QtBot, plays: bool
) -> None:
    backend = SoundingBackend(plays=plays)
    beeps: list[int] = []
    notifier = Notifier([backend], coalesce_window_s=0, beep=lambda: beeps.append(1))
    notifier.start()
    try:
        notifier.post(notice(1, severity="critical"))  # critical: a sound by default
        notifier.post(notice(2, severity="info"))  # info: silent by default
        assert [shown.notice.sound for shown in backend.shown] == [True, False]
        assert beeps == ([] if plays else [1])
    finally:
        notifier.stop()


def test_in_app_is_always_available_and_keeps_handles_per_key(qtbot: QtBot) -> None:
    in_app = InAppNotifier()
    assert in_app.available()
    first = in_app.show(notice(1), ACTIONS)
    assert in_app.show(notice(1), ACTIONS, replaces=first) == first
    assert in_app.show(notice(2), ACTIONS) != first


def test_qt_scheduler_runs_and_cancels(qtbot: QtBot) -> None:
    owner = QObject()
    scheduler = QtScheduler(owner)
    ran: list[str] = []
    cancel = scheduler.call_later(0.01, lambda: ran.append("cancelled"))
    scheduler.call_later(0.05, lambda: ran.append("kept"))  # due after the cancelled one
    cancel()
    qtbot.waitUntil(lambda: bool(ran), timeout=2000)
    assert ran == ["kept"]
    cancel()  # after the fact: harmless
