"""The "Set up EventBridge" guide's facts: filters, the admin's JSON, the AWS side, queue URLs.

Pure functions, so each snippet is tested on its own (shared/genesys-eventbridge-triggers.md
2-3): the integration ``amazon-eventbridge-source`` with ``eventSourceSuffix``,
``awsAccountId``, ``awsAccountRegion`` and class-wide ``eventFilter`` patterns; on the AWS side
an event bus for the partner source ``aws.partner/genesys.com/cloud/<orgId>/<suffix>``, a rule
matching that source, an SQS queue (14 days, with a dead-letter queue) as its target, the queue
policy letting only that rule send, and a least-privilege policy for the desktop.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

INTEGRATION_TYPE: Final = "amazon-eventbridge-source"
ADD_PERMISSION: Final = "integrations:integration:add"
RETENTION_S: Final = 1_209_600  # 14 days, SQS's maximum
MAX_RECEIVE_COUNT: Final = 5  # then a message goes to the dead-letter queue
VISIBILITY_S: Final = 60
RULE_NAME: Final = "genesys-tray"
DESKTOP_ACTIONS: Final = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)
# What the app watches, as classes: every user's presence and routing, every queue's conversations.
USER_CLASSES: Final = ("v2.users.{id}.presence", "v2.users.{id}.routingStatus")
QUEUE_CLASSES: Final = ("v2.routing.queues.{id}.conversations",)
_SUFFIX = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_SQS_HOST = re.compile(r"^sqs\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(\.cn)?$")
_QUEUE_PATH = re.compile(r"^/(\d{12})/([A-Za-z0-9_-]{1,80}(?:\.fifo)?)$")
LOOPBACK_NAMES: Final = frozenset({"localhost"})


def event_filters(*, users: bool = True, queues: bool = True) -> list[str]:
    """Class-wide topic patterns for what is watched (``{id}`` means every user or queue)."""
    return [*(USER_CLASSES if users else ()), *(QUEUE_CLASSES if queues else ())]


def source_name(org_id: str, suffix: str) -> str:
    """The partner event source Genesys creates: ``aws.partner/genesys.com/cloud/<org>/<sfx>``."""
    return f"aws.partner/genesys.com/cloud/{org_id}/{suffix}"


def setup_problem(account_id: str, region: str, suffix: str, queue_name: str) -> str | None:
    """Why these AWS details cannot be used, in words; None when they can."""
    if not _ACCOUNT.match(account_id):
        return "The AWS account id is the 12-digit number of your AWS account."
    if not _REGION.match(region):
        return "The AWS region is written like us-east-1 or eu-central-1."
    if not _SUFFIX.match(suffix):
        return "The event source name: up to 64 letters, digits, '.', '-' or '_'."
    if not _QUEUE_NAME.match(queue_name):
        return "The queue name: up to 80 letters, digits, '-' or '_'."
    return None


@dataclass(frozen=True, slots=True)
class SetupPlan:
    """Everything both sides need to agree on."""

    org_id: str
    account_id: str
    region: str
    suffix: str = "genesys-tray"
    queue_name: str = "genesys-tray-events"
    filters: tuple[str, ...] = USER_CLASSES + QUEUE_CLASSES
    name: str = "Genesys Tray EventBridge"

    @property
    def partition(self) -> str:
        """``aws``, or ``aws-cn`` in the China regions."""
        return "aws-cn" if self.region.startswith("cn-") else "aws"

    @property
    def source(self) -> str:
        """The partner event source (and the event bus's name)."""
        return source_name(self.org_id, self.suffix)

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"

    @property
    def bus_arn(self) -> str:
        """The partner event bus's ARN."""
        return self._arn("events", f"event-bus/{self.source}")

    @property
    def rule_arn(self) -> str:
        """The rule's ARN (a rule on a custom bus carries the bus's name in it)."""
        return self._arn("events", f"rule/{self.source}/{RULE_NAME}")

    @property
    def queue_arn(self) -> str:
        """The SQS queue's ARN."""
        return self._arn("sqs", self.queue_name)

    @property
    def dlq_arn(self) -> str:
        """The dead-letter queue's ARN."""
        return self._arn("sqs", f"{self.queue_name}-dlq")

    @property
    def queue_url(self) -> str:
        """The queue's URL, as the app's Settings want it."""
        domain = "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"
        return f"https://sqs.{self.region}.{domain}/{self.account_id}/{self.queue_name}"


def integration_request(plan: SetupPlan) -> dict[str, Any]:
    """``POST /api/v2/integrations``: the integration (it starts disabled)."""
    return {"name": plan.name, "integrationType": {"id": INTEGRATION_TYPE}}


def integration_properties(plan: SetupPlan) -> dict[str, Any]:
    """The configuration's ``properties`` (fact sheet 2.1)."""
    return {
        "eventSourceSuffix": plan.suffix,
        "awsAccountId": plan.account_id,
        "awsAccountRegion": plan.region,
        "eventFilter": list(plan.filters),
    }


def admin_json(plan: SetupPlan) -> str:
    """What to hand an admin who can add integrations: the three calls, in order."""
    steps = {
        "what": "Genesys Cloud integration for Genesys Tray: Amazon EventBridge Source",
        "1 POST /api/v2/integrations": integration_request(plan),
        "2 PUT /api/v2/integrations/{id}/config/current": {
            "name": plan.name,
            "version": 1,
            "properties": integration_properties(plan),
            "advanced": {},
            "notes": "Created for Genesys Tray",
            "credentials": {},
        },
        "3 PATCH /api/v2/integrations/{id}": {"intendedState": "ENABLED"},
    }
    return json.dumps(steps, indent=2)


def event_pattern(plan: SetupPlan) -> dict[str, Any]:
    """The rule's pattern: every event of this partner source."""
    return {"source": [{"prefix": plan.source}]}


def queue_policy(plan: SetupPlan) -> dict[str, Any]:
    """Only EventBridge, and only for this rule, may send to the queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EventBridgeRuleSends",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": plan.queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": plan.rule_arn}},
            }
        ],
    }


def desktop_policy(plan: SetupPlan) -> dict[str, Any]:
    """Least privilege for the desktop: read, delete and extend messages of this queue only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GenesysTrayReadsQueue",
                "Effect": "Allow",
                "Action": list(DESKTOP_ACTIONS),
                "Resource": plan.queue_arn,
            }
        ],
    }


