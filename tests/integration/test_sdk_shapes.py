"""Every JSON body the sandbox emits fits the official Genesys Python SDK model, field for field.

genesys-api.md sections 0 and 7: ``PureCloudPlatformClientV2`` 269.0.0 is generated from Genesys'
own swagger and notification-topic schemas, so its models' ``attribute_map`` (JSON names),
``swagger_types`` (nested models, lists, maps) and setter enums are the best public statement of
the exact shapes. Section 5.12 maps topics to model classes, section 7.2 and the SDK's API classes
name the REST response types.

Samples are real: REST bodies over httpx and event bodies off a real WebSocket, triggered through
the control API (or a short high-speed simulation). The SDK runs in a subprocess
(tests/integration/sdk_validate.py) because importing it starts a watchdog thread and reads a
per-user config file.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from sandbox.server import Sandbox
from sandbox.variations import EXTRA_KEYS
from tests.integration.helpers import bearer, pkce_token

ROOT = Path(__file__).resolve().parents[2]
SDK_PACKAGE = "PureCloudPlatformClientV2"

Json = dict[str, Any]
Sample = dict[str, Any]

# (SDK model, JSON key) pairs the document names for a body although the SDK model lacks them,
# each with its genesys-api.md section: the document wins. Empty today - every key the sandbox
# emits is in the SDK 269.0.0 models. Keep it short, e.g. {("QueueMember", "x"): "6.7"}.
DOC_ALLOWED: dict[tuple[str, str], str] = {}

# Topic family → SDK model class (genesys-api.md 5.12; system topics 4.6/4.7).
TOPIC_MODELS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), model)
    for pattern, model in (
        (r"^v2\.users\.[^.?]+\.presence$", "PresenceEventUserPresence"),
        (r"^v2\.users\.[^.?]+\.routingStatus$", "UserRoutingStatusUserRoutingStatus"),
        (r"^v2\.users\.[^.?]+\.activity$", "AgentActivityChangedTopicAgentActivity"),
        (
            r"^v2\.users\.[^.?]+\.conversationsummary$",
            "UserConversationsEventUserConversationSummary",
        ),
        (r"^v2\.users\.[^.?]+\.outofoffice$", "OutOfOfficeEventOutOfOffice"),
        (
            r"^v2\.routing\.queues\.[^.?]+\.conversations$",
            "QueueConversationEventTopicConversation",
        ),
        (
            r"^v2\.routing\.queues\.[^.?]+\.conversations\.calls$",
            "QueueConversationCallEventTopicCallConversation",
        ),
        (
            r"^v2\.routing\.queues\.[^.?]+\.conversations\.callbacks$",
            "QueueConversationCallbackEventTopicCallbackConversation",
        ),
        (
            r"^v2\.routing\.queues\.[^.?]+\.conversations\.chats$",
            "QueueConversationChatEventTopicChatConversation",
        ),
        (
            r"^v2\.routing\.queues\.[^.?]+\.conversations\.emails$",
            "QueueConversationEmailEventTopicEmailConversation",
        ),
        (
            r"^v2\.routing\.queues\.[^.?]+\.conversations\.messages$",
            "QueueConversationMessageEventTopicMessageConversation",
        ),
        (r"^v2\.routing\.queues\.[^.?]+\.users$", "QueueUserEventTopicQueueMember"),
        (
            r"^v2\.analytics\.queues\.[^.?]+\.observations$",
            "StatEventQueueTopicStatsNotification",
        ),
        (
            r"^v2\.analytics\.queues\.[^.?]+\.activity$",
            "V2QueueObservationObservationCountNotification",
        ),
        (r"^v2\.system\.", "SystemMessageSystemMessage"),
    )
)


MEDIA_SUMMARY_KEYS = ("call", "callback", "chat", "message", "email")


# --------------------------------------------------------------------------- the SDK subprocess
class SdkChecker:
    """A long-lived ``sdk_validate`` subprocess answering one JSON line per request."""

    def __init__(self, proc: subprocess.Popen[str], stderr_path: Path) -> None:
        self.proc = proc
        self.stderr_path = stderr_path

    def _read_line(self) -> Json:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            detail = self.stderr_path.read_text(errors="replace")[-4000:]
            pytest.fail(f"the SDK validator subprocess died:\n{detail}")
        answer = json.loads(line)
        assert isinstance(answer, dict)
        return answer

    def wait_ready(self) -> None:
        """Block until the subprocess has imported the SDK."""
        assert self._read_line() == {"ready": True}

    def check_sync(self, samples: list[Sample]) -> list[Json]:
        """Validate samples; one ``{label, problems}`` per sample."""
        assert self.proc.stdin is not None
        request = {"samples": samples, "extra_keys": list(EXTRA_KEYS)}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        results = self._read_line()["results"]
        assert isinstance(results, list)
        return results

    async def check(self, samples: list[Sample]) -> list[Json]:
        """:meth:`check_sync` off the event loop."""
        return await asyncio.to_thread(self.check_sync, samples)


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SdkChecker]:
    """The SDK validator in a subprocess whose HOME is an empty temporary directory."""
    if importlib.util.find_spec(SDK_PACKAGE) is None:
        pytest.fail(
            f"{SDK_PACKAGE} is missing: .venv/bin/pip install {SDK_PACKAGE}==269.0.0 "
            "(it is in the 'test' extra)"
        )
    home = tmp_path_factory.mktemp("sdk-home")
    env = {**os.environ, "HOME": str(home), "USERPROFILE": str(home)}
    stderr_path = home / "stderr.txt"
    with (
        stderr_path.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "tests.integration.sdk_validate"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=ROOT,
            env=env,
        ) as proc,
    ):
        checker = SdkChecker(proc, stderr_path)
        try:
            checker.wait_ready()
            yield checker
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _failures(results: list[Json]) -> list[str]:
    """Readable problems (path + key) not covered by DOC_ALLOWED."""
    failures: list[str] = []
    for result in results:
        for problem in result["problems"]:
            if (
                problem["kind"] == "unknown_key"
                and (problem["model"], problem["key"]) in DOC_ALLOWED
            ):
                continue
            failures.append(
                f"{result['label']}: {problem['path']} [{problem['model']}.{problem['key']}] "
                f"{problem['kind']}: {problem['detail']}"
            )
    return failures


async def assert_fit(sdk: SdkChecker, samples: list[Sample]) -> int:
    """Fail listing path + key of every sample field the SDK model does not know.

    Returns how many of the sandbox's published extra keys were skipped on the way.
    """
    assert samples
    results = await sdk.check(samples)
    failures = _failures(results)
    assert not failures, "bodies that do not fit the SDK models:\n" + "\n".join(failures)
    return sum(int(r["extras"]) for r in results)


def sample(label: str, model: str, body: Any) -> Sample:
    """One body to check against an SDK type string."""
    return {"label": label, "model": model, "body": body}


# --------------------------------------------------------------------------- REST helpers
async def get_json(
    http: httpx.AsyncClient, path: str, token: str, *, status: int = 200, **params: Any
) -> Any:
    """GET a JSON body, asserting the status."""
    resp = await http.get(path, headers=bearer(token), params=params)
    assert resp.status_code == status, resp.text
    return resp.json()


def agents(sandbox: Sandbox) -> list[str]:
    """Ids of the org's agents (users without the supervisor permission set)."""
    return [u.id for u in sandbox.org.users.values() if u.role == "agent"]


