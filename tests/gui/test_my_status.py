"""My own status: the tray's me mark, its "My status" menu and the "Me" tab (issue 17).

The painted icons are sampled pixel by pixel; the end-to-end test signs in to the sandbox as an
agent, chooses a presence in the tray's menu and waits for the org's truth, the store, the board
and the tray icon to show it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from PySide6.QtCore import QRectF, QSettings
from PySide6.QtGui import QAction, QColor, QImage
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu
from pytestqt.qtbot import QtBot

from core.app.bootstrap import build_engine
from core.app.me import MeProfile, MyStatus, PresenceChoice, is_supervisor, presence_choices
from core.app.pipeline import Pipeline
from core.app.sign_in import sign_in_session
from core.auth.credentials import MemoryCredentialStore
from core.engine.ports import ServiceApi
from core.engine.records import EngineState
from core.engine.selection import Selection, read_selection
from core.engine.service import MonitorService
from core.engine.token_keeper import TokenSource
from core.errors import ApiError, ForbiddenError
from core.rest.schema import PresenceDefinition, QueueMember, QueueRecord, UserRecord
from core.rest.user_actions import ActionRefused
from core.state.store import Store
from core.streaming.events import PresenceChanged, RoutingChanged
from gui.app import GuiApp
from gui.bridge import EngineBridge
from gui.me_ui import MeUi
from gui.models.presence_style import PRESENCE_COLOURS, RED
from gui.options import GuiOptions
from gui.tray.controller import (
    ACTION_MY_STATUS,
    ACTION_OFF_QUEUE,
    ACTION_ON_QUEUE,
    TrayController,
)
from gui.tray.icons import ICON_SIZES_PX, me_rect, tray_image
from gui.window.main_window import MainWindow
from gui.window.my_view import MyView
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.gui.signed_in import engine_signed_in_as

WAIT_S = 20.0
GLANCE_SIZES = (16, 22, 24)
Json = dict[str, Any]
T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
STATUSES: tuple[tuple[str, str], ...] = (
    ("AVAILABLE", "OFF_QUEUE"),
    ("BREAK", "OFF_QUEUE"),
    ("BUSY", "OFF_QUEUE"),
    ("ON_QUEUE", "IDLE"),
    ("ON_QUEUE", "NOT_RESPONDING"),
)


def _pixels(image: QImage, rect: QRectF) -> list[tuple[int, int, int, int]]:
    """Every pixel of ``rect`` as (r, g, b, a)."""
    out = []
    for y in range(int(rect.top()), int(rect.bottom())):
        for x in range(int(rect.left()), int(rect.right())):
            c = image.pixelColor(x, y)
            out.append((c.red(), c.green(), c.blue(), c.alpha()))
    return out


def _centre(image: QImage, size: int) -> QColor:
    centre = me_rect(size).center()
    return image.pixelColor(int(centre.x()), int(centre.y()))


def _near(a: QColor, b: QColor, tolerance: int = 8) -> bool:
    pairs = ((a.red(), b.red()), (a.green(), b.green()), (a.blue(), b.blue()))
    return all(abs(x - y) <= tolerance for x, y in pairs)


# --------------------------------------------------------------------------- the painted mark
@pytest.mark.parametrize("dark", [False, True])
def test_the_me_mark_differs_for_each_status_in_its_own_corner(qtbot: QtBot, dark: bool) -> None:
    for size in GLANCE_SIZES:
        kwargs: dict[str, Any] = {"queue_level": "warning", "waiting": 3, "dark": dark}
        bare = tray_image("live", size, **kwargs)
        rect = me_rect(size)
        marks = {
            status: tray_image("live", size, me_presence=status[0], me_routing=status[1], **kwargs)
            for status in STATUSES
        }
        corners = {status: tuple(_pixels(image, rect)) for status, image in marks.items()}
        assert len(set(corners.values())) == len(STATUSES), f"{size} px: two statuses look alike"
        for status, image in marks.items():
            assert corners[status] != tuple(_pixels(bare, rect)), f"{size} px {status}: no mark"
            # The health glyph and the waiting badge outside the corner are untouched.
            halo = QRectF(rect).adjusted(-2, -2, 0, 0)
            for y in range(size):
                for x in range(size):
                    if not halo.contains(x + 0.5, y + 0.5):
                        assert image.pixelColor(x, y) == bare.pixelColor(x, y), (size, status, x, y)
        # The colour is my presence's (the org's shade for its system presence), the shape my
        # routing's: a solid disc off queue, a ring (the panel shows through) on queue.
        available = marks[("AVAILABLE", "OFF_QUEUE")]
        green = PRESENCE_COLOURS["AVAILABLE"]
        assert _near(_centre(available, size), QColor(green.dark if dark else green.light))
        ring = marks[("ON_QUEUE", "IDLE")]
        assert _centre(ring, size).alpha() == 0
        teal = PRESENCE_COLOURS["ON_QUEUE"]
        edge = me_rect(size)
        left = ring.pixelColor(int(edge.left()) + 1, int(edge.center().y()))
        assert _near(left, QColor(teal.dark if dark else teal.light), 40)
        alarm = marks[("ON_QUEUE", "NOT_RESPONDING")]
        assert _near(_centre(alarm, size), QColor(RED.dark if dark else RED.light))


def test_no_me_no_mark(qtbot: QtBot) -> None:
    for size in ICON_SIZES_PX:
        plain = tray_image("live", size)
        assert plain == tray_image("live", size, me_presence=None, me_routing=None)


# --------------------------------------------------------------------------- the menu
CHOICES = (
    PresenceChoice("p-avail", "Available", "AVAILABLE", primary=True),
    PresenceChoice("p-break", "Break", "BREAK", primary=True),
    PresenceChoice("p-lunch", "Lunch & learn", "MEAL", primary=False),
)


def _submenu(tray: TrayController) -> QMenu | None:
    tray.menu().aboutToShow.emit()
    for action in tray.menu().actions():
        if action.menu() is not None and action.text() == ACTION_MY_STATUS:
            menu = action.menu()
            assert isinstance(menu, QMenu)
            return menu
    return None


def _action(menu: QMenu, text: str) -> QAction:
    found = [a for a in menu.actions() if a.text() == text]
    assert len(found) == 1, [a.text() for a in menu.actions()]
    return found[0]


def test_my_status_menu_offers_the_orgs_presences_and_asks(qtbot: QtBot) -> None:
    tray = TrayController()
    assert _submenu(tray) is None  # nobody yet: a service account never gets one
    tray.set_me(CHOICES)
    tray.set_my_status(MyStatus("p-break", "BREAK", "Break", "OFF_QUEUE", T0))
    menu = _submenu(tray)
    assert menu is not None
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["Available", "Break", "Lunch && learn", ACTION_ON_QUEUE, ACTION_OFF_QUEUE]
    checked = [a.text() for a in menu.actions() if a.isChecked()]
    assert checked == ["Break", ACTION_OFF_QUEUE]
    separators = [i for i, a in enumerate(menu.actions()) if a.isSeparator()]
    assert separators == [2, 4]  # the org's own presences after the primary ones
    asked: list[object] = []
    tray.presence_requested.connect(asked.append)
    tray.routing_requested.connect(asked.append)
    _action(menu, "Lunch && learn").trigger()
    _action(menu, ACTION_ON_QUEUE).trigger()
    assert asked == ["p-lunch", True]
    assert "Me: Break · Off queue" in tray.tooltip().splitlines()
    # The icon shows the mark; without a "me" it is gone again.
    marked = tray.icon().pixmap(22, 22).toImage()
    assert _centre(marked, 22) != _centre(tray_image("starting", 22), 22)
    tray.set_me(None)
    assert _submenu(tray) is None and tray.my_status() is None
    assert "Me:" not in tray.tooltip()


def test_presence_choices_put_primary_first_and_skip_what_the_router_sets() -> None:
    definitions = [
        PresenceDefinition("d-lunch", "MEAL", "Lunch", "User", deactivated=False),
        PresenceDefinition("d-old", "BREAK", "Smoke", "User", deactivated=True),
        PresenceDefinition("d-offline", "OFFLINE", "Offline", "System", deactivated=False),
        PresenceDefinition("d-onq", "ON_QUEUE", "On Queue", "System", deactivated=False),
        PresenceDefinition("d-idle", "IDLE", "Idle", "System", deactivated=False),
        PresenceDefinition("d-avail", "AVAILABLE", "Available", "System", deactivated=False),
    ]
    choices = presence_choices(definitions)
    assert [(c.id, c.primary) for c in choices] == [
        ("d-avail", True),
        ("d-offline", True),
        ("d-lunch", False),
    ]
    assert is_supervisor({"analytics:queueObservation:view", "x:y:z"})
    assert not is_supervisor({"directory:user:view", "routing:queue:view"})


class _Api:
    """The selection's reads, with one queue of two members."""

    async def users(self, ids: Any = None) -> list[UserRecord]:
        return [UserRecord(uid, f"Name of {uid}", None, None) for uid in ids or ()]

    async def queues(self, name: str | None = None, ids: Any = None) -> list[QueueRecord]:
        return []

    async def my_queues(self) -> list[QueueRecord]:
        return [QueueRecord("q1", "Sales", 1, 1)]

    async def queue_members(self, queue_id: str) -> list[QueueMember]:
        return [QueueMember(UserRecord("a1", "Ann", None, None), joined=True, ring_number=None)]


