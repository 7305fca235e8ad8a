"""The guide's snippets and the status words of the EventBridge source (pure functions)."""

from __future__ import annotations

import json
import shlex

import pytest

from core.eventbridge.events import SourceStatus
from core.eventbridge.setup import (
    DESKTOP_ACTIONS,
    RETENTION_S,
    SetupPlan,
    admin_json,
    cli_snippet,
    cloudformation,
    cloudformation_text,
    event_filters,
    eventbridge_only,
    queue_url_problem,
    region_of,
    setup_problem,
)
from core.eventbridge.words import both_sources, problem_line, short_text, unhealthy

ORG = "bb14bed0-f8f9-445d-b9d1-10cecb8569d6"
PLAN = SetupPlan(org_id=ORG, account_id="123456789012", region="eu-west-1")
SOURCE = f"aws.partner/genesys.com/cloud/{ORG}/genesys-tray"
RULE_ARN = f"arn:aws:events:eu-west-1:123456789012:rule/{SOURCE}/genesys-tray"
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:genesys-tray-events"


def test_the_arns_follow_the_partner_source() -> None:
    assert PLAN.source == SOURCE
    assert PLAN.rule_arn == RULE_ARN
    assert PLAN.queue_arn == QUEUE_ARN
    assert PLAN.bus_arn == f"arn:aws:events:eu-west-1:123456789012:event-bus/{SOURCE}"
    assert PLAN.queue_url == "https://sqs.eu-west-1.amazonaws.com/123456789012/genesys-tray-events"
    china = SetupPlan(org_id=ORG, account_id="123456789012", region="cn-north-1")
    assert china.queue_arn.startswith("arn:aws-cn:sqs:cn-north-1:")
    assert queue_url_problem(china.queue_url) is None


def test_the_admin_json_holds_the_integration_and_class_filters() -> None:
    steps = json.loads(admin_json(PLAN))
    assert steps["1 POST /api/v2/integrations"]["integrationType"] == {
        "id": "amazon-eventbridge-source"
    }
    props = steps["2 PUT /api/v2/integrations/{id}/config/current"]["properties"]
    assert props["awsAccountId"] == "123456789012" and props["awsAccountRegion"] == "eu-west-1"
    assert props["eventSourceSuffix"] == "genesys-tray"
    assert "v2.users.{id}.presence" in props["eventFilter"]
    assert event_filters(queues=False) == ["v2.users.{id}.presence", "v2.users.{id}.routingStatus"]


def test_the_cloudformation_template_is_complete() -> None:
    template = json.loads(cloudformation_text(PLAN))
    res = template["Resources"]
    assert res["EventBus"]["Properties"] == {"Name": SOURCE, "EventSourceName": SOURCE}
    assert res["Rule"]["Properties"]["EventPattern"] == {"source": [{"prefix": SOURCE}]}
    assert res["Rule"]["Properties"]["EventBusName"] == SOURCE
    assert res["Rule"]["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    queue = res["Queue"]["Properties"]
    assert queue["MessageRetentionPeriod"] == RETENTION_S == 14 * 86_400
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    statement = res["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": ["Rule", "Arn"]}
    desktop = res["DesktopPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert sorted(desktop["Action"]) == sorted(DESKTOP_ACTIONS)
    assert "sqs:SendMessage" not in desktop["Action"] and "sqs:*" not in desktop["Action"]
    assert cloudformation(PLAN) == template


def test_the_cli_snippet_parses_as_shell_with_the_right_arns() -> None:
    commands = [
        shlex.split(line) for line in cli_snippet(PLAN).splitlines() if not line.startswith("#")
    ]
    by_verb = {(c[1], c[2]): c for c in commands if c}
    bus = by_verb[("events", "create-event-bus")]
    assert bus[bus.index("--name") + 1] == SOURCE == bus[bus.index("--event-source-name") + 1]
    rule = by_verb[("events", "put-rule")]
    assert json.loads(rule[rule.index("--event-pattern") + 1]) == {"source": [{"prefix": SOURCE}]}
    queues = [c for c in commands if c[1:3] == ["sqs", "create-queue"]]
    attributes = json.loads(queues[-1][queues[-1].index("--attributes") + 1])
    policy = json.loads(attributes["Policy"])
    assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == RULE_ARN
    assert policy["Statement"][0]["Resource"] == QUEUE_ARN
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"] == QUEUE_ARN + "-dlq"
    assert attributes["MessageRetentionPeriod"] == str(RETENTION_S)
    targets = by_verb[("events", "put-targets")]
    assert json.loads(targets[targets.index("--targets") + 1])[0]["Arn"] == QUEUE_ARN
    iam = by_verb[("iam", "create-policy")]
    document = json.loads(iam[iam.index("--policy-document") + 1])
    assert document["Statement"][0]["Resource"] == QUEUE_ARN


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://sqs.us-east-1.amazonaws.com/123456789012/genesys-tray-events", True),
        ("https://sqs.eu-central-1.amazonaws.com/123456789012/q.fifo", True),
        ("http://127.0.0.1:5123/123456789012/genesys-tray", True),
        ("http://localhost:5123/123456789012/q", True),
        ("http://[::1]:5123/123456789012/q", True),
        ("http://sqs.us-east-1.amazonaws.com/123456789012/q", False),  # plain http, not loopback
        ("http://10.0.0.5:5000/123456789012/q", False),
        ("https://sqs.us-east-1.evil.com/123456789012/q", False),
        ("https://sqs.us-east-1.amazonaws.com/12345/q", False),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/q?x=1", False),
        ("https://user:pw@sqs.us-east-1.amazonaws.com/123456789012/q", False),
        ("", False),
        ("sqs.us-east-1.amazonaws.com/123456789012/q", False),
    ],
)
def test_queue_urls(url: str, ok: bool) -> None:
    assert (queue_url_problem(url) is None) is ok


