"""What to watch: choices, inline validation, the budget meter, refused topics, apply, persistence.

The dialog's engine calls are injected; here they are a small org worked out with the real
planner (``core.streaming.planner.plan_topics``), and, in the last test, the real demo engine and
app.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, SignalInstance
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from core.engine.records import BudgetRecord, EngineState, SelectionPreview, SelectionProgress
from core.engine.selection import Directory, Selection
from core.errors import ApiError
from core.rest.schema import RejectedTopic
from core.storage.settings.file import load_config, save_config
from core.storage.settings.model import AppConfig, WatchSettings
from core.streaming.planner import Budget, plan_topics, queue_topics, user_topic
from gui.dialogs.watch_dialog import WatchDialog
from gui.dialogs.watch_text import admin_request, topic_label

QUEUES = {"q-sales-en": "Sales EN", "q-sales-de": "Sales DE", "q-support": "Support"}
MEMBERS = {"q-sales-en": ["u-ann", "u-bob"], "q-sales-de": ["u-bob", "u-cem"], "q-support": []}
USERS = {"u-ann": "Ann Agent", "u-bob": "Bob Agent", "u-cem": "Cem Agent", "u-dan": "Dan Lead"}
MINE = frozenset({"q-sales-en"})
REFUSED = RejectedTopic(
    "v2.analytics.queues.q-sales-en.observations",
    "missing permissions",
    ("analytics:queueObservation:view",),
)


def _match(pattern: str, name: str) -> bool:
    core = pattern.strip("*").lower()
    if pattern.startswith("*") and pattern.endswith("*"):
        return core in name.lower()
    if pattern.endswith("*"):
        return name.lower().startswith(core)
    if pattern.startswith("*"):
        return name.lower().endswith(core)
    return name.lower() == core


class SmallOrg:
    """The injected engine calls over a small org, planned with the real planner."""

    def __init__(self) -> None:
        self.previews: list[Selection] = []
        self.applied: list[tuple[WatchSettings, list[str]]] = []
        self.fail_apply: Exception | None = None
        self.release = asyncio.Event()
        self.release.set()
        self.holding = asyncio.Event()  # the apply reached the point where it waits for release

    async def directory(self) -> Directory:
        return Directory(dict(QUEUES), MINE, dict(USERS), {q: len(m) for q, m in MEMBERS.items()})

    def resolve(self, selection: Selection) -> tuple[dict[str, str], dict[str, str]]:
        sel = selection.queues
        if isinstance(sel, tuple):
            queues = {q: QUEUES[q] for q in sel}
        elif sel == "mine":
            queues = {q: QUEUES[q] for q in MINE}
        elif sel == "all":
            queues = dict(QUEUES)
        elif sel == "none":
            queues = {}
        else:
            queues = {q: n for q, n in QUEUES.items() if _match(sel, n)}
        if isinstance(selection.users, tuple):
            users = {u: USERS[u] for u in selection.users}
        elif selection.users == "all":
            users = dict(USERS)
        elif selection.users == "members":
            users = {u: USERS[u] for q in queues for u in MEMBERS[q]}
        else:
            users = {}
        return users, queues

    def budget(self, selection: Selection) -> BudgetRecord:
        users, queues = self.resolve(selection)
        topics = [user_topic(u) for u in users] + [t for q in queues for t in queue_topics(q)]
        plan = plan_topics(topics, (), Budget())
        planned = {t for shard in plan.shards for t in shard}
        return BudgetRecord(
            plan.topic_count,
            len(plan.shards),
            tuple(len(s) for s in plan.shards),
            Budget().capacity,
            plan.over_budget,
            tuple(r for r in (REFUSED,) if r.id in planned),
        )

    async def preview(self, selection: Selection) -> SelectionPreview:
        self.previews.append(selection)
        users, queues = self.resolve(selection)
        return SelectionPreview(users, queues, self.budget(selection))

    async def apply(
        self,
        watch: WatchSettings,
        kinds: list[str],
        progress: Callable[[SelectionProgress], None],
    ) -> BudgetRecord:
        progress(SelectionProgress("resolving"))
        if self.fail_apply is not None:
            raise self.fail_apply
        progress(SelectionProgress("planning"))
        progress(SelectionProgress("subscribing", 0, 2))
        self.holding.set()
        await self.release.wait()
        progress(SelectionProgress("subscribing", 2, 2))
        progress(SelectionProgress("done", 2, 2))
        self.applied.append((watch, kinds))
        return self.budget(Selection(watch.queues, watch.users))


def make(
    qtbot: QtBot,
    org: SmallOrg,
    watch: WatchSettings | None = None,
    kinds: list[str] | None = None,
) -> WatchDialog:
    start = watch or WatchSettings()
    dialog = WatchDialog(
        watch,
        kinds if kinds is not None else ["presence", "routing", "queue"],
        budget=Budget(),
        live=org.budget(Selection(start.queues, start.users)),
        directory=org.directory,
        preview=org.preview,
        apply=org.apply,
    )
    qtbot.addWidget(dialog)
    return dialog


async def test_shows_the_saved_choice_and_fills_the_pickers(qtbot: QtBot) -> None:
    org = SmallOrg()
    dialog = make(qtbot, org, WatchSettings(("q-sales-de",), ("u-dan",)))
    assert dialog.queue_mode() == "pick" and dialog.user_mode() == "pick"
    assert await dialog.refresh_directory()
    assert dialog.queue_pick.picked() == ("q-sales-de",)
    assert dialog.user_pick.picked() == ("u-dan",)
    assert dialog.queue_pick.list.item(0).text() == "Sales DE"  # picked ones first
    assert "All queues (3)" in dialog.queue_radio["all"].text()
    assert "1 I am a member of" in dialog.queue_radio["mine"].text()
    # Search narrows the list without losing the picks.
    dialog.user_pick.search.setText("agent")
    assert dialog.user_pick.visible_ids() == ["u-ann", "u-bob", "u-cem"]
    assert dialog.user_pick.picked() == ("u-dan",)
    assert dialog.pending() == WatchSettings(("q-sales-de",), ("u-dan",))
    assert not dialog.apply_button.isEnabled()  # nothing changed yet


async def test_an_invalid_pattern_is_said_inline_and_blocks_apply(qtbot: QtBot) -> None:
    dialog = make(qtbot, SmallOrg())
    await dialog.refresh_directory()
    dialog.queue_radio["pattern"].setChecked(True)
    for bad, words in (
        ("", "Type a queue name"),
        ("Sa*les", "only stand at the start or the end"),
        ("**", "more than *"),
        ("mine", "reserved word"),
    ):
        dialog.pattern.setText(bad)
        assert words in dialog.problems.text(), bad
        assert not dialog.problems.isHidden()
        assert dialog.pending() is None
        assert not dialog.apply_button.isEnabled()
    dialog.pattern.clear()
    qtbot.keyClicks(dialog.pattern, "Sales*")  # type: ignore[no-untyped-call]
    assert dialog.problems.isHidden()
    assert dialog.pattern_matches.text() == "matches 2 queues"
    assert dialog.pending() == WatchSettings("Sales*", "members")
    assert dialog.apply_button.isEnabled()


async def test_picks_and_members_need_something_to_watch(qtbot: QtBot) -> None:
    dialog = make(qtbot, SmallOrg())
    await dialog.refresh_directory()
    dialog.queue_radio["pick"].setChecked(True)
    assert "Pick at least one queue" in dialog.problems.text()
    dialog.queue_pick.set_checked("q-support")
    assert dialog.problems.isHidden()
    dialog.queue_radio["none"].setChecked(True)
    assert "needs queues" in dialog.problems.text()
    dialog.user_radio["none"].setChecked(True)
    assert "Choose some queues or agents" in dialog.problems.text()
    dialog.user_radio["pick"].setChecked(True)
    assert "Pick at least one agent" in dialog.problems.text()
    dialog.user_pick.set_checked("u-cem")
    assert dialog.pending() == WatchSettings("none", ("u-cem",))


async def test_the_meter_previews_the_pending_choice_and_follows_the_live_budget(
    qtbot: QtBot,
) -> None:
    org = SmallOrg()
    dialog = make(qtbot, org)  # my queues (Sales EN) and its two members: 2 + 3 topics
    dialog.show()
    assert dialog.budget_panel.meter_source.text() == "In use now:"
    assert (
        dialog.budget_panel.topics_bar.value() == 5
        and dialog.budget_panel.channels_bar.value() == 1
    )
    assert (
        dialog.budget_panel.topics_bar.maximum() == 1000
        and dialog.budget_panel.channels_bar.maximum() == 20
    )
    previewed = signalled(dialog.preview_changed)
    dialog.queue_radio["all"].setChecked(True)
    await previewed  # the debounced preview runs once the choice settles
    assert org.previews[-1] == Selection("all", "members")
    assert dialog.budget_panel.meter_source.text() == "This selection, if applied:"
    assert dialog.budget_panel.topics_bar.value() == 3 + 9  # three agents, three queues
    assert (
        "3 agents and 3 queues, 12 topics on 1 channel" in dialog.budget_panel.preview_text.text()
    )
    # The live figures change while the dialog is open.
    dialog.show_budget(BudgetRecord(6, 1, (6,), Budget().capacity, (), ()))
    assert dialog.budget_panel.live_text.text() == "In use now: 6 topics on 1 channel"
    # Back to the applied choice: the meter shows the live figures again.
    dialog.queue_radio["mine"].setChecked(True)
    assert (
        dialog.budget_panel.meter_source.text() == "In use now:"
        and dialog.budget_panel.topics_bar.value() == 6
    )


async def test_refused_topics_are_listed_with_what_to_ask_an_admin(qtbot: QtBot) -> None:
    dialog = make(qtbot, SmallOrg())
    dialog.show_budget(BudgetRecord(5, 1, (5,), Budget().capacity, (), (REFUSED,)))
    assert (
        not dialog.budget_panel.rejected_list.isHidden()
        and dialog.budget_panel.no_rejections.isHidden()
    )
    assert await dialog.refresh_directory()
    dialog.show_budget(BudgetRecord(5, 1, (5,), Budget().capacity, (), (REFUSED,)))
    item = dialog.budget_panel.rejected_list.topLevelItem(0)
    assert item is not None
    assert (item.text(0), item.text(1)) == (
        "Sales EN: queue counters",
        "analytics:queueObservation:view",
    )
    assert item.toolTip(0) == REFUSED.id
    assert "Ask your Genesys Cloud admin" in dialog.budget_panel.admin_ask.text()
    assert (
        "analytics:queueObservation:view — for queue counters"
        in dialog.budget_panel.admin_ask.text()
    )
    dialog.show_budget(BudgetRecord(5, 1, (5,), Budget().capacity, (), ()))
    assert (
        dialog.budget_panel.rejected_list.isHidden()
        and not dialog.budget_panel.no_rejections.isHidden()
    )
    assert admin_request(()) == ""
    assert topic_label(user_topic("u-ann"), USERS) == "Ann Agent: presence and routing status"
    assert topic_label("v2.routing.queues.q-x.users", {}) == "q-x…: queue membership"


async def test_apply_shows_progress_and_reports_the_choice(qtbot: QtBot) -> None:
    org = SmallOrg()
    org.release.clear()
    dialog = make(qtbot, org)
    dialog.show()
    await dialog.refresh_directory()
    dialog.queue_radio["pick"].setChecked(True)
    dialog.queue_pick.set_checked("q-sales-de")
    dialog.kind_boxes["gap"].setChecked(True)
    applied = signalled(dialog.applied)
    dialog.apply_button.click()
    await asyncio.wait_for(org.holding.wait(), 3)
    assert dialog.status.text() == "Subscribing: 0 of 2 channels"
    assert dialog.progress.isVisible() and dialog.progress.maximum() == 2
    assert not dialog.apply_button.isEnabled()  # one apply at a time
    org.release.set()
    watch, kinds = await applied
    assert watch == WatchSettings(("q-sales-de",), "members")
    assert kinds == ["presence", "routing", "queue", "gap"]
    assert org.applied == [(watch, kinds)]
    assert dialog.status.text().startswith("Re-synced")
    assert dialog.progress.value() == dialog.progress.maximum()
    assert dialog.applied_watch == watch and not dialog.apply_button.isEnabled()
    assert dialog.live is not None and dialog.live.topics == 2 + 3  # Bob and Cem, one queue


async def test_a_failed_apply_is_said_and_the_old_choice_stays(qtbot: QtBot) -> None:
    org = SmallOrg()
    org.fail_apply = ApiError(503, "The service is unavailable.")
    dialog = make(qtbot, org)
    dialog.queue_radio["all"].setChecked(True)
    assert not await dialog.apply()
    assert "Not applied; still watching the previous selection" in dialog.status.text()
    assert dialog.applied_watch == WatchSettings()
    assert dialog.apply_button.isEnabled()  # try again


async def test_a_directory_that_cannot_be_read_is_said(qtbot: QtBot) -> None:
    async def broken() -> Directory:
        raise ApiError(403, "Missing directory:user:view", code="missing.permissions")

    dialog = WatchDialog(
        None,
        [],
        budget=Budget(),
        live=None,
        directory=broken,
        preview=SmallOrg().preview,
        apply=SmallOrg().apply,
    )
    qtbot.addWidget(dialog)
    assert not await dialog.refresh_directory()
    assert "could not be read" in dialog.status.text()
    assert all(box.isChecked() for box in dialog.kind_boxes.values())  # [] means every kind


def test_the_choice_is_persisted_and_a_bad_one_is_repaired(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    for watch in (
        WatchSettings("Sales*", "members"),
        WatchSettings(("q-1", "q-2"), ("u-1",)),
        WatchSettings("none", "all"),
    ):
        save_config(path, AppConfig().with_watch(watch))
        loaded = load_config(path)
        assert loaded.problem is None and loaded.config.watch == watch
    # The org of a file without a profile (the demo org's own file) keeps it under "".
    assert json.loads(path.read_text())["watches"] == {"": {"queues": "none", "users": "all"}}
    # A file from before the setting: the default (my queues) applies, nothing to repair.
    path.write_text(json.dumps({"version": 1, "rules": []}))
    assert load_config(path).config.watch is None
    path.write_text(json.dumps({"version": 1, "rules": [], "watch": {"queues": "Sa*les"}}))
    loaded = load_config(path)
    assert loaded.config.watch is None and loaded.problem and "watch" in loaded.problem


async def test_the_app_opens_it_applies_through_the_engine_and_remembers(
    qtbot: QtBot, settings: QSettings, tmp_path: Path
) -> None:
    """The wired app and the real demo engine: from the menu to a re-subscribed board."""
    from core.app.bootstrap import build_engine
    from gui.app import GuiApp
    from gui.options import GuiOptions

    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=5.0
    )
    config_file = tmp_path / "config.json"
    options = GuiOptions(
        settings=settings, config=AppConfig(), config_path=config_file, watch_network=False
    )
    app = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    running = asyncio.ensure_future(app.run())
    try:
        await asyncio.wait_for(_until(lambda: app.service.state is EngineState.LIVE), 20)
        before = dict(app.service.watch.queues)
        menu = app.window.menuBar().actions()[0].menu()
        assert isinstance(menu, QMenu)
        next(a for a in menu.actions() if a.text() == "&What to watch…").trigger()
        dialog = app.watch_dialog
        assert dialog is not None and dialog.isVisible()
        await asyncio.wait_for(_until(lambda: dialog.directory is not None), 10)
        assert dialog.directory is not None
        keep = sorted(before)[0]
        dialog.queue_radio["pick"].setChecked(True)
        dialog.queue_pick.set_checked(keep)
        other = next(q for q in sorted(dialog.directory.queues) if q not in before)
        dialog.queue_pick.set_checked(other)
        await asyncio.wait_for(_until(lambda: dialog.preview is not None), 10)
        assert dialog.preview is not None and set(dialog.preview.queues) == {keep, other}
        assert await asyncio.wait_for(dialog.apply(), 20)
        assert set(app.service.watch.queues) == {keep, other}
        assert not set(before) - {keep} & set(app.service.store.queues)
        saved = load_config(config_file).config
        assert saved.watch == WatchSettings((keep, other), "members")
        dialog.resize(980, 700)
        dialog.grab().save(str(tmp_path / "watch.png"))
        assert (tmp_path / "watch.png").stat().st_size > 10_000
        assert app.open_watch() is dialog  # asking again brings the open one forward
    finally:
        app.stop_requested.set()
        await asyncio.wait_for(running, 10)
        await engine.aclose()
    # The next start watches the remembered choice from the beginning.
    engine = await build_engine(
        demo=True, environment=None, queues="mine", users="mine", demo_speed=5.0
    )
    options = GuiOptions(
        settings=settings, config=saved, config_path=config_file, watch_network=False
    )
    again = GuiApp(QApplication.instance(), engine.service, options)  # type: ignore[arg-type]
    running = asyncio.ensure_future(again.run())
    try:
        assert engine.service.selection == Selection((keep, other), "members")
        await asyncio.wait_for(_until(lambda: again.service.state is EngineState.LIVE), 20)
        assert set(engine.service.watch.queues) == {keep, other}
    finally:
        again.stop_requested.set()
        await asyncio.wait_for(running, 10)
        await engine.aclose()


def signalled(signal: SignalInstance, timeout_s: float = 3.0) -> asyncio.Future[list[object]]:
    """The arguments of the next emission of ``signal``, awaited on the loop (not nested)."""
    got: asyncio.Future[list[object]] = asyncio.get_running_loop().create_future()

    def on_emit(*args: object) -> None:
        if not got.done():
            got.set_result(list(args))

    signal.connect(on_emit)
    got.add_done_callback(lambda _: signal.disconnect(on_emit))
    return asyncio.ensure_future(asyncio.wait_for(got, timeout_s))


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 - the engine and the sandbox move on their own
        await asyncio.sleep(0.05)
