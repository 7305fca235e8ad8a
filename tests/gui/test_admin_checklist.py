"""What to ask your admin for: the welcome dialog's link, its dialog, and the README (issue 17).

The words come from one place (gui.dialogs.welcome_words.admin_request, itself built from the
loopback listener's ports and core.app.permissions' table); these tests check that the dialog
shows all of it, that "Copy" copies it, and that the README's section says the same.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from core.app.permissions import PARTS, admin_checklist
from core.auth.loopback import DEFAULT_REDIRECT_PORTS
from gui.dialogs.admin_checklist import AdminChecklistDialog
from gui.dialogs.welcome_dialog import PAGE_CONNECT, WelcomeDialog
from gui.dialogs.welcome_words import admin_request, admin_request_text, redirect_uris
from gui.window.agent_menu import needs_words

README = Path(__file__).resolve().parents[2] / "README.md"


async def _never(_request: object) -> object:
    raise AssertionError("no sign-in in these tests")


def _dialog(qtbot: QtBot) -> WelcomeDialog:
    dialog = WelcomeDialog(_never)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _shown(dialog: AdminChecklistDialog) -> str:
    return dialog.text.toPlainText()


def test_the_redirect_uris_are_the_listeners_ports_first_one_first() -> None:
    uris = redirect_uris()
    assert uris[0] == "http://127.0.0.1:53682/callback"
    assert uris == [f"http://127.0.0.1:{port}/callback" for port in DEFAULT_REDIRECT_PORTS]
    assert len(uris) >= 2  # the fallbacks


def test_both_pages_link_to_what_to_ask_your_admin_for(qtbot: QtBot) -> None:
    welcome = _dialog(qtbot)
    link = welcome.findChild(QLabel, "adminLinkChoose")
    assert link is not None and link.isVisible()
    assert "What to ask your admin for" in link.text()
    link.linkActivated.emit("#admin")
    checklist = welcome.admin_dialog
    assert checklist is not None and checklist.isVisible()
    assert checklist.parent() is welcome  # over the welcome dialog, not a stray window
    text = _shown(checklist)
    assert "Code Authorization, with PKCE enabled" in text
    for uri in redirect_uris():
        assert uri in text
    for line in admin_checklist():
        assert line in text
    for part in PARTS:
        for permission in part.needs:
            assert permission in text
    assert "Client Credentials" in text  # the service account's way
    checklist.close()

    welcome.connect_button.click()
    assert welcome.pages.currentIndex() == PAGE_CONNECT
    link = welcome.findChild(QLabel, "adminLinkConnect")
    assert link is not None and link.isVisible()
    link.linkActivated.emit("#admin")
    assert welcome.admin_dialog is checklist and checklist.isVisible()  # one, shown again


def test_copy_puts_the_plain_words_on_the_clipboard(qtbot: QtBot) -> None:
    dialog = AdminChecklistDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    QApplication.clipboard().clear()
    dialog.copy_button.click()
    copied = QApplication.clipboard().text()
    assert copied == admin_request_text() == dialog.plain_text()
    assert copied.startswith("What to ask your admin for\n")
    for uri in redirect_uris():
        assert f"- Authorized redirect URI: {uri}" in copied or (
            f"- Fallback redirect URI: {uri}" in copied
        )
    assert dialog.copy_button.text() == "Copied"


def test_the_readme_says_the_same_as_the_dialog() -> None:
    readme = README.read_text(encoding="utf-8")
    assert "\n## What to ask your admin for\n" in readme
    section = readme.split("\n## What to ask your admin for\n", 1)[1].split("\n## ", 1)[0]
    flat = re.sub(r"\s+", " ", section.replace("`", ""))
    for heading, lead, items in admin_request():
        assert heading in flat
        assert re.sub(r"\s+", " ", lead) in flat
        for item in items:
            assert item in flat, item


def test_a_disabled_actions_tooltip_names_the_permission() -> None:
    assert needs_words("oauth:token:delete") == (
        "Needs oauth:token:delete — ask your Genesys Cloud admin"
    )