def _compact(value: Any) -> str:
    return shlex.quote(json.dumps(value, separators=(",", ":")))


def cli_snippet(plan: SetupPlan) -> str:
    """AWS CLI commands for the AWS side, in order (bash; each value shell-quoted)."""
    region = f"--region {shlex.quote(plan.region)}"
    bus = shlex.quote(plan.source)
    dlq_attributes = {"MessageRetentionPeriod": str(RETENTION_S)}
    queue_attributes = {
        "MessageRetentionPeriod": str(RETENTION_S),
        "VisibilityTimeout": str(VISIBILITY_S),
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": plan.dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
        ),
        "Policy": json.dumps(queue_policy(plan)),
    }
    targets = [{"Id": "genesys-tray-queue", "Arn": plan.queue_arn}]
    lines = [
        "# 1. The event bus for the partner event source Genesys Cloud created",
        f"aws events create-event-bus {region} --name {bus} --event-source-name {bus}",
        "# 2. The queue (14 days) and its dead-letter queue",
        f"aws sqs create-queue {region} --queue-name {shlex.quote(plan.queue_name + '-dlq')}"
        f" --attributes {_compact(dlq_attributes)}",
        f"aws sqs create-queue {region} --queue-name {shlex.quote(plan.queue_name)}"
        f" --attributes {_compact(queue_attributes)}",
        "# 3. The rule and its target",
        f"aws events put-rule {region} --name {RULE_NAME} --event-bus-name {bus}"
        f" --event-pattern {_compact(event_pattern(plan))}",
        f"aws events put-targets {region} --event-bus-name {bus} --rule {RULE_NAME}"
        f" --targets {_compact(targets)}",
        "# 4. A policy for the desktop: read and delete from this queue only",
        "aws iam create-policy --policy-name genesys-tray-desktop"
        f" --policy-document {_compact(desktop_policy(plan))}",
        f"# Queue URL for Genesys Tray: {plan.queue_url}",
    ]
    return "\n".join(lines) + "\n"


