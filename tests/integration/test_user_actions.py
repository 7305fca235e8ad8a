"""Status changes from the app against the sandbox org: carried out, refused, journaled.

core.rest.user_actions and core.app.actions over real loopback sockets, a real journal file and
the real pipeline: a supervisor puts a Not Responding agent back On Queue (the sandbox's truth
shows it, the journal holds the action and the feed gets it); an agent trying the same on
someone else is refused with the permission to ask for (journaled as refused, nothing changed);
an agent sets their own presence. At sign-in, the agent's permissions leave out the supervisor
parts of the app and the supervisor's leave out nothing.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from core.app.actions import ActionJournal, StatusActions
from core.app.permissions import PARTS, admin_checklist, check_at_sign_in, missing_parts
from core.app.pipeline import Pipeline
from core.feed.entry import FeedEntry
from core.feed.payloads import FeedKind, RawData
from core.rest import user_actions
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.rest.retry import RetryPolicy
from core.rest.user_actions import ActionRefused
from core.state.store import Store
from core.storage.journal.journal import Journal
from sandbox.server import Sandbox
from tests.integration.helpers import client_token, pkce_token
from tests.integration.stream import set_presence, set_routing, truth

Json = dict[str, object]


async def no_sleep(seconds: float) -> None:
    """Retries never wait in these tests."""


@pytest.fixture
async def make_client(sandbox: Sandbox) -> AsyncIterator[Callable[[str], ApiClient]]:
    """An ApiClient of the sandbox for a token; closed afterwards."""
    made: list[ApiClient] = []

    def build(token: str) -> ApiClient:
        async def provide() -> str:
            return token

        client = ApiClient(
            parse_environment(sandbox.base_url),
            provide,
            policy=RetryPolicy(),
            sleep=no_sleep,
            rng=random.Random(3),
        )
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    """A real journal file."""
    opened = await Journal.open(tmp_path / "journal.sqlite3", flush_interval_s=0.01)
    yield opened
    await opened.close()


def agents(sandbox: Sandbox) -> list[str]:
    """The agents' ids (the agent profile)."""
    return [u.id for u in sandbox.org.users.values() if u.role == "agent"]


def supervisor(sandbox: Sandbox) -> tuple[str, str]:
    """The default sign-in user: the supervisor Sam (id, name)."""
    sam = next(u for u in sandbox.org.users.values() if u.role == "supervisor")
    return sam.id, sam.name


def into(
    journal: Journal, also: list[FeedEntry] | None = None
) -> Callable[[list[FeedEntry]], None]:
    """A sink that appends entries to the journal (and to ``also``)."""

    def sink(entries: list[FeedEntry]) -> None:
        for entry in entries:
            journal.append(entry)
        if also is not None:
            also.extend(entries)

    return sink


async def journaled_actions(journal: Journal) -> list[FeedEntry]:
    """The action rows committed to the journal file, oldest first."""
    await journal.flush()
    return list(reversed(await journal.search(kinds=[FeedKind.ACTION.value])))


async def test_a_supervisor_puts_a_not_responding_agent_on_queue_and_the_journal_keeps_it(
    sandbox: Sandbox,
    http: httpx.AsyncClient,
    user_token: str,
    make_client: Callable[[str], ApiClient],
    journal: Journal,
) -> None:
    agent = agents(sandbox)[0]
    agent_name = sandbox.org.users[agent].name
    await set_presence(http, agent, "ON_QUEUE")
    await set_routing(http, agent, "NOT_RESPONDING")
    pipeline = Pipeline(Store(), journal=journal.append)
    fed: list[FeedEntry] = []
    pipeline.add_entry_listener(fed.extend)
    sam_id, sam_name = supervisor(sandbox)
    actions = StatusActions(
        make_client(user_token),
        ActionJournal(pipeline.publish_entries, actor_id=sam_id, actor_name=sam_name),
    )

    entry = await actions.set_routing_status(agent, agent_name, "ON_QUEUE")

    state = (await truth(http))["users"][agent]
    assert (state["presence"], state["routingStatus"]) == ("ON_QUEUE", "IDLE")
    assert entry.summary == f"You put {agent_name} On Queue"
    assert fed == [entry]
    (row,) = await journaled_actions(journal)
    assert (row.kind, row.subject_id, row.subject, row.severity) == (
        "action",
        agent,
        agent_name,
        "info",
    )
    assert row.summary == f"You put {agent_name} On Queue"
    assert isinstance(row.data, RawData)
    assert row.data.values == {
        "actorId": sam_id,
        "actorName": sam_name,
        "action": "routing",
        "targetId": agent,
        "targetName": agent_name,
        "value": "ON_QUEUE",
        "valueLabel": "",
        "outcome": "done",
    }
    assert abs(row.at.timestamp() - entry.at.timestamp()) < 1e-3

    # Off queue again, then log off: both journaled, the truth follows.
    await actions.set_routing_status(agent, agent_name, "OFF_QUEUE")
    assert (await truth(http))["users"][agent]["presence"] == "AVAILABLE"
    await actions.log_off(agent, agent_name)
    assert (await truth(http))["users"][agent]["presence"] == "OFFLINE"
    summaries = [r.summary for r in await journaled_actions(journal)]
    assert summaries == [
        f"You put {agent_name} On Queue",
        f"You took {agent_name} Off Queue",
        f"You logged {agent_name} off",
    ]


