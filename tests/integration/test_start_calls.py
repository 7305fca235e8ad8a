"""Start-up reads each user's whole record once where it can: the REST calls of a start, counted.

Resolving "every user" reads the whole user records (presence and routing); the first re-sync
used to read them all again. Users no channel carries (over the channels' budget) have no
stream to catch up with, so the re-sync takes the selection's read for them and reads only the
users on a channel again. Counted by the sandbox's own ``rest_calls`` and the client's by path;
the picture must still equal the org's truth for every user.
"""

from __future__ import annotations

import math

import httpx

from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.engine.records import EngineState
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.streaming.planner import Budget
from sandbox.server import Sandbox
from tests.integration.test_engine import (
    CLIENT_ID,
    CLIENT_SECRET,
    SETTINGS,
    WAIT_S,
    Engine,
    Recorder,
    engine_config,
)

USERS = 1500
PAGE = 100  # users a call, by page or by id (core.rest.client)
BUDGET = Budget(max_channels=2, reserve_channels=1)  # one channel of 900 topics

pytestmark = engine_config(users=USERS, queues=2, simulate=False, variations=False)


async def test_a_start_reads_the_users_no_channel_carries_once(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    env = parse_environment(sandbox.base_url)
    auth = Authenticator(env, CLIENT_ID, MemoryCredentialStore(), client_secret=CLIENT_SECRET)
    api = ApiClient(env, auth.access_token, on_unauthorized=auth.renew_rejected)
    service = MonitorService(
        api, auth, Selection(queues="none", users="all"), settings=SETTINGS, budget=BUDGET
    )
    records = Recorder()
    service.add_listener(records)
    engine = Engine(sandbox, http, auth, api, service, records)
    engine.closers = [auth.aclose, api.aclose, service.stop]
    try:
        await auth.sign_in_client_credentials()
        before = (await engine.stats())["rest_calls"]
        await service.start()
        await engine.settled(deadline_s=4 * WAIT_S)
        assert service.state is EngineState.LIVE and service.counters["resyncs"] >= 1
        calls = (await engine.stats())["rest_calls"] - before

        streamed = BUDGET.capacity  # users on the one channel; the rest over the budget
        assert len(service.plan.over_budget) == USERS - streamed
        users_calls = api.stats.by_path.get("GET /api/v2/users", 0)
        # the selection's pages, then the re-sync of the users on the channel only (each later
        # re-sync reads everyone again: one here at most, as the only channel comes up once)
        assert users_calls == math.ceil(USERS / PAGE) + math.ceil(streamed / PAGE) * int(
            service.counters["resyncs"]
        ), api.stats.by_path
        other = calls - users_calls  # sign-in check, labels, the channel and its topics
        assert other <= 6, api.stats.by_path
        assert calls < 2 * math.ceil(USERS / PAGE)  # twice every user, as before
        await engine.assert_matches_truth()  # the users taken from the selection's read too
    finally:
        await engine.close()
