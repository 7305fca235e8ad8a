"""Notices that respect people (issue 16): context in the words, one rule per summary, and the
"Sign-in needed" sentence (defects 8 and 9).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from pytestqt.qtbot import QtBot

from core.alerts.model import Alert, AlertState, Condition, Severity
from core.state.store import Store
from core.streaming.events import QueueMembershipChanged, QueueObserved, RoutingChanged
from gui.alerts import notice_for
from gui.notifications.notice import Notice, coalesce, sign_in_body
from gui.notifications.notifier import Notifier
from tests.gui.test_notifier import FakeBackend, FakeTime

WINDOW_S = 5.0
T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def _alert(rule: str, subject: str, name: str, condition: Condition) -> Alert:
    return Alert(
        id=f"{rule}:{subject}:1",
        rule_id=rule,
        rule_name={"nr": "Not responding", "w": "Calls waiting"}[rule],
        subject_id=subject,
        subject_name=name,
        severity=Severity.WARNING,
        state=AlertState.FIRING,
        fired_at=T0,
        resolved_at=None,
        value=None,
        summary=f"{name}: something",
        condition=condition,
        actions=("notify",),
    )


def _store() -> Store:
    store = Store()
    for qid, name in (("sup", "Support"), ("sal", "Sales")):
        store.queue(qid).name = name
    for uid, name in (("a", "Avery Ito"), ("b", "Bo Lind")):
        store.user(uid).name = name
        store.apply(QueueMembershipChanged("sup", uid, joined=True))
        store.apply(RoutingChanged(uid, "NOT_RESPONDING", T0 - timedelta(seconds=45)))
    store.apply(QueueObserved("sup", waiting=8))
    store.apply(QueueObserved("sal", waiting=5))
    return store


def _notices() -> tuple[Notice, Notice, Notice, Notice]:
    store = _store()
    waiting, nr = Condition.QUEUE_WAITING_ABOVE, Condition.AGENT_NOT_RESPONDING
    return (
        notice_for(_alert("w", "sup", "Support", waiting), store, now=T0),
        notice_for(_alert("nr", "a", "Avery Ito", nr), store, now=T0),
        notice_for(_alert("w", "sal", "Sales", waiting), store, now=T0),
        notice_for(_alert("nr", "b", "Bo Lind", nr), store, now=T0),
    )


def test_a_notice_names_the_subject_how_long_and_where() -> None:
    queue, agent, _, _ = _notices()
    assert queue.title == "Support: 8 waiting"
    assert agent.title == "Avery Ito: Not Responding for 45 s, on Support"
    assert agent.body == "Rule “Not responding”"  # no rule given: its name only
    assert (queue.group, agent.group) == ("w", "nr")


def test_a_window_never_puts_a_queue_and_an_agent_under_one_summary(qtbot: QtBot) -> None:
    time = FakeTime()
    backend = FakeBackend("best")
    notifier = Notifier([backend], clock=time, scheduler=time, coalesce_window_s=WINDOW_S)
    notifier.start()
    try:
        first, *burst = _notices()
        notifier.post(first)
        for notice in burst:
            notifier.post(notice)
        time.advance(WINDOW_S)
    finally:
        notifier.stop()
    titles = [shown.notice.title for shown in backend.shown]
    assert titles == ["Support: 8 waiting", "Not responding: 2 agents", "Sales: 5 waiting"]
    summary = backend.shown[1].notice
    assert summary.subject_kind == "agent" and summary.group == "nr"
    assert "Avery Ito" in summary.body and "Bo Lind" in summary.body
    assert "Sales" not in summary.body  # the queue alert went out on its own


def test_coalesce_groups_by_rule_and_kind_in_arrival_order() -> None:
    queue, agent, other_queue, other_agent = _notices()
    out = coalesce([agent, queue, other_agent, other_queue])
    assert [n.title for n in out] == ["Not responding: 2 agents", "Calls waiting: 2 queues"]
    assert coalesce([queue]) == [queue]


def test_the_sign_in_needed_body_reads_as_sentences() -> None:
    """Defect 8: it read "signed out The boards are stale until then."."""
    from gui.app import sign_in_notice

    assert sign_in_notice("signed out").body == (
        "You were signed out. The boards are stale until you sign in again."
    )
    assert sign_in_body("the refresh token was revoked") == (
        "The refresh token was revoked. The boards are stale until you sign in again."
    )
    assert sign_in_body("") == (
        "Your Genesys Cloud sign-in ended. The boards are stale until you sign in again."
    )
    assert sign_in_body("Session expired.").startswith("Session expired. The boards")


def test_open_on_a_rules_summary_opens_that_rules_board(qtbot: QtBot) -> None:
    from types import SimpleNamespace

    from core.alerts.presets import demo_rules
    from core.app.pipeline import Pipeline
    from core.engine.service import MonitorService
    from core.storage.settings.model import AppConfig
    from gui.alerts import AlertsController

    rules = demo_rules()
    pipeline = Pipeline(Store(), rules=rules)
    notifier = Notifier([FakeBackend("best")], coalesce_window_s=0)
    service = cast("MonitorService", SimpleNamespace(store=pipeline.store))  # only its store
    alerts = AlertsController(
        pipeline, service, AppConfig(rules=rules), notifier, tray=None, config_path=None
    )
    opened: list[tuple[str, str]] = []
    alerts.open_requested.connect(lambda kind, subject: opened.append((kind, subject)))
    notifier.invoke_action("genesys-tray:summary:demo-not-responding", "open")
    notifier.invoke_action("genesys-tray:summary:demo-calls-waiting", "open")
    assert opened == [("agent", ""), ("queue", "")]
