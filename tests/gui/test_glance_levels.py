"""The glance's pieces offscreen: thresholds as settings, the tray's worst queue, the header
strip and the Queues board's level proxy, over a store filled by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.alerts.model import Alert, AlertState, Condition, Severity
from core.state.levels import DEFAULT_LIMITS, Level, Limits, QueueLimits, Thresholds
from core.state.store import Store
from core.storage.settings.model import AppConfig
from core.streaming.events import (
    PresenceChanged,
    QueueConversationChanged,
    QueueObserved,
    RoutingChanged,
)
from gui.bridge import EngineBridge
from gui.dialogs.settings_dialog import SettingsDialog
from gui.dialogs.thresholds_page import ThresholdsPage
from gui.models.level_style import LEVEL_BACKGROUND, LEVEL_FOREGROUND
from gui.models.presence_style import contrast_ratio
from gui.models.queue_levels import FIRING_ROLE, LEVEL_ROLE, ROW_LEVEL_ROLE, QueueLevelsProxy
from gui.models.queues import QueuesModel
from gui.platform.autostart import Autostart
from gui.thresholds import load_thresholds, save_thresholds
from gui.tray.controller import TrayController
from gui.tray.icons import LEVEL_BADGE, tray_icon, tray_image
from gui.window.header_strip import HeaderStrip

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(seconds=30)


def _store() -> Store:
    store = Store()
    for queue_id, name in (("q1", "Support"), ("q2", "Sales")):
        store.queue(queue_id).name = name
        store.apply(QueueObserved(queue_id, waiting=0, interacting=0, alerting=0))
    return store


def _wait(store: Store, queue_id: str, count: int) -> None:
    store.apply(QueueObserved(queue_id, waiting=count))
    for n in range(count):
        store.apply(QueueConversationChanged(queue_id, f"{queue_id}-{n}", "waiting", None, T0))


# ------------------------------------------------------------------------ thresholds as settings
def test_thresholds_round_trip_and_nonsense_falls_back_to_the_defaults(tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    assert load_thresholds(settings) == Thresholds()  # unset: the defaults
    own = QueueLimits(waiting=Limits(5, None), longest_wait_s=Limits(30, 90))
    save_thresholds(settings, Thresholds(DEFAULT_LIMITS, {"q1": own}))
    again = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    assert load_thresholds(again) == Thresholds(DEFAULT_LIMITS, {"q1": own})
    with pytest.raises(ValueError, match="must be above the warning level"):
        save_thresholds(settings, Thresholds(QueueLimits(waiting=Limits(9, 2))))
    again.setValue("thresholds/queues/q2", "lots,of,nonsense")
    again.setValue("thresholds/default", "1,2")
    assert load_thresholds(again) == Thresholds(DEFAULT_LIMITS, {"q1": own})


def test_the_page_edits_all_queues_and_one_queue_and_refuses_a_wrong_order(
    qtbot: QtBot, tmp_path: Path
) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    page = ThresholdsPage(settings, [("q1", "Support"), ("q2", "Sales")])
    qtbot.addWidget(page)
    assert [(w.value(), c.value()) for w, c in page.spins] == [(3, 8), (60, 180), (80, 60)]
    page.spins[0][0].setValue(4)  # all queues: warning at 4 waiting
    page.scope.setCurrentIndex(page.scope.findData("q1"))
    assert not page.spins[0][0].isEnabled()  # no limits of its own yet
    page.own_box.setChecked(True)
    page.spins[1][1].setValue(0)  # "Off": no critical longest wait for Support
    assert page.spins[1][1].text() == "Off"
    assert page.save() is None
    kept = load_thresholds(settings)
    assert kept.default.waiting == Limits(4, 8)
    assert kept.for_queue("q1").longest_wait_s == Limits(60, None)
    assert kept.for_queue("q2") == kept.default

    page.spins[0][0].setValue(10)  # Support: warning 10 above critical 8
    problem = page.save()
    assert problem == (
        "Queue limits for Support: Waiting: the critical level (8) must be above the warning"
        " level (10)."
    )
    assert page.problem_label.isVisibleTo(page) and page.problem_label.text() == problem
    assert load_thresholds(settings) == kept  # nothing saved


async def test_the_settings_dialog_refuses_unusable_limits(qtbot: QtBot, tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    saved: list[AppConfig] = []

    async def save(config: AppConfig) -> None:
        saved.append(config)

    autostart = Autostart(platform="other", environ={}, which=lambda _: None)
    dialog = SettingsDialog(
        AppConfig(), save=save, autostart=autostart, thresholds=ThresholdsPage(settings)
    )
    qtbot.addWidget(dialog)
    dialog.thresholds.spins[2][1].setValue(90)  # critical below 90 % over warning below 80 %
    assert not await dialog.apply()
    assert "Service level: the critical level (90) must be below" in dialog.status.text()
    assert saved == []
    dialog.thresholds.spins[2][1].setValue(50)
    assert await dialog.apply()
    assert load_thresholds(settings).default.service_level_pct == Limits(80, 50, below=True)


# ------------------------------------------------------------------------------------- tray
@pytest.fixture
def tray(qapp: QApplication) -> Any:
    controller = TrayController()
    yield controller
    controller.deleteLater()


def test_the_tooltip_says_the_connection_once(tray: TrayController) -> None:
    """Defect 10: "live" twice (the state's label, then the engine's detail "live")."""
    tray.set_health("live", "live")
    tray.set_summary(["All queues within limits"], datetime(2026, 12, 4, 14, 3, 21))
    lines = tray.tooltip().splitlines()
    assert sum("live" in line.lower() for line in lines) == 1, lines
    tray.set_health("resyncing", "re-syncing")
    assert (
        sum("catching up" in x.lower() or "sync" in x.lower() for x in tray.tooltip().splitlines())
        == 1
    )
    tray.set_health("stale", "no heartbeat")  # a detail that says more stays
    assert "no heartbeat" in tray.tooltip().splitlines()


def _amber_pixels(image: QImage, colour: str) -> int:
    want = QColor(colour)
    return sum(
        1
        for y in range(image.height())
        for x in range(image.width())
        if image.pixelColor(x, y).rgb() == want.rgb()
    )


def test_the_icon_shows_the_worst_queue_and_the_calls_waiting(tray: TrayController) -> None:
    tray.set_health("live")
    tray.set_queue_state("warning", 4)
    assert tray.queue_level() == "warning" and tray.waiting() == 4
    assert tray.icon().cacheKey() == tray_icon("live", queue_level="warning", waiting=4).cacheKey()
    warning = tray_image("live", 32, queue_level="warning", waiting=4)
    critical = tray_image("live", 32, queue_level="critical", waiting=4)
    plain = tray_image("live", 32)
    assert _amber_pixels(warning, LEVEL_BADGE["warning"][0]) > 20
    assert _amber_pixels(critical, LEVEL_BADGE["critical"][0]) > 20
    # Warning and critical differ in shape (square corners), not only in colour.
    alpha = [
        (warning.pixelColor(x, y).alpha() > 128) != (critical.pixelColor(x, y).alpha() > 128)
        for y in range(32)
        for x in range(32)
    ]
    assert sum(alpha) >= 4
    assert plain != tray_image("live", 32, queue_level="ok", waiting=2)  # a grey count
    assert plain == tray_image("live", 32, queue_level="ok", waiting=0)  # nothing to say
    assert tray_image("live", 32, queue_level="warning", waiting=0) != plain  # "!": low SL
    with pytest.raises(ValueError, match="unknown queue level"):
        tray.set_queue_state("amber", 1)


def test_the_tooltip_is_one_line_per_problem(qtbot: QtBot, tmp_path: Path) -> None:
    """The window's summary_lines() is the glance: the lines the app gives the tray."""
    from gui.thresholds import glance

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    store = _store()
    assert glance(store, settings, NOW).problem_lines() == ["All queues within limits"]
    _wait(store, "q1", 8)
    lines = glance(store, settings, T0 + timedelta(seconds=190)).problem_lines()
    assert lines == ["Support: 8 waiting, longest 3:10 (critical)"]


