"""The Filters & alerts dialog: create, edit, validate inline, save, reload, test on the journal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QPushButton
from pytestqt.qtbot import QtBot

from core.feed import FeedEntry
from core.journal import Journal
from core.rules import Condition, Rule, demo_rules
from gui.filter_dialog import FilterDialog

QUEUES = {"q-sales": "Sales EN", "q-returns": "Returns EN"}
USERS = {"u-dana": "Dana Agent"}
PRESENCES = {"lunch-id": "Lunch", "oq-id": "On Queue"}


def make(qtbot: QtBot, rules: list[Rule], journal: Journal | None = None) -> FilterDialog:
    dialog = FilterDialog(
        rules,
        ["presence", "routing"],
        queues=QUEUES,
        users=USERS,
        presences=PRESENCES,
        journal=journal,
    )
    qtbot.addWidget(dialog)
    return dialog


def type_into(qtbot: QtBot, field: QLineEdit, text: str) -> None:
    """Replace a field's text the way a person does: select all, type."""
    field.selectAll()
    qtbot.keyClicks(field, text)  # type: ignore[no-untyped-call]


def save_button(dialog: FilterDialog) -> QPushButton:
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Save)


def test_adds_edits_and_saves_a_rule(qtbot: QtBot) -> None:
    dialog = make(qtbot, demo_rules())
    dialog.add_button.click()
    assert dialog.rule_list.count() == 3
    type_into(qtbot, dialog.name, "Sales busy")
    dialog.subject.setCurrentIndex(dialog.subject.findData("q-sales"))
    type_into(qtbot, dialog.threshold, "3")
    with qtbot.waitSignal(dialog.saved, timeout=1000) as blocker:
        save_button(dialog).click()
    rules, kinds = blocker.args
    saved = rules[-1]
    assert (saved.name, saved.condition, saved.subjects, saved.threshold, saved.for_s) == (
        "Sales busy",
        Condition.QUEUE_WAITING_ABOVE,
        ("q-sales",),
        3.0,
        10.0,
    )
    assert kinds == ["presence", "routing"]


def test_a_threshold_that_is_not_a_number_is_shown_inline_and_blocks_save(qtbot: QtBot) -> None:
    dialog = make(qtbot, demo_rules())
    dialog.rule_list.setCurrentRow(0)
    type_into(qtbot, dialog.threshold, "lots")
    assert dialog.problems.text() == "Threshold: 'lots' is not a number."  # said once
    assert not dialog.problems.isHidden()
    assert not save_button(dialog).isEnabled()
    type_into(qtbot, dialog.threshold, "4")
    assert dialog.problems.isHidden()
    assert save_button(dialog).isEnabled()


def test_a_rule_that_can_never_fire_is_refused(qtbot: QtBot) -> None:
    never = Rule(id="r", name="Never", condition=Condition.QUEUE_ON_QUEUE_BELOW, threshold=0)
    dialog = make(qtbot, [never])
    assert dialog.problems.text() != ""
    assert not save_button(dialog).isEnabled()


def test_enable_switches_and_pickers_follow_the_condition(qtbot: QtBot) -> None:
    dialog = make(qtbot, demo_rules())
    dialog.rule_list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert dialog.rules[1].enabled is False
    dialog.rule_list.setCurrentRow(1)  # Not responding: agents
    assert dialog.subject.itemText(0) == "Any agent"
    assert dialog.subject.findData("u-dana") > 0
    assert not dialog.threshold.isEnabled()
    dialog.condition.setCurrentIndex(dialog.condition.findData(Condition.AGENT_PRESENCE_IS.value))
    assert dialog.presence.isEnabled()
    assert dialog.presence.findData("lunch-id") >= 0  # the org's own presences are offered
    dialog.presence.setCurrentIndex(dialog.presence.findData("lunch-id"))
    assert dialog.rules[1].presence == "lunch-id"


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    opened = await Journal.open(tmp_path / "j.sqlite3", retention_days=0)
    now = datetime.now(UTC)
    waits = [(50, 0), (40, 5), (30, 6), (20, 0)]  # minutes ago, waiting
    for minutes, waiting in waits:
        opened.append(
            FeedEntry(
                now - timedelta(minutes=minutes),
                "queue",
                "q-sales",
                "Sales EN",
                f"Sales EN: waiting {waiting}",
                data={"source": "stream", "waiting": waiting},
            )
        )
    await opened.flush()
    yield opened
    await opened.close()


async def test_tests_a_rule_against_the_journal(qtbot: QtBot, journal: Journal) -> None:
    rule = Rule(
        id="r",
        name="Busy",
        condition=Condition.QUEUE_WAITING_ABOVE,
        subjects=("q-sales",),
        threshold=3,
        for_s=60,
    )
    dialog = make(qtbot, [rule], journal)
    text = await dialog.test_against_journal(rule, timedelta(hours=1))
    assert text.startswith("Would have fired once")
    assert dialog.replay_result.text() == text
    calm = Rule(id="c", name="Calm", condition=Condition.QUEUE_WAITING_ABOVE, threshold=10)
    assert await dialog.test_against_journal(calm, timedelta(hours=1)) == "Would not have fired."