def cloudformation(plan: SetupPlan) -> dict[str, Any]:
    """A CloudFormation template (JSON) of the same AWS side."""
    queue_arn = {"Fn::GetAtt": ["Queue", "Arn"]}
    policy = queue_policy(plan)
    statement = dict(policy["Statement"][0])
    statement["Resource"] = queue_arn
    statement["Condition"] = {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["Rule", "Arn"]}}}
    desktop = desktop_policy(plan)
    desktop_statement = dict(desktop["Statement"][0], Resource=queue_arn)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "Genesys Cloud events for Genesys Tray: partner bus, rule, SQS queue",
        "Resources": {
            "EventBus": {
                "Type": "AWS::Events::EventBus",
                "Properties": {"Name": plan.source, "EventSourceName": plan.source},
            },
            "DeadLetterQueue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "QueueName": f"{plan.queue_name}-dlq",
                    "MessageRetentionPeriod": RETENTION_S,
                },
            },
            "Queue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "QueueName": plan.queue_name,
                    "MessageRetentionPeriod": RETENTION_S,
                    "VisibilityTimeout": VISIBILITY_S,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
                        "maxReceiveCount": MAX_RECEIVE_COUNT,
                    },
                },
            },
            "Rule": {
                "Type": "AWS::Events::Rule",
                "DependsOn": "EventBus",
                "Properties": {
                    "Name": RULE_NAME,
                    "EventBusName": plan.source,
                    "EventPattern": event_pattern(plan),
                    "State": "ENABLED",
                    "Targets": [{"Id": "genesys-tray-queue", "Arn": queue_arn}],
                },
            },
            "QueuePolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "Queues": [{"Ref": "Queue"}],
                    "PolicyDocument": {"Version": policy["Version"], "Statement": [statement]},
                },
            },
            "DesktopPolicy": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "ManagedPolicyName": "genesys-tray-desktop",
                    "PolicyDocument": {
                        "Version": desktop["Version"],
                        "Statement": [desktop_statement],
                    },
                },
            },
        },
        "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}},
    }


def cloudformation_text(plan: SetupPlan) -> str:
    """The template as text to copy (CloudFormation reads JSON as well as YAML)."""
    return json.dumps(cloudformation(plan), indent=2) + "\n"


def _loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def queue_url_problem(url: str) -> str | None:
    """Why a queue URL cannot be used, in words; None when it can.

    Real queues: ``https://sqs.<region>.amazonaws.com/<12 digits>/<name>``. Plain http only
    on this computer (a test or demo server on loopback).
    """
    text = url.strip()
    if not text:
        return "Paste the queue URL from the AWS console (it starts with https://sqs.)."
    parts = urlsplit(text)
    host = parts.hostname or ""
    if parts.query or parts.fragment or parts.username or parts.password:
        return "The queue URL has no query, login or # part."
    if not _QUEUE_PATH.match(parts.path):
        return "The queue URL ends with /<12-digit account>/<queue name>."
    if _loopback(host):
        if parts.scheme not in ("http", "https"):
            return "The queue URL starts with https://."
        return None
    if parts.scheme != "https":
        return "Only https:// is safe for a queue outside this computer."
    if parts.port is not None or not _SQS_HOST.match(host):
        return (
            "The queue URL's host is sqs.<region>.amazonaws.com "
            "(for example sqs.eu-west-1.amazonaws.com)."
        )
    return None


def region_of(url: str) -> str:
    """The AWS region of a queue URL (``""`` for a loopback one)."""
    match = _SQS_HOST.match(urlsplit(url.strip()).hostname or "")
    return match.group(1) if match else ""


def eventbridge_only(transports: Mapping[str, Iterable[str]]) -> list[str]:
    """Topics EventBridge carries and the WebSocket does not (any spelling, any order)."""
    out = []
    for topic, values in transports.items():
        kinds = {v.strip().lower() for v in values}
        if "all" in kinds:
            continue
        if "eventbridge" in kinds and "websocket" not in kinds:
            out.append(topic)
    return sorted(out)