# ----------------------------------------------------------------------------- header strip
class FakeBridge(QObject):
    """The three signals of gui.bridge.EngineBridge the strip follows."""

    queues_changed = Signal(list)
    users_changed = Signal(list)
    clock_ticked = Signal()


def _strip(qtbot: QtBot, store: Store, tmp_path: Path, clock: list[datetime]) -> Any:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    bridge = FakeBridge()
    strip = HeaderStrip(store, settings, cast(EngineBridge, bridge), clock=lambda: clock[0])
    qtbot.addWidget(strip)
    return strip, bridge


def test_the_strip_colours_each_figure_and_follows_the_bridge(qtbot: QtBot, tmp_path: Path) -> None:
    store = _store()
    clock = [NOW]
    strip, bridge = _strip(qtbot, store, tmp_path, clock)
    assert strip.level_of("waiting") is Level.OK and strip.text_of("waiting") == "0"
    _wait(store, "q1", 3)
    assert strip.level_of("waiting") is Level.OK  # not until the bridge says so
    bridge.queues_changed.emit(["q1"])
    bridge.queues_changed.emit(["q1"])  # a burst of batches: read once, a moment later
    qtbot.waitUntil(lambda: strip.text_of("waiting") == "3", timeout=2000)
    assert strip.level_of("waiting") is Level.WARNING
    button = strip.button("waiting")
    assert button.accessibleName() == "Waiting: 3, warning"
    assert "font-weight: bold" in button.styleSheet()
    assert strip.button("interacting").accessibleName() == "Interacting: 0, within limits"
    clock[0] = T0 + timedelta(seconds=61)  # nothing changes but the time
    bridge.clock_ticked.emit()
    assert (strip.text_of("longest_wait"), strip.level_of("longest_wait")) == (
        "1:01",
        Level.WARNING,
    )
    store.apply(PresenceChanged("u", "d", "ON_QUEUE", "", T0))
    store.apply(RoutingChanged("u", "NOT_RESPONDING", T0))
    bridge.users_changed.emit(["u"])
    qtbot.waitUntil(lambda: strip.level_of("not_responding") is Level.WARNING, timeout=2000)
    assert strip.level_of("sl") is None and "not known" in strip.button("sl").accessibleName()