async def test_the_signed_in_person_is_always_watched_but_no_service_account() -> None:
    mine = Selection("mine", "members")
    plain = await read_selection(_Api(), mine)
    assert set(plain.users) == {"a1"}
    with_me = await read_selection(_Api(), mine, me="me-1")
    assert with_me.users == {"a1": "Ann", "me-1": "Name of me-1"}
    assert set((await read_selection(_Api(), mine, me="a1")).users) == {"a1"}
    service = await read_selection(_Api(), mine, me="me-1", service_account=True)
    assert "me-1" not in service.users


def test_the_me_tab_shows_my_status_its_time_and_my_queues(qtbot: QtBot) -> None:
    store = Store()
    store.presence_labels.update({"d-lunch": "Lunch"})
    store.apply(PresenceChanged("me", "d-lunch", "MEAL", "", T0))
    store.apply(RoutingChanged("me", "OFF_QUEUE", T0))
    sales, support = store.queue("q1"), store.queue("q2")
    sales.name, sales.waiting, sales.on_queue = "Sales", 4, 2
    support.name = "Support"  # watched, no figures yet
    view = MyView(store, "me")
    qtbot.addWidget(view)
    profile = MeProfile("me", "Ann Agent", queues={"q1": "Sales", "q2": "Support", "q3": "Old"})
    view.use_profile(profile)
    view.refresh(T0 + timedelta(minutes=3, seconds=7))
    assert view.who.text() == "Ann Agent"
    assert view.status.text() == "Lunch · Off queue — for 03:07"
    rows = [
        [(item.text() if (item := view.table.item(r, c)) else "") for c in range(3)]
        for r in range(view.table.rowCount())
    ]
    assert rows == [["Sales", "4", "2"], ["Support", "—", "—"], ["Old", "—", "—"]]
    assert view.no_figures.isHidden()
    view.use_profile(MeProfile("me", "Ann Agent", queues={"q1": "Sales"}, sees_queue_figures=False))
    assert not view.no_figures.isHidden()
    assert "analytics:queueObservation:view" in view.no_figures.text()


