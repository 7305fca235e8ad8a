"""First run: try the demo org, or connect to a Genesys Cloud org.

Two paths. "Try the demo org" needs nothing. "Connect to Genesys Cloud" asks for the region (all
18 of :data:`core.rest.regions.REGIONS`, or a custom base URL), the OAuth client id and the way to
sign in: through the browser (PKCE; the page shows that it waits for the browser and can be
cancelled) or with client credentials (the secret is handed to the injected sign-in, which puts
it in the keyring; it never reaches the settings file).

A custom base URL outside Genesys Cloud (and this machine) gets a service account's secret only
after the person said so ("<host> is not a Genesys Cloud address. Send your client secret to
it?", No by default); the answer is kept in the profile, so it is asked once per host, and the
token client refuses an unconfirmed host in any case.

The dialog awaits an injected ``sign_in`` callable, so tests (and the demo) need no browser; the
app passes one that builds an Authenticator and signs in. Errors are said in words a person
understands (:func:`describe_sign_in_error`). Both pages link to "What to ask your admin for"
(:class:`~gui.dialogs.admin_checklist.AdminChecklistDialog`): the OAuth client to create and the
permissions each part of the app needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.errors import InvalidEnvironmentError
from core.rest.regions import REGIONS, parse_environment
from core.storage.settings.model import Profile
from gui.dialogs.admin_checklist import AdminChecklistDialog
from gui.dialogs.welcome_words import ADMIN_TITLE, describe_sign_in_error, environment_label

logger = logging.getLogger(__name__)

Grant = Literal["pkce", "client_credentials"]
CUSTOM = "custom"
DEFAULT_REGION = "us_east_1"
PAGE_CHOOSE, PAGE_CONNECT, PAGE_WAIT, PAGE_DONE = range(4)


@dataclass(frozen=True, slots=True)
class SignInRequest:
    """What the person asked for on the Connect page."""

    environment: str
    client_id: str
    grant: Grant
    client_secret: str | None = field(default=None, repr=False)
    trusted_host: str = ""  # a custom host the person confirmed may receive the secret

    @property
    def profile(self) -> Profile:
        """The settings-file profile of this request (no secret)."""
        return Profile(self.environment, self.client_id, self.grant, self.trusted_host)


@dataclass(frozen=True, slots=True)
class SignInResult:
    """A finished sign-in.

    Attributes:
        store_warning: non-empty when tokens cannot be kept in a secure keyring (the reason).
        session: whatever the app needs to go on (the signed-in authenticator); opaque here.
    """

    store_warning: str = ""
    session: Any = None


SignIn = Callable[[SignInRequest], Awaitable[SignInResult]]


@dataclass(frozen=True, slots=True)
class WelcomeChoice:
    """What the dialog ended with: the demo org, or a signed-in profile."""

    demo: bool
    profile: Profile | None = None
    result: SignInResult | None = None
    starter_rules: bool = False  # a real org: start with the suggested alert rules


class WelcomeDialog(QDialog):
    """The first-run dialog.

    Signals:
        chosen(object): the :class:`WelcomeChoice`; the dialog is accepted right after.
    """

    chosen = Signal(object)

    def __init__(
        self,
        sign_in: SignIn,
        *,
        profile: Profile | None = None,
        problem: str = "",
        parent: QWidget | None = None,
    ) -> None:
        """Build the dialog.

        Args:
            sign_in: signs in for a request (PKCE or client credentials) and keeps the secret in
                the keyring; raises core errors, which the dialog explains.
            profile: a previous profile to fill in (e.g. its sign-in no longer works).
            problem: why the dialog is shown again, said on the Connect page.
            parent: the parent widget.
        """
        super().__init__(parent)
        self.setWindowTitle("Welcome to Genesys Tray")
        self.setMinimumWidth(520)
        self._sign_in = sign_in
        self._task: asyncio.Task[SignInResult] | None = None
        self._request: SignInRequest | None = None
        self._pending: WelcomeChoice | None = None
        self._trusted_host = ""  # the profile's confirmed custom host
        self.host_question: QMessageBox | None = None  # open while the person is asked
        self._missing: QLineEdit | None = None  # the empty field the error label asks for
        self.choice: WelcomeChoice | None = None
        self.admin_dialog: AdminChecklistDialog | None = None  # "What to ask your admin for"

        layout = QVBoxLayout(self)
        self.pages = QStackedWidget()
        layout.addWidget(self.pages)
        self.pages.addWidget(self._choose_page())
        self.pages.addWidget(self._connect_page())
        self.pages.addWidget(self._wait_page())
        self.pages.addWidget(self._done_page())
        if profile is not None:
            self._fill(profile)
        if problem:
            self.pages.setCurrentIndex(PAGE_CONNECT)
            self._error(problem)

    # ------------------------------------------------------------------ pages
    def _choose_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        intro = QLabel(
            "<h3>Watch your contact centre from the tray</h3>"
            "<p>Genesys Tray shows live presence, routing status and queue activity, and tells "
            "you when something needs you.</p>"
        )
        intro.setWordWrap(True)
        box.addWidget(intro)
        self.demo_button = QPushButton("Try the demo org")
        self.demo_button.setToolTip("A simulated org on this computer: no account needed")
        # Enter never starts the demo: only a click does (no button here takes Enter while
        # focused; the default is "Connect", which only opens the next page).
        self.demo_button.setAutoDefault(False)
        self.connect_button = QPushButton("Connect to Genesys Cloud…")
        self.connect_button.setAutoDefault(False)
        self.connect_button.setDefault(True)
        self.demo_button.clicked.connect(self._on_demo_button_clicked)
        self.connect_button.clicked.connect(self._on_connect_button_clicked)
        box.addWidget(self.demo_button)
        box.addWidget(QLabel("No account needed: a simulated org with 200 agents and 20 queues."))
        box.addSpacing(12)
        box.addWidget(self.connect_button)
        box.addWidget(QLabel("Needs your org's region and an OAuth client id from your admin."))
        box.addWidget(self._admin_link("adminLinkChoose"))
        box.addStretch(1)
        quit_row = QHBoxLayout()
        quit_row.addStretch(1)
        self.quit_button = QPushButton("Quit")
        self.quit_button.setAutoDefault(False)
        self.quit_button.clicked.connect(self.reject)
        quit_row.addWidget(self.quit_button)
        box.addLayout(quit_row)
        return page

    def _connect_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        form = QFormLayout()
        self.region = QComboBox()
        for region in REGIONS:
            self.region.addItem(f"{region.location} — {region.domain}", region.key)
        self.region.addItem("Custom URL…", CUSTOM)
        self.region.setCurrentIndex(self.region.findData(DEFAULT_REGION))
        self.region.currentIndexChanged.connect(self._on_region_index_changed)
        form.addRow("Region", self.region)
        self.custom_url = QLineEdit()
        self.custom_url.setPlaceholderText("https://api.example.com or http://127.0.0.1:8765")
        form.addRow("Base URL", self.custom_url)
        self.client_id = QLineEdit()
        self.client_id.setPlaceholderText("the OAuth client id from Admin → OAuth")
        form.addRow("Client id", self.client_id)
        self.pkce_radio = QRadioButton("Sign in with my browser (recommended)")
        self.cc_radio = QRadioButton("Service account: client id and secret")
        self.pkce_radio.setChecked(True)
        self._grant_group = QButtonGroup(self)
        for radio in (self.pkce_radio, self.cc_radio):
            self._grant_group.addButton(radio)
            form.addRow(radio)
        self.cc_radio.toggled.connect(self._on_cc_radio_toggled)
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setPlaceholderText("kept only in your system keyring")
        form.addRow("Client secret", self.secret)
        self.starter_rules = QCheckBox("Start with suggested alerts")
        self.starter_rules.setToolTip(
            "Calls waiting above 5 on any queue, a wait longer than 2 min, and agents Not "
            "Responding for 30 s. You can change or turn them off in Filters & alerts."
        )
        self.starter_rules.setChecked(True)
        form.addRow(self.starter_rules)
        box.addLayout(form)
        box.addWidget(self._admin_link("adminLinkConnect"))
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)  # may quote the server's words
        self.error_label.setStyleSheet("color: #c5221f;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.addWidget(self.error_label)
        box.addStretch(1)
        row = QHBoxLayout()
        self.back_button = QPushButton("Back")
        self.back_button.setAutoDefault(False)
        self.back_button.clicked.connect(self._on_back_button_clicked)
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setAutoDefault(False)
        self.sign_in_button.setDefault(True)  # Enter in the fields means "Sign in"
        self.sign_in_button.clicked.connect(self._on_sign_in_button_clicked)
        row.addWidget(self.back_button)
        row.addStretch(1)
        row.addWidget(self.sign_in_button)
        box.addLayout(row)
        for field_edit in (self.custom_url, self.client_id, self.secret):
            field_edit.textChanged.connect(self._on_field_text_changed)
        self._on_region_index_changed(self.region.currentIndex())
        self._on_cc_radio_toggled(False)
        return page

    def _wait_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        self.wait_label = QLabel("")
        self.wait_label.setWordWrap(True)
        box.addWidget(self.wait_label)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: no percentage to show
        box.addWidget(self.progress)
        box.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        row.addWidget(self.cancel_button)
        box.addLayout(row)
        return page

    def _done_page(self) -> QWidget:
        page = QWidget()
        box = QVBoxLayout(page)
        self.done_label = QLabel("")
        self.done_label.setWordWrap(True)
        box.addWidget(self.done_label)
        box.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.continue_button = QPushButton("Continue")
        self.continue_button.setAutoDefault(False)
        self.continue_button.setDefault(True)
        self.continue_button.clicked.connect(self._on_continue_button_clicked)
        row.addWidget(self.continue_button)
        box.addLayout(row)
        return page

    def _admin_link(self, name: str) -> QLabel:
        """A link to "What to ask your admin for" (the OAuth client, the permissions)."""
        link = QLabel(f'<a href="#admin">{ADMIN_TITLE}…</a>')
        link.setObjectName(name)
        link.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        link.linkActivated.connect(self._on_admin_link_activated)
        return link

    def _on_admin_link_activated(self, _link: str) -> None:
        self.open_admin_checklist()

    def open_admin_checklist(self) -> AdminChecklistDialog:
        """Show what to ask the admin for (window-modal over this dialog; one at a time)."""
        if self.admin_dialog is None:
            self.admin_dialog = AdminChecklistDialog(self)
        self.admin_dialog.open()
        self.admin_dialog.raise_()
        return self.admin_dialog

    # ------------------------------------------------------------------ values
    def _fill(self, profile: Profile) -> None:
        try:
            env = parse_environment(profile.environment)
        except InvalidEnvironmentError:
            env = None
        if env is not None and env.region is not None:
            self.region.setCurrentIndex(self.region.findData(env.region.key))
        else:
            self.region.setCurrentIndex(self.region.findData(CUSTOM))
            self.custom_url.setText(profile.environment)
        self.client_id.setText(profile.client_id)
        self._trusted_host = profile.trusted_host
        (self.cc_radio if profile.grant == "client_credentials" else self.pkce_radio).setChecked(
            True
        )

    def request(self) -> SignInRequest:
        """The request the Connect page describes.

        Raises:
            InvalidEnvironmentError: the region/URL or a required field is missing or wrong
                (the message says which).
        """
        key = self.region.currentData()
        text = self.custom_url.text().strip() if key == CUSTOM else str(key)
        if key == CUSTOM and not text:
            raise InvalidEnvironmentError("Enter the base URL of your Genesys Cloud environment.")
        env = parse_environment(text)
        environment = env.region.key if env.region is not None else env.api_base
        client_id = self.client_id.text().strip()
        if not client_id:
            raise InvalidEnvironmentError(
                "Enter the OAuth client id (your admin finds it under Admin → OAuth)."
            )
        if self.cc_radio.isChecked():
            secret = self.secret.text().strip()
            if not secret:
                raise InvalidEnvironmentError("Enter the client secret of the service account.")
            return SignInRequest(environment, client_id, "client_credentials", secret)
        return SignInRequest(environment, client_id, "pkce")

    # ------------------------------------------------------------------ the sign-in
    async def sign_in_now(self) -> WelcomeChoice | None:
        """Validate, sign in through the injected callable and finish; None on failure/cancel."""
        try:
            request = self.request()
        except InvalidEnvironmentError as exc:
            self._error(str(exc))
            self._missing = self._empty_field()
            return None
        confirmed = await self._confirm_host(request)
        if confirmed is None:
            self._error(
                "The client secret was not sent. Choose your org's region, or the address of "
                "a host you trust."
            )
            return None
        request = confirmed
        self._request = request
        self._error("")
        where = environment_label(request.environment)
        if request.grant == "pkce":
            self.wait_label.setText(
                f"<b>Waiting for you to sign in in your browser…</b><p>A browser window opened "
                f"at the Genesys Cloud login of {where}. Finish signing in there; this window "
                "moves on by itself.</p>"
            )
        else:
            self.wait_label.setText(f"<b>Signing in to {where}…</b>")
        self.pages.setCurrentIndex(PAGE_WAIT)
        self._task = asyncio.ensure_future(self._sign_in(request))
        try:
            result = await self._task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is None or not current.cancelling():  # Cancel, not our own cancellation
                self.pages.setCurrentIndex(PAGE_CONNECT)
                self._error("Sign-in cancelled.")
                return None
            raise
        except Exception as exc:
            logger.warning("sign-in failed: %s", type(exc).__name__)
            self.pages.setCurrentIndex(PAGE_CONNECT)
            self._error(describe_sign_in_error(exc, request))
            return None
        finally:
            self._task = None
        self.secret.clear()  # not kept in the widget longer than needed
        choice = WelcomeChoice(
            demo=False,
            profile=request.profile,
            result=result,
            starter_rules=self.starter_rules.isChecked(),
        )
        if result.store_warning:
            self.done_label.setText(
                f"<b>Signed in to {where}.</b><p>Your sign-in works, but tokens will not be "
                f"remembered: {result.store_warning}</p><p>You will be asked to sign in again "
                "after Genesys Tray quits.</p>"
            )
            self._pending = choice
            self.pages.setCurrentIndex(PAGE_DONE)
            return choice
        self._finish(choice)
        return choice

    async def _confirm_host(self, request: SignInRequest) -> SignInRequest | None:
        """``request``, with the custom host it may send the secret to; None: the person said No.

        Only a service account's sign-in sends a secret; a Genesys Cloud host or this machine
        needs no confirmation, and a host confirmed once (the profile's) is not asked again.
        """
        if request.grant != "client_credentials":
            return request
        env = parse_environment(request.environment, trusted_hosts=[self._trusted_host])
        if not env.may_receive_secret:
            if not await self._ask_host(env.host):
                return None
            self._trusted_host = env.host
        elif not env.host_confirmed:
            return request  # Genesys Cloud or this machine: nothing to confirm
        return dataclasses.replace(request, trusted_host=env.host)

    async def _ask_host(self, host: str) -> bool:
        """Yes/No (No by default): may ``host`` (its ASCII form) receive the client secret?"""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Not a Genesys Cloud address",
            f"{host} is not a Genesys Cloud address. Send your client secret to it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setEscapeButton(QMessageBox.StandardButton.No)
        answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def on_finished(_result: int) -> None:
            yes = box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Yes
            if not answered.done():
                answered.set_result(yes)

        box.finished.connect(on_finished)
        self.host_question = box
        box.open()
        try:
            return await answered
        finally:
            self.host_question = None
            box.deleteLater()

    def cancel_sign_in(self) -> None:
        """Stop waiting for the browser (the sign-in task is cancelled)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _finish(self, choice: WelcomeChoice) -> None:
        self.choice = choice
        self.chosen.emit(choice)
        self.accept()

    def _error(self, text: str) -> None:
        self.error_label.setText(text)
        self._missing = None

    def _empty_field(self) -> QLineEdit | None:
        """The required field that is empty (the one a validation error asked for), if any."""
        if self.region.currentData() == CUSTOM and not self.custom_url.text().strip():
            return self.custom_url
        if not self.client_id.text().strip():
            return self.client_id
        if self.cc_radio.isChecked() and not self.secret.text().strip():
            return self.secret
        return None

    def _on_field_text_changed(self, _text: str) -> None:
        """Filling in the field an error asked for takes the error away (it is no longer so)."""
        missing = self._missing
        if missing is not None and missing.text().strip():
            self._error("")

    # ------------------------------------------------------------------ slots
    def _on_demo_button_clicked(self) -> None:
        self._finish(WelcomeChoice(demo=True))

    def _on_connect_button_clicked(self) -> None:
        self.pages.setCurrentIndex(PAGE_CONNECT)
        self.client_id.setFocus()

    def _on_back_button_clicked(self) -> None:
        self.pages.setCurrentIndex(PAGE_CHOOSE)

    def _on_sign_in_button_clicked(self) -> None:
        future = asyncio.ensure_future(self.sign_in_now())
        future.add_done_callback(_log_failure)

    def _on_cancel_button_clicked(self) -> None:
        self.cancel_sign_in()

    def _on_continue_button_clicked(self) -> None:
        if self._pending is not None:
            self._finish(self._pending)

    def _on_region_index_changed(self, _index: int) -> None:
        custom = self.region.currentData() == CUSTOM
        self.custom_url.setEnabled(custom)
        if custom:
            self.custom_url.setFocus()

    def _on_cc_radio_toggled(self, checked: bool) -> None:
        self.secret.setEnabled(checked)
        if not checked:
            self.secret.clear()

    def reject(self) -> None:
        """Closing the dialog (Quit, Escape) also stops a sign-in that still waits."""
        if self.host_question is not None:  # an open question ends as No
            self.host_question.reject()
        self.cancel_sign_in()
        super().reject()


def _log_failure(future: asyncio.Future[WelcomeChoice | None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("the welcome dialog failed", exc_info=future.exception())


async def run_welcome(dialog: WelcomeDialog) -> WelcomeChoice | None:
    """Show ``dialog`` and wait (on the running loop) until it closes; None when dismissed."""
    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_finished(_result: int) -> None:
        if not closed.done():
            closed.set_result(None)

    dialog.finished.connect(on_finished)
    dialog.show()
    dialog.raise_()
    try:
        await closed
    finally:
        with contextlib.suppress(RuntimeError):
            dialog.finished.disconnect(on_finished)
    return dialog.choice
