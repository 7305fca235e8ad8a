"""The aggregates answer read defensively, and the live merge of ``.observations`` interval figures.

Shapes the service may send and the parser must take: metrics in any order, metrics left out
(no data), queues left out (no traffic), ``oServiceLevel`` with only a ratio, groups without a
queue id, junk entries, several media groups and intervals that add up.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from core.engine.freshness import StreamFreshness
from core.engine.kpis import KpiKeeper
from core.engine.records import ChangeRecord, Record
from core.engine.selection import Resolution
from core.engine.supervisor import Supervisor
from core.engine.watch import WatchKeeper
from core.errors import ServerError
from core.rest.analytics import (
    aggregates_query,
    parse_aggregates,
    parse_service_level_targets,
    today_interval,
)
from core.state.kpis import Figures, QueueKpis
from core.state.store import Store
from core.streaming.protocol import TopicEvent

Json = dict[str, Any]
Q1, Q2 = "q-1", "q-2"


def metric(name: str, **stats: object) -> Json:
    return {"metric": name, "stats": stats}


def block(interval: str, *metrics: Json) -> Json:
    return {"interval": interval, "metrics": list(metrics)}


IV1 = "2026-12-05T09:00:00.000Z/2026-12-05T09:30:00.000Z"
IV2 = "2026-12-05T09:30:00.000Z/2026-12-05T10:00:00.000Z"


def totals(raw: Any) -> dict[str, Figures]:
    out: dict[str, Figures] = {}
    for row in parse_aggregates(raw):
        out[row.queue_id] = out.get(row.queue_id, Figures()).plus(row.figures)
    return out


def test_groups_and_intervals_add_up_in_any_metric_order() -> None:
    raw = {
        "results": [
            {
                "group": {"queueId": Q1, "mediaType": "voice"},
                "data": [
                    block(
                        IV1,
                        metric("oServiceLevel", ratio=0.5, numerator=1, denominator=2, target=0.8),
                        metric("tAnswered", count=1, sum=4000, max=4000, min=4000),
                        metric("nOffered", count=3),
                        metric("tAbandon", count=1, sum=9000, max=9000, min=9000),
                    ),
                    block(
                        IV2,
                        metric("nOffered", count=2),
                        metric("tHandle", count=1, sum=60000, max=60000, min=60000),
                        metric("tAnswered", count=2, sum=2000, max=1500, min=500),
                        metric("oServiceLevel", ratio=1.0, numerator=2, denominator=2),
                    ),
                ],
            },
            {
                "group": {"mediaType": "chat", "queueId": Q1},
                "data": [block(IV2, metric("nOffered", count=1))],
            },
        ]
    }
    figures = totals(raw)[Q1]
    assert (figures.offered, figures.answered, figures.abandoned) == (6, 3, 1)
    assert figures.service_level == 0.75  # (1 + 2) / (2 + 2): numerators and denominators add
    assert figures.asa_s == 2.0  # (4000 + 2000) ms / 3
    assert figures.aht_s == 60.0
    assert figures.abandon_pct == pytest.approx(100 / 6)
    rows = parse_aggregates(raw)
    assert {row.media for row in rows} == {"voice", "chat"}
    assert rows[0].start == datetime(2026, 12, 5, 9, tzinfo=UTC)
    assert rows[0].sl_goal == 0.8


def test_missing_metrics_absent_queues_and_junk_read_as_nothing() -> None:
    raw = {
        "results": [
            {"group": {"queueId": Q1}, "data": [block(IV1, metric("nOffered", count=2))]},
            {"group": {"mediaType": "voice"}, "data": [block(IV1, metric("nOffered", count=9))]},
            {"group": {"queueId": Q2}, "data": "not a list"},
            "junk",
            {"group": {"queueId": Q2}, "data": [{"metrics": [None, 7, {"metric": 3}]}]},
            {"group": {"queueId": Q2}, "data": [block(IV1, metric("nOffered", count="many"))]},
            {"group": {"queueId": Q2}, "data": [block(IV1, metric("tAnswered", count=True))]},
            {"group": {"queueId": Q2}, "data": [block(IV1, metric("nSomethingNew", count=5))]},
        ]
    }
    found = totals(raw)
    assert found[Q1].offered == 2 and found[Q1].answered == 0
    assert found[Q1].service_level is None and found[Q1].asa_s is None
    assert found[Q2] == Figures()  # listed, but nothing readable
    assert "q-3" not in found  # a queue the answer leaves out had no traffic: no rows
    junk: tuple[object, ...] = (None, [], {"results": None}, {"results": {}}, "text", 42)
    for raw_body in junk:
        assert parse_aggregates(raw_body) == []


def test_a_service_level_with_only_a_ratio_is_weighed_by_what_ended_its_wait() -> None:
    raw = {
        "results": [
            {
                "group": {"queueId": Q1},
                "data": [
                    block(
                        IV1,
                        metric("tAbandon", count=1, sum=1000),
                        metric("oServiceLevel", ratio=0.75),
                        metric("tAnswered", count=3, sum=3000),
                    ),
                    block(IV2, metric("oServiceLevel", ratio=0.0), metric("tAbandon", count=4)),
                ],
            }
        ]
    }
    figures = totals(raw)[Q1]
    assert figures.sl_denominator == 8 and figures.sl_numerator == 3
    assert figures.service_level == 3 / 8


def test_the_query_names_the_queues_today_and_the_half_hours() -> None:
    now = datetime(2026, 12, 5, 21, 17, 3, tzinfo=UTC)
    start, end = today_interval(now)
    assert start <= now < end
    assert (end - now) <= timedelta(minutes=30)
    assert (end - start) % timedelta(minutes=30) == timedelta(0)
    query = aggregates_query([Q1, Q2], start, end)
    assert query["granularity"] == "PT30M"
    assert query["groupBy"] == ["queueId", "mediaType"]
    assert [p["value"] for p in query["filter"]["predicates"]] == [Q1, Q2]
    assert {"nOffered", "tAnswered", "tAbandon", "oServiceLevel", "tHandle"} <= set(
        query["metrics"]
    )
    assert query["interval"].endswith("Z") and "/" in query["interval"]


def test_service_level_targets_come_from_media_settings() -> None:
    raw = {
        "id": Q1,
        "mediaSettings": {
            "call": {"serviceLevel": {"percentage": 0.8, "durationMs": 20000}},
            "chat": {"serviceLevel": {"percentage": 0.8, "durationMs": 60000}},
            "email": {"serviceLevel": "junk"},
            "message": None,
        },
    }
    targets = parse_service_level_targets(raw)
    assert targets == {"voice": 20.0, "chat": 60.0}
    assert QueueKpis(Q1, sl_targets=targets).sl_target_s == 20.0
    assert QueueKpis(Q1, sl_targets={"chat": 60.0}).sl_target_s == 60.0
    assert QueueKpis(Q1).sl_target_s is None
    assert parse_service_level_targets({"mediaSettings": []}) == {}


# --------------------------------------------------------------------------- the keeper
class FakeApi:
    """The two calls the keeper makes, answering from ``answer`` (a test sets it)."""

    def __init__(self, answer: Json) -> None:
        self.answer = answer
        self.queries: list[Json] = []

    async def request(
        self, method: str, path: str, *, body: Any = None, idempotent: bool | None = None
    ) -> httpx.Response:
        self.queries.append(body)
        return httpx.Response(200, json=self.answer)

    async def paged(self, path: str, params: Any = None, *, item_key: str = "entities") -> Any:
        yield {"id": Q1, "mediaSettings": {"call": {"serviceLevel": {"durationMs": 20000}}}}


NOW = datetime(2026, 12, 5, 9, 40, tzinfo=UTC)


def slot_text(now: datetime) -> str:
    start = now.replace(minute=30 if now.minute >= 30 else 0, second=0, microsecond=0)
    end = start + timedelta(minutes=30)
    fmt = "%Y-%m-%dT%H:%M:%S.000Z"
    return f"{start.strftime(fmt)}/{end.strftime(fmt)}"


def push(media: str | None, *metrics: Json, interval: str | None = None) -> TopicEvent:
    group: Json = {"queueId": Q1}
    if media:
        group["mediaType"] = media
    body = {
        "group": group,
        "data": [{"interval": interval or slot_text(NOW), "metrics": list(metrics)}],
    }
    return TopicEvent(f"v2.analytics.queues.{Q1}.observations", body, "2", "c")


async def keeper_with(answer: Json) -> tuple[KpiKeeper, Store, list[Record]]:
    store = Store()
    records: list[Record] = []
    watch = WatchKeeper(store, StreamFreshness())
    watch.adopt(Resolution(users={}, queues={Q1: "Sales"}))
    supervisor = Supervisor(on_health=lambda *_: None, on_failed=lambda _n: None)
    keeper = KpiKeeper(
        FakeApi(answer), store, records.append, watch, supervisor, clock=NOW.timestamp
    )
    assert await keeper.refresh()
    return keeper, store, records


async def test_live_interval_figures_add_what_grew_since_the_query() -> None:
    interval = slot_text(NOW)
    earlier = slot_text(NOW - timedelta(minutes=30))
    answer = {
        "results": [
            {
                "group": {"queueId": Q1, "mediaType": "voice"},
                "data": [
                    block(
                        earlier, metric("nOffered", count=5), metric("tAnswered", count=5, sum=5000)
                    ),
                    block(
                        interval,
                        metric("nOffered", count=2),
                        metric("tAnswered", count=1, sum=1000),
                    ),
                ],
            }
        ]
    }
    keeper, store, records = await keeper_with(answer)
    kpis = store.kpis[Q1]
    assert (kpis.today.offered, kpis.interval.offered, kpis.sl_target_s) == (7, 2, 20.0)
    assert isinstance(records[-1], ChangeRecord) and records[-1].source == "resync"
    # The interval grew by one offer and one answer.
    keeper.on_topic(
        push(
            "voice",
            metric("oWaiting", count=1),
            metric("nOffered", count=3),
            metric("tAnswered", count=2, sum=3000),
        )
    )
    kpis = store.kpis[Q1]
    assert (kpis.today.offered, kpis.today.answered, kpis.today.answer_ms) == (8, 7, 8000)
    assert (kpis.interval.offered, kpis.interval.answered) == (3, 2)
    last = records[-1]
    assert isinstance(last, ChangeRecord) and last.source == "stream"
    # An older push (sent before the one just read) takes nothing back; a push without
    # aggregates, a group without media, another queue's or another topic change nothing.
    count = len(records)
    keeper.on_topic(push("voice", metric("nOffered", count=1)))
    keeper.on_topic(push("voice", metric("oWaiting", count=4)))
    keeper.on_topic(push(None, metric("nOffered", count=40)))
    keeper.on_topic(TopicEvent(f"v2.analytics.queues.{Q1}.activity", {"results": []}, "2", "c"))
    keeper.on_topic(TopicEvent("v2.analytics.queues.other.observations", {}, "2", "c"))
    assert store.kpis[Q1].today.offered == 8
    assert len(records) == count
    # A new media group in the interval counts whole.
    keeper.on_topic(push("chat", metric("nOffered", count=2)))
    assert store.kpis[Q1].today.offered == 10


async def test_a_failed_query_keeps_the_last_figures() -> None:
    keeper, store, _records = await keeper_with(
        {
            "results": [
                {
                    "group": {"queueId": Q1},
                    "data": [block(slot_text(NOW), metric("nOffered", count=4))],
                }
            ]
        }
    )

    async def refuse(*_args: Any, **_kwargs: Any) -> httpx.Response:
        raise ServerError(503, "unavailable")

    keeper.api.request = refuse  # type: ignore[union-attr,method-assign]
    assert not await keeper.refresh()
    assert store.kpis[Q1].today.offered == 4


async def test_the_keeper_stays_within_its_own_budget() -> None:
    keeper, _store, _records = await keeper_with({"results": []})
    keeper.max_per_min = 3
    results = [await keeper.refresh() for _ in range(4)]
    assert results == [True, True, False, False]  # the first of three came from keeper_with
    await asyncio.sleep(0)


async def test_a_push_older_than_the_query_adds_nothing() -> None:
    answer = {
        "results": [
            {
                "group": {"queueId": Q1, "mediaType": "voice"},
                "data": [block(slot_text(NOW), metric("nOffered", count=6))],
            }
        ]
    }
    keeper, store, records = await keeper_with(answer)
    count = len(records)
    keeper.on_topic(push("voice", metric("nOffered", count=5)))  # sent before the query's read
    assert store.kpis[Q1].today.offered == 6
    assert len(records) == count
    # A push of the interval before today's start (yesterday) is not today's.
    keeper.on_topic(
        push("voice", metric("nOffered", count=50), interval=slot_text(NOW - timedelta(days=1)))
    )
    assert store.kpis[Q1].today.offered == 6
