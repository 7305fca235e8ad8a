"""Supervisor actions in an agent's right-click menu: set presence, on or off queue, sign out.

The entries join the Agents board's row menu (the drill-down's "Details…") through
:meth:`AgentMenu.hook`, which :attr:`gui.window.drill.Drill.menu_hooks` calls. Each entry asks
for confirmation in a window-modal question (opened, not ``exec``-ed: the app's one qasync loop
keeps running); a "Yes" emits :attr:`AgentMenu.requested`, and :mod:`gui.actions_ui` carries the
change out on the loop (no network I/O here). An entry the signed-in person's permissions do not
allow still shows, disabled, its tooltip naming the permission to ask an admin for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QPoint, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractItemView, QMenu, QMessageBox, QWidget

from core.app.actions import ActionKind
from core.app.me import PresenceChoice
from core.app.permissions import grants
from core.rest.user_actions import LOG_OFF_PERMISSION, OFF_QUEUE, ON_QUEUE, PRESENCE_EDIT
from core.state.store import Store
from gui.window.drill import row_id

logger = logging.getLogger(__name__)

PRESENCE_WORDS = "Set presence"
ON_QUEUE_WORDS = "Put On Queue"
OFF_QUEUE_WORDS = "Take Off Queue"
SIGN_OUT_WORDS = "Sign out…"
QUESTION_NAME = "confirmAgentAction"
ON_QUEUE_ROUTING = ("IDLE", "INTERACTING", "COMMUNICATING")


def needs_words(permission: str) -> str:
    """The tooltip of an action the person may not take."""
    return f"Needs {permission} — ask your Genesys Cloud admin"


@dataclass(frozen=True, slots=True)
class AgentRequest:
    """One change the person confirmed: what, on whom, to which value (and its words)."""

    kind: ActionKind
    user_id: str
    name: str
    value: str = ""  # presence definition id, ON_QUEUE / OFF_QUEUE, "" for sign out
    label: str = ""  # the presence's label as the org names it

    def question(self) -> tuple[str, str]:
        """The confirmation's question and what follows from it."""
        if self.kind is ActionKind.PRESENCE:
            return f"Set {self.name}'s presence to {self.label}?", (
                f"{self.name} sees the change at once in Genesys Cloud."
            )
        if self.kind is ActionKind.ROUTING and self.value == ON_QUEUE:
            return f"Put {self.name} On Queue?", (
                f"Genesys Cloud starts offering {self.name} calls from their queues again."
            )
        if self.kind is ActionKind.ROUTING:
            return f"Take {self.name} Off Queue?", (
                f"Genesys Cloud stops offering {self.name} calls until they go On Queue again."
            )
        return f"Sign {self.name} out of Genesys Cloud?", (
            f"{self.name} is signed out everywhere and shows Offline; they must sign in again "
            "to take calls."
        )