@pytest.mark.parametrize(
    ("figure", "asks"),
    [
        ("waiting", "waiting"),
        ("longest_wait", "waiting"),
        ("sl", "sl"),
        ("on_queue", "on_queue"),
        ("available", "available"),
        ("interacting", "interacting"),
        ("not_responding", "not_responding"),
        ("on_break", "on_break"),
    ],
)
def test_a_click_asks_to_filter_to_what_the_figure_counts(
    qtbot: QtBot, tmp_path: Path, figure: str, asks: str
) -> None:
    strip, _ = _strip(qtbot, _store(), tmp_path, [NOW])
    with qtbot.waitSignal(strip.filter_requested, timeout=1000) as signal:
        strip.button(figure).click()
    assert signal.args == [asks]


@pytest.mark.parametrize("level", [Level.WARNING, Level.CRITICAL])
def test_level_colours_read_in_light_and_dark(level: Level) -> None:
    for variant in ("light", "dark"):
        fill = QColor(getattr(LEVEL_BACKGROUND[level], variant))
        ink = QColor(getattr(LEVEL_FOREGROUND[level], variant))
        assert contrast_ratio(fill, ink) >= 4.5, (level, variant)


# ------------------------------------------------------------------------------ level proxy
def _alert(queue_id: str, state: AlertState = AlertState.FIRING) -> Alert:
    return Alert(
        id="a1",
        rule_id="r1",
        rule_name="Calls waiting",
        subject_id=queue_id,
        subject_name="Support",
        severity=Severity.WARNING,
        state=state,
        fired_at=T0,
        resolved_at=None,
        value=3,
        summary="",
        condition=Condition.QUEUE_WAITING_ABOVE,
    )


