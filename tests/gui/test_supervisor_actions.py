"""Supervisor actions from the Agents board, end to end against the sandbox (issue 17).

The real app (GuiApp, its engine signed in through the sandbox's PKCE page, a real journal file)
runs offscreen. The row menu is opened the way a right-click does (the view's
``customContextMenuRequested``, so the drill-down's ``menu.exec`` runs its own event loop), an
entry is chosen in the open menu, and the confirmation is answered by clicking its button. A
supervisor puts a Not Responding agent back On Queue: the sandbox's truth, the board, the feed
and the journal show it. An agent sees the actions disabled, each naming the permission to ask
for, is told at sign-in what will not work, and when the org refuses anyway (permissions not
known), the refusal names the permission and is journaled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import QPoint, QSettings, QTimer
from PySide6.QtWidgets import QAbstractItemView, QApplication, QMenu, QMessageBox, QTableView
from pytestqt.qtbot import QtBot

from core.engine.records import EngineState
from core.feed.payloads import FeedKind
from core.storage.journal.journal import Journal
from gui.app import GuiApp
from gui.models.agents import AgentsModel
from gui.models.feed import FeedModel
from gui.options import GuiOptions
from gui.window.agent_menu import (
    OFF_QUEUE_WORDS,
    ON_QUEUE_WORDS,
    PRESENCE_WORDS,
    SIGN_OUT_WORDS,
    needs_words,
)
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.gui.signed_in import engine_signed_in_as

# A menu's popup grabs the keyboard; the offscreen platform cannot, and says so (harmless).
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support grabbing the keyboard")
WAIT_S = 20.0
Json = dict[str, Any]
PRESENCE_EDIT = "presence:userPresence:edit"
LOG_OFF = "oauth:token:delete"


@dataclass(frozen=True)
class Entry:
    """One entry of the row menu as it was shown."""

    text: str
    enabled: bool
    tooltip: str
    submenu: tuple[str, ...]


@contextlib.asynccontextmanager
async def _org() -> AsyncIterator[tuple[Sandbox, httpx.AsyncClient]]:
    """A small, still sandbox org, stopped inside the test (no timer fires after it)."""
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


@contextlib.asynccontextmanager
async def _journal(tmp_path: Path) -> AsyncIterator[Journal]:
    journal = await Journal.open(tmp_path / "journal.sqlite3", flush_interval_s=0.01)
    try:
        yield journal
    finally:
        await journal.close()


async def _control(http: httpx.AsyncClient, user_id: str, presence: str, routing: str) -> None:
    """The sandbox's control API: put a user in a presence and routing status."""
    resp = await http.post(f"/sandbox/users/{user_id}/presence", json={"presence": presence})
    assert resp.status_code == 200, resp.text
    resp = await http.post(f"/sandbox/users/{user_id}/routingstatus", json={"status": routing})
    assert resp.status_code == 200, resp.text


async def _truth(http: httpx.AsyncClient, user_id: str) -> Json:
    resp = await http.get("/sandbox/truth")
    assert resp.status_code == 200, resp.text
    user: Json = resp.json()["users"][user_id]
    return user


