"""Genesys Cloud triggers, wired: the tray's "Triggers…", live runs, failures, and rule links.

Wiring only, so gui.app stays small. Once the engine is live the org's triggers are read (quietly:
without the permissions there is nothing to watch) and their workflows' flow-instance topics are
watched on a channel of their own (:class:`core.triggers.live.InvocationWatch`); every run
counts on the board, and a failed or throttled run reaches the feed and the journal (kind
``trigger``) and raises a desktop notice through the app's notifier. Filters & alerts gets "Also
run in Genesys Cloud…" (:mod:`gui.dialogs.rule_trigger`): the trigger made from a rule is
remembered per org (QSettings) and kept in step with the rule whenever the rules are saved, and
at start. All calls run on the app's one loop (gui/ does no network I/O of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import shiboken6
from PySide6.QtCore import QObject, QSettings, Qt, Signal

from core.alerts.model import Rule, Severity
from core.app.pipeline import Pipeline
from core.engine.records import EngineState
from core.engine.service import MonitorService
from core.errors import GenesysTrayError, NotFoundError
from core.feed.entry import FeedEntry
from core.feed.payloads import FeedKind, RawData
from core.rest.client import ApiClient
from core.storage.journal.journal import Journal
from core.triggers.client import TriggerConflictError, TriggersApi
from core.triggers.from_rule import rule_to_trigger
from core.triggers.live import InvocationLog, InvocationWatch
from core.triggers.model import Invocation, Trigger, Workflow
from gui.bridge import EngineBridge
from gui.dialogs.trigger_check import RECENT
from gui.dialogs.triggers_board import TriggersBoard
from gui.notifications.notice import Notice
from gui.notifications.notifier import Notifier
from gui.tray.controller import TrayController

logger = logging.getLogger(__name__)

LINKS_SETTING: Final = "triggers/{profile}/rule_links"  # {rule id: trigger id}, JSON


class _Options(Protocol):
    @property
    def active_profile(self) -> str: ...
    @property
    def journal(self) -> Journal | None: ...


class _Alerts(Protocol):
    @property
    def dialog(self) -> Any: ...


class _Window(Protocol):
    @property
    def settings(self) -> QSettings: ...
    @property
    def filters_requested(self) -> Any: ...


class _App(Protocol):
    """What :meth:`TriggersUi.attach` takes from gui.app.GuiApp."""

    @property
    def service(self) -> MonitorService: ...
    @property
    def bridge(self) -> EngineBridge: ...
    @property
    def pipeline(self) -> Pipeline: ...
    @property
    def tray(self) -> TrayController | None: ...
    @property
    def notifier(self) -> Notifier: ...
    @property
    def alerts(self) -> _Alerts: ...
    @property
    def options(self) -> _Options: ...
    @property
    def window(self) -> _Window: ...


def failure_entry(run: Invocation, name: str) -> FeedEntry:
    """The feed and journal entry of a failed or throttled run."""
    what = "was throttled (over the org's limit)" if run.throttled else "failed"
    reason = f": {run.error}" if run.error else ""
    return FeedEntry(
        datetime.fromtimestamp(run.at, UTC),
        FeedKind.TRIGGER.value,
        run.trigger_id,
        name,
        f"{name}: the Genesys Cloud trigger {what}{reason}",
        "warning",
        RawData(
            {
                "triggerId": run.trigger_id,
                "flowId": run.flow_id,
                "error": run.error,
                "throttled": run.throttled,
                "exitReason": run.exit_reason,
            }
        ),
    )


class TriggersUi(QObject):
    """The app's side of the org's triggers.

    Signals:
        run_seen(object): a trigger's run arrived (an :class:`Invocation`).
        links_changed(): a rule was linked to a trigger, or unlinked.
    """

    run_seen = Signal(object)
    links_changed = Signal()

    def __init__(self, app: _App, api: TriggersApi | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.app = app
        self.api = api
        self.log = InvocationLog()
        self.triggers: dict[str, Trigger] = {}
        self.board: TriggersBoard | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        service = app.service
        self.watch = (
            InvocationWatch(
                api.api,
                self.on_run,
                token_lost=service.tokens.token_lost,
                connector=service.connector,
                settings=service.settings,
            )
            if api is not None
            else None
        )

    @classmethod
    def attach(cls, app: _App, parent: QObject | None = None) -> TriggersUi:
        """Make it and wire it to the tray, the bridge and Filters & alerts."""
        api = app.service.api
        ui = cls(app, TriggersApi(api) if isinstance(api, ApiClient) else None, parent)
        app.bridge.state_changed.connect(ui._on_state_changed)
        queued = Qt.ConnectionType.QueuedConnection  # after alerts' own slot made the dialog
        app.window.filters_requested.connect(ui._on_filters_opened, queued)
        if app.tray is not None:
            app.tray.triggers_requested.connect(ui.open_board)
            app.tray.filters_requested.connect(ui._on_filters_opened, queued)
        return ui

    # ------------------------------------------------------------------ tasks
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a call on the app's loop (kept until it ends)."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def stop(self) -> None:
        """Cancel calls in flight, close the runs' channel and the board."""
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.board is not None:
            await self.board.cancel_tasks()
            self.board.close()
            # A window without a Qt parent: deleted here, on the GUI thread (see GuiApp.shutdown).
            shiboken6.delete(self.board)
            self.board = None
        if self.watch is not None:
            await self.watch.stop()

    # ------------------------------------------------------------------ start
    def _on_state_changed(self, state: EngineState, _detail: str) -> None:
        if state is EngineState.LIVE and not self._started and self.api is not None:
            self._started = True
            self.spawn(self.start())

    async def start(self) -> None:
        """Read the triggers, keep the linked ones in step, watch their workflows' runs."""
        try:
            await self.refresh()
            await self.sync(self.app.pipeline.rules)
        except GenesysTrayError as exc:  # no permission, or the org is away: the board says
            logger.info("triggers: not read at start (%s)", type(exc).__name__)

    async def refresh(self) -> list[Trigger]:
        """Read the org's triggers and watch the runs of their workflows."""
        assert self.api is not None
        self.use_triggers(await self.api.triggers())
        return list(self.triggers.values())

    def use_triggers(self, triggers: list[Trigger]) -> None:
        """Know these triggers (names for the feed) and watch their workflows."""
        self.triggers = {t.id: t for t in triggers}
        if self.watch is not None:
            self.watch.watch(t.target_id for t in triggers)

    # ------------------------------------------------------------------ runs
    def on_run(self, run: Invocation) -> None:
        """A trigger ran: count it; a failure goes to the feed, the journal and a notice."""
        self.log.add(run)
        if self.board is not None:
            self.board.show_runs()
        self.run_seen.emit(run)
        if not run.failed:
            return
        known = self.triggers.get(run.trigger_id)
        name = known.name if known is not None else run.trigger_name or "A trigger"
        entry = failure_entry(run, name)
        self.app.pipeline.publish_entries([entry])
        self.app.notifier.post(
            Notice(
                key=f"trigger:{run.trigger_id}",
                title=f"Trigger {'throttled' if run.throttled else 'failed'}: {name}",
                body=run.error or "Genesys Cloud did not run its workflow.",
                severity=Severity.WARNING,
                subject_kind="connection",
                subject_id="",
                actions=(),
                group="trigger",
                topic="Genesys Cloud triggers",
            )
        )

    # ------------------------------------------------------------------ the board
    def open_board(self) -> TriggersBoard | None:
        """Show the board (or bring the open one forward) and read the triggers."""
        if self.api is None:
            return None
        if self.board is not None and self.board.isVisible():
            self.board.raise_()
            self.board.activateWindow()
            return self.board
        journal = self.app.options.journal
        board = TriggersBoard(
            self.api,
            self.log,
            journal_search=(
                (lambda kinds: journal.search(kinds=kinds, limit=RECENT))
                if journal is not None
                else None
            ),
        )
        board.triggers_loaded.connect(self.use_triggers)
        if self.board is not None:
            self.board.deleteLater()
        self.board = board
        board.show()
        board.run(board.reload())
        return board

    # ------------------------------------------------------------------ rule links
    def _links_key(self) -> str:
        return LINKS_SETTING.format(profile=self.app.options.active_profile or "default")

    def links(self) -> dict[str, str]:
        """Rule id → trigger id of the triggers made from rules, for this org."""
        raw = self.app.window.settings.value(self._links_key(), "")
        try:
            found = json.loads(raw) if isinstance(raw, str) and raw else {}
        except ValueError:
            return {}
        return {k: v for k, v in found.items() if isinstance(v, str)}

    def _save_links(self, links: dict[str, str]) -> None:
        self.app.window.settings.setValue(self._links_key(), json.dumps(links))
        self.links_changed.emit()

    def linked(self, rule_id: str) -> str | None:
        """The trigger made from the rule, if any."""
        return self.links().get(rule_id)

    async def workflows(self) -> list[Workflow]:
        """The org's workflows."""
        assert self.api is not None
        return await self.api.workflows()

    async def link(self, rule: Rule, workflow_id: str) -> Trigger:
        """Create the rule's trigger and remember it."""
        assert self.api is not None
        plan = rule_to_trigger(rule)
        if isinstance(plan, str):
            raise ValueError(plan)
        trigger = await self.api.create(plan.trigger(workflow_id))
        self._save_links({**self.links(), rule.id: trigger.id})
        self.triggers[trigger.id] = trigger
        if self.watch is not None:
            self.watch.watch(t.target_id for t in self.triggers.values())
        logger.info("rule linked to a new trigger")
        return trigger

    async def unlink(self, rule_id: str) -> None:
        """Delete the rule's trigger and forget it."""
        assert self.api is not None
        links = self.links()
        trigger_id = links.pop(rule_id, None)
        if trigger_id:
            with contextlib.suppress(NotFoundError):
                await self.api.delete(trigger_id)
            self.triggers.pop(trigger_id, None)
        self._save_links(links)

    async def sync(self, rules: list[Rule]) -> int:
        """Bring every linked trigger in step with its rule; returns how many changed.

        A removed rule's trigger is deleted; one that a trigger can no longer express is
        switched off; a trigger deleted in Genesys Cloud is forgotten.
        """
        if self.api is None:
            return 0
        by_id = {r.id: r for r in rules}
        links = self.links()
        changed = 0
        for rule_id, trigger_id in list(links.items()):
            rule = by_id.get(rule_id)
            try:
                if rule is None:
                    with contextlib.suppress(NotFoundError):
                        await self.api.delete(trigger_id)
                    links.pop(rule_id)
                    changed += 1
                    continue
                changed += await self._sync_one(rule, trigger_id)
            except NotFoundError:
                links.pop(rule_id)
            except GenesysTrayError as exc:
                logger.warning("triggers: a linked trigger was not updated (%s)", exc)
        if links != self.links():
            self._save_links(links)
        return changed

    async def _sync_one(self, rule: Rule, trigger_id: str) -> int:
        assert self.api is not None
        for _attempt in range(2):  # once more after a version conflict, as the provider does
            current = await self.api.get(trigger_id)
            plan = rule_to_trigger(rule)
            wanted = current.with_enabled(False) if isinstance(plan, str) else plan.applied(current)
            if wanted == current:
                return 0
            try:
                self.triggers[trigger_id] = await self.api.update(wanted)
                return 1
            except TriggerConflictError:
                continue
        return 0

    def _on_filters_opened(self) -> None:
        dialog = self.app.alerts.dialog
        row = getattr(dialog, "genesys", None)
        if dialog is None or row is None or self.api is None or row.linker is not None:
            return  # no dialog, no Genesys Cloud calls, or this dialog has the linker already
        row.use(self)
        dialog.saved.connect(lambda rules, _kinds: self.spawn(self.sync(list(rules))))
