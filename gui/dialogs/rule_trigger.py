"""Filters & alerts' "Also run in Genesys Cloud…": an alert rule that also runs as a trigger.

A row under the rule editor. For a rule that a trigger can express (an agent becomes Not
Responding, an agent enters a presence) it offers to pick a workflow and create the trigger; the
app then keeps the trigger in step with the rule (gui.triggers_ui). For one that cannot (a wait,
a queue's figures) it says why. The org's calls belong to a :class:`RuleLinker`, handed in once
the app has one (a dialog without it shows nothing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QLabel, QMessageBox, QPushButton, QWidget

from core.alerts.model import Rule
from core.errors import GenesysTrayError
from core.triggers.from_rule import rule_to_trigger
from core.triggers.model import Trigger, Workflow

logger = logging.getLogger(__name__)

OFFER = "Also run in Genesys Cloud…"
STOP = "Stop running in Genesys Cloud"


class RuleLinker(Protocol):
    """What the row asks of the app (gui.triggers_ui.TriggersUi provides it)."""

    def linked(self, rule_id: str) -> str | None:
        """The id of the trigger made from the rule, if any."""

    async def workflows(self) -> list[Workflow]:
        """The org's workflows."""

    async def link(self, rule: Rule, workflow_id: str) -> Trigger:
        """Create the trigger of ``rule`` running ``workflow_id`` and remember it."""

    async def unlink(self, rule_id: str) -> None:
        """Delete the rule's trigger and forget it."""


def _pick(parent: QWidget, names: Sequence[str]) -> str | None:
    name, ok = QInputDialog.getItem(
        parent, "Run in Genesys Cloud", "Workflow to run:", list(names), 0, False
    )
    return name if ok else None


def _explain(parent: QWidget, reason: str) -> None:
    QMessageBox.information(parent, "Cannot run in Genesys Cloud", reason)


class RuleTriggerRow(QWidget):
    """The rule's Genesys Cloud line: offer, state, or why not.

    Signals:
        said(str): the row's words changed (tests wait on it).
    """

    said = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ruleTriggerRow")
        self.linker: RuleLinker | None = None
        self.rule: Rule | None = None
        self.pick: Callable[[QWidget, Sequence[str]], str | None] = _pick
        self.explain: Callable[[QWidget, str], None] = _explain
        self.tasks: set[asyncio.Task[Any]] = set()
        self.button = QPushButton(OFFER)
        self.button.setObjectName("ruleTriggerButton")
        self.button.clicked.connect(self._on_clicked)
        self.words = QLabel("")
        self.words.setObjectName("ruleTriggerWords")
        self.words.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)
        layout.addWidget(self.words, 1)
        self.hide()

    def use(self, linker: RuleLinker) -> None:
        """The app's triggers are available: show the row for the current rule."""
        self.linker = linker
        self.show_rule(self.rule)

    def show_rule(self, rule: Rule | None) -> None:
        """Follow the editor's rule (None: no rule chosen)."""
        self.rule = rule
        self.setVisible(self.linker is not None and rule is not None)
        if self.linker is None or rule is None:
            return
        plan = rule_to_trigger(rule)
        if self.linker.linked(rule.id):
            self.button.setText(STOP)
            self._say("This rule also runs in Genesys Cloud, while this app is closed too.")
        elif isinstance(plan, str):
            self.button.setText(OFFER)
            self._say("Runs only here: " + plan.split(". ")[0].rstrip(".") + ".")
        else:
            self.button.setText(OFFER)
            self._say("")

    def _say(self, text: str) -> None:
        self.words.setText(text)
        self.said.emit(text)

    def _on_clicked(self) -> None:
        rule, linker = self.rule, self.linker
        if rule is None or linker is None:
            return
        if linker.linked(rule.id):
            self._spawn(self.stop(rule))
            return
        plan = rule_to_trigger(rule)
        if isinstance(plan, str):
            self.explain(self, plan)
            self._say("Runs only here: " + plan)
            return
        self._spawn(self.offer(rule))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def offer(self, rule: Rule) -> Trigger | None:
        """Pick a workflow and create the rule's trigger."""
        assert self.linker is not None
        self.button.setEnabled(False)
        try:
            flows = [w for w in await self.linker.workflows() if w.active]
            if not flows:
                self._say("This org has no published workflow to run.")
                return None
            name = self.pick(self, [w.name for w in flows])
            chosen = next((w for w in flows if w.name == name), None)
            if chosen is None:
                return None
            trigger = await self.linker.link(rule, chosen.id)
        except GenesysTrayError as exc:
            self._say(f"Not created: {getattr(exc, 'words', None) or exc}")
            return None
        finally:
            self.button.setEnabled(True)
        self.show_rule(rule)
        self._say(f"Also runs in Genesys Cloud as “{trigger.name}”, running “{chosen.name}”.")
        return trigger

    async def stop(self, rule: Rule) -> None:
        """Delete the rule's trigger (the rule stays here)."""
        assert self.linker is not None
        try:
            await self.linker.unlink(rule.id)
        except GenesysTrayError as exc:
            self._say(f"Not stopped: {getattr(exc, 'words', None) or exc}")
            return
        self.show_rule(rule)
        self._say("Runs only here now.")
