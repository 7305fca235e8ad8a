""" "What to watch" with an EventBridge queue: the org-wide switch and the EventBridge-only topics.

The topics come from the sandbox's ``availabletopics?expand=transports`` (shuffled, any
spelling) through the real core coroutine; the switch takes part in Apply like any choice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pytestqt.qtbot import QtBot

from core.engine.selection import Selection
from core.rest.client import ApiClient
from core.rest.integrations import IntegrationSetup
from core.rest.regions import parse_environment
from core.streaming.planner import Budget
from gui.dialogs.watch_dialog import WatchDialog
from gui.dialogs.watch_eventbridge import EventBridgeWatchBox
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.gui.test_watch_dialog import SmallOrg
from tests.integration.helpers import pkce_token


@pytest.fixture
async def setup() -> AsyncIterator[IntegrationSetup]:
    """An IntegrationSetup of the sandbox's supervisor (variations on: shuffled transports)."""
    sandbox = Sandbox(SandboxConfig(port=0, users=10, queues=2, seed=3, simulate=False))
    await sandbox.start()
    try:
        async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
            token = await pkce_token(http)

        async def provide() -> str:
            return token

        async with ApiClient(parse_environment(sandbox.base_url), provide) as api:
            yield IntegrationSetup(api)
    finally:
        await sandbox.stop()


def make(qtbot: QtBot, org: SmallOrg, box: EventBridgeWatchBox | None) -> WatchDialog:
    dialog = WatchDialog(
        None,
        ["presence", "routing", "queue"],
        budget=Budget(),
        live=org.budget(Selection()),
        directory=org.directory,
        preview=org.preview,
        apply=org.apply,
        eventbridge=box,
    )
    qtbot.addWidget(dialog)
    return dialog


async def test_the_box_names_eventbridge_only_topics_and_the_switch_applies(
    qtbot: QtBot, setup: IntegrationSetup
) -> None:
    org = SmallOrg()
    box = EventBridgeWatchBox(False, setup.eventbridge_only)
    dialog = make(qtbot, org, box)
    assert await box.load() == ["v2.audits.entitytype.{id}.entityid.{id}"]
    assert box.topics.text() == "Only EventBridge carries: audit events (who changed what)."
    assert box.topics.toolTip() == "v2.audits.entitytype.{id}.entityid.{id}"
    assert not dialog.apply_button.isEnabled()
    box.org_wide_box.setChecked(True)
    assert dialog.apply_button.isEnabled()  # the switch alone is a change to apply
    assert await dialog.apply()
    assert box.applied_org_wide and not dialog.apply_button.isEnabled()


async def test_without_a_queue_there_is_no_eventbridge_part(qtbot: QtBot) -> None:
    dialog = make(qtbot, SmallOrg(), None)
    assert dialog.findChild(EventBridgeWatchBox) is None
