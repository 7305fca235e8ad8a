"""The signed-in person's own status: the tray's me mark and "My status", and the "Me" tab.

Wiring only, so gui.app stays small. A person's user id makes the engine watch them (their row
is live in the store like any agent's); the profile (their presences, queues, supervisor or not)
is read once the engine is live. A choice in "My status" runs a core call on the app's loop
(gui/ does no network I/O of its own); the new status is shown when the org's event brings it,
not before, so the tray never claims a status the org did not take. A refusal (a missing
permission) is said in a balloon or the status bar. A service account has no "me": no submenu,
no mark, no tab.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Protocol

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMainWindow, QTabWidget

from core.app.me import MeProfile, load_me, my_status
from core.app.task_set import TaskSet
from core.engine.records import EngineState
from core.engine.service import MonitorService
from core.errors import GenesysTrayError
from core.rest.client import ApiClient
from core.rest.user_actions import (
    OFF_QUEUE,
    ON_QUEUE,
    ActionRefused,
    set_presence,
    set_routing_status,
)
from gui.bridge import EngineBridge
from gui.tray.controller import TrayController
from gui.window.my_view import MyView

logger = logging.getLogger(__name__)

ME_TAB = "M&e"
REFUSED_TITLE = "My status"


class _Options(Protocol):
    @property
    def self_user_id(self) -> str | None: ...


class _App(Protocol):
    """What :meth:`MeUi.attach` takes from gui.app.GuiApp."""

    @property
    def service(self) -> MonitorService: ...
    @property
    def bridge(self) -> EngineBridge: ...
    @property
    def tray(self) -> TrayController | None: ...
    @property
    def options(self) -> _Options: ...
    @property
    def window(self) -> QMainWindow: ...


class MeUi(QObject):
    """Keeps the tray's me mark, "My status" and the "Me" tab on the signed-in person.

    Signals:
        profile_loaded(object): the :class:`core.app.me.MeProfile` was read.
        problem(str): a change of my status was refused or failed (the words shown).
    """

    profile_loaded = Signal(object)
    problem = Signal(str)

    def __init__(
        self,
        service: MonitorService,
        bridge: EngineBridge,
        *,
        user_id: str | None,
        tray: TrayController | None,
        window: QMainWindow,
        tabs: QTabWidget | None = None,
        parent: QObject | None = None,
    ) -> None:
        """Wire everything for ``user_id``; None (a service account) wires nothing."""
        super().__init__(parent)
        self.service = service
        self.user_id = user_id
        self.tray = tray
        self.window = window
        self.tabs = tabs
        self.profile: MeProfile | None = None
        self.view: MyView | None = None
        self._tasks = TaskSet("my status")
        self._loading = False
        if user_id is None:
            return
        service.me = user_id  # watched like any agent: my row is live in the store
        self.view = MyView(service.store, user_id)
        if tabs is not None:
            tabs.addTab(self.view, ME_TAB)
        bridge.users_changed.connect(self._on_bridge_users_changed)
        bridge.queues_changed.connect(self._on_bridge_queues_changed)
        bridge.clock_ticked.connect(self._on_bridge_clock_ticked)
        bridge.state_changed.connect(self._on_bridge_state_changed)
        if tray is not None:
            tray.presence_requested.connect(self.choose_presence)
            tray.routing_requested.connect(self.choose_routing)

    @classmethod
    def attach(cls, app: _App, parent: QObject | None = None) -> MeUi:
        """Wire the app's service, bridge, tray and window (the "Me" tab) to its person."""
        window = app.window
        tabs = getattr(window, "tabs", None)
        return cls(
            app.service,
            app.bridge,
            user_id=app.options.self_user_id,
            tray=app.tray,
            window=window,
            tabs=tabs if isinstance(tabs, QTabWidget) else None,
            parent=parent,
        )

    # ------------------------------------------------------------------ engine to screen
    def _on_bridge_state_changed(self, state: EngineState, _detail: str) -> None:
        unread = self.profile is None or not self.profile.choices  # a failed read: again
        if state is EngineState.LIVE and unread and not self._loading:
            self._loading = True
            self._spawn(self._load())

    async def _load(self) -> None:
        api = self.service.api
        if self.user_id is None or not isinstance(api, ApiClient):
            return
        try:
            profile = await load_me(api, self.user_id)
        finally:
            self._loading = False
        self.profile = profile
        if self.tray is not None:
            self.tray.set_me(profile.choices)
        if self.view is not None:
            self.view.use_profile(profile)
            if not profile.supervisor and self.tabs is not None:  # an agent: "Me" first
                self.tabs.setCurrentWidget(self.view)
        self._show_status()
        self.profile_loaded.emit(profile)

    def _on_bridge_users_changed(self, ids: list[str]) -> None:
        if self.user_id in ids:
            self._show_status()
            if self.view is not None:
                self.view.refresh()

    def _on_bridge_queues_changed(self, _ids: list[str]) -> None:
        if self.view is not None:
            self.view.refresh()

    def _on_bridge_clock_ticked(self) -> None:
        if self.view is not None:
            self.view.refresh_status()

    def _show_status(self) -> None:
        if self.tray is not None and self.user_id is not None:
            self.tray.set_my_status(my_status(self.service.store, self.user_id))

    # ------------------------------------------------------------------ screen to engine
    def choose_presence(self, presence_id: str) -> None:
        """Ask the org to set my presence to this definition (the tray's "My status")."""
        api = self.service.api
        if self.user_id is not None and isinstance(api, ApiClient):
            self._spawn(self._act(set_presence(api, self.user_id, presence_id)))

    def choose_routing(self, on_queue: bool) -> None:
        """Ask the org to put me on or off queue."""
        api, status = self.service.api, ON_QUEUE if on_queue else OFF_QUEUE
        if self.user_id is not None and isinstance(api, ApiClient):
            self._spawn(self._act(set_routing_status(api, self.user_id, status)))

    async def _act(self, call: Awaitable[None]) -> None:
        try:
            await call
        except ActionRefused as exc:
            self._say(exc.message)
        except GenesysTrayError as exc:
            logger.warning("my status was not changed: %s", exc)
            self._say(f"Your status was not changed: {exc}")

    def _say(self, words: str) -> None:
        self.problem.emit(words)
        if self.tray is not None and self.tray.is_visible():
            self.tray.show_balloon(REFUSED_TITLE, words, "warning")
        else:
            self.window.statusBar().showMessage(words, 15_000)

    # ------------------------------------------------------------------ life
    def _spawn(self, work: Awaitable[None]) -> None:
        self._tasks.spawn(work)

    async def stop(self) -> None:
        """Cancel what is still running (the app is shutting down)."""
        await self._tasks.cancel_all()
