"""Drive the official SDK's ``ProcessAutomationApi`` and ``ArchitectApi.get_flows`` against the
sandbox, and record every answer (issue 18's done-when).

Run as ``python -m tests.integration.sdk_triggers_driver`` with one JSON line on stdin:
``{"host": base URL, "token": supervisor token, "agent_token": agent token}``. Importing the SDK
starts a watchdog thread and reads a per-user config file, so this never runs inside pytest (see
tests/integration/sdk_validate.py). It prints one JSON object: ``{"records": [Record...]}``, a
record being ``{"op", "status", "model", "body", "sdk"}``: the raw JSON body the sandbox sent
(``api_client.last_response`` or the ``ApiException`` body), the SDK model it must fit, and what
the SDK made of it (``to_dict()`` of the deserialised model, or None).
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

Record = dict[str, Any]
TOPIC = "v2.users.{id}.activity"
NOT_RESPONDING = {"id": "user-1", "routingStatus": {"status": "NOT_RESPONDING"}}


class Driver:
    """One SDK client per token; every call is recorded."""

    def __init__(self, host: str, token: str) -> None:
        sdk = importlib.import_module("PureCloudPlatformClientV2")
        self.sdk = sdk
        self.client = sdk.ApiClient(host)
        self.client.access_token = token
        self.pa = sdk.ProcessAutomationApi(self.client)
        self.architect = sdk.ArchitectApi(self.client)
        self.records: list[Record] = []

    def call(self, op: str, model: str | None, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one SDK call; record the raw body, the status and the SDK's reading of it."""
        try:
            result = fn(*args, **kwargs)
        except self.sdk.rest.ApiException as exc:
            body = json.loads(exc.body) if exc.body else None
            self.records.append(
                {"op": op, "status": exc.status, "model": "ErrorBody", "body": body, "sdk": None}
            )
            return None
        raw = self.client.last_response
        data = raw.data if raw is not None else ""
        self.records.append(
            {
                "op": op,
                "status": raw.status if raw is not None else None,
                "model": model,
                "body": json.loads(data) if data else None,
                "sdk": result.to_dict() if hasattr(result, "to_dict") else None,
            }
        )
        return result

    def trigger_request(self, kind: str, flow_id: str, **fields: Any) -> Any:
        """A ``CreateTriggerRequest`` or ``UpdateTriggerRequest`` built from SDK models."""
        m = self.sdk
        request = m.CreateTriggerRequest() if kind == "create" else m.UpdateTriggerRequest()
        target = m.TriggerTarget()
        target.type = "Workflow"
        target.id = flow_id
        settings = m.WorkflowTargetSettings()
        settings.data_format = fields.pop("data_format", "TopLevelPrimitives")
        target.workflow_target_settings = settings
        request.target = target
        request.topic_name = TOPIC
        criteria = []
        for path, operator, value in fields.pop("criteria", []):
            criterion = m.MatchCriteria()
            criterion.json_path = path
            criterion.operator = operator
            if isinstance(value, list):
                criterion.values = value
            else:
                criterion.value = value
            criteria.append(criterion)
        if criteria:
            request.match_criteria = criteria
        for key, value in fields.items():
            setattr(request, key, value)
        return request


def scenario(host: str, token: str, agent_token: str) -> list[Record]:
    """Every operation of the issue, in an order where each result feeds the next."""
    d = Driver(host, token)
    pa, arch = d.pa, d.architect
    flows = d.call("get_flows", "FlowEntityListing", arch.get_flows, type=["workflow"])
    by_name = {f.name: f.id for f in flows.entities}
    lead, failing = by_name["Text the team lead"], by_name["Page the on-call manager"]

    page = d.call(
        "topics", "TopicCursorEntityListing", pa.get_processautomation_triggers_topics, page_size=4
    )
    while page is not None and page.next_uri:
        after = page.next_uri.split("after=")[1].split("&")[0]
        page = d.call(
            "topics_next",
            "TopicCursorEntityListing",
            pa.get_processautomation_triggers_topics,
            page_size=4,
            after=after,
        )

    made = []
    plans: tuple[tuple[str, str, dict[str, Any]], ...] = (
        (
            "Not Responding",
            lead,
            {
                "criteria": [("routingStatus.status", "Equal", "NOT_RESPONDING")],
                "event_ttl_seconds": 120,
            },
        ),
        (
            "Late break",
            lead,
            {
                "criteria": [
                    ("presence.presenceDefinition.systemPresence", "In", ["BREAK", "Break"])
                ],
                "delay_by_seconds": 60,
                "data_format": "Json",
            },
        ),
        ("Pager", failing, {"description": "always fails"}),
        ("Off", lead, {"enabled": False}),
    )
    for name, flow, extra in plans:
        extra.setdefault("enabled", True)
        request = d.trigger_request("create", flow, name=name, **extra)
        made.append(d.call("create", "Trigger", pa.post_processautomation_triggers, request))
    first = made[0]

    listing = d.call("list", "TriggerEntityListing", pa.get_processautomation_triggers, page_size=3)
    while listing is not None and listing.next_uri:
        after = listing.next_uri.split("after=")[1].split("&")[0]
        listing = d.call(
            "list_after",
            "TriggerEntityListing",
            pa.get_processautomation_triggers,
            page_size=3,
            after=after,
        )
    if listing is not None and listing.previous_uri:
        before = listing.previous_uri.split("before=")[1].split("&")[0]
        d.call(
            "list_before",
            "TriggerEntityListing",
            pa.get_processautomation_triggers,
            page_size=3,
            before=before,
        )
    d.call(
        "list_filtered",
        "TriggerEntityListing",
        pa.get_processautomation_triggers,
        topic_name=TOPIC,
        enabled=True,
        has_delay_by=True,
    )

    got = d.call("get", "Trigger", pa.get_processautomation_trigger, first.id)
    update = d.trigger_request(
        "update",
        lead,
        name="Not Responding (edited)",
        enabled=False,
        version=got.version,
        criteria=[("routingStatus.status", "Equal", "NOT_RESPONDING")],
        event_ttl_seconds=120,
    )
    d.call("put", "Trigger", pa.put_processautomation_trigger, first.id, update)
    d.call("put_stale", None, pa.put_processautomation_trigger, first.id, update)

    event = json.dumps(NOT_RESPONDING)
    d.call(
        "test_trigger",
        "TestModeResults",
        pa.post_processautomation_trigger_test,
        first.id,
        body=event,
    )
    d.call(
        "test_topic",
        "TestModeEventResults",
        pa.post_processautomation_triggers_topic_test,
        TOPIC,
        body=event,
    )

    d.call("delete", None, pa.delete_processautomation_trigger, made[3].id)
    d.call("get_deleted", None, pa.get_processautomation_trigger, made[3].id)

    agent = Driver(host, agent_token)
    agent.call("agent_list", None, agent.pa.get_processautomation_triggers)
    agent.call("agent_flows", None, agent.architect.get_flows, type=["workflow"])
    return d.records + agent.records


def main() -> int:
    """Read the one request line, run the scenario, print the records."""
    request = json.loads(sys.stdin.readline())
    records = scenario(request["host"], request["token"], request["agent_token"])
    print(json.dumps({"records": records}, default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