async def test_a_refused_or_failed_change_is_said_in_plain_words(qtbot: QtBot) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    bridge = EngineBridge(Pipeline(Store()))
    me = MeUi(cast(MonitorService, None), bridge, user_id=None, tray=None, window=window)
    said: list[str] = []
    me.problem.connect(said.append)

    source = ForbiddenError(403, "Missing permission", method="PATCH", path="/api/v2/x")
    refusal = ActionRefused("presence:userPresence:edit", source)

    async def refused() -> None:
        raise refusal

    async def failed() -> None:
        raise ApiError(502, "Bad gateway", method="PUT", path="/api/v2/y")

    await me._act(refused())
    await me._act(failed())
    assert said[0] == refusal.message  # its words, which name the permission
    assert "presence:userPresence:edit" in said[0]
    assert said[1].startswith("Your status was not changed: ")
    assert window.statusBar().currentMessage() == said[1]
    await me.stop()
    bridge.stop()


def test_the_me_tab_joins_the_window_and_find_there_is_harmless(
    qtbot: QtBot, settings: QSettings
) -> None:
    store = Store()
    bridge = EngineBridge(Pipeline(store))
    window = MainWindow(store, bridge, tray_present=False, settings=settings)
    qtbot.addWidget(window)
    service = MonitorService(cast(ServiceApi, None), cast(TokenSource, None), store=store)
    me = MeUi(service, bridge, user_id="me", tray=None, window=window, tabs=window.tabs)
    assert service.me == "me" and me.view is not None
    assert window.tabs.indexOf(me.view) == window.tabs.count() - 1  # after the boards
    assert window.tabs.tabText(window.tabs.indexOf(me.view)) == "M&e"
    window.tabs.setCurrentWidget(me.view)
    finds = [a for m in window.menuBar().findChildren(QMenu) for a in m.actions()]
    find = next(a for a in finds if a.text() == "&Find")
    find.trigger()  # no search box on "Me": nothing happens (and nothing breaks)
    assert window.tabs.currentWidget() is me.view
    window.stop_timers()
    bridge.stop()