def test_region_and_setup_checks() -> None:
    assert region_of("https://sqs.ap-southeast-2.amazonaws.com/123456789012/q") == "ap-southeast-2"
    assert region_of("http://127.0.0.1:5/123456789012/q") == ""
    assert setup_problem("123456789012", "us-east-1", "genesys-tray", "q") is None
    assert setup_problem("1234", "us-east-1", "s", "q") is not None
    assert setup_problem("123456789012", "US East", "s", "q") is not None
    assert setup_problem("123456789012", "us-east-1", "bad suffix", "q") is not None


def test_eventbridge_only_reads_every_spelling_in_any_order() -> None:
    transports = {
        "v2.audits.entitytype.{id}.entityid.{id}": ["eventbridge"],
        "v2.users.{id}.presence": ["EventBridge", "Websocket"],
        "v2.users.{id}.activity": ["ALL"],
        "v2.x.{id}.y": ["ProcessAutomation", "EVENTBRIDGE"],
        "v2.routing.queues.{id}.users": ["WebSocket"],
    }
    assert eventbridge_only(transports) == [
        "v2.audits.entitytype.{id}.entityid.{id}",
        "v2.x.{id}.y",
    ]


@pytest.mark.parametrize(
    ("status", "text", "problem"),
    [
        (SourceStatus("off"), "EventBridge off", ""),
        (SourceStatus("starting"), "EventBridge starting", ""),
        (SourceStatus("live", 0.8, 0), "EventBridge lag 0.8 s, backlog 0", ""),
        (SourceStatus("live", None, 12), "EventBridge live, backlog 12", ""),
        (
            SourceStatus("live", 95.0, 1500),
            "EventBridge behind by 1 min 35 s, backlog 1,500",
            "EventBridge: behind by 1 min 35 s, backlog 1,500",
        ),
        (
            SourceStatus("lagging", 42.0, 3),
            "EventBridge behind by 42 s, backlog 3",
            "EventBridge: behind by 42 s, backlog 3",
        ),
        (
            SourceStatus("down"),
            "EventBridge down: queue unreachable, retrying",
            "EventBridge: queue unreachable, retrying",
        ),
        (
            SourceStatus("down", detail="AWS refused the sign-in: check the AWS profile."),
            "EventBridge down: AWS refused the sign-in: check the AWS profile",
            "EventBridge: AWS refused the sign-in: check the AWS profile",
        ),
    ],
)
def test_status_words_for_each_state(status: SourceStatus, text: str, problem: str) -> None:
    assert short_text(status) == text
    assert problem_line(status) == problem
    assert unhealthy(status) is bool(problem)


def test_both_sources() -> None:
    live = SourceStatus("live", 0.8, 0)
    assert both_sources("Live", live) == "WebSocket live · EventBridge lag 0.8 s, backlog 0"
    assert both_sources("Live", None) == "WebSocket live"


def test_brief_words_leave_the_problem_to_its_own_line() -> None:
    down = SourceStatus("down")
    assert both_sources("Live", down, brief=True) == "WebSocket live · EventBridge down"
    lagging = SourceStatus("lagging", 42.0, 3)
    behind = "WebSocket live · EventBridge behind by 42 s"
    assert both_sources("Live", lagging, brief=True) == behind
    assert both_sources("Reconnecting…", SourceStatus("live", 0.8, 0), brief=True) == (
        "WebSocket reconnecting… · EventBridge lag 0.8 s, backlog 0"
    )
