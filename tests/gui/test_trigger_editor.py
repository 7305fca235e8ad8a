"""The trigger editor: pickers, the 12 comparisons, typed values, and what it refuses to save."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialogButtonBox
from pytestqt.qtbot import QtBot

from core.triggers.model import OPERATORS, Criterion, Trigger, Workflow
from core.triggers.words import OPERATOR_WORDS
from gui.dialogs.trigger_editor import TIMING_DELAY, TriggerEditor, parse_value, parse_values

TOPICS = ["v2.users.{id}.activity", "v2.detail.events.conversation.{id}.customer.end"]
FLOWS = [Workflow("wf1", "Text the team lead"), Workflow("wf2", "Draft", active=False)]


def test_values_are_typed() -> None:
    assert parse_value("3") == 3 and parse_value("2.5") == 2.5
    assert parse_value("true") is True and parse_value("no") is False
    assert parse_value("NOT_RESPONDING") == "NOT_RESPONDING"
    assert parse_value('{"a": 1}') == '{"a": 1}'  # objects stay text
    assert parse_values("ERROR, TRANSFER, 4") == ("ERROR", "TRANSFER", 4)


def test_every_comparison_is_offered_and_read_back(qtbot: QtBot) -> None:
    editor = TriggerEditor(TOPICS, FLOWS)
    qtbot.addWidget(editor)
    save = editor.buttons.button(QDialogButtonBox.StandardButton.Save)
    assert not save.isEnabled()  # no name yet
    editor.name.setText("Everything")
    for n, op in enumerate(OPERATORS):
        row = editor.add_row(None)
        combo = editor.criteria.cellWidget(row, 1)
        assert isinstance(combo, QComboBox)
        assert [combo.itemData(i) for i in range(combo.count())] == list(OPERATORS)
        assert combo.itemText(OPERATORS.index(op)) == OPERATOR_WORDS[op]
        editor.set_row(row, f"field{n}", op, "a, b" if op in ("In", "NotIn", "All") else "7")
    criteria = editor.criteria_of()
    assert [c.operator for c in criteria] == list(OPERATORS)
    by_op = {c.operator: c for c in criteria}
    assert by_op["In"] == Criterion("field6", "In", values=("a", "b"))
    assert by_op["Equal"].value == 7 and by_op["Size"].value == 7
    assert save.isEnabled()
    trigger = editor.trigger()
    assert trigger.topic_name == TOPICS[0] and trigger.target_id == "wf1"
    assert editor.workflow.itemText(1) == "Draft (not published)"
    assert "field0 is 7" in editor.words.text()


def test_an_existing_trigger_keeps_its_topic_id_and_version(qtbot: QtBot) -> None:
    existing = Trigger(
        "NR",
        TOPICS[1],
        "gone",
        criteria=(Criterion("mediaType", "Equal", "CHAT"),),
        delay_s=120,
        id="t1",
        version=4,
    )
    editor = TriggerEditor(TOPICS, FLOWS, existing)
    qtbot.addWidget(editor)
    assert not editor.topic.isEnabled()  # a topic cannot change once created
    assert editor.timing.currentIndex() == TIMING_DELAY and editor.seconds.value() == 120
    assert "missing workflow" in editor.workflow.currentText()
    assert editor.trigger() == existing
    editor.seconds.setValue(30)  # below the 60 s floor: the spin box holds it at 60
    assert editor.trigger().delay_s == 60
    editor.name.setText("")
    editor._refresh()
    assert "Give the trigger a name." in editor.problems.text()
