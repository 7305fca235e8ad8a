"""Tray icons, the tray controller's menu and tooltip, and the single-instance guard (offscreen).

The tray itself is never *shown* here: offscreen has no system tray (recipe gotcha G3). Docking
into a real tray host is tests/desktop/test_tray_states.py.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import stat
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QAction, QIcon, QImage
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon
from pytestqt.qtbot import QtBot

from core.engine.records import EngineState
from gui.platform.single_instance import SingleInstance
from gui.tray.controller import (
    ACTION_FILTERS,
    ACTION_OPEN,
    ACTION_PAUSE,
    ACTION_QUIT,
    ACTION_RECONNECT,
    ACTION_RESUME,
    ACTION_SETTINGS,
    ACTION_SNOOZE,
    ACTION_TRIGGERS,
    ACTION_WATCH,
    SNOOZE_CHOICES,
    TrayController,
)
from gui.tray.icons import (
    ICON_SIZES_PX,
    STATES,
    badge_text,
    is_dark_scheme,
    resource_path,
    state_color,
    tray_icon,
    tray_image,
)

MIN_SHAPE_DIFF = 0.08  # share of pixels whose opacity differs between any two states' icons


def opaque_mask(image: QImage) -> list[bool]:
    """Which pixels are mostly opaque: the icon's silhouette, whatever its colour."""
    return [
        image.pixelColor(x, y).alpha() >= 128
        for y in range(image.height())
        for x in range(image.width())
    ]


def changed_pixels(a: QImage, b: QImage) -> list[tuple[int, int]]:
    """Coordinates where two same-sized images differ."""
    assert a.size() == b.size()
    return [
        (x, y)
        for y in range(a.height())
        for x in range(a.width())
        if a.pixelColor(x, y) != b.pixelColor(x, y)
    ]


def rgb(image: QImage, x: int, y: int) -> tuple[int, int, int]:
    """One pixel's red, green and blue."""
    colour = image.pixelColor(x, y)
    return colour.red(), colour.green(), colour.blue()


def white_pixels(image: QImage) -> int:
    """How many pixels are (nearly) white: the badge's digits."""
    return sum(
        1
        for y in range(image.height())
        for x in range(image.width())
        if min(rgb(image, x, y)) > 230
    )


# ------------------------------------------------------------------------------------ icons
def test_states_are_the_engine_states() -> None:
    """Every state the engine can report has an icon, and there is no icon for a non-state."""
    assert set(STATES) == {state.value for state in EngineState}


@pytest.mark.parametrize("dark", [False, True])
@pytest.mark.parametrize("state", STATES)
def test_every_state_renders_at_every_size(qapp: QApplication, state: str, dark: bool) -> None:
    """Each size is its own pixmap, exactly that big, with a real glyph in it."""
    icon = tray_icon(state, dark=dark)
    assert sorted((s.width(), s.height()) for s in icon.availableSizes()) == [
        (px, px) for px in ICON_SIZES_PX
    ]
    for px in ICON_SIZES_PX:
        image = icon.pixmap(QSize(px, px)).toImage()
        assert (image.width(), image.height()) == (px, px)
        covered = sum(opaque_mask(image)) / (px * px)
        assert 0.08 < covered < 0.7, f"{state} at {px} px covers {covered:.0%}"


@pytest.mark.parametrize("px", ICON_SIZES_PX)
def test_states_differ_in_shape_not_only_colour(qapp: QApplication, px: int) -> None:
    """Colour-blind safe: the silhouettes (alpha masks) of any two states differ clearly."""
    masks = {state: opaque_mask(tray_image(state, px)) for state in STATES}
    for a, b in itertools.combinations(STATES, 2):
        differ = sum(x != y for x, y in zip(masks[a], masks[b], strict=True)) / (px * px)
        assert differ >= MIN_SHAPE_DIFF, f"{a} and {b} at {px} px differ in {differ:.1%} only"