async def test_an_agent_is_refused_with_the_permission_to_ask_for_and_it_is_journaled(
    sandbox: Sandbox,
    http: httpx.AsyncClient,
    make_client: Callable[[str], ApiClient],
    journal: Journal,
) -> None:
    me, other = agents(sandbox)[:2]
    other_name = sandbox.org.users[other].name
    await set_presence(http, other, "ON_QUEUE")
    await set_routing(http, other, "NOT_RESPONDING")
    before = (await truth(http))["users"][other]
    api = make_client(await pkce_token(http, user=me))
    entries: list[FeedEntry] = []
    actions = StatusActions(
        api,
        ActionJournal(
            into(journal, entries),
            actor_id=me,
            actor_name=sandbox.org.users[me].name,
        ),
    )

    with pytest.raises(ActionRefused) as caught:
        await actions.set_routing_status(other, other_name, "ON_QUEUE")
    assert caught.value.permission == "presence:userPresence:edit"
    assert caught.value.message == (
        "You need the permission presence:userPresence:edit (ask your Genesys Cloud admin)."
    )
    assert caught.value.status == 403
    with pytest.raises(ActionRefused) as caught:
        await user_actions.set_presence(api, other, sandbox.org.system_presence_id("BREAK"))
    assert caught.value.permission == "presence:userPresence:edit"
    with pytest.raises(ActionRefused) as caught:
        await actions.log_off(other, other_name)
    assert caught.value.permission == "oauth:token:delete"
    assert (await truth(http))["users"][other] == before

    rows = await journaled_actions(journal)
    assert [(r.severity, r.data.to_json()["outcome"]) for r in rows] == [
        ("warning", "refused"),
        ("warning", "refused"),
    ]
    assert rows[0].summary == (
        f"Could not put {other_name} On Queue: You need the permission "
        "presence:userPresence:edit (ask your Genesys Cloud admin)."
    )
    assert rows[0].data.to_json()["permission"] == "presence:userPresence:edit"
    assert rows[1].data.to_json()["permission"] == "oauth:token:delete"
    assert entries == rows


async def test_an_agent_sets_their_own_presence_and_goes_on_queue(
    sandbox: Sandbox,
    http: httpx.AsyncClient,
    make_client: Callable[[str], ApiClient],
    journal: Journal,
) -> None:
    me = agents(sandbox)[0]
    name = sandbox.org.users[me].name
    await set_presence(http, me, "AVAILABLE")
    api = make_client(await pkce_token(http, user=me))
    lunch = next(
        d for d in sandbox.org.presences.values() if d.type == "User" and not d.deactivated
    )
    actions = StatusActions(api, ActionJournal(into(journal), actor_id=me, actor_name=name))

    await actions.set_presence(me, name, lunch.id, lunch.labels["en_US"])
    assert (await truth(http))["users"][me]["presenceDefinitionId"] == lunch.id
    await user_actions.set_routing_status(api, me, "ON_QUEUE")
    state = (await truth(http))["users"][me]
    assert (state["presence"], state["routingStatus"]) == ("ON_QUEUE", "IDLE")
    (row,) = await journaled_actions(journal)
    assert row.summary == f"You set your status to {lunch.labels['en_US']}"
    assert json.loads(json.dumps(row.data.to_json()))["value"] == lunch.id


async def test_a_bad_status_is_refused_before_anything_is_sent(
    sandbox: Sandbox, user_token: str, make_client: Callable[[str], ApiClient]
) -> None:
    api = make_client(user_token)
    calls = sandbox.rest_calls
    with pytest.raises(ValueError, match="ON_QUEUE or OFF_QUEUE"):
        await user_actions.set_routing_status(api, agents(sandbox)[0], "IDLE")
    assert sandbox.rest_calls == calls


async def test_sign_in_lists_what_an_agent_lacks_and_nothing_for_a_supervisor(
    sandbox: Sandbox,
    http: httpx.AsyncClient,
    user_token: str,
    make_client: Callable[[str], ApiClient],
) -> None:
    agent_lines = await check_at_sign_in(
        make_client(await pkce_token(http, user=agents(sandbox)[0]))
    )
    assert agent_lines is not None
    joined = "\n".join(agent_lines)
    for permission in (
        "presence:userPresence:edit",
        "oauth:token:delete",
        "analytics:queueObservation:view",
        "conversation:communication:view",
    ):
        assert f"Ask your admin for {permission}." in joined
    assert "routing:queue:view" not in joined  # the agent has it
    assert any(line.startswith("Logging an agent off: ") for line in agent_lines)
    assert await check_at_sign_in(make_client(user_token)) == []
    # A service account has no "me": unknown, not "everything missing".
    assert await check_at_sign_in(make_client(await client_token(http))) is None


def test_wildcards_grant_and_each_missing_part_names_what_to_ask_for() -> None:
    assert len(admin_checklist()) == len(PARTS)
    assert "Logging an agent off: oauth:token:delete" in admin_checklist()
    assert len(missing_parts([])) == len(PARTS)
    assert missing_parts(["*"]) == []
    everything = ["*:*:*"]
    assert missing_parts(everything) == []
    lines = missing_parts(["routing:*:*", "presence:*:view", "directory:user:view"])
    assert not [line for line in lines if "routing:queue:view" in line]
    assert any("presence:userPresence:edit" in line for line in lines)
    assert not any("presence:presenceDefinition:view" in line for line in lines)
