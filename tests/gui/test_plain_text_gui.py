"""Server text on the boards, in tooltips, balloons and the welcome dialog reads as written.

A hostile name or presence message (bidi override, newline, markup) arrives through the real
Store; the boards show one plain line, and tooltips render tags as text, never as markup.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.alerts.model import Severity
from core.domain.text import plain_line
from core.errors import OAuthError
from core.feed.entry import FeedEntry
from core.feed.payloads import RawData
from core.state.store import Store
from core.streaming.events import PresenceChanged
from gui.dialogs.welcome_dialog import WelcomeDialog
from gui.models.agents import AgentsModel
from gui.models.feed import FeedModel
from gui.models.queues import QueuesModel
from gui.notifications.fallbacks import TrayBalloonNotifier
from gui.notifications.notice import Notice
from gui.plain_text import plain_tooltip
from gui.tray.controller import TrayController

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
TIP = Qt.ItemDataRole.ToolTipRole
NAME = "Dana\u202eTNEGA\u202c\nAlerts: Everyone is Offline"
MARKUP = '<b>URGENT</b> <img src="http://evil.example/x.png"> call me'


@pytest.fixture(autouse=True)
def _app(qapp: QApplication) -> Iterator[QApplication]:
    yield qapp
    gc.collect()  # dialogs freed here, on the GUI thread


def shown_as(tooltip: str) -> str:
    """What a tooltip reads on screen: Qt renders it as markup when it looks like markup."""
    document = QTextDocument()
    if GuiQt.mightBeRichText(tooltip):
        document.setHtml(tooltip)
    else:
        document.setPlainText(tooltip)
    return document.toPlainText()


def hostile_store() -> Store:
    store = Store()
    store.user("u").name = NAME
    store.queue("q").name = NAME
    store.presence_labels.update({"lunch": "Lunch\u2066\n<i>x</i>"})
    store.apply(PresenceChanged("u", "lunch", "MEAL", MARKUP + "\nsecond line", T0))
    return store


def test_boards_show_a_hostile_name_as_one_plain_line() -> None:
    store = hostile_store()
    agents = AgentsModel(store, clock=lambda: T0)
    agents.set_users(["u"])
    queues = QueuesModel(store)
    queues.set_queues(["q"])
    name = agents.index(0, AgentsModel.NAME).data()
    assert name == plain_line(NAME) == "DanaTNEGA Alerts: Everyone is Offline"
    assert queues.index(0, QueuesModel.NAME).data() == name
    assert agents.index(0, AgentsModel.PRESENCE).data() == "Lunch <i>x</i>"


def test_a_presence_message_with_tags_is_not_markup_in_the_tooltip() -> None:
    agents = AgentsModel(hostile_store(), clock=lambda: T0)
    agents.set_users(["u"])
    tip = agents.index(0, AgentsModel.PRESENCE).data(TIP)
    assert shown_as(tip) == f"Lunch <i>x</i> (Meal): {MARKUP} second line"


def test_a_feed_summary_with_tags_is_not_markup_in_the_tooltip() -> None:
    model = FeedModel()
    summary = f"{plain_line(NAME)}: On Queue → {MARKUP} & more"
    model.append([FeedEntry(T0, "presence", "u", "Dana", summary, "info", RawData({}))])
    assert shown_as(model.index(0, FeedModel.SUMMARY).data(TIP)) == summary


class FakeTray(TrayController):
    """A TrayController that believes it is docked (offscreen has no tray)."""

    def __init__(self) -> None:
        super().__init__()
        self.balloons: list[tuple[str, str, str]] = []

    @staticmethod
    def available() -> bool:
        return True

    def is_visible(self) -> bool:
        return True

    def show_balloon(self, title: str, body: str, severity: str = "info") -> None:
        self.balloons.append((title, body, severity))


def test_tray_balloons_carry_plain_text(qtbot: QtBot) -> None:
    tray = FakeTray()
    balloons = TrayBalloonNotifier(tray, supports_messages=lambda: True)
    notice = Notice(
        key="waiting:q",
        title="Sales\u202e EN\r\nAll clear: 0 waiting",
        body="Longest wait 4:12\u2067\x1b[2J\nthreshold 3:00",
        severity=Severity.WARNING,
        subject_kind="queue",
        subject_id="q",
    )
    assert balloons.show(notice, []) > 0
    [(title, body, _)] = tray.balloons
    assert title == "Sales EN All clear: 0 waiting"
    assert body == "Longest wait 4:12[2J\nthreshold 3:00"  # the body's own lines stay
    balloons.stop()


async def test_the_oauth_error_description_is_plain_text_in_the_welcome_dialog(
    qtbot: QtBot,
) -> None:
    async def refuse(_request: object) -> object:
        raise OAuthError("server_error", MARKUP)

    dialog = WelcomeDialog(refuse)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.connect_button.click()
    dialog.region.setCurrentIndex(dialog.region.findData("eu_central_1"))
    dialog.client_id.setText("a-client")
    assert await dialog.sign_in_now() is None
    assert MARKUP in dialog.error_label.text()
    assert GuiQt.mightBeRichText(dialog.error_label.text())  # would be markup on "auto"
    assert dialog.error_label.textFormat() == Qt.TextFormat.PlainText


def test_plain_tooltip_reads_as_written_with_its_line_breaks() -> None:
    text = "Sign-in refused: <a href='x'>details</a> & more\nsecond line"
    assert shown_as(plain_tooltip(text) or "") == text
    assert plain_tooltip("") == "" and plain_tooltip(None) is None
