"""The org's triggers: request validation, versions, and cursor paging.

Validation follows the SDK models and fact sheet 5.2: required ``target``, ``enabled``, ``name``
(1-256), ``topicName`` (one of the trigger topics; fixed after creation), ``version`` on update;
``description`` at most 512; ``target.type`` ``Workflow`` naming a workflow the org has;
``workflowTargetSettings.dataFormat`` ``Json`` or ``TopLevelPrimitives``; ``eventTTLSeconds`` at
least 10; ``delayBySeconds`` 60-900; never both. Errors are Genesys ``ErrorBody`` 400s naming the
field; a PUT with a stale ``version`` is a 409 ``general.conflict``.
"""

from __future__ import annotations

import base64
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.catalog import TRIGGER_TOPICS
from sandbox.errors import ApiError, bad_request, not_found
from sandbox.triggers.criteria import Criterion, check_criteria
from sandbox.triggers.workflows import WorkflowCatalog

logger = logging.getLogger(__name__)

DATA_FORMATS = ("Json", "TopLevelPrimitives")
MIN_TTL_S = 10
DELAY_RANGE_S = (60, 900)


@dataclass(slots=True)
class Trigger:
    """One trigger as the org keeps it."""

    id: str
    seq: int
    name: str
    topic_name: str
    target: dict[str, Any]
    enabled: bool
    criteria: list[Criterion] = field(default_factory=list)
    event_ttl_seconds: int | None = None
    delay_by_seconds: int | None = None
    description: str | None = None
    version: int = 1

    def entity(self, omit_optional: bool = False) -> dict[str, Any]:
        """The ``Trigger`` body; ``omit_optional`` leaves unset optional fields out, not null."""
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "topicName": self.topic_name,
            "target": self.target,
            "version": self.version,
            "enabled": self.enabled,
            "matchCriteria": [dict(c.raw) for c in self.criteria],
            "eventTTLSeconds": self.event_ttl_seconds,
            "delayBySeconds": self.delay_by_seconds,
            "description": self.description,
            "selfUri": f"/api/v2/processautomation/triggers/{self.id}",
        }
        if omit_optional:
            body = {k: v for k, v in body.items() if v is not None and v != []}
        return body

    def reference(self) -> dict[str, Any]:
        """The ``TestModeTrigger`` body."""
        return {
            "id": self.id,
            "name": self.name,
            "enabled": self.enabled,
            "selfUri": f"/api/v2/processautomation/triggers/{self.id}",
        }


def conflict(message: str) -> ApiError:
    """409 on a stale ``version``, as the integrations configuration answers it."""
    return ApiError(409, "general.conflict", message)


def _text(body: dict[str, Any], key: str, *, low: int, high: int, required: bool) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise bad_request(f"{key} is required.")
        return None
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise bad_request(f"{key} must be text of {low} to {high} characters.")
    return value