def test_the_proxy_colours_cells_and_rows_and_marks_firing_alerts(qtbot: QtBot) -> None:
    store = _store()
    model = QueuesModel(store, clock=lambda: NOW)
    model.set_queues(["q1", "q2"])
    proxy = QueueLevelsProxy(model, store, Thresholds, clock=lambda: NOW)
    waiting = QueuesModel.WAITING
    name = QueuesModel.NAME

    def cell(row: int, column: int, role: int) -> Any:
        return proxy.index(row, column).data(role)

    assert cell(0, waiting, ROW_LEVEL_ROLE) == "ok"
    assert cell(0, waiting, Qt.ItemDataRole.BackgroundRole) is None
    with qtbot.waitSignal(proxy.dataChanged, timeout=1000):
        _wait(store, "q1", 8)
        model.update_queues(["q1"])
    assert cell(0, waiting, LEVEL_ROLE) == "critical"
    assert cell(0, name, ROW_LEVEL_ROLE) == "critical"
    strong = cell(0, waiting, Qt.ItemDataRole.BackgroundRole).color()
    tint = cell(0, name, Qt.ItemDataRole.BackgroundRole).color()
    assert strong.name() in (
        LEVEL_BACKGROUND[Level.CRITICAL].light,
        LEVEL_BACKGROUND[Level.CRITICAL].dark,
    )
    assert tint != strong  # the row is tinted, its figure is strong
    assert cell(0, waiting, Qt.ItemDataRole.FontRole).bold()
    assert cell(0, name, Qt.ItemDataRole.DecorationRole) is not None  # the octagon
    assert "8 waiting" in cell(0, name, Qt.ItemDataRole.ToolTipRole)
    assert cell(1, waiting, ROW_LEVEL_ROLE) == "ok"
    assert cell(1, name, Qt.ItemDataRole.BackgroundRole) is None

    assert cell(0, name, FIRING_ROLE) == []
    with qtbot.waitSignal(proxy.dataChanged, timeout=1000):
        proxy.set_alerts([_alert("q1")])
    assert cell(0, name, FIRING_ROLE) == ["Calls waiting"]
    assert cell(0, name, Qt.ItemDataRole.FontRole).underline()
    assert "Alert firing: Calls waiting" in cell(0, name, Qt.ItemDataRole.ToolTipRole)
    proxy.set_alerts([_alert("q1", AlertState.ACKNOWLEDGED)])
    assert cell(0, name, FIRING_ROLE) == []

    store.apply(QueueObserved("q1", waiting=0))
    for n in range(8):
        store.apply(QueueConversationChanged("q1", f"q1-{n}", "ended", None, None))
    model.update_queues(["q1"])
    assert cell(0, waiting, ROW_LEVEL_ROLE) == "ok"
    assert cell(0, name, Qt.ItemDataRole.BackgroundRole) is None


def test_the_proxy_follows_the_thresholds_it_is_given(qtbot: QtBot) -> None:
    store = _store()
    _wait(store, "q2", 3)
    model = QueuesModel(store, clock=lambda: NOW)
    model.set_queues(["q1", "q2"])
    current = [Thresholds()]
    proxy = QueueLevelsProxy(model, store, lambda: current[0], clock=lambda: NOW)
    assert proxy.index(1, QueuesModel.WAITING).data(LEVEL_ROLE) == "warning"
    current[0] = Thresholds(per_queue={"q2": QueueLimits(waiting=Limits(5, 10))})
    proxy.refresh()
    assert proxy.index(1, QueuesModel.WAITING).data(LEVEL_ROLE) == "ok"
    assert proxy.glance(1) is not None and proxy.glance(1).name == "Sales"  # type: ignore[union-attr]


def test_a_burst_of_changes_is_read_once(qtbot: QtBot, tmp_path: Path) -> None:
    """Many batches in a moment cost one glance, not one each (a glance reads every user)."""
    store = _store()
    strip, bridge = _strip(qtbot, store, tmp_path, [NOW])
    reads: list[int] = []
    real = strip.refresh

    def counted() -> None:
        reads.append(1)
        real()

    strip._soon.timeout.disconnect()
    strip._soon.timeout.connect(counted)
    _wait(store, "q1", 3)
    for _ in range(50):
        bridge.queues_changed.emit(["q1"])
        bridge.users_changed.emit(["u"])
    qtbot.waitUntil(lambda: strip.text_of("waiting") == "3", timeout=2000)
    assert len(reads) == 1
