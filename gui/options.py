"""What the command line asks of the GUI, and the Qt application and loop it runs on.

Kept apart from gui/app.py so the app object stays about behaviour; importers may use either.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QSettings, Qt
from PySide6.QtWidgets import QApplication

from core.auth.credentials import CredentialStore
from core.engine.timeline import ConnectionTimeline
from core.eventbridge.ports import StatusSource
from core.storage.journal.journal import Journal
from core.storage.settings.model import AppConfig
from gui.platform.autostart import Autostart

logger = logging.getLogger(__name__)

APP_NAME = "Genesys Tray"
ORG_NAME = "genesys-tray"


def create_qapp(argv: list[str] | None = None) -> QApplication:
    """The QApplication, configured so only our async side decides when to quit."""
    existing = QApplication.instance()
    qapp = existing if isinstance(existing, QApplication) else QApplication(argv or [sys.argv[0]])
    QCoreApplication.setApplicationName(APP_NAME)
    QCoreApplication.setOrganizationName(ORG_NAME)
    qapp.setQuitOnLastWindowClosed(False)
    qapp.setQuitLockEnabled(False)
    qapp.setAttribute(Qt.ApplicationAttribute.AA_DontShowIconsInMenus, False)
    return qapp


def run_qasync(qapp: QApplication, main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run ``main()`` on a qasync loop through ``asyncio.Runner`` and return its exit code."""
    import qasync

    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(qapp)) as runner:
        return runner.run(main())


@dataclass(slots=True)
class GuiOptions:
    """What the command line asked of the GUI."""

    minimized: bool = False
    title_suffix: str = ""
    journal: Journal | None = None
    on_reconnect: Callable[[], None] | None = None
    extra_closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    settings: QSettings | None = None
    config: AppConfig | None = None
    config_path: Path | None = None
    config_problem: str | None = None
    self_user_id: str | None = None
    timeline: ConnectionTimeline | None = None  # main.py also feeds it the token renewals
    sign_out: Callable[[], Awaitable[object]] | None = None
    # Signs the same session in again (PKCE in the browser, or client credentials): a core
    # coroutine the app runs when the person asks; the service goes live on the new token.
    sign_in_again: Callable[[], Awaitable[object]] | None = None
    log_files: list[Path] = field(default_factory=list)
    account: str = ""  # who is signed in where, for the Settings dialog
    autostart: Autostart | None = None
    watch_network: bool = True
    demo: bool = False  # the demo org: Settings offers "Connect to Genesys Cloud…"
    profiles: list[tuple[str, str]] = field(default_factory=list)  # (key, label): tray submenu
    active_profile: str = ""
    eventbridge: StatusSource | None = None  # this org's EventBridge source; None: no queue
    eventbridge_stop: Callable[[], Awaitable[None]] | None = None  # its consumer, then its merge
    eventbridge_credentials: CredentialStore | None = None  # for a queue saved while running