async def _truth_until(
    http: httpx.AsyncClient, user_id: str, check: Callable[[Json], bool]
) -> Json:
    """A user's truth once ``check`` holds (or at the deadline)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        truth = await _truth(http, user_id)
        if check(truth) or asyncio.get_running_loop().time() > deadline:
            return truth
        await asyncio.sleep(0.05)


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition`` with a deadline (Qt signals and the loop keep running)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"not within {WAIT_S:g} s: {what}")
        await asyncio.sleep(0.02)


def _member_agents(sandbox: Sandbox, but: str = "") -> list[str]:
    """Agents who are members of a queue (the board shows them), sorted by name."""
    org = sandbox.org
    members = {uid for q in org.queues.values() for uid in q.members}
    found = [u for u in org.users.values() if u.role == "agent" and u.id in members]
    return [u.id for u in sorted(found, key=lambda u: u.name) if u.id != but]


def _row_point(app: GuiApp, user_id: str) -> tuple[QTableView, QPoint]:
    """The Agents board's table and a point on the user's row (the board's tab shown)."""
    window = app.window
    window.tabs.setCurrentWidget(window.agents_board)
    board = window.agents_board
    assert board.select_agent(user_id), "the agent is not on the board"
    view = board.view
    index = board.proxy.mapFromSource(window.agents.index(window.agents.row_of(user_id), 0))
    return view, view.visualRect(index).center()


async def _row_menu(
    view: QAbstractItemView, pos: QPoint, choose: tuple[str, ...] = ()
) -> list[Entry]:
    """Right-click at ``pos``: what the menu shows, and (optionally) choose an entry in it.

    The drill-down runs ``menu.exec`` (a nested event loop), as for a person's click; a timer
    inside that loop reads the open menu, triggers ``choose`` (a path through submenus) and
    closes it.
    """
    seen: list[Entry] = []
    missing: list[str] = []
    done = asyncio.get_running_loop().create_future()

    def read_menu() -> None:
        popup = QApplication.activePopupWidget()
        if done.done():
            return  # no menu opened (checked below): stop looking
        if not isinstance(popup, QMenu):
            QTimer.singleShot(10, read_menu)
            return
        try:
            for action in popup.actions():
                if action.isSeparator():
                    continue
                sub = action.menu()
                texts = tuple(a.text() for a in sub.actions()) if isinstance(sub, QMenu) else ()
                seen.append(Entry(action.text(), action.isEnabled(), action.toolTip(), texts))
            menu: QMenu = popup
            for step in choose:
                found = [a for a in menu.actions() if a.text() == step]
                if len(found) != 1:
                    missing.append(f"{step!r} not in {[a.text() for a in menu.actions()]}")
                    return
                sub = found[0].menu()
                if isinstance(sub, QMenu):
                    menu = sub
                else:
                    found[0].trigger()
        finally:
            popup.close()  # always: the menu's loop must end, or the test hangs

    def right_click() -> None:
        QTimer.singleShot(0, read_menu)  # runs inside the menu's own loop
        view.customContextMenuRequested.emit(pos)
        if not seen and not missing:
            missing.append("no menu opened")
        if not done.done():
            done.set_result(None)

    QTimer.singleShot(0, right_click)  # from the Qt loop, as a click comes: not inside a task
    await asyncio.wait_for(done, WAIT_S)
    assert not missing, missing
    return seen


def _entry(entries: list[Entry], text: str) -> Entry:
    found = [e for e in entries if e.text == text]
    assert len(found) == 1, [e.text for e in entries]
    return found[0]


async def _answer(app: GuiApp, yes: bool) -> str:
    """Answer the open confirmation; returns its question."""
    await _until(lambda: app.actions.menu.question is not None, "the confirmation")
    box = app.actions.menu.question
    assert box is not None and box.isVisible()
    question = box.text()
    button = QMessageBox.StandardButton.Yes if yes else QMessageBox.StandardButton.No
    box.button(button).click()
    return question


async def _journaled(journal: Journal) -> list[Any]:
    await journal.flush()
    return list(reversed(await journal.search(kinds=[FeedKind.ACTION.value])))


@contextlib.asynccontextmanager
async def _running(
    sandbox: Sandbox, user_id: str, settings: QSettings, journal: Journal
) -> AsyncIterator[GuiApp]:
    engine = await engine_signed_in_as(sandbox, user_id)
    assert engine.user_id == user_id
    options = GuiOptions(
        settings=settings, self_user_id=engine.user_id, watch_network=False, journal=journal
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


def _board_routing(app: GuiApp, user_id: str) -> object:
    model = app.window.agents
    row = model.row_of(user_id)
    return model.data(model.index(row, AgentsModel.ROUTING)) if row >= 0 else None


# --------------------------------------------------------------------------- a supervisor
async def test_a_supervisor_puts_a_not_responding_agent_back_on_queue_from_the_board(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    async with _org() as (sandbox, http), _journal(tmp_path) as journal:
        sam = next(u for u in sandbox.org.users.values() if u.role == "supervisor")
        agent = _member_agents(sandbox)[0]
        name = sandbox.org.users[agent].name
        await _control(http, agent, "ON_QUEUE", "NOT_RESPONDING")
        async with _running(sandbox, sam.id, settings, journal) as app:
            await _until(lambda: app.actions.menu.permissions is not None, "permissions read")
            assert app.actions.missing == []  # a supervisor lacks nothing: no message
            assert app.actions.message is None
            await _until(lambda: _board_routing(app, agent) == "Not Responding", "the board")
            view, pos = _row_point(app, agent)

            # A "No" changes nothing.
            asked: list[object] = []
            app.actions.menu.requested.connect(asked.append)
            entries = await _row_menu(view, pos, (ON_QUEUE_WORDS,))
            assert await _answer(app, yes=False) == f"Put {name} On Queue?"
            texts = [e.text for e in entries]
            assert texts[0].startswith("Details")  # the drill-down's own entry stays first
            assert texts[1:] == [PRESENCE_WORDS, ON_QUEUE_WORDS, OFF_QUEUE_WORDS, SIGN_OUT_WORDS]
            assert all(e.enabled and not e.tooltip.startswith("Needs") for e in entries)
            presences = _entry(entries, PRESENCE_WORDS).submenu
            labels = {c.label.replace("&", "&&") for c in app.actions.menu.choices}
            assert presences and set(presences) == labels
            assert "On Queue" not in presences  # going on queue is its own entry
            assert asked == []  # the answer is synchronous: nothing was asked of the app
            assert (await _truth(http, agent))["routingStatus"] == "NOT_RESPONDING"

            # "Yes": the org puts the agent On Queue, and everything shows it.
            await _row_menu(view, pos, (ON_QUEUE_WORDS,))
            assert await _answer(app, yes=True) == f"Put {name} On Queue?"
            assert len(asked) == 1
            truth = await _truth_until(
                http, agent, lambda t: t["routingStatus"] != "NOT_RESPONDING"
            )
            assert truth["routingStatus"] == "IDLE" and truth["presence"] == "ON_QUEUE"
            await _until(lambda: _board_routing(app, agent) == "Idle", "the board follows")
            feed, shown = app.window.feed, app.window.feed_proxy
            said = f"You put {name} On Queue"

            def in_the_feed() -> bool:
                rows = (shown.mapToSource(shown.index(r, 0)).row() for r in range(shown.rowCount()))
                return any(feed.entry(r).summary == said for r in rows)

            await _until(in_the_feed, "the feed (as filtered by default)")
            row = next(r for r in range(feed.rowCount()) if feed.entry(r).summary == said)
            assert feed.data(feed.index(row, FeedModel.KIND)) == "Action"
            assert app.actions.message is None  # success: no dialog
            rows = await _journaled(journal)
            assert [r.summary for r in rows] == [said]
            data = rows[0].data.to_json()
            assert data["actorId"] == sam.id and data["actorName"] == sam.name
            assert (data["action"], data["targetId"], data["value"], data["outcome"]) == (
                "routing",
                agent,
                "ON_QUEUE",
                "done",
            )
            assert rows[0].subject_id == agent
            assert rows[0].kind == FeedKind.ACTION.value

            # On queue now: the menu offers "Take Off Queue" and no "Put On Queue".
            entries = await _row_menu(view, pos)
            assert [e.text for e in entries][1:] == [
                PRESENCE_WORDS,
                OFF_QUEUE_WORDS,
                SIGN_OUT_WORDS,
            ]
            # Grouped by status, the tree's rows carry the same actions.
            board = app.window.agents_board
            board.set_grouped(True)
            assert board.select_agent(agent)
            tree = board.tree
            entries = await _row_menu(tree, tree.visualRect(tree.currentIndex()).center())
            assert [e.text for e in entries][1:] == [
                PRESENCE_WORDS,
                OFF_QUEUE_WORDS,
                SIGN_OUT_WORDS,
            ]

            # "Set presence ▸ <the org's label>" from the tree, then "Sign out…".
            choice = next(c for c in app.actions.menu.choices if c.system_presence == "BREAK")
            path = (PRESENCE_WORDS, choice.label.replace("&", "&&"))
            await _row_menu(tree, tree.visualRect(tree.currentIndex()).center(), path)
            assert await _answer(app, yes=True) == f"Set {name}'s presence to {choice.label}?"
            truth = await _truth_until(
                http, agent, lambda t: t["presenceDefinitionId"] == choice.id
            )
            assert truth["presenceDefinitionId"] == choice.id
            store = app.service.store
            await _until(lambda: store.users[agent].definition_id == choice.id, "the store")
            assert board.select_agent(agent)
            await _row_menu(tree, tree.visualRect(tree.currentIndex()).center(), (SIGN_OUT_WORDS,))
            assert await _answer(app, yes=True) == f"Sign {name} out of Genesys Cloud?"
            truth = await _truth_until(http, agent, lambda t: t["presence"] == "OFFLINE")
            assert truth["presence"] == "OFFLINE"

            def actions_in_feed() -> list[str]:
                return [
                    e.summary
                    for e in (feed.entry(r) for r in range(feed.rowCount()))
                    if e.kind == FeedKind.ACTION.value
                ]

            await _until(lambda: len(actions_in_feed()) == 3, "three actions in the feed")
            rows = await _journaled(journal)
            assert [r.summary for r in rows] == [
                said,
                f"You set {name} to {choice.label}",
                f"You logged {name} off",
            ]
            assert sorted(actions_in_feed()) == sorted(r.summary for r in rows)
            assert app.actions.message is None  # no dialog for any success


# --------------------------------------------------------------------------- an agent
async def test_an_agent_sees_the_actions_disabled_and_a_refusal_names_the_permission(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    async with _org() as (sandbox, http), _journal(tmp_path) as journal:
        me = _member_agents(sandbox)[0]
        mates = {uid for q in sandbox.org.queues_of(me) for uid in q.members}
        other = next(a for a in _member_agents(sandbox, but=me) if a in mates)
        other_name = sandbox.org.users[other].name
        await _control(http, other, "ON_QUEUE", "NOT_RESPONDING")
        async with _running(sandbox, me, settings, journal) as app:
            await _until(lambda: app.actions.menu.permissions is not None, "permissions read")
            # Told once at sign-in what will not work, and why.
            box = app.actions.message
            assert box is not None and box.isVisible() and not box.isModal()
            assert box.objectName() == "actionMessage_missing"
            assert "Logging an agent off: Log off is refused. Ask your admin for " + LOG_OFF in (
                box.text()
            )
            assert PRESENCE_EDIT in box.text()
            assert app.actions.missing and settings.value("permissions/told")
            box.close()

            await _until(lambda: _board_routing(app, other) == "Not Responding", "the board")
            view, pos = _row_point(app, other)
            entries = await _row_menu(view, pos)
            for text in (PRESENCE_WORDS, ON_QUEUE_WORDS, OFF_QUEUE_WORDS):
                entry = _entry(entries, text)
                assert not entry.enabled and entry.tooltip == needs_words(PRESENCE_EDIT), entry
            sign_out = _entry(entries, SIGN_OUT_WORDS)
            assert not sign_out.enabled and sign_out.tooltip == needs_words(LOG_OFF)
            assert needs_words(PRESENCE_EDIT) == (
                "Needs presence:userPresence:edit — ask your Genesys Cloud admin"
            )
            # My own row: my presence and routing are mine to change.
            own_view, own_pos = _row_point(app, me)
            own = await _row_menu(own_view, own_pos)
            assert _entry(own, PRESENCE_WORDS).enabled
            assert not _entry(own, SIGN_OUT_WORDS).enabled

            # Permissions not known (as when they cannot be read): offered, and refused by the
            # org with the permission named; journaled; nothing changed.
            app.actions.menu.permissions = None
            entries = await _row_menu(view, pos, (ON_QUEUE_WORDS,))
            assert _entry(entries, ON_QUEUE_WORDS).enabled
            assert await _answer(app, yes=True) == f"Put {other_name} On Queue?"
            await _until(
                lambda: (
                    (m := app.actions.message) is not None
                    and m.objectName() == "actionMessage_refused"
                ),
                "the refusal",
            )
            refusal = app.actions.message
            assert refusal is not None and refusal.isVisible()
            assert refusal.text() == (
                f"{other_name} was not put On Queue.\n\n"
                f"You need the permission {PRESENCE_EDIT} (ask your Genesys Cloud admin)."
            )
            assert (await _truth(http, other))["routingStatus"] == "NOT_RESPONDING"
            rows = await _journaled(journal)
            assert len(rows) == 1 and rows[0].severity == "warning"
            data = rows[0].data.to_json()
            assert (data["outcome"], data["permission"], data["actorId"]) == (
                "refused",
                PRESENCE_EDIT,
                me,
            )
            # The org's word sticks: the entry is disabled from now on, naming the permission.
            entries = await _row_menu(view, pos)
            entry = _entry(entries, ON_QUEUE_WORDS)
            assert not entry.enabled and entry.tooltip == needs_words(PRESENCE_EDIT)


async def test_what_will_not_work_is_said_once_not_at_every_start(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    async with _org() as (sandbox, _http), _journal(tmp_path) as journal:
        me = _member_agents(sandbox)[0]
        told: list[object] = []
        for _start in range(2):
            async with _running(sandbox, me, settings, journal) as app:
                await _until(lambda: app.actions.menu.permissions is not None, "permissions")
                told.append(app.actions.missing)
                box = app.actions.message
                told.append(box is not None and box.objectName() == "actionMessage_missing")
        lines, shown_first, again, shown_again = told
        assert isinstance(lines, list) and lines and lines == again
        assert (shown_first, shown_again) == (True, False)
        # A change in what is missing is said again.
        sandbox.org.users[me].permissions = sandbox.org.users[me].permissions - {
            "directory:user:view"
        }
        async with _running(sandbox, me, settings, journal) as app:
            await _until(lambda: app.actions.menu.permissions is not None, "permissions")
            box = app.actions.message
            assert box is not None and "directory:user:view" in box.text()