def _whole(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{key} must be a whole number of seconds.")
    return value


class TriggerStore:
    """Triggers by id, in creation order."""

    def __init__(self, workflows: WorkflowCatalog, new_id: Callable[[], str]) -> None:
        self.workflows = workflows
        self.new_id = new_id
        self.items: dict[str, Trigger] = {}
        self._seq = itertools.count(1)

    # ------------------------------------------------------------------ validation
    def _target(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise bad_request('target is required: {"type": "Workflow", "id": <flow id>}.')
        if value.get("type") != "Workflow":
            raise bad_request("target.type must be Workflow.")
        flow_id = value.get("id")
        if not isinstance(flow_id, str) or self.workflows.get(flow_id) is None:
            raise bad_request(f"target.id {flow_id!r} is not a workflow of this organization.")
        target: dict[str, Any] = {"type": "Workflow", "id": flow_id}
        settings = value.get("workflowTargetSettings")
        if settings is not None:
            fmt = settings.get("dataFormat") if isinstance(settings, dict) else None
            if fmt not in DATA_FORMATS:
                raise bad_request(
                    "target.workflowTargetSettings.dataFormat must be Json or TopLevelPrimitives."
                )
            target["workflowTargetSettings"] = {"dataFormat": fmt}
        return target

    def _timing(self, body: dict[str, Any]) -> tuple[int | None, int | None]:
        ttl, delay = _whole(body, "eventTTLSeconds"), _whole(body, "delayBySeconds")
        if ttl is not None and delay is not None:
            raise bad_request("Only one of eventTTLSeconds and delayBySeconds can be set.")
        if ttl is not None and ttl < MIN_TTL_S:
            raise bad_request(f"eventTTLSeconds must be at least {MIN_TTL_S}.")
        low, high = DELAY_RANGE_S
        if delay is not None and not low <= delay <= high:
            raise bad_request(f"delayBySeconds must be between {low} and {high}.")
        return ttl, delay

    def _checked(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("The body must be a trigger request object.")
        # Unknown keys (``id``, ``selfUri`` of a GET body sent back) are ignored, as a client
        # must ignore the unknown keys of an answer.
        if not isinstance(body.get("enabled"), bool):
            raise bad_request("enabled is required and must be true or false.")
        return body

    # ------------------------------------------------------------------ operations
    def create(self, raw: Any) -> Trigger:
        """``POST``: validate a ``CreateTriggerRequest`` and keep it at version 1."""
        body = self._checked(raw)
        topic = _text(body, "topicName", low=1, high=256, required=True)
        if topic not in TRIGGER_TOPICS:
            raise bad_request(
                f"topicName {topic!r} is not a trigger topic; valid topics are listed at "
                "/api/v2/processautomation/triggers/topics."
            )
        name = _text(body, "name", low=1, high=256, required=True)
        target = self._target(body.get("target"))
        criteria = check_criteria(body.get("matchCriteria"))
        ttl, delay = self._timing(body)
        assert topic is not None and name is not None
        trigger = Trigger(
            id=self.new_id(),
            seq=next(self._seq),
            name=name,
            topic_name=topic,
            target=target,
            enabled=bool(body["enabled"]),
            criteria=criteria,
            event_ttl_seconds=ttl,
            delay_by_seconds=delay,
            description=_text(body, "description", low=0, high=512, required=False),
        )
        self.items[trigger.id] = trigger
        logger.info("trigger %s created on %s", trigger.id, topic)
        return trigger

    def get(self, trigger_id: str) -> Trigger:
        """The trigger, or 404."""
        found = self.items.get(trigger_id)
        if found is None:
            raise not_found(f"Trigger {trigger_id} not found.")
        return found

    def update(self, trigger_id: str, raw: Any) -> Trigger:
        """``PUT``: a full ``UpdateTriggerRequest`` with the current ``version`` (else 409)."""
        trigger = self.get(trigger_id)
        body = self._checked(raw)
        version = _whole(body, "version")
        if version is None:
            raise bad_request("version is required.")
        topic = _text(body, "topicName", low=1, high=256, required=True)
        if topic != trigger.topic_name:
            raise bad_request(
                "topicName cannot be updated, a new trigger must be created "
                f"(this trigger's topic is {trigger.topic_name})."
            )
        name = _text(body, "name", low=1, high=256, required=True)
        target = self._target(body.get("target"))
        criteria = check_criteria(body.get("matchCriteria"))
        ttl, delay = self._timing(body)
        description = _text(body, "description", low=0, high=512, required=False)
        if version != trigger.version:
            raise conflict(
                f"The trigger was changed by someone else: version {version} is not the current "
                f"version {trigger.version}. Get the trigger again and retry."
            )
        assert name is not None
        trigger.name, trigger.target, trigger.criteria = name, target, criteria
        trigger.enabled = bool(body["enabled"])
        trigger.event_ttl_seconds, trigger.delay_by_seconds = ttl, delay
        trigger.description = description
        trigger.version += 1
        return trigger

    def delete(self, trigger_id: str) -> Trigger:
        """``DELETE``: remove it (404 when it is not there)."""
        trigger = self.get(trigger_id)
        del self.items[trigger_id]
        return trigger

    def on_topic(self, topic: str) -> list[Trigger]:
        """Every trigger of a topic pattern, in creation order."""
        return [t for t in self.items.values() if t.topic_name == topic]


# --------------------------------------------------------------------------- cursors
def cursor(seq: int) -> str:
    """An opaque cursor naming a position in creation order."""
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def read_cursor(value: str) -> int:
    """The position a cursor names; 400 on a cursor the sandbox did not make."""
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind != "seq":
            raise ValueError(text)
        return int(number)
    except (ValueError, UnicodeDecodeError):
        raise bad_request(f"The cursor {value!r} is not valid.") from None
