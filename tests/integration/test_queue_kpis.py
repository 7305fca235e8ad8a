"""Queue KPIs: the sandbox's aggregates query, its truth, and what ``listen`` makes of them.

* The aggregates answer fits the SDK's ``ConversationAggregateQueryResponse`` and the client's
  query its ``ConversationAggregationQuery``; bad queries get Genesys error bodies; the
  endpoint's own rate limit answers 429 with ``Retry-After``.
* The client's parse of the answer equals the truth's ``today`` per queue, whichever way the
  sandbox varies the answer (queues without traffic left out or listed with zeros, any metric
  order, unknown keys).
* Done-when of issue 16: ``listen --state-out`` per-queue ``today`` equals the truth once the
  simulation is paused, with the last change carried live by ``.observations`` (no re-sync).
"""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.rest.analytics import (
    AGGREGATES_PATH,
    aggregates_query,
    parse_aggregates,
    today_interval,
)
from core.state.kpis import Figures
from sandbox.server import Sandbox
from tests.integration.helpers import bearer, pkce_token
from tests.integration.test_listen_cli import DEADLINE_S, listen_demo
from tests.integration.test_sdk_shapes import SdkChecker, assert_fit, sample, sdk

__all__ = ["sdk"]  # the module-scoped SDK validator fixture, shared with test_sdk_shapes

Json = dict[str, Any]


def _agent(sandbox: Sandbox) -> str:
    return next(u.id for u in sandbox.org.users.values() if u.role == "agent")