# --------------------------------------------------------------------------- end to end
@contextlib.asynccontextmanager
async def _org() -> AsyncIterator[tuple[Sandbox, httpx.AsyncClient]]:
    """A small, still sandbox org, stopped inside the test: pytest-qt processes Qt events after
    the test body with no asyncio loop running, and a sandbox timer firing then would fail."""
    sandbox = Sandbox(
        SandboxConfig(
            port=0, users=30, queues=4, seed=7, simulate=False, observation_min_interval_s=0.05
        )
    )
    url = await sandbox.start()
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as http:
        try:
            yield sandbox, http
        finally:
            await sandbox.stop()


def _an_agent(sandbox: Sandbox) -> str:
    """An agent (no supervisor permissions) who is a member of a queue, off queue."""
    org = sandbox.org
    members = {uid for q in org.queues.values() for uid in q.members}
    for user in org.users.values():
        if user.role == "agent" and user.id in members and user.routing_status == "OFF_QUEUE":
            return user.id
    raise AssertionError("the seeded org has no agent in a queue")


class _Until:
    """Waits, with a deadline, for a condition the app's signals make worth re-checking."""

    def __init__(self, app: GuiApp) -> None:
        self.app = app
        self._changed = asyncio.Event()
        app.bridge.state_changed.connect(self._poke)
        app.bridge.users_changed.connect(self._poke)
        app.me.profile_loaded.connect(self._poke)
        app.me.problem.connect(self._poke)

    def _poke(self, *_: object) -> None:
        self._changed.set()

    async def __call__(self, condition: Callable[[], bool], what: str) -> None:
        async def wait() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(wait(), WAIT_S)
        except TimeoutError:
            pytest.fail(f"not within {WAIT_S:g} s: {what}")


