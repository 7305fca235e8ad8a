"""core.triggers against the sandbox: every call of TriggersApi, the conflict and refusal errors,
and live runs (and failures) through InvocationWatch's own channel."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from core.alerts.model import Condition, Rule
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.triggers.client import (
    TriggerConflictError,
    TriggerRefusedError,
    TriggersApi,
    check_words,
)
from core.triggers.from_rule import ACTIVITY_TOPIC, TriggerPlan, rule_to_trigger
from core.triggers.live import InvocationLog, InvocationWatch
from core.triggers.model import Invocation, Trigger
from sandbox.server import Sandbox
from tests.integration.helpers import pkce_token

DEADLINE_S = 10.0


async def _client(sandbox: Sandbox, token: str) -> ApiClient:
    async def provide() -> str:
        return token

    return ApiClient(parse_environment(sandbox.base_url), provide, rng=random.Random(3))


@pytest.fixture
async def api(sandbox: Sandbox, http: httpx.AsyncClient) -> AsyncIterator[TriggersApi]:
    """TriggersApi of the default login user (a supervisor: every trigger permission)."""
    client = await _client(sandbox, await pkce_token(http))
    async with client:
        yield TriggersApi(client)


def _agent(sandbox: Sandbox) -> str:
    return next(u.id for u in sandbox.org.users.values() if u.role == "agent")


async def _until(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _set_routing(http: httpx.AsyncClient, user_id: str, status: str) -> None:
    resp = await http.post(f"/sandbox/users/{user_id}/routingstatus", json={"status": status})
    assert resp.status_code == 200, resp.text


async def _plan_trigger(api: TriggersApi, sandbox: Sandbox, workflow: str) -> Trigger:
    flows = {w.name: w.id for w in await api.workflows()}
    rule = Rule("r1", "Not responding", Condition.AGENT_NOT_RESPONDING, subjects=(_agent(sandbox),))
    plan = rule_to_trigger(rule)
    assert isinstance(plan, TriggerPlan)
    return await api.create(plan.trigger(flows[workflow]))


async def test_every_call_round_trips(api: TriggersApi, sandbox: Sandbox) -> None:
    assert ACTIVITY_TOPIC in await api.topics()
    flows = await api.workflows()
    assert any(w.name == "Text the team lead" and w.active for w in flows)
    assert any(not w.active for w in flows)  # the draft one
    made = await _plan_trigger(api, sandbox, "Text the team lead")
    assert made.id and made.version >= 1 and made.enabled
    assert [t.id for t in await api.triggers()] == [made.id]
    got = await api.get(made.id)
    assert got == made
    off = await api.set_enabled(made.id, False)  # GET, then PUT with its version
    assert not off.enabled and off.version > made.version
    with pytest.raises(TriggerConflictError):
        await api.update(made.with_enabled(True))  # the stale version
    body = {"id": _agent(sandbox), "routingStatus": {"status": "NOT_RESPONDING"}}
    answer = await api.test(made.id, body)
    assert answer["triggerMatches"] is True
    assert check_words(answer)[-1] == "It would fire."
    miss = await api.test(made.id, {**body, "routingStatus": {"status": "IDLE"}})
    assert check_words(miss)[-1] == "It would not fire."
    topic = await api.test_topic(ACTIVITY_TOPIC, body)
    assert "triggerMatchValidation" in topic
    await api.delete(made.id)
    assert await api.triggers() == []


async def test_many_triggers_are_read_across_pages(api: TriggersApi, sandbox: Sandbox) -> None:
    flows = {w.name: w.id for w in await api.workflows()}
    for n in range(205):  # more than one page of 200
        await api.create(Trigger(f"T{n:03}", ACTIVITY_TOPIC, flows["Open a ticket"]))
    names = [t.name for t in await api.triggers()]
    assert len(names) == 205 and len(set(names)) == 205


async def test_an_agent_is_told_which_permission_to_ask_for(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    token = await pkce_token(http, user=_agent(sandbox))
    async with await _client(sandbox, token) as client:
        api = TriggersApi(client)
        with pytest.raises(TriggerRefusedError) as caught:
            await api.triggers()
        assert caught.value.permission.startswith("processautomation:trigger:")
        assert caught.value.permission in caught.value.words
        with pytest.raises(TriggerRefusedError) as adding:
            await api.create(Trigger("x", ACTIVITY_TOPIC, "wf"))
        assert adding.value.permission == "processautomation:trigger:add"


async def test_runs_and_failures_arrive_live(
    api: TriggersApi, sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    good = await _plan_trigger(api, sandbox, "Text the team lead")
    bad = await _plan_trigger(api, sandbox, "Page the on-call manager")
    runs: list[Invocation] = []
    log = InvocationLog()

    def seen(run: Invocation) -> None:
        runs.append(run)
        log.add(run)

    async def no_renewal() -> bool:
        return False

    watch = InvocationWatch(api.api, seen, token_lost=no_renewal)
    watch.watch([good.target_id, bad.target_id])
    try:
        await _until(lambda: watch.shard is not None and watch.shard.subscribed is not None,
                     "the runs' channel")  # fmt: skip
        user = _agent(sandbox)
        await _set_routing(http, user, "IDLE")
        await _set_routing(http, user, "NOT_RESPONDING")
        await _until(lambda: len(runs) == 2, "two runs")
    finally:
        await watch.stop()
    by_trigger = {r.trigger_id: r for r in runs}
    assert not by_trigger[good.id].failed
    assert by_trigger[bad.id].failed and by_trigger[bad.id].error
    assert log.last_hour(good.id) == 1 and log.last_error(good.id) == ""
    assert log.last_error(bad.id) == by_trigger[bad.id].error


async def test_a_throttled_run_is_a_failure_saying_so(
    api: TriggersApi, sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    resp = await http.post("/sandbox/triggers/limits", params={"perMinute": 2})
    assert resp.status_code == 200, resp.text
    made = await _plan_trigger(api, sandbox, "Text the team lead")
    runs: list[Invocation] = []
    log = InvocationLog()

    def seen(run: Invocation) -> None:
        runs.append(run)
        log.add(run)

    async def no_renewal() -> bool:
        return False

    watch = InvocationWatch(api.api, seen, token_lost=no_renewal)
    watch.watch([made.target_id])
    try:
        await _until(lambda: watch.shard is not None and watch.shard.subscribed is not None,
                     "the runs' channel")  # fmt: skip
        user = _agent(sandbox)
        for _ in range(3):
            await _set_routing(http, user, "IDLE")
            await _set_routing(http, user, "NOT_RESPONDING")
        await _until(lambda: len(runs) == 3, "three runs")
    finally:
        await watch.stop()
    assert [r.throttled for r in runs].count(True) >= 1
    throttled = next(r for r in runs if r.throttled)
    assert throttled.failed and throttled.error
    assert log.last_error(made.id).startswith("Throttled: ")
