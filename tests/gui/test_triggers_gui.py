"""Genesys Cloud triggers in the app, end to end against the sandbox (issue 18, done-when).

The real app (GuiApp, its engine signed in through the sandbox's PKCE page, a real journal file)
runs offscreen. From a Not Responding rule in Filters & alerts, "Also run in Genesys Cloud…"
creates a trigger; the sandbox sets the agent Not Responding and the board counts the run; the
board turns the trigger off and the next Not Responding runs only a sentinel trigger. A failing
workflow reaches the feed, the journal and a desktop notice; "Would it fire?" finds the journal's
Not Responding moves and the org's test agrees; a stale save is a conflict that reloads; an
agent without the permissions is told which one to ask for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from core.alerts.model import Condition, Rule
from core.engine.records import EngineState
from core.feed.payloads import FeedKind
from core.storage.journal.journal import Journal
from core.storage.settings.model import AppConfig
from core.triggers.model import Trigger
from gui.app import GuiApp
from gui.dialogs.filter_dialog import FilterDialog
from gui.dialogs.rule_trigger import OFFER, STOP
from gui.dialogs.triggers_board import COLUMNS, TriggersBoard
from gui.models.table_base import ENTRY_ROLE
from gui.notifications.notice import Notice
from gui.options import GuiOptions
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.gui.signed_in import engine_signed_in_as

WAIT_S = 20.0
LEAD = "Text the team lead"
PAGER = "Page the on-call manager"
RUNS, LAST_ERROR = COLUMNS.index("Runs (last hour)"), COLUMNS.index("Last error")


@contextlib.asynccontextmanager
async def _org() -> AsyncIterator[tuple[Sandbox, httpx.AsyncClient]]:
    sandbox = Sandbox(
        SandboxConfig(
            port=0, users=30, queues=4, seed=11, simulate=False, observation_min_interval_s=0.05
        )
    )
    url = await sandbox.start()
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as http:
        try:
            yield sandbox, http
        finally:
            await sandbox.stop()


async def _until(condition: Callable[[], object], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"not within {WAIT_S:g} s: {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _running(
    sandbox: Sandbox, user_id: str, settings: QSettings, journal: Journal, rules: list[Rule]
) -> AsyncIterator[GuiApp]:
    engine = await engine_signed_in_as(sandbox, user_id)
    options = GuiOptions(
        settings=settings,
        self_user_id=engine.user_id,
        watch_network=False,
        journal=journal,
        config=AppConfig(rules=rules),
    )
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    running = asyncio.ensure_future(app.run())
    try:
        await _until(lambda: app.service.state is EngineState.LIVE, "live")
        yield app
    finally:
        app.stop_requested.set()
        assert await asyncio.wait_for(running, 10) == 0
        await engine.aclose()


async def _routing(http: httpx.AsyncClient, user_id: str, status: str) -> None:
    resp = await http.post(f"/sandbox/users/{user_id}/routingstatus", json={"status": status})
    assert resp.status_code == 200, resp.text


async def _not_responding(http: httpx.AsyncClient, user_id: str) -> None:
    await _routing(http, user_id, "IDLE")
    await _routing(http, user_id, "NOT_RESPONDING")


def _text(board: TriggersBoard, row: int, column: int) -> str:
    item = board.table.item(row, column)
    return item.text() if item is not None else ""


def _cell(board: TriggersBoard, trigger_id: str, column: int) -> str:
    for row, trigger in enumerate(board.triggers):
        if trigger.id == trigger_id:
            item = board.table.item(row, column)
            return item.text() if item is not None else ""
    return "(no row)"


def _people(sandbox: Sandbox) -> tuple[str, str]:
    org = sandbox.org
    boss = next(u.id for u in org.users.values() if u.role == "supervisor")
    agent = next(u.id for u in sorted(org.users.values(), key=lambda u: u.name)
                 if u.role == "agent")  # fmt: skip
    return boss, agent


async def test_a_not_responding_rule_runs_in_genesys_cloud_and_stops_when_turned_off(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    async with _org() as (sandbox, http):
        journal = await Journal.open(tmp_path / "journal.sqlite3", flush_interval_s=0.01)
        boss, agent = _people(sandbox)
        rule = Rule("nr", "Not responding", Condition.AGENT_NOT_RESPONDING, subjects=(agent,))
        waiting = Rule("wq", "Waiting", Condition.QUEUE_WAITING_ABOVE, threshold=3)
        try:
            async with _running(sandbox, boss, settings, journal, [rule, waiting]) as app:
                # Filters & alerts: the rule offers "Also run in Genesys Cloud…".
                app.window.filters_requested.emit()
                dialog = app.alerts.dialog
                assert isinstance(dialog, FilterDialog)
                row = dialog.genesys
                await _until(lambda: row.linker is not None, "the dialog's Genesys Cloud row")
                picked: list[Sequence[str]] = []

                def pick(_parent: QWidget, names: Sequence[str]) -> str:
                    picked.append(names)
                    return LEAD

                row.pick = pick
                dialog.rule_list.setCurrentRow(1)  # the queue rule cannot: it says why
                explained: list[str] = []
                row.explain = lambda _parent, reason: explained.append(reason)
                assert row.isVisibleTo(dialog) and row.button.text() == OFFER
                assert "queue's figures" in row.words.text()
                row.button.click()
                assert explained and "single events" in explained[0]
                dialog.rule_list.setCurrentRow(0)
                assert row.words.text() == ""
                row.button.click()
                await _until(lambda: app.triggers.linked("nr"), "the trigger made from the rule")
                assert LEAD in picked[0] and "Escalate to HR (draft)" not in picked[0]
                await _until(lambda: row.words.text().startswith("Also runs"), "the row's words")
                assert row.button.text() == STOP and LEAD in row.words.text()
                trigger_id = app.triggers.linked("nr")
                assert trigger_id is not None

                # The board: the trigger in words, then its run when the agent goes NR.
                board = app.triggers.open_board()
                assert isinstance(board, TriggersBoard)
                await _until(lambda: board.triggers, "the board's triggers")
                made = next(t for t in board.triggers if t.id == trigger_id)
                assert made.name == "Not responding (from Genesys Tray)" and made.enabled
                index = board.triggers.index(made)
                texts = [_text(board, index, c) for c in range(len(COLUMNS))]
                assert texts[1] == "An agent's status changes" and texts[2] == "On"
                assert texts[3] == LEAD
                assert texts[4] == (f"agent is {agent} and routing status is Not Responding")
                await _until(
                    lambda: (
                        app.triggers.watch is not None
                        and app.triggers.watch.shard is not None
                        and app.triggers.watch.shard.subscribed
                    ),
                    "the runs' channel",
                )
                await _not_responding(http, agent)
                await _until(lambda: _cell(board, trigger_id, RUNS) == "1", "the run counted")
                assert _cell(board, trigger_id, LAST_ERROR) == "—"

                # Turn it off on the board; a sentinel on the same topic proves it stopped.
                assert board.select(trigger_id)
                assert board.toggle_button.text() == "Turn o&ff"
                board.toggle_button.click()
                await _until(lambda: board.status.text().endswith("is off."), "turned off")
                assert not next(t for t in board.triggers if t.id == trigger_id).enabled
                assert app.triggers.api is not None
                flows = {w.name: w.id for w in await app.triggers.api.workflows()}
                sentinel = await app.triggers.api.create(
                    Trigger("Sentinel", made.topic_name, flows[LEAD], criteria=made.criteria)
                )
                await _not_responding(http, agent)
                await _until(lambda: app.triggers.log.last_hour(sentinel.id) == 1, "sentinel")
                assert app.triggers.log.last_hour(trigger_id) == 1  # no second run
                await board.reload()
                assert _cell(board, trigger_id, RUNS) == "1"
                tally = (await http.get("/sandbox/triggers")).json()["triggers"]
                assert tally[trigger_id]["invocations"] == 1
                assert tally[sentinel.id]["invocations"] == 1
        finally:
            await journal.close()


async def test_failures_would_it_fire_conflicts_and_the_rule_kept_in_step(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    async with _org() as (sandbox, http):
        journal = await Journal.open(tmp_path / "journal.sqlite3", flush_interval_s=0.01)
        boss, agent = _people(sandbox)
        rule = Rule("nr", "Not responding", Condition.AGENT_NOT_RESPONDING, subjects=(agent,))
        try:
            async with _running(sandbox, boss, settings, journal, [rule]) as app:
                posted: list[Notice] = []
                post = app.notifier.post

                def spy(notice: Notice) -> bool:
                    posted.append(notice)
                    return post(notice)

                app.notifier.post = spy  # type: ignore[method-assign]
                api = app.triggers.api
                assert api is not None
                flows = {w.name: w.id for w in await api.workflows()}
                made = await app.triggers.link(rule, flows[PAGER])  # a workflow that fails
                board = app.triggers.open_board()
                assert board is not None
                await _until(lambda: board.triggers, "the board's triggers")
                await _until(
                    lambda: (
                        app.triggers.watch is not None
                        and app.triggers.watch.shard is not None
                        and app.triggers.watch.shard.subscribed
                    ),
                    "the runs' channel",
                )
                await _not_responding(http, agent)
                await _until(lambda: _cell(board, made.id, LAST_ERROR) != "—", "the error")
                error = _cell(board, made.id, LAST_ERROR)
                assert "paging service" in error.lower()
                await _until(lambda: posted, "a desktop notice")
                assert posted[0].title == f"Trigger failed: {made.name}"
                feed = app.window.feed

                def trigger_rows() -> list[Any]:
                    rows = (feed.index(r, 0).data(ENTRY_ROLE) for r in range(feed.rowCount()))
                    return [e for e in rows if e is not None and e.kind == FeedKind.TRIGGER]

                await _until(trigger_rows, "a trigger line in the feed")
                assert trigger_rows()[0].severity == "warning"
                await journal.flush()
                stored = await journal.search(kinds=[FeedKind.TRIGGER.value])
                assert [e.subject_id for e in stored] == [made.id]

                # Would it fire? The journal's NR move would; the org's test agrees.
                await journal.flush()
                board.select(made.id)
                shown: list[tuple[int, int]] = []
                check = board.open_check(board.triggers[0])
                check.hits_shown.connect(lambda n, f: shown.append((n, f)))
                await _until(lambda: shown, "the journal's hits")
                looked, fired = shown[0]
                assert looked >= 2 and fired >= 1
                assert check.body.toPlainText().count("NOT_RESPONDING") == 1
                assert (await check.ask()).endswith("It would fire.")

                # A save over a version someone else moved on: a conflict that reloads.
                stale = board.triggers[0]
                await api.set_enabled(made.id, True)  # someone else's PUT
                await board.save(Trigger(**{**_fields(stale), "name": "Renamed"}))
                assert "changed" in board.status.text() and "as it is" in board.status.text()
                assert board.triggers[0].name == made.name

                # The rule changes (disabled) and is saved: its trigger follows; removed: gone.
                changed = await app.triggers.sync([Rule(**{**_fields(rule), "enabled": False})])
                assert changed == 1 and not (await api.get(made.id)).enabled
                assert await app.triggers.sync([]) == 1
                assert app.triggers.linked("nr") is None
                assert [t.id for t in await api.triggers()] == []
        finally:
            await journal.close()


def _fields(value: Any) -> dict[str, Any]:
    return {name: getattr(value, name) for name in value.__slots__}


async def test_an_agent_is_told_the_permission_to_ask_for(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    async with _org() as (sandbox, _http):
        journal = await Journal.open(tmp_path / "journal.sqlite3", flush_interval_s=0.01)
        _boss, agent = _people(sandbox)
        try:
            async with _running(sandbox, agent, settings, journal, []) as app:
                board = app.triggers.open_board()
                assert board is not None
                await _until(lambda: board.banner.isVisibleTo(board), "the banner")
                assert "processautomation:trigger:view" in board.banner.text()
                assert "Ask your Genesys Cloud admin" in board.banner.text()
        finally:
            await journal.close()