async def _traffic(http: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """Conversations into every queue until some were answered and handled; then pause."""
    for queue_id in sorted(sandbox.org.queues)[:-1]:  # the last queue stays quiet
        for media in ("voice", "chat", "voice"):
            body = {"mediaType": media}
            resp = await http.post(f"/sandbox/queues/{queue_id}/conversations", json=body)
            assert resp.status_code == 200, resp.text
    async with asyncio.timeout(DEADLINE_S):
        while True:
            truth = (await http.get("/sandbox/truth")).json()["queues"]
            if sum(q["today"]["aht"] is not None for q in truth.values()) >= 2:
                break
            await asyncio.sleep(0.1)
    await http.post("/sandbox/simulation/pause")


def _today_of(rows: list[Any], queue_ids: list[str]) -> dict[str, Json]:
    sums = {qid: Figures() for qid in queue_ids}
    for row in rows:
        if row.queue_id in sums:
            sums[row.queue_id] = sums[row.queue_id].plus(row.figures)
    return {qid: figures.as_json() for qid, figures in sums.items()}


async def _query(http: httpx.AsyncClient, token: str, body: Json) -> httpx.Response:
    return await http.post(AGGREGATES_PATH, json=body, headers=bearer(token))


@pytest.mark.sandbox_config(simulate=True, speed=40.0, variations=True, aggregates_rate_per_min=600)
async def test_the_answer_fits_the_sdk_and_parses_to_the_truth_however_it_varies(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str, sdk: SdkChecker
) -> None:
    await _traffic(http, sandbox)
    queue_ids = sorted(sandbox.org.queues)
    start, end = today_interval(datetime.now(UTC))
    query = aggregates_query(queue_ids, start, end)
    truth = (await http.get("/sandbox/truth")).json()["queues"]
    samples = [sample("query", "ConversationAggregationQuery", query)]
    shapes: set[int] = set()
    for attempt in range(12):
        resp = await _query(http, user_token, query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        samples.append(sample(f"answer {attempt}", "ConversationAggregateQueryResponse", body))
        shapes.add(len(body["results"]))
        assert _today_of(parse_aggregates(body), queue_ids) == {
            qid: truth[qid]["today"] for qid in queue_ids
        }
    await assert_fit(sdk, samples)
    # Both documented-style answers were seen: quiet groups left out, and listed with zeros.
    assert len(shapes) > 1, shapes


async def test_bad_queries_get_genesys_error_bodies(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str, sdk: SdkChecker
) -> None:
    start, end = today_interval(datetime.now(UTC))
    good = aggregates_query(sorted(sandbox.org.queues), start, end)
    bad: list[Json] = [
        {**good, "interval": "yesterday"},
        {**good, "interval": good["interval"].split("/")[1] + "/" + good["interval"].split("/")[0]},
        {**good, "metrics": ["nOffered", "nSomethingNew"]},
        {**good, "metrics": []},
        {**good, "granularity": "every half hour"},
        {**good, "groupBy": ["wrapUpCode"]},
        {**good, "filter": {"type": "xor", "predicates": []}},
    ]
    samples = []
    for number, body in enumerate(bad):
        resp = await _query(http, user_token, body)
        assert resp.status_code == 400, (number, resp.text)
        error = resp.json()
        assert error["code"] == "bad.request" and error["status"] == 400
        assert error["contextId"] == resp.headers["ININ-Correlation-Id"]
        samples.append(sample(f"bad {number}", "ErrorBody", error))
    agent_token = await pkce_token(http, _agent(sandbox))
    resp = await _query(http, agent_token, good)
    assert resp.status_code == 403 and resp.json()["code"] == "missing.permissions"
    samples.append(sample("forbidden", "ErrorBody", resp.json()))
    await assert_fit(sdk, samples)


@pytest.mark.sandbox_config(aggregates_rate_per_min=3)
async def test_the_endpoint_has_its_own_rate_limit(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str
) -> None:
    start, end = today_interval(datetime.now(UTC))
    good = aggregates_query(sorted(sandbox.org.queues), start, end)
    statuses = [(await _query(http, user_token, good)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = await _query(http, user_token, good)
    assert limited.status_code == 429
    assert limited.json()["code"] == "too.many.requests.retry.after"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Other endpoints are not limited by it.
    assert (await http.get("/api/v2/routing/queues", headers=bearer(user_token))).status_code == 200


async def test_listen_state_out_today_equals_the_truth_once_paused(tmp_path: Path) -> None:
    """Issue 16's done-when: ``listen --state-out`` ``today`` per queue = ``/sandbox/truth``."""
    state_file = tmp_path / "state.json"
    proc, lines = await listen_demo(
        "--state-out", str(state_file), "--kinds", "sandbox,watch,gap,change"
    )
    try:
        url = (await lines.next_matching(kind="sandbox"))["url"]
        await lines.next_matching(kind="gap", phase="end")
        watched = sorted([line for line in lines.seen if line.get("kind") == "watch"][-1]["queues"])
        assert watched
        async with httpx.AsyncClient(base_url=url, timeout=10) as control:
            # Traffic the watched queues' figures must show: answered ones and a wait.
            for queue_id in watched:
                for media in ("voice", "chat"):
                    resp = await control.post(
                        f"/sandbox/queues/{queue_id}/conversations", json={"mediaType": media}
                    )
                    assert resp.status_code == 200, resp.text
            async with asyncio.timeout(DEADLINE_S):
                while True:
                    truth = (await control.get("/sandbox/truth")).json()["queues"]
                    if any(truth[q]["today"]["answered"] for q in watched):
                        break
                    await asyncio.sleep(0.2)
            # A gap while things moved: the re-sync's query reads what the stream missed.
            await control.post("/sandbox/faults/drop")
            await lines.next_matching(kind="gap", phase="end")
            await control.post("/sandbox/simulation/pause")
            # Paused, one more arrival: only the live .observations push can tell listen.
            target = watched[0]
            before = (await control.get("/sandbox/truth")).json()["queues"][target]["today"]
            resp = await control.post(f"/sandbox/queues/{target}/conversations", json={})
            assert resp.status_code in (200, 201), resp.text
            while True:
                line = await lines.next_matching(kind="change", source="stream")
                change = line["change"]
                if change["id"] != target or change["fields"] != ["kpis"]:
                    continue
                if change["after"][0]["today"]["offered"] == before["offered"] + 1:
                    break
            truth = (await control.get("/sandbox/truth")).json()["queues"]
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(lines.stream.read(), DEADLINE_S)
        code = await asyncio.wait_for(proc.wait(), DEADLINE_S)
    assert code == 0
    state = json.loads(state_file.read_text(encoding="utf-8"))
    assert sorted(state["queues"]) == watched
    for queue_id in watched:
        assert state["queues"][queue_id]["today"] == truth[queue_id]["today"], queue_id
    assert any(truth[q]["today"]["answered"] for q in watched)
    assert truth[target]["today"]["offered"] == before["offered"] + 1