@pytest.mark.parametrize("state", STATES)
def test_dark_and_light_differ_in_colour_only(qapp: QApplication, state: str) -> None:
    """The dark theme recolours the same shape (lighter tones for a dark panel)."""
    light, dark = tray_image(state, 32, dark=False), tray_image(state, 32, dark=True)
    assert changed_pixels(light, dark)
    assert opaque_mask(light) == opaque_mask(dark)
    assert state_color(state, True).lightness() > state_color(state, False).lightness()


@pytest.mark.parametrize("px", ICON_SIZES_PX)
def test_badge_is_drawn_in_the_top_right_corner(qapp: QApplication, px: int) -> None:
    """The count badge changes pixels, and only in the top-right corner."""
    plain, badged = tray_image("live", px), tray_image("live", px, alerts=3)
    changed = changed_pixels(plain, badged)
    assert len(changed) > px * px // 10
    assert all(x >= px // 4 and y < px * 3 // 4 for x, y in changed), "badge outside its corner"
    # The badge is red whatever the state's colour (and white digits on it).
    colours = [badged.pixelColor(x, y) for x, y in changed]
    red = [c for c in colours if c.red() > 180 and c.green() < 90 and c.blue() < 90]
    white = [c for c in colours if min(c.red(), c.green(), c.blue()) > 230]
    assert len(red) > len(changed) // 3 and white


def test_badge_reads_9_plus_above_nine(qapp: QApplication) -> None:
    """Counts above nine all show "9+", in a pill wider than a one-digit badge."""
    assert [badge_text(n) for n in (-1, 0, 1, 9, 10, 12, 250)] == [
        "",
        "",
        "1",
        "9",
        "9+",
        "9+",
        "9+",
    ]
    for px in ICON_SIZES_PX:
        twelve = tray_image("live", px, alerts=12)
        assert twelve == tray_image("live", px, alerts=10) == tray_image("live", px, alerts=99)
        assert twelve != tray_image("live", px, alerts=9)

        # "9+" is "9" and then some: more white ink in the badge.
        assert white_pixels(twelve) > white_pixels(tray_image("live", px, alerts=9))
    assert tray_icon("live", alerts=12, dark=False) is tray_icon("live", alerts=57, dark=False)


def test_paused_dims_and_adds_a_plate_snoozed_another(qapp: QApplication) -> None:
    """Paused: dimmed glyph plus pause plate; snoozed: a "z" plate; paused wins over snoozed."""
    px = 32
    plain = tray_image("live", px)
    paused = tray_image("live", px, paused=True)
    snoozed = tray_image("live", px, snoozed=True)
    assert plain not in (paused, snoozed) and paused != snoozed
    assert tray_image("live", px, paused=True, snoozed=True) == paused
    # Both plates sit in the bottom-left corner, opposite the badge ...
    assert all(x < px * 3 // 4 and y >= px // 4 for x, y in changed_pixels(plain, snoozed))
    badged = tray_image("live", px, alerts=12, paused=True)
    assert all(x >= px // 4 and y < px * 3 // 4 for x, y in changed_pixels(paused, badged))
    # ... and pausing also dims the rest of the glyph (top-left part of the disc).
    assert paused.pixelColor(10, 10).alpha() < plain.pixelColor(10, 10).alpha()


def test_icons_are_cached_by_their_arguments(qapp: QApplication) -> None:
    """The same arguments give the same QIcon object; a different one, another."""
    icon = tray_icon("reconnecting", alerts=2, paused=True, dark=True)
    assert icon is tray_icon("reconnecting", alerts=2, paused=True, dark=True)
    assert icon is not tray_icon("reconnecting", alerts=2, paused=True, dark=False)
    assert icon is not tray_icon("resyncing", alerts=2, paused=True, dark=True)
    assert tray_icon("live") is tray_icon("live", dark=is_dark_scheme())


def test_unknown_state_is_refused(qapp: QApplication) -> None:
    """A typo in a state is a bug, not a blank icon."""
    with pytest.raises(ValueError, match="unknown tray state"):
        tray_icon("online")


def test_resources_are_found_from_the_checkout() -> None:
    """resource_path finds the SVGs beside gui/, and names what it looked for when missing."""
    assert resource_path("icons/live.svg").read_text(encoding="utf-8").startswith("<svg")
    with pytest.raises(FileNotFoundError, match=r"nope\.svg"):
        resource_path("icons/nope.svg")


# ----------------------------------------------------------------------------- controller
@pytest.fixture
def tray(qapp: QApplication) -> Iterator[TrayController]:
    """A tray controller, never shown (offscreen has no tray), deleted after the test."""
    controller = TrayController()
    yield controller
    controller.deleteLater()


def action(tray: TrayController, text: str) -> QAction:
    """The menu action labelled ``text``."""
    matches = [a for a in tray.menu().actions() if a.text() == text]
    assert len(matches) == 1, [a.text() for a in tray.menu().actions()]
    return matches[0]


def test_offscreen_has_no_tray_and_show_says_so(
    tray: TrayController, caplog: pytest.LogCaptureFixture
) -> None:
    """show() falls back loudly: the app must know to keep its window up."""
    assert TrayController.available() is False
    assert tray.show() is False
    assert "no system tray" in caplog.text
    assert not tray.is_visible()


def test_menu_rebuild_on_show_does_not_leak_actions(tray: TrayController) -> None:
    """Each aboutToShow rebuilds the menu; the old actions are deleted, not piled up."""
    menu = tray.menu()
    menu.aboutToShow.emit()
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts[1:] == [
        ACTION_OPEN,
        ACTION_PAUSE,
        ACTION_RECONNECT,
        ACTION_WATCH,
        ACTION_FILTERS,
        ACTION_TRIGGERS,
        ACTION_SNOOZE,
        ACTION_SETTINGS,
        ACTION_QUIT,
    ]
    # What the person reads: "&" marks a mnemonic in a menu, so a lone one would vanish.
    shown = {a.iconText() for a in menu.actions() if not a.isSeparator()}
    assert "Filters & alerts" in shown, shown  # iconText drops the ellipsis too
    count, children = len(menu.actions()), len(menu.findChildren(QAction))
    for _ in range(5):
        menu.aboutToShow.emit()
        QApplication.processEvents()
    assert len(menu.actions()) == count
    assert len(menu.findChildren(QAction)) == children


def test_snooze_menu_offers_choices_then_resume(qtbot: QtBot, tray: TrayController) -> None:
    tray.menu().aboutToShow.emit()
    snooze = action(tray, ACTION_SNOOZE).menu()
    assert isinstance(snooze, QMenu)
    assert [a.text() for a in snooze.actions()] == [label for label, _ in SNOOZE_CHOICES]
    with qtbot.waitSignal(tray.snooze_requested, timeout=500) as blocker:
        snooze.actions()[1].trigger()
    assert blocker.args == [3600.0]
    tray.set_snoozed(True)
    tray.menu().aboutToShow.emit()
    with qtbot.waitSignal(tray.snooze_requested, timeout=500) as blocker:
        action(tray, ACTION_RESUME).trigger()
    assert blocker.args == [0.0]


def test_menu_reflects_state_when_shown(tray: TrayController) -> None:
    """The check mark and the status line follow the state at the time the menu opens."""
    tray.set_health("reconnecting", "retrying in 8 s")
    tray.set_paused(True)
    tray.menu().aboutToShow.emit()
    assert action(tray, ACTION_PAUSE).isChecked()
    status = tray.menu().actions()[0]
    assert status.text() == "Reconnecting" and not status.isEnabled()
    tray.set_paused(False)
    tray.menu().aboutToShow.emit()
    assert not action(tray, ACTION_PAUSE).isChecked()


@pytest.mark.parametrize(
    ("text", "signal", "args"),
    [
        (ACTION_OPEN, "open_window_requested", []),
        (ACTION_PAUSE, "pause_toggled", [True]),
        (ACTION_RECONNECT, "reconnect_requested", []),
        (ACTION_WATCH, "watch_requested", []),
        (ACTION_FILTERS, "filters_requested", []),
        (ACTION_TRIGGERS, "triggers_requested", []),
        (ACTION_SETTINGS, "settings_requested", []),
        (ACTION_QUIT, "quit_requested", []),
    ],
)
def test_each_menu_action_emits_its_signal(
    qtbot: QtBot, tray: TrayController, text: str, signal: str, args: list[object]
) -> None:
    """Triggering an action (after a rebuild, as a user would see it) emits its request."""
    tray.menu().aboutToShow.emit()
    with qtbot.waitSignal(getattr(tray, signal), timeout=1000) as blocker:
        action(tray, text).trigger()
    assert blocker.args == args


def test_pause_action_asks_to_resume_when_paused(qtbot: QtBot, tray: TrayController) -> None:
    """Unchecking "Pause feed" asks for False."""
    tray.set_paused(True)
    tray.menu().aboutToShow.emit()
    with qtbot.waitSignal(tray.pause_toggled, timeout=1000) as blocker:
        action(tray, ACTION_PAUSE).trigger()
    assert blocker.args == [False]


def test_click_toggles_the_window_and_double_click_opens_it(
    qtbot: QtBot, tray: TrayController
) -> None:
    """Left click (Trigger) toggles; double click opens; a middle click does nothing."""
    icon = tray.findChild(QSystemTrayIcon)
    assert icon is not None
    with qtbot.waitSignal(tray.toggle_window_requested, timeout=1000):
        icon.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    with qtbot.waitSignal(tray.open_window_requested, timeout=1000):
        icon.activated.emit(QSystemTrayIcon.ActivationReason.DoubleClick)
    with (
        qtbot.assertNotEmitted(tray.toggle_window_requested),
        qtbot.assertNotEmitted(tray.open_window_requested),
    ):
        icon.activated.emit(QSystemTrayIcon.ActivationReason.MiddleClick)


def test_tooltip_is_a_one_glance_summary(tray: TrayController) -> None:
    """State with the data's age, the detail, the summary lines and the alert count."""
    tray.set_health("live", "")
    tray.set_summary(["Sales EN: 3 waiting", "Support: 1 waiting"], datetime(2025, 3, 4, 14, 3, 21))
    tray.set_alert_count(2)
    assert tray.tooltip().splitlines() == [
        "Live · data as of 14:03:21",
        "Sales EN: 3 waiting",
        "Support: 1 waiting",
        "2 alerts",
    ]
    tray.set_health("stale", "no frame for 45 s")
    tray.set_alert_count(1)
    tray.set_snoozed(True)
    lines = tray.tooltip().splitlines()
    assert lines[:3] == ["Stale · data as of 14:03:21", "no frame for 45 s", "Alerts snoozed"]
    assert lines[-1] == "1 alert"
    tray.set_summary([f"Queue {n}: 0 waiting" for n in range(20)], None)
    lines = tray.tooltip().splitlines()
    assert lines[0] == "Stale" and "… and 12 more" in lines


def test_icon_follows_health_and_overlays(tray: TrayController) -> None:
    """Each setter swaps to the matching cached icon."""
    tray.set_health("live")
    assert tray.icon().cacheKey() == tray_icon("live").cacheKey()
    tray.set_alert_count(4)
    tray.set_paused(True)
    assert tray.icon().cacheKey() == tray_icon("live", alerts=4, paused=True).cacheKey()
    with pytest.raises(ValueError, match="unknown health state"):
        tray.set_health("online")


# --------------------------------------------------------------------------- single instance
@pytest.fixture
def instance_name(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A name no other test or running app uses, in a private runtime folder of the test's own.

    The folder is short on purpose: a Unix socket path must fit in about 100 bytes.
    """
    runtime = Path(tempfile.mkdtemp(prefix="gt-rt-"))  # mode 0700
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    yield f"genesys-tray-test-{uuid.uuid4().hex[:12]}"
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def guards(qapp: QApplication) -> Iterator[list[SingleInstance]]:
    """SingleInstance objects made by a test, all released afterwards."""
    made: list[SingleInstance] = []
    yield made
    for guard in made:
        guard.release()
        guard.deleteLater()


def test_second_launch_loses_and_activates_the_first(
    qtbot: QtBot, guards: list[SingleInstance], instance_name: str
) -> None:
    """The first claim wins; a second gets False and the first is asked to come forward."""
    first, second = SingleInstance(), SingleInstance()
    guards += [first, second]
    assert first.claim(instance_name) is True
    assert first.claimed
    with qtbot.waitSignal(first.activation_requested, timeout=3000):
        assert second.claim(instance_name) is False
    assert not second.claimed


def test_released_name_can_be_claimed_again(
    guards: list[SingleInstance], instance_name: str
) -> None:
    """release() gives the name up cleanly (the socket file goes with it)."""
    first, second = SingleInstance(), SingleInstance()
    guards += [first, second]
    assert first.claim(instance_name)
    path = first.full_server_name()
    first.release()
    first.release()  # twice is fine
    if sys.platform != "win32":
        assert not Path(path).exists()
    assert second.claim(instance_name) is True


@pytest.mark.skipif(sys.platform == "win32", reason="stale socket files are a Unix matter")
def test_stale_socket_of_a_crashed_instance_is_reclaimed(
    qtbot: QtBot, guards: list[SingleInstance], instance_name: str
) -> None:
    """A socket file nobody listens on (the app crashed) does not block the next launch."""
    path = SingleInstance.server_name(instance_name)
    crashed = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    crashed.bind(path)  # bound, never listening, closed without unlink: what a crash leaves
    crashed.close()
    assert stat.S_ISSOCK(os.stat(path).st_mode)

    survivor, late = SingleInstance(), SingleInstance()
    guards += [survivor, late]
    assert survivor.claim(instance_name) is True
    assert survivor.full_server_name() == path
    with qtbot.waitSignal(survivor.activation_requested, timeout=3000):
        assert late.claim(instance_name) is False


@pytest.mark.skipif(sys.platform == "win32", reason="Unix socket paths")
def test_socket_lives_in_a_folder_only_the_user_can_enter(
    monkeypatch: pytest.MonkeyPatch, instance_name: str
) -> None:
    """XDG_RUNTIME_DIR when private; otherwise a 0700 folder of ours, never a shared one."""
    runtime = Path(os.environ["XDG_RUNTIME_DIR"])  # the fixture's private folder
    assert SingleInstance.server_name(instance_name) == str(runtime / f"{instance_name}.sock")

    runtime.chmod(0o755)  # not private: not used
    path = Path(SingleInstance.server_name(instance_name))
    assert runtime not in path.parents
    folder = path.parent.stat()
    assert folder.st_uid == os.getuid() and stat.S_IMODE(folder.st_mode) == 0o700
    path.parent.rmdir()

    deep = runtime / ("d" * 100)  # private, but too deep for a socket path
    deep.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    assert len(SingleInstance.server_name(instance_name)) < 100
    Path(SingleInstance.server_name(instance_name)).parent.rmdir()

    with pytest.raises(ValueError, match="invalid instance name"):
        SingleInstance.server_name("../evil")


def test_icon_resource_svgs_parse(qapp: QApplication) -> None:
    """Every shipped SVG is valid and themable (guards hand edits of resources/icons/)."""
    for state in STATES:
        assert not tray_icon(state, dark=False).isNull()
    svgs = sorted(p.stem for p in resource_path("icons/live.svg").parent.glob("*.svg"))
    assert svgs == sorted(STATES)
    assert isinstance(tray_icon("live", snoozed=True), QIcon)
