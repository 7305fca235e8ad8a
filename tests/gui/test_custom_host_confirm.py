"""The welcome dialog asks before a client secret goes to a host outside Genesys Cloud (issue 14).

"<host> is not a Genesys Cloud address. Send your client secret to it?" (Yes/No, No by default)
is asked once per host: the answer travels in the request's profile to the settings file, and a
dialog filled from that profile does not ask again. A bad custom address is refused in words
that show hidden characters escaped, never raw.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from core.storage.settings.model import Profile
from gui.dialogs.welcome_dialog import (
    CUSTOM,
    PAGE_CONNECT,
    SignInRequest,
    SignInResult,
    WelcomeDialog,
)

FOREIGN = "https://gateway.example.com"
QUESTION = "gateway.example.com is not a Genesys Cloud address. Send your client secret to it?"


@pytest.fixture(autouse=True)
def _qapp_as_the_app_sets_it_up() -> Iterator[None]:
    from gui.options import create_qapp

    create_qapp()
    yield
    gc.collect()


class Recorder:
    """The injected sign-in: records what it was asked to do."""

    def __init__(self) -> None:
        self.requests: list[SignInRequest] = []

    async def __call__(self, request: SignInRequest) -> SignInResult:
        self.requests.append(request)
        return SignInResult(session="a session")


def _dialog(qtbot: QtBot, sign_in: Recorder, profile: Profile | None = None) -> WelcomeDialog:
    dialog = WelcomeDialog(sign_in, profile=profile)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.connect_button.click()
    return dialog


def _service_account(dialog: WelcomeDialog, url: str) -> None:
    dialog.region.setCurrentIndex(dialog.region.findData(CUSTOM))
    dialog.custom_url.setText(url)
    dialog.client_id.setText("svc")
    dialog.cc_radio.setChecked(True)
    dialog.secret.setText("s3cret")


async def _until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(2.0):
        while not check():  # noqa: ASYNC110 - the dialog opens its question on its own turn
            await asyncio.sleep(0.01)


async def _answer(dialog: WelcomeDialog, button: QMessageBox.StandardButton | None) -> None:
    """Wait for the question, check it, and answer it (None: Enter, the default button)."""
    await _until(lambda: dialog.host_question is not None)
    box = dialog.host_question
    assert box is not None
    assert box.text() == QUESTION
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.No)
    if button is None:
        box.defaultButton().click()
    else:
        box.button(button).click()


async def test_no_is_the_default_and_nothing_is_sent(qtbot: QtBot) -> None:
    sign_in = Recorder()
    dialog = _dialog(qtbot, sign_in)
    _service_account(dialog, FOREIGN)
    running = asyncio.ensure_future(dialog.sign_in_now())
    await _answer(dialog, None)  # Enter: the default
    assert await asyncio.wait_for(running, 2) is None
    assert sign_in.requests == []
    assert "client secret was not sent" in dialog.error_label.text()
    assert dialog.pages.currentIndex() == PAGE_CONNECT
    assert dialog.host_question is None


async def test_yes_is_remembered_in_the_profile_and_not_asked_again(qtbot: QtBot) -> None:
    sign_in = Recorder()
    dialog = _dialog(qtbot, sign_in)
    _service_account(dialog, FOREIGN)
    running = asyncio.ensure_future(dialog.sign_in_now())
    await _answer(dialog, QMessageBox.StandardButton.Yes)
    choice = await asyncio.wait_for(running, 2)
    assert choice is not None and choice.profile is not None
    assert sign_in.requests[0].trusted_host == "gateway.example.com"
    assert choice.profile == Profile(
        FOREIGN, "svc", "client_credentials", trusted_host="gateway.example.com"
    )
    # The next time (the profile from the settings file): no question, the confirmation goes on.
    again = Recorder()
    second = _dialog(qtbot, again, profile=choice.profile)
    second.secret.setText("s3cret")
    assert await asyncio.wait_for(second.sign_in_now(), 2) is not None
    assert second.host_question is None
    assert again.requests[0].trusted_host == "gateway.example.com"


async def test_a_confirmation_is_for_its_own_host_only(qtbot: QtBot) -> None:
    sign_in = Recorder()
    profile = Profile(FOREIGN, "svc", "client_credentials", trusted_host="gateway.example.com")
    dialog = _dialog(qtbot, sign_in, profile=profile)
    dialog.custom_url.setText("https://other.example.com")
    dialog.secret.setText("s3cret")
    running = asyncio.ensure_future(dialog.sign_in_now())
    await _until(lambda: dialog.host_question is not None)
    box = dialog.host_question
    assert box is not None and box.text().startswith("other.example.com is not")
    box.button(QMessageBox.StandardButton.No).click()
    assert await asyncio.wait_for(running, 2) is None
    assert sign_in.requests == []


@pytest.mark.parametrize(
    ("region", "url", "grant"),
    [
        ("eu_central_1", "", "client_credentials"),
        (CUSTOM, "https://gateway.mypurecloud.de", "client_credentials"),
        (CUSTOM, "http://127.0.0.1:8765", "client_credentials"),
        (CUSTOM, FOREIGN, "pkce"),  # a browser sign-in sends no secret
    ],
)
async def test_nothing_to_confirm(qtbot: QtBot, region: str, url: str, grant: str) -> None:
    sign_in = Recorder()
    dialog = _dialog(qtbot, sign_in)
    dialog.region.setCurrentIndex(dialog.region.findData(region))
    dialog.custom_url.setText(url)
    dialog.client_id.setText("svc")
    if grant == "client_credentials":
        dialog.cc_radio.setChecked(True)
        dialog.secret.setText("s3cret")
    assert await asyncio.wait_for(dialog.sign_in_now(), 2) is not None
    assert dialog.host_question is None
    assert sign_in.requests[0].trusted_host == ""


@pytest.mark.parametrize(
    "url", ["https://a<img src=x>", "https://exa\u202eelpmaxe.com", "https://gate\nway.example.com"]
)
async def test_a_bad_address_is_refused_and_shown_escaped(qtbot: QtBot, url: str) -> None:
    sign_in = Recorder()
    dialog = _dialog(qtbot, sign_in)
    _service_account(dialog, url)
    assert await dialog.sign_in_now() is None
    text = dialog.error_label.text()
    assert text and text.isprintable() and "\u202e" not in text
    assert dialog.host_question is None and sign_in.requests == []


async def test_closing_the_dialog_while_asked_is_a_no(qtbot: QtBot) -> None:
    sign_in = Recorder()
    dialog = _dialog(qtbot, sign_in)
    _service_account(dialog, FOREIGN)
    running = asyncio.ensure_future(dialog.sign_in_now())
    await _until(lambda: dialog.host_question is not None)
    dialog.reject()
    assert await asyncio.wait_for(running, 2) is None  # not left waiting for ever
    assert sign_in.requests == []