class AgentMenu(QObject):
    """The supervisor actions of an agent's row menu.

    Signals:
        requested(object): an :class:`AgentRequest` the person confirmed.
    """

    requested = Signal(object)

    def __init__(
        self,
        store: Store,
        views: Iterable[QAbstractItemView] = (),
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.views = tuple(views)  # whose row menus get the actions (the Agents board's)
        self.choices: tuple[PresenceChoice, ...] = ()  # the org's presences, once read
        self.permissions: frozenset[str] | None = None  # None: not known (all offered)
        self.refused: set[str] = set()  # permissions Genesys Cloud said the person lacks
        self.actor_id: str | None = None  # the signed-in person (None: a service account)
        self.question: QMessageBox | None = None  # open while the person is asked

    # ------------------------------------------------------------------ what is allowed
    def lacking(self, kind: ActionKind, user_id: str) -> str | None:
        """The permission the person lacks for this action on ``user_id`` (None: allowed)."""
        if kind is ActionKind.LOG_OFF:
            needed = LOG_OFF_PERMISSION  # needed to sign oneself out too
        elif user_id == self.actor_id:
            return None  # one's own presence and routing need nothing
        else:
            needed = PRESENCE_EDIT
        if needed in self.refused:
            return needed
        if self.permissions is None or grants(self.permissions, needed):
            return None
        return needed

    # ------------------------------------------------------------------ the menu
    def hook(self, menu: QMenu, view: QAbstractItemView, pos: QPoint) -> None:
        """Drill's row-menu hook: the actions join the menu of an agent's row."""
        if view not in self.views:
            return
        user_id = row_id(view.indexAt(pos))
        if user_id is not None:
            self.extend(menu, user_id)

    def extend(self, menu: QMenu, user_id: str) -> None:
        """Add the actions on ``user_id`` to ``menu`` (disabled ones say what they need)."""
        menu.setToolTipsVisible(True)  # the disabled entries' tooltips name the permission
        state = self.store.users.get(user_id)
        name = (state.name if state is not None else "") or "this agent"
        routing = state.routing_status if state is not None else None
        menu.addSeparator()
        presences = menu.addMenu(PRESENCE_WORDS)
        presences.setObjectName("setPresenceMenu")
        presences.setToolTipsVisible(True)
        current = state.definition_id if state is not None else None
        for choice in self.choices:
            request = AgentRequest(ActionKind.PRESENCE, user_id, name, choice.id, choice.label)
            action = self._add(presences, choice.label.replace("&", "&&"), request)
            action.setCheckable(True)
            action.setChecked(choice.id == current)
        if not self.choices:
            presences.setEnabled(False)
            presences.menuAction().setToolTip("Your org's presences are not read yet")
        else:
            self._gate(presences.menuAction(), ActionKind.PRESENCE, user_id)
        if routing not in ON_QUEUE_ROUTING:  # off queue, Not Responding, or not known yet
            request = AgentRequest(ActionKind.ROUTING, user_id, name, ON_QUEUE)
            self._add(menu, ON_QUEUE_WORDS, request)
        if routing != OFF_QUEUE:
            request = AgentRequest(ActionKind.ROUTING, user_id, name, OFF_QUEUE)
            self._add(menu, OFF_QUEUE_WORDS, request)
        self._add(menu, SIGN_OUT_WORDS, AgentRequest(ActionKind.LOG_OFF, user_id, name))

    def _add(self, menu: QMenu, text: str, request: AgentRequest) -> QAction:
        action = menu.addAction(text)
        action.setObjectName(f"agentAction_{request.kind.value}_{request.value}")
        action.triggered.connect(lambda _checked=False: self.ask(request))
        self._gate(action, request.kind, request.user_id)
        return action

    def _gate(self, action: QAction, kind: ActionKind, user_id: str) -> None:
        permission = self.lacking(kind, user_id)
        if permission is not None:
            action.setEnabled(False)
            action.setToolTip(needs_words(permission))

    # ------------------------------------------------------------------ confirmation
    def ask(self, request: AgentRequest, parent: QWidget | None = None) -> QMessageBox:
        """Ask the person to confirm ``request``; "Yes" emits :attr:`requested`."""
        if self.question is not None:
            self.question.close()
        owner = parent or next((v.window() for v in self.views), None)
        text, informative = request.question()
        box = QMessageBox(QMessageBox.Icon.Question, "Confirm", text, parent=owner)
        box.setObjectName(QUESTION_NAME)
        box.setInformativeText(informative)
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.button(QMessageBox.StandardButton.Yes).setText(_yes_words(request))

        def on_finished(_result: int) -> None:
            confirmed = box.clickedButton() is box.button(QMessageBox.StandardButton.Yes)
            if self.question is box:
                self.question = None
            box.deleteLater()
            if confirmed:
                logger.info("confirmed: %s on %s", request.kind.value, request.user_id[:8])
                self.requested.emit(request)

        box.finished.connect(on_finished)
        self.question = box
        box.open()
        return box


def _yes_words(request: AgentRequest) -> str:
    if request.kind is ActionKind.PRESENCE:
        return "Set presence"
    if request.kind is ActionKind.ROUTING:
        return ON_QUEUE_WORDS if request.value == ON_QUEUE else OFF_QUEUE_WORDS
    return "Sign out"