def queue_with_member(sandbox: Sandbox, user_id: str) -> str:
    """A queue the user is a member of."""
    return next(q.id for q in sandbox.org.queues.values() if user_id in q.members)


async def new_channel(http: httpx.AsyncClient, token: str) -> Json:
    """``POST /api/v2/notifications/channels`` as the SDK sends it (a literal ``null`` body)."""
    resp = await http.post(
        "/api/v2/notifications/channels",
        headers={**bearer(token), "Content-Type": "application/json"},
        content=b"null",
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert isinstance(body, dict)
    return body


async def subscribe(
    http: httpx.AsyncClient, token: str, channel_id: str, topics: list[str], *, ignore: bool
) -> Json:
    """PUT the channel's topic list."""
    resp = await http.put(
        f"/api/v2/notifications/channels/{channel_id}/subscriptions",
        headers=bearer(token),
        params={"ignoreErrors": "true" if ignore else "false"},
        json=[{"id": t} for t in topics],
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert isinstance(body, dict)
    return body


async def control(http: httpx.AsyncClient, path: str, body: Json | None = None) -> Json:
    """POST to the sandbox control API."""
    resp = await http.post(f"/sandbox/{path}", json=body)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert isinstance(answer, dict)
    return answer


# --------------------------------------------------------------------------- streaming helpers
def topic_model(topic: str) -> str | None:
    """The SDK model of a topic's event body (None for ``channel.metadata``)."""
    for pattern, model in TOPIC_MODELS:
        if pattern.match(topic):
            return model
    return None


class Recorder:
    """Collects event frames of one socket by topic family."""

    def __init__(self) -> None:
        self.frames: list[Json] = []

    def bodies(self, suffix_re: str) -> list[Json]:
        """Event bodies of topics matching a regex."""
        pattern = re.compile(suffix_re)
        return [f["eventBody"] for f in self.frames if pattern.search(f["topicName"])]

    def samples(self) -> list[Sample]:
        """Every recorded body with the model of its topic; unknown topics fail."""
        out: list[Sample] = []
        for frame in self.frames:
            topic = frame["topicName"]
            model = topic_model(topic)
            assert model is not None, f"no SDK model known for topic {topic}"
            out.append(sample(topic, model, frame["eventBody"]))
        return out

    async def _read(
        self, ws: ClientConnection, done: Callable[[Recorder], bool], timeout_s: float
    ) -> None:
        async with asyncio.timeout(timeout_s):
            while not done(self):
                frame = json.loads(await ws.recv())
                if frame.get("topicName") == "channel.metadata":
                    continue
                self.frames.append(frame)

    async def until(
        self, ws: ClientConnection, done: Callable[[Recorder], bool], timeout_s: float
    ) -> None:
        """Read frames until ``done`` says enough; fail with what was seen after a deadline."""
        try:
            await self._read(ws, done, timeout_s)
        except TimeoutError:
            raise AssertionError(
                f"events missing after {timeout_s} s; saw {self.summary()}"
            ) from None

    async def read_for(self, ws: ClientConnection, seconds: float) -> None:
        """Record whatever arrives within ``seconds``."""
        with contextlib.suppress(TimeoutError):
            await self._read(ws, lambda _: False, seconds)

    def summary(self) -> str:
        """Which topics were seen, for a failure message."""
        return ", ".join(sorted({f["topicName"] for f in self.frames})) or "nothing"


# --------------------------------------------------------------------------- the tests
async def test_validator_reports_unknown_keys_wrong_enums_and_types(sdk: SdkChecker) -> None:
    """The check itself can fail: a bogus key, an enum outside the SDK list, bad casing."""
    results = await sdk.check(
        [
            sample(
                "bogus key",
                "UserEntityListing",
                {"entities": [{"id": "u1", "presence": {"bogusKey": 1}}], "pageSize": 1},
            ),
            sample("bad enum", "RoutingStatus", {"status": "ON_BREAK"}),
            sample("enum casing", "ChannelTopic", {"id": "t", "state": "permitted"}),
            sample("bad datetime", "Channel", {"expires": "27.11.2026 09:00"}),
            sample("bad type", "list[UcUserPresence]", [{"userId": 7}]),
            sample("fits", "RoutingStatus", {"userId": "u", "status": "IDLE"}),
        ]
    )
    seen = {r["label"]: [(p["path"], p["kind"]) for p in r["problems"]] for r in results}
    assert seen == {
        "bogus key": [("$.entities[0].presence.bogusKey", "unknown_key")],
        "bad enum": [("$.status", "enum")],
        "enum casing": [("$.state", "enum_case")],
        "bad datetime": [("$.expires", "type")],
        "bad type": [("$[0].userId", "type")],
        "fits": [],
    }


@pytest.mark.sandbox_config(variations=False)  # every expand block present, usual spellings
async def test_rest_bodies_fit_the_sdk_response_models(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str, sdk: SdkChecker
) -> None:
    agent = agents(sandbox)[0]
    agent_token = await pkce_token(http, user=agent)
    queue_id = queue_with_member(sandbox, agent)
    other_queue = next(q for q in sandbox.org.queues if q != queue_id)
    ids = list(sandbox.org.users)[:5]
    # Every expansion the sandbox honours, on every endpoint that returns users.
    expand = "presence,routingStatus,conversationSummary,outOfOffice,authorization,organization"
    tok = user_token
    samples = [
        sample(
            "GET /users?expand",
            "UserEntityListing",
            await get_json(http, "/api/v2/users", tok, expand=expand, pageSize=10, pageNumber=2),
        ),
        sample(
            "GET /users?id",
            "UserEntityListing",
            await get_json(http, "/api/v2/users", tok, id=",".join(ids), expand=expand),
        ),
        sample(
            "GET /users/me",
            "UserMe",
            await get_json(http, "/api/v2/users/me", tok, expand=expand),
        ),
        sample(
            "GET /users/{id}",
            "User",
            await get_json(http, f"/api/v2/users/{agent}", tok, expand=expand),
        ),
        sample(
            "GET /users/{id}/presences/purecloud",
            "UserPresence",
            await get_json(http, f"/api/v2/users/{agent}/presences/purecloud", tok),
        ),
        sample(
            "GET /users/presences/purecloud/bulk",
            "list[UcUserPresence]",
            await get_json(http, "/api/v2/users/presences/purecloud/bulk", tok, id=",".join(ids)),
        ),
        sample(
            "GET /users/{id}/routingstatus",
            "RoutingStatus",
            await get_json(http, f"/api/v2/users/{agent}/routingstatus", tok),
        ),
        sample(
            "GET /presence/definitions",
            "OrganizationPresenceDefinitionEntityListing",
            await get_json(http, "/api/v2/presence/definitions", tok, deactivated="true"),
        ),
        sample(
            "GET /presencedefinitions",
            "OrganizationPresenceEntityListing",
            await get_json(http, "/api/v2/presencedefinitions", tok, deleted="all"),
        ),
        sample(
            "GET /systempresences",
            "list[SystemPresence]",
            await get_json(http, "/api/v2/systempresences", tok),
        ),
        sample(
            "GET /routing/queues",
            "QueueEntityListing",
            await get_json(http, "/api/v2/routing/queues", tok, pageSize=2, pageNumber=2),
        ),
        sample(
            "GET /routing/queues/me",
            "UserQueueEntityListing",
            await get_json(http, "/api/v2/routing/queues/me", agent_token),
        ),
        sample(
            "GET /routing/queues/{id}",
            "Queue",
            await get_json(http, f"/api/v2/routing/queues/{queue_id}", tok),
        ),
        sample(
            "GET /routing/queues/{id}/members",
            "QueueMemberEntityListing",
            await get_json(
                http,
                f"/api/v2/routing/queues/{queue_id}/members",
                tok,
                expand=expand,
                pageSize=2,
                pageNumber=2,
            ),
        ),
        sample(
            "GET /tokens/me (PKCE)",
            "TokenInfo",
            await get_json(http, "/api/v2/tokens/me", tok),
        ),
    ]

    # Users search (results, not entities).
    resp = await http.post(
        "/api/v2/users/search",
        headers=bearer(tok),
        json={
            "pageSize": 2,
            "pageNumber": 2,
            "query": [{"type": "MATCH_ALL"}],
            "expand": expand.split(","),
        },
    )
    assert resp.status_code == 200, resp.text
    samples.append(sample("POST /users/search", "UsersSearchResponse", resp.json()))

    # Queue observations with details (a waiting call makes observations[] non-empty).
    await control(http, f"queues/{queue_id}/conversations")
    resp = await http.post(
        "/api/v2/analytics/queues/observations/query",
        headers=bearer(tok),
        json={
            "filter": {
                "type": "or",
                "predicates": [
                    {"dimension": "queueId", "value": queue_id},
                    {"dimension": "queueId", "value": other_queue},
                ],
            },
            "metrics": [
                "oWaiting",
                "oInteracting",
                "oAlerting",
                "oOnQueueUsers",
                "oOffQueueUsers",
                "oActiveUsers",
                "oMemberUsers",
                "oUserRoutingStatuses",
                "oUserPresences",
            ],
            "detailMetrics": ["oWaiting", "oInteracting", "oAlerting"],
        },
    )
    assert resp.status_code == 200, resp.text
    observations = resp.json()
    assert any(d.get("observations") for r in observations["results"] for d in r["data"])
    samples.append(
        sample(
            "POST /analytics/queues/observations/query",
            "QueueObservationQueryResponse",
            observations,
        )
    )

    # Notification channels: create, list (also another token's id-less entry), subscribe with a
    # rejected topic as an agent, read back, available topics with every expansion.
    channel = await new_channel(http, agent_token)
    second_token = await pkce_token(http, user=agent)
    await new_channel(http, second_token)
    samples.append(sample("POST /notifications/channels", "Channel", channel))
    listing = await get_json(
        http, "/api/v2/notifications/channels", agent_token, includechannels="oauthclient"
    )
    assert any("id" not in entity for entity in listing["entities"])
    samples.append(sample("GET /notifications/channels", "ChannelEntityListing", listing))
    put = await subscribe(
        http,
        agent_token,
        channel["id"],
        [
            f"v2.users.{agent}?presence&routingStatus",
            f"v2.analytics.queues.{queue_id}.observations",
        ],
        ignore=True,
    )
    assert {e["state"] for e in put["entities"]} == {"Permitted", "Rejected"}
    samples.append(sample("PUT .../subscriptions", "ChannelTopicEntityListing", put))
    samples.append(
        sample(
            "GET .../subscriptions",
            "ChannelTopicEntityListing",
            await get_json(
                http, f"/api/v2/notifications/channels/{channel['id']}/subscriptions", agent_token
            ),
        )
    )
    samples.append(
        sample(
            "GET /notifications/availabletopics",
            "AvailableTopicEntityListing",
            await get_json(
                http,
                "/api/v2/notifications/availabletopics",
                tok,
                expand="description,enforced,schema,visibility,transports,"
                "publicApiTemplateUriPaths,requiresPermissions,permissionDetails,topicParameters",
            ),
        )
    )

    # Client-credentials token info.
    service = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(sandbox.config.client_id, sandbox.config.client_secret),
    )
    assert service.status_code == 200, service.text
    samples.append(
        sample(
            "GET /tokens/me (client credentials)",
            "TokenInfo",
            await get_json(http, "/api/v2/tokens/me", service.json()["access_token"]),
        )
    )

    # Error bodies: 400, 401, 403, 404, 429, 503.
    errors = [
        await get_json(http, "/api/v2/users", tok, status=400, pageSize="lots"),
        await get_json(http, "/api/v2/users/me", "not-a-token", status=401),
        await get_json(http, f"/api/v2/users/{'0' * 8}-0000-4000-8000-{'0' * 12}", tok, status=404),
    ]
    forbidden = await http.post(
        "/api/v2/analytics/queues/observations/query",
        headers=bearer(agent_token),
        json={"filter": {"type": "or", "predicates": []}, "metrics": ["oWaiting"]},
    )
    assert forbidden.status_code == 403, forbidden.text
    errors.append(forbidden.json())
    await control(http, "faults/rate_limit?count=1&retry_after=2")
    errors.append(await get_json(http, "/api/v2/users/me", tok, status=429))
    await control(http, "faults/server_error?count=1&status=503")
    errors.append(await get_json(http, "/api/v2/users/me", tok, status=503))
    samples.extend(sample(f"error {e.get('status')}", "ErrorBody", e) for e in errors)

    # The expanded blocks were really there to be checked (UserMe alone has ``organization``).
    bodies = {s["label"]: s["body"] for s in samples}
    blocks = {"presence", "routingStatus", "conversationSummary", "outOfOffice", "authorization"}
    assert blocks <= set(bodies["GET /users?expand"]["entities"][0])
    assert blocks | {"organization"} <= set(bodies["GET /users/me"])
    await assert_fit(sdk, samples)


@pytest.mark.sandbox_config(users=60, expand_drop_rate=0.3, extra_key_rate=0.3)
async def test_varied_rest_bodies_fit_the_sdk_response_models(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str, sdk: SdkChecker
) -> None:
    """Missing expand blocks, unknown keys, any spelling and per-media observation answers fit.

    The variations are checked to be really there: some user lacks an expanded block, extra
    keys were skipped, and the observations query has per-media groups.
    """
    tok = user_token
    samples: list[Sample] = []
    for number in (1, 2, 3):
        samples.append(
            sample(
                f"GET /users?expand page {number}",
                "UserEntityListing",
                await get_json(
                    http,
                    "/api/v2/users",
                    tok,
                    expand="presence,routingStatus,conversationSummary",
                    pageSize=20,
                    pageNumber=number,
                ),
            )
        )
    ids = list(sandbox.org.users)[:40]
    for uid in ids[:10]:
        samples.append(
            sample(
                "GET /users/{id}/presences/purecloud",
                "UserPresence",
                await get_json(http, f"/api/v2/users/{uid}/presences/purecloud", tok),
            )
        )
        samples.append(
            sample(
                "GET /users/{id}/routingstatus",
                "RoutingStatus",
                await get_json(http, f"/api/v2/users/{uid}/routingstatus", tok),
            )
        )
    samples.append(
        sample(
            "GET /users/presences/purecloud/bulk",
            "list[UcUserPresence]",
            await get_json(http, "/api/v2/users/presences/purecloud/bulk", tok, id=",".join(ids)),
        )
    )
    mixed = next(q.id for q in sandbox.org.queues.values() if len(q.media) > 1)
    for media in ("voice", "chat", "email"):
        await control(http, f"queues/{mixed}/conversations", {"mediaType": media})
    for media_filter in (None, "chat"):
        predicates: list[Json] = [{"dimension": "queueId", "value": q} for q in sandbox.org.queues]
        filt: Json = {"type": "or", "predicates": predicates}
        if media_filter:
            filt = {
                "type": "and",
                "clauses": [
                    {"type": "or", "predicates": predicates},
                    {"type": "or", "predicates": [{"dimension": "mediaType", "value": "chat"}]},
                ],
            }
        resp = await http.post(
            "/api/v2/analytics/queues/observations/query",
            headers=bearer(tok),
            json={
                "filter": filt,
                "metrics": ["oWaiting", "oInteracting", "oAlerting", "oOnQueueUsers"],
                "detailMetrics": ["oWaiting"],
            },
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        media_seen = {r["group"].get("mediaType") for r in body["results"]} - {None}
        if media_filter:
            assert media_seen == {"chat"}  # the predicate restricts the media groups
        else:
            assert {"voice", "chat", "email"} <= media_seen  # each has a waiting interaction
        samples.append(
            sample(
                f"POST observations/query mediaType={media_filter}",
                "QueueObservationQueryResponse",
                body,
            )
        )
    users = [u for s in samples[:3] for u in s["body"]["entities"]]
    assert any("presence" not in u or "routingStatus" not in u for u in users)
    assert all("conversationSummary" in u for u in users)
    assert await assert_fit(sdk, samples) > 0


async def test_user_and_queue_membership_events_fit_the_sdk_models(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str, sdk: SdkChecker
) -> None:
    agent = agents(sandbox)[1]
    user = sandbox.org.users[agent]
    queue_id = queue_with_member(sandbox, agent)
    lunch = next(
        d.id for d in sandbox.org.presences.values() if d.type == "User" and not d.deactivated
    )
    channel = await new_channel(http, user_token)
    topics = [
        f"v2.users.{agent}?presence&routingStatus&activity&conversationsummary&outofoffice",
        f"v2.routing.queues.{queue_id}.users",
    ]
    put = await subscribe(http, user_token, channel["id"], topics, ignore=False)
    assert [e["state"] for e in put["entities"]] == ["Permitted", "Permitted"]

    def blocks(rec: Recorder) -> set[str]:
        return {key for body in rec.bodies(r"\.activity$") for key in body}

    rec = Recorder()
    async with connect(channel["connectUri"]) as ws:
        await control(http, f"users/{agent}/presence", {"presence": lunch, "message": "back at 2"})
        await control(http, f"users/{agent}/presence", {"presence": "ON_QUEUE"})
        await control(http, f"users/{agent}/routingstatus", {"status": "NOT_RESPONDING"})
        joined = sandbox.org.queues[queue_id].members[agent].joined
        await control(http, f"queues/{queue_id}/members", {"userId": agent, "joined": not joined})
        sandbox.org.set_out_of_office(user, not user.ooo_active)  # no control route for OOO
        await rec.until(
            ws,
            lambda r: (
                len(r.bodies(r"\.presence$")) >= 2
                and len(r.bodies(r"\.routingStatus$")) >= 2
                and len(r.bodies(r"\.outofoffice$")) >= 1
                and len(r.bodies(r"\.users$")) >= 1
                and {"presence", "routingStatus", "outOfOffice", "activeQueueIds"} <= blocks(r)
            ),
            timeout_s=3.0,
        )
    await assert_fit(sdk, rec.samples())


MEDIA_TOPICS = {
    "voice": "calls",
    "callback": "callbacks",
    "chat": "chats",
    "message": "messages",
    "email": "emails",
}


@pytest.mark.sandbox_config(speed=1000.0, extra_key_rate=0.3)
async def test_queue_conversation_and_analytics_events_fit_the_sdk_models(
    sandbox: Sandbox, http: httpx.AsyncClient, user_token: str, sdk: SdkChecker
) -> None:
    """One interaction of every media waits, is offered, answered, wrapped up and finished.

    (An abandoned one is replaced.) The generic topic and every media-specific topic, the
    per-media observation and activity events and the per-media conversation summaries all
    fit their SDK models, unknown keys skipped. The simulation stays paused; control steps of
    1 ms simulated time move the interactions along (at speed 1000 a ring takes 2-8 ms of wall
    time, handling 45-900 ms, wrap-up 5-60 ms).
    """
    queue_id = next(q.id for q in sandbox.org.queues.values() if len(q.media) > 1)
    members = list(sandbox.org.queues[queue_id].members)[:3]
    for agent in members:
        await control(http, f"queues/{queue_id}/members", {"userId": agent, "joined": True})
        await control(http, f"users/{agent}/presence", {"presence": "ON_QUEUE"})
        await control(http, f"users/{agent}/routingstatus", {"status": "IDLE"})
    channel = await new_channel(http, user_token)
    base = f"v2.routing.queues.{queue_id}.conversations"
    topics = [
        base,
        *(f"{base}.{suffix}" for suffix in MEDIA_TOPICS.values()),
        f"v2.analytics.queues.{queue_id}.observations",
        f"v2.analytics.queues.{queue_id}.activity",
        *(f"v2.users.{uid}?conversationsummary" for uid in sandbox.org.queues[queue_id].members),
    ]
    await subscribe(http, user_token, channel["id"], topics, ignore=False)

    def finished(rec: Recorder, suffix: str) -> bool:
        return any(
            "endAcwTime" in part
            for body in rec.bodies(suffix)
            for part in body.get("participants", [])
        )

    def summarised(rec: Recorder) -> set[str]:
        return {
            key
            for body in rec.bodies(r"\.conversationsummary$")
            for key in MEDIA_SUMMARY_KEYS
            if body.get(key, {}).get("contactCenter", {}).get("active")
        }

    rec = Recorder()
    async with connect(channel["connectUri"]) as ws:
        for media in MEDIA_TOPICS:
            await control(http, f"queues/{queue_id}/conversations", {"mediaType": media})
        await rec.until(
            ws,
            lambda r: (
                all(r.bodies(rf"\.conversations\.{s}$") for s in MEDIA_TOPICS.values())
                and bool(r.bodies(r"^v2\.analytics\.queues\.[^.]+\.observations$"))
            ),
            timeout_s=2.0,
        )
        deadline = asyncio.get_running_loop().time() + 15.0
        while not (
            all(finished(rec, rf"\.conversations\.{s}$") for s in MEDIA_TOPICS.values())
            and len(summarised(rec)) == len(MEDIA_TOPICS)
        ):
            assert asyncio.get_running_loop().time() < deadline, (
                [s for s in MEDIA_TOPICS.values() if not finished(rec, rf"\.conversations\.{s}$")],
                summarised(rec),
            )
            for media, suffix in MEDIA_TOPICS.items():
                live = any(
                    c.queue_id == queue_id and c.media == media
                    for c in sandbox.org.conversations.values()
                )
                if not live and not finished(rec, rf"\.conversations\.{suffix}$"):
                    await control(http, f"queues/{queue_id}/conversations", {"mediaType": media})
            await control(http, "simulation/step?seconds=0.001")
            await rec.read_for(ws, 0.02)
    assert finished(rec, r"\.conversations$")
    groups = {
        body["group"].get("mediaType")
        for body in rec.bodies(r"^v2\.analytics\.queues\.[^.]+\.observations$")
    }
    assert set(MEDIA_TOPICS) <= groups
    activity_media = {
        result["mediaType"]
        for body in rec.bodies(r"^v2\.analytics\.queues\.[^.]+\.activity$")
        for result in body["results"]
    }
    assert set(MEDIA_TOPICS) <= activity_media
    assert await assert_fit(sdk, rec.samples()) > 0  # the extra keys were there and skipped


async def test_system_messages_fit_the_sdk_model(
    sandbox: Sandbox, http: httpx.AsyncClient, sdk: SdkChecker
) -> None:
    agent = agents(sandbox)[3]
    token = await pkce_token(http, user=agent)
    channel = await new_channel(http, token)
    rec = Recorder()
    async with connect(channel["connectUri"]) as ws:
        await control(http, "faults/socket_closing?grace=5")
        await rec.until(ws, lambda r: bool(r.bodies(r"^v2\.system\.socket_closing$")), 2.0)
        await control(http, f"faults/revoke_tokens?user={agent}")
        await rec.until(ws, lambda r: bool(r.bodies(r"^v2\.system\.token_revoked\.")), 2.0)
    await assert_fit(sdk, rec.samples())
