"""The tray's "Snooze → Until tomorrow" ends at 07:00 local, also on the nights the clocks change.

Driven the way a person does it: the tray's snooze signal, into the real alerts controller and
notifier, with the process's local time set to Berlin (time.tzset, restored after).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import cast

import pytest
from pytestqt.qtbot import QtBot

from core.app.pipeline import Pipeline
from core.engine.service import MonitorService
from core.state.store import Store
from core.storage.settings.model import AppConfig
from gui.alerts import AlertsController
from gui.notifications.notifier import Notifier
from gui.tray.controller import UNTIL_TOMORROW, TrayController


@pytest.fixture
def berlin() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.usefixtures("berlin")
@pytest.mark.parametrize(
    ("now", "until"),
    [
        ("2025-03-29T12:00:00+01:00", "2025-03-30T07:00:00+02:00"),  # spring forward
        ("2025-10-25T12:00:00+02:00", "2025-10-26T07:00:00+01:00"),  # fall back
    ],
)
def test_snooze_until_tomorrow_from_the_tray(qtbot: QtBot, now: str, until: str) -> None:
    clock = datetime.fromisoformat(now).timestamp()
    tray = TrayController()
    notifier = Notifier([], clock=lambda: clock)
    alerts = AlertsController(
        Pipeline(Store(), rules=[]),
        cast(MonitorService, None),  # not consulted by a snooze; no stream is needed
        AppConfig(),
        notifier,
        tray=tray,
        config_path=None,
        clock=lambda: clock,
    )
    try:
        tray.snooze_requested.emit(UNTIL_TOMORROW)
        assert alerts.config.snooze_until == datetime.fromisoformat(until).timestamp()
        assert notifier.snoozed_until == alerts.config.snooze_until
    finally:
        notifier.stop()
        alerts.deleteLater()
        notifier.deleteLater()
        tray.deleteLater()