async def _truth_until(http: httpx.AsyncClient, check: Callable[[Json], bool]) -> Json:
    """The org's truth once ``check`` holds (it changes before its event goes out)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        truth: Json = (await http.get("/sandbox/truth")).json()
        if check(truth) or asyncio.get_running_loop().time() > deadline:
            return truth
        await asyncio.sleep(0.05)


# Offscreen has no system tray: the tray is made anyway (its menu and icon are what is tested),
# and Qt says once that the platform has no tray window to follow.
NO_TRAY_HOST = pytest.mark.qt_log_ignore("systemTrayWindowChanged")


@NO_TRAY_HOST
async def test_an_agent_sets_their_presence_from_the_tray_and_everything_shows_it(
    qtbot: QtBot,
    settings: QSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _org() as (sandbox, http):
        await _agent_sets_presence(sandbox, http, settings, monkeypatch)


async def _agent_sets_presence(
    sandbox: Sandbox, http: httpx.AsyncClient, settings: QSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TrayController, "available", staticmethod(lambda: True))  # offscreen
    agent = _an_agent(sandbox)
    engine = await engine_signed_in_as(sandbox, agent, queues="mine")
    assert engine.user_id == agent
    options = GuiOptions(settings=settings, self_user_id=engine.user_id, watch_network=False)
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    until = _Until(app)
    running = asyncio.ensure_future(app.run())
    try:
        tray = app.tray
        assert tray is not None
        await until(lambda: app.service.state is EngineState.LIVE, "live")
        await until(lambda: app.me.profile is not None, "my profile")
        assert app.me.profile is not None and not app.me.profile.supervisor
        assert app.window.tabs.currentWidget() is app.me.view  # an agent starts on "Me"
        assert agent in app.service.watch.users
        view = app.me.view
        assert view is not None
        mine = {q.id for q in sandbox.org.queues.values() if agent in q.members}
        assert set(view.my_queue_ids()) == mine and view.table.rowCount() == len(mine)
        assert not view.no_figures.isHidden()  # an agent: no queue observations, says why
        await until(lambda: tray.my_status() is not None, "my status on the tray")
        menu = _submenu(tray)
        assert menu is not None
        before = sandbox.org.users[agent].presence_id
        choices = app.me.profile.choices
        # A presence of the org's own (custom) if it has one, else a primary one: not the current.
        target = next(
            (c for c in choices if not c.primary and c.id != before),
            next(c for c in choices if c.id != before and c.system_presence != "OFFLINE"),
        )
        _action(menu, target.label.replace("&", "&&")).trigger()

        truth = await _truth_until(
            http, lambda t: t["users"][agent]["presenceDefinitionId"] == target.id
        )
        assert truth["users"][agent]["presenceDefinitionId"] == target.id, app.me.problem
        store = app.service.store
        await until(lambda: store.users[agent].definition_id == target.id, "the store")
        board = app.window.agents

        def board_says() -> object:
            row = board.row_of(agent)
            return board.data(board.index(row, board.PRESENCE)) if row >= 0 else None

        await until(lambda: board_says() == target.label, "the board's row")
        await until(
            lambda: (s := tray.my_status()) is not None and s.definition_id == target.id,
            "the tray (on the bridge's next batch)",
        )
        assert view.status.text().startswith(f"{target.label} · Off queue — for ")
        status = tray.my_status()
        assert status is not None
        assert status.label == target.label
        menu = _submenu(tray)
        assert menu is not None
        checked = [a.text() for a in menu.actions() if a.isChecked()]
        assert checked[:1] == [target.label.replace("&", "&&")]
        shown = tray.icon().pixmap(22, 22).toImage()
        expected = tray_image(
            app.service.state.value,
            22,
            me_presence=target.system_presence,
            me_routing=truth["users"][agent]["routingStatus"],
            queue_level=tray.queue_level(),
            waiting=tray.waiting(),
        )
        rect = me_rect(22)
        assert _pixels(shown, rect) == _pixels(expected, rect)

        # "Go On Queue": the mark turns into a ring.
        _action(menu, ACTION_ON_QUEUE).trigger()
        truth = await _truth_until(
            http, lambda t: t["users"][agent]["routingStatus"] != "OFF_QUEUE"
        )
        assert truth["users"][agent]["routingStatus"] in ("IDLE", "INTERACTING")
        await until(
            lambda: (s := tray.my_status()) is not None and s.on_queue, "on queue in the tray"
        )
        ring = tray.icon().pixmap(22, 22).toImage()
        assert _centre(ring, 22).alpha() == 0
        assert _action(_submenu(tray) or QMenu(), ACTION_ON_QUEUE).isChecked()
        assert not _action(_submenu(tray) or QMenu(), ACTION_OFF_QUEUE).isChecked()
    finally:
        app.stop_requested.set()
        assert await asyncio.wait_for(running, 10) == 0
        await engine.aclose()


@NO_TRAY_HOST
async def test_a_service_account_has_no_me(
    qtbot: QtBot,
    settings: QSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _org() as (sandbox, _):
        await _service_account_has_no_me(sandbox, settings, monkeypatch)


async def _service_account_has_no_me(
    sandbox: Sandbox, settings: QSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TrayController, "available", staticmethod(lambda: True))
    session = await sign_in_session(
        sandbox.base_url,
        sandbox.config.client_id,
        "client_credentials",
        sandbox.config.client_secret,
        open_store=lambda _service: MemoryCredentialStore(insecure_reason="test: no keyring"),
    )
    engine = await build_engine(
        demo=False,
        environment=sandbox.base_url,
        queues="all",
        users="mine",
        session=session,
        auto_sign_in=False,
    )
    assert engine.user_id is None
    options = GuiOptions(settings=settings, self_user_id=engine.user_id, watch_network=False)
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    until = _Until(app)
    running = asyncio.ensure_future(app.run())
    try:
        await until(lambda: app.service.state is EngineState.LIVE, "live")
        assert app.tray is not None and _submenu(app.tray) is None
        assert app.tray.my_status() is None and app.me.view is None
        assert app.service.me is None
        assert "Me" not in [
            app.window.tabs.tabText(i).replace("&", "") for i in range(app.window.tabs.count())
        ]
    finally:
        app.stop_requested.set()
        assert await asyncio.wait_for(running, 10) == 0
        await engine.aclose()
