"""Supervisor actions, wired: the Agents board's menu asks, the app's loop carries out.

Wiring only, so gui.app stays small. :class:`gui.window.agent_menu.AgentMenu` adds "Set
presence", "Put On Queue" / "Take Off Queue" and "Sign out…" to an agent's row menu and emits a
confirmed request; this module runs it through :class:`core.app.actions.StatusActions` on the
app's one qasync loop (gui/ does no network I/O of its own). Every attempt is journaled and
reaches the feed ("You put Avery Ito On Queue"); success needs no dialog, the board follows the
org's events. A refusal opens a message naming the permission to ask for.

Once the engine is live the signed-in person's permissions are read (a service account has no
"me": everything stays offered and a refusal says what is missing). The parts of the app they
leave out (:func:`core.app.permissions.missing_parts`) are said once, in a non-modal message,
and again only when the list changes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Protocol

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QAbstractItemView, QMainWindow, QMessageBox

from core.app.actions import ActionJournal, ActionKind, StatusActions, reason_words
from core.app.me import presence_choices
from core.app.permissions import missing_parts
from core.app.pipeline import Pipeline
from core.app.task_set import TaskSet
from core.engine.records import EngineState
from core.engine.service import MonitorService
from core.errors import ApiError, GenesysTrayError, TransportError
from core.rest.client import ApiClient
from core.rest.user_actions import OFF_QUEUE, ON_QUEUE, ActionRefused
from gui.bridge import EngineBridge
from gui.window.agent_menu import AgentMenu, AgentRequest

logger = logging.getLogger(__name__)

TOLD_SETTING = "permissions/told"  # the missing parts last said (said again when they change)
REFUSED_TITLE = "Not allowed"
FAILED_TITLE = "Not changed"
MISSING_TITLE = "Some parts will not work"


class _Options(Protocol):
    @property
    def self_user_id(self) -> str | None: ...


class _App(Protocol):
    """What :meth:`ActionsUi.attach` takes from gui.app.GuiApp."""

    @property
    def service(self) -> MonitorService: ...
    @property
    def bridge(self) -> EngineBridge: ...
    @property
    def pipeline(self) -> Pipeline: ...
    @property
    def options(self) -> _Options: ...
    @property
    def window(self) -> QMainWindow: ...


def _failure_lead(request: AgentRequest) -> str:
    """The first line of a refusal or failure: what did not happen."""
    if request.kind is ActionKind.PRESENCE:
        return f"{request.name}'s presence was not set to {request.label}."
    if request.kind is ActionKind.ROUTING:
        queue = "On Queue" if request.value == ON_QUEUE else "Off Queue"
        return f"{request.name} was not put {queue}."
    return f"{request.name} was not signed out."


def missing_words(lines: list[str]) -> str:
    """The sign-in message: what will not work, why, and what to ask for."""
    listed = "\n".join(f"• {line}" for line in lines)
    return (
        "Your Genesys Cloud permissions leave out some parts of Genesys Tray:\n\n"
        f"{listed}\n\nAsk your Genesys Cloud admin for the permissions named, then sign in again."
    )


class ActionsUi(QObject):
    """Carries out the Agents board's supervisor actions and says what the person lacks.

    Signals:
        finished(object, str): a request ran; the words of its refusal or failure ("" when done).
        permissions_read(object): the missing-part lines (a list; None when not readable).
    """

    finished = Signal(object, str)
    permissions_read = Signal(object)

    def __init__(
        self,
        service: MonitorService,
        bridge: EngineBridge,
        pipeline: Pipeline,
        window: QMainWindow,
        *,
        user_id: str | None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.service = service
        self.window = window
        self.user_id = user_id
        store = service.store
        board = getattr(window, "agents_board", None)
        views = [
            view
            for view in (getattr(board, "view", None), getattr(board, "tree", None))
            if isinstance(view, QAbstractItemView)  # the table, and the tree grouped by status
        ]
        self.menu = AgentMenu(store, views, self)
        self.menu.actor_id = user_id
        self.menu.requested.connect(self.run)
        drill = getattr(window, "drill", None)
        hooks = getattr(drill, "menu_hooks", None)
        if isinstance(hooks, list):
            hooks.append(self.menu.hook)
        else:
            logger.warning("the board's row menu takes no hooks: no supervisor actions")
        actor = user_id or ""  # a service account acts as nobody in particular
        self.journal = ActionJournal(pipeline.publish_entries, actor_id=actor, actor_name="")
        api = service.api
        self.actions = StatusActions(api, self.journal) if isinstance(api, ApiClient) else None
        self.message: QMessageBox | None = None  # the last refusal, failure or sign-in message
        self.missing: list[str] | None = None
        self._tasks = TaskSet("supervisor action")
        self._loaded = False
        bridge.state_changed.connect(self._on_bridge_state_changed)

    @classmethod
    def attach(cls, app: _App, parent: QObject | None = None) -> ActionsUi:
        """Wire the app's service, bridge, pipeline and window (one line in gui.app)."""
        return cls(
            app.service,
            app.bridge,
            app.pipeline,
            app.window,
            user_id=app.options.self_user_id,
            parent=parent,
        )

    # ------------------------------------------------------------------ at sign-in
    def _on_bridge_state_changed(self, state: EngineState, _detail: str) -> None:
        if state is EngineState.LIVE and not self._loaded:
            self._loaded = True
            self._spawn(self._load())

    async def _load(self) -> None:
        """Read the org's presences and (a person's) permissions: what the menu offers."""
        api = self.service.api
        if not isinstance(api, ApiClient):
            return
        try:
            self.menu.choices = presence_choices(await api.presence_definitions())
        except (ApiError, TransportError) as exc:
            logger.warning("the org's presences could not be read: %s", exc)
        if self.user_id is None:  # a service account: no "me", its permissions are not readable
            self.permissions_read.emit(None)
            return
        try:
            me = await api.me()
        except (ApiError, TransportError) as exc:
            logger.warning("permissions could not be read: %s", exc)
            self.permissions_read.emit(None)
            return
        self.journal.actor_name = me.name
        self.menu.permissions = me.permissions
        self.missing = missing_parts(me.permissions)
        self._tell_missing(self.missing)
        self.permissions_read.emit(self.missing)

    def _tell_missing(self, lines: list[str]) -> None:
        """Say once (and when the list changes) what the person's permissions leave out."""
        settings = getattr(self.window, "settings", None)
        said = "\n".join(lines)
        told = settings.value(TOLD_SETTING, "") if isinstance(settings, QSettings) else ""
        if isinstance(settings, QSettings):
            settings.setValue(TOLD_SETTING, said)
        if not lines or told == said:
            return
        logger.info("telling the person %d part(s) will not work", len(lines))
        self._show(QMessageBox.Icon.Information, MISSING_TITLE, missing_words(lines), "missing")

    # ------------------------------------------------------------------ the actions
    def run(self, request: AgentRequest) -> None:
        """Carry out a confirmed request on the app's loop (the menu's ``requested``)."""
        self._spawn(self._run(request))

    async def _run(self, request: AgentRequest) -> None:
        actions = self.actions
        if actions is None:
            self._failed(request, "This session cannot change statuses.")
            return
        try:
            if request.kind is ActionKind.PRESENCE:
                await actions.set_presence(
                    request.user_id, request.name, request.value, request.label
                )
            elif request.kind is ActionKind.ROUTING:
                status = ON_QUEUE if request.value == ON_QUEUE else OFF_QUEUE
                await actions.set_routing_status(request.user_id, request.name, status)
            else:
                await actions.log_off(request.user_id, request.name)
        except ActionRefused as refused:
            if refused.permission:
                self.menu.refused.add(refused.permission)  # disabled from now on
            words = f"{_failure_lead(request)}\n\n{refused.message}"
            self._show(QMessageBox.Icon.Warning, REFUSED_TITLE, words, "refused")
            self.finished.emit(request, words)
            return
        except (GenesysTrayError, ValueError) as exc:
            self._failed(request, reason_words(exc))
            return
        self.finished.emit(request, "")

    def _failed(self, request: AgentRequest, reason: str) -> None:
        words = f"{_failure_lead(request)}\n\n{reason}"
        self._show(QMessageBox.Icon.Warning, FAILED_TITLE, words, "failed")
        self.finished.emit(request, words)

    def _show(self, icon: QMessageBox.Icon, title: str, words: str, name: str) -> None:
        """A non-modal message over the window (the app's loop keeps running)."""
        if self.message is not None:
            self.message.close()
        box = QMessageBox(icon, title, words, QMessageBox.StandardButton.Ok, self.window)
        box.setObjectName(f"actionMessage_{name}")
        box.setModal(False)

        def on_finished(_result: int) -> None:
            if self.message is box:
                self.message = None
            box.deleteLater()

        box.finished.connect(on_finished)
        self.message = box
        box.show()

    # ------------------------------------------------------------------ life
    def _spawn(self, work: Awaitable[None]) -> None:
        self._tasks.spawn(work)

    async def stop(self) -> None:
        """Cancel what is still running and close an open question (the app shuts down)."""
        await self._tasks.cancel_all()
        for box in (self.menu.question, self.message):
            if box is not None:
                box.close()
