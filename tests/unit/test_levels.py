"""Thresholds and levels (core.state.levels) over a store filled by hand, and defect 2."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from core.state.kpis import Figures, QueueKpis
from core.state.levels import (
    AVAILABLE,
    DEFAULT_LIMITS,
    LONGEST_WAIT,
    NOT_RESPONDING,
    ON_BREAK,
    ON_QUEUE,
    SERVICE_LEVEL,
    WAITING,
    Level,
    Limits,
    QueueLimits,
    Thresholds,
    centre_summary,
    service_level,
    short_clock,
)
from core.state.store import Store
from core.streaming.events import (
    PresenceChanged,
    QueueConversationChanged,
    QueueObserved,
    RoutingChanged,
)

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def _store() -> Store:
    store = Store()
    for queue_id, name in (("q1", "Support"), ("q2", "Sales")):
        store.queue(queue_id).name = name
        store.apply(QueueObserved(queue_id, waiting=0, interacting=0, alerting=0))
    return store


def _wait(store: Store, queue_id: str, count: int, since: datetime) -> None:
    store.apply(QueueObserved(queue_id, waiting=count))
    for n in range(count):
        store.apply(QueueConversationChanged(queue_id, f"{queue_id}-c{n}", "waiting", None, since))


def test_limits_meet_at_the_limit_and_below_flips() -> None:
    waiting = Limits(3, 8)
    assert [waiting.level(v) for v in (None, 0, 2, 3, 7, 8, 20)] == [
        None,
        Level.OK,
        Level.OK,
        Level.WARNING,
        Level.WARNING,
        Level.CRITICAL,
        Level.CRITICAL,
    ]
    sl = Limits(80, 60, below=True)
    assert [sl.level(v) for v in (100, 80, 79.9, 60, 59)] == [
        Level.OK,
        Level.OK,
        Level.WARNING,
        Level.WARNING,
        Level.CRITICAL,
    ]
    assert Limits(None, 5).level(4) is Level.OK and Limits(None, None).level(99) is Level.OK


def test_limits_in_the_wrong_order_are_refused_in_words() -> None:
    assert DEFAULT_LIMITS.problem() is None
    bad = QueueLimits(waiting=Limits(8, 3))
    assert bad.problem() == "Waiting: the critical level (3) must be above the warning level (8)."
    low = QueueLimits(service_level_pct=Limits(60, 80, below=True))
    assert low.problem() == (
        "Service level: the critical level (80) must be below the warning level (60)."
    )
    assert QueueLimits(service_level_pct=Limits(120, None, below=True)).problem()
    assert Thresholds(per_queue={"q1": bad}).problem() == f"Queue q1: {bad.problem()}"


def test_a_queue_is_as_bad_as_its_worst_figure_and_overrides_apply() -> None:
    store = _store()
    now = T0 + timedelta(seconds=200)
    _wait(store, "q1", 3, T0 + timedelta(seconds=190))  # 3 waiting, 10 s: warning
    _wait(store, "q2", 1, T0)  # 1 waiting, 200 s: longest wait critical
    summary = centre_summary(store, Thresholds(), now)
    support, sales = (next(q for q in summary.queues if q.id == i) for i in ("q1", "q2"))
    assert (support.waiting_level, support.longest_wait_level) == (Level.WARNING, Level.OK)
    assert support.level is Level.WARNING
    assert (sales.waiting_level, sales.longest_wait_level) == (Level.OK, Level.CRITICAL)
    assert summary.level is Level.CRITICAL and summary.total_waiting == 4
    assert summary.problem_lines() == [
        "Sales: longest 3:20 (critical)",
        "Support: 3 waiting (warning)",
    ]
    relaxed = QueueLimits(waiting=Limits(5, 10), longest_wait_s=Limits(300, 600))
    summary = centre_summary(store, Thresholds(per_queue={"q2": relaxed}), now)
    assert summary.level is Level.WARNING
    assert summary.problem_lines() == ["Support: 3 waiting (warning)"]


def test_all_within_limits_is_said_once() -> None:
    assert centre_summary(Store(), Thresholds(), T0).problem_lines() == ["No queue figures yet"]
    summary = centre_summary(_store(), Thresholds(), T0)
    assert summary.level is Level.OK
    assert summary.problem_lines() == ["All queues within limits"]


def test_header_figures_and_their_levels() -> None:
    store = _store()
    _wait(store, "q1", 8, T0)  # critical
    people = [
        ("a", "ON_QUEUE", "IDLE"),
        ("b", "ON_QUEUE", "INTERACTING"),
        ("c", "ON_QUEUE", "NOT_RESPONDING"),
        ("d", "BREAK", "OFF_QUEUE"),
        ("e", "MEAL", "OFF_QUEUE"),
        ("f", "AVAILABLE", "OFF_QUEUE"),
    ]
    for user_id, presence, routing in people:
        store.apply(PresenceChanged(user_id, presence, presence, "", T0))
        store.apply(RoutingChanged(user_id, routing, T0))
    summary = centre_summary(store, Thresholds(), T0 + timedelta(seconds=65))
    values = {f.key: (f.text, f.level) for f in summary.figures}
    assert values[WAITING] == ("8", Level.CRITICAL)
    assert values[LONGEST_WAIT] == ("1:05", Level.WARNING)
    assert values[SERVICE_LEVEL] == ("—", None)  # no KPIs: unknown, never 100 %
    assert values[ON_QUEUE] == ("3", Level.OK)
    assert values[AVAILABLE] == ("1", Level.OK)
    assert values[NOT_RESPONDING] == ("1", Level.WARNING)  # a warning, not critical
    assert values[ON_BREAK] == ("2", Level.OK)
    store.apply(RoutingChanged("a", "INTERACTING", T0 + timedelta(seconds=1)))
    summary = centre_summary(store, Thresholds(), T0 + timedelta(seconds=65))
    assert summary.figure(AVAILABLE).level is Level.WARNING  # calls wait, nobody free
    assert summary.figure("interacting").text == "2"


@dataclass
class _Today:
    service_level: float | None
    offered: int


@dataclass
class _Kpis:
    today: _Today


def test_service_level_is_read_from_the_kpis_when_present() -> None:
    store = _store()
    assert centre_summary(store, Thresholds(), T0).figure(SERVICE_LEVEL).value is None
    # Support: 15 of 30 within target; Sales: 9 of 10. Together 24 of 40 = 60 %.
    store.kpis["q1"] = QueueKpis(
        "q1", today=Figures(offered=30, sl_numerator=15, sl_denominator=30)
    )
    store.kpis["q2"] = QueueKpis("q2", today=Figures(offered=10, sl_numerator=9, sl_denominator=10))
    summary = centre_summary(store, Thresholds(), T0)
    sl = summary.figure(SERVICE_LEVEL)
    assert sl.value == pytest.approx(0.6) and sl.text == "60 %" and sl.level is Level.WARNING
    support = next(q for q in summary.queues if q.id == "q1")
    assert support.service_level_level is Level.CRITICAL  # 50 % is below 60 %
    assert "Support: service level 50 % (critical)" in summary.problem_lines()
    store.kpis["q1"] = QueueKpis("q1")  # no traffic today: unknown, never 100 %
    assert (
        next(
            q for q in centre_summary(store, Thresholds(), T0).queues if q.id == "q1"
        ).service_level_level
        is None
    )

    class WithKpis:  # a queue-like object with today's KPIs, read by name
        def __init__(self, name: str, kpis: _Kpis) -> None:
            self.id, self.name, self.kpis = name, name, kpis

    assert service_level(WithKpis("x", _Kpis(_Today(0.5, 30)))) == (0.5, 30)  # type: ignore[arg-type]
    assert service_level(WithKpis("x", _Kpis(_Today(None, 0)))) == (None, 0)  # type: ignore[arg-type]


def test_short_clock() -> None:
    assert [short_clock(s) for s in (0, 45.4, 190, 3725)] == ["0:00", "0:45", "3:10", "1:02:05"]


def test_longest_wait_leaves_out_calls_ringing_at_an_agent() -> None:
    """Defect 2: "Longest wait 00:01 while Waiting is 0": it counted a call being offered."""
    store = _store()
    store.apply(QueueObserved("q1", waiting=0, alerting=1, longest_wait_ms=1000))
    store.apply(QueueConversationChanged("q1", "c", "alerting", "agent", T0))
    assert store.queues["q1"].waiting == 0
    assert store.longest_wait_s("q1", T0 + timedelta(seconds=1)) is None
    summary = centre_summary(store, Thresholds(), T0 + timedelta(seconds=1))
    assert summary.figure(LONGEST_WAIT).text == "—"
    # The agent lets it ring out: it waits again, and its wait counts from its first start.
    store.apply(QueueObserved("q1", waiting=1, alerting=0))
    store.apply(QueueConversationChanged("q1", "c", "waiting", None, T0))
    assert store.longest_wait_s("q1", T0 + timedelta(seconds=75)) == 75
