"""Process Automation triggers as values: what the org's triggers say, read and written as JSON.

The wire names are the official SDK's (``Trigger``, ``MatchCriteria``, ``TriggerTarget``,
``CreateTriggerRequest``, ``UpdateTriggerRequest``; fact sheet 5.2). Reading never raises on a
field of an unexpected type: it is left out, so one odd trigger cannot hide the org's others.
Stdlib only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

logger = logging.getLogger(__name__)

OPERATORS: Final[tuple[str, ...]] = (
    "Equal",
    "NotEqual",
    "GreaterThan",
    "GreaterThanOrEqual",
    "LessThan",
    "LessThanOrEqual",
    "In",
    "NotIn",
    "Contains",
    "All",
    "Exists",
    "Size",
)
"""The 12 operators of ``MatchCriteria`` (the SDK's allowed values), in the editor's order."""

LIST_OPERATORS: Final = frozenset({"In", "NotIn", "All"})
"""Operators that take ``values`` (a list); the others take one ``value``."""

WORKFLOW: Final = "Workflow"  # the only TriggerTarget type
MIN_TTL_S: Final = 10
MIN_DELAY_S: Final = 60
MAX_DELAY_S: Final = 900
MAX_NAME: Final = 256
MAX_DESCRIPTION: Final = 512


@dataclass(frozen=True, slots=True)
class Criterion:
    """One match criterion: the field (a Goessner JSON path), the operator, and what it compares.

    ``values`` is used by :data:`LIST_OPERATORS`, ``value`` by the others ("only one of value
    and values can be included").
    """

    json_path: str
    operator: str
    value: Any = None
    values: tuple[Any, ...] = ()

    @property
    def takes_list(self) -> bool:
        """Whether the operator compares against a list (``values``)."""
        return self.operator in LIST_OPERATORS

    def to_json(self) -> dict[str, Any]:
        """The ``MatchCriteria`` object."""
        out: dict[str, Any] = {"jsonPath": self.json_path, "operator": self.operator}
        if self.takes_list:
            out["values"] = list(self.values)
        else:
            out["value"] = self.value
        return out

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> Criterion | None:
        """A criterion of a ``MatchCriteria`` object; None without a path or an operator."""
        path, operator = obj.get("jsonPath"), obj.get("operator")
        if not isinstance(path, str) or not isinstance(operator, str):
            return None
        values = obj.get("values")
        return Criterion(
            path,
            operator,
            obj.get("value"),
            tuple(values) if isinstance(values, list) else (),
        )


@dataclass(frozen=True, slots=True)
class Trigger:
    """One trigger of the org (``id`` is empty and ``version`` 0 before it is created)."""

    name: str
    topic_name: str
    target_id: str
    enabled: bool = True
    criteria: tuple[Criterion, ...] = ()
    ttl_s: int | None = None
    delay_s: int | None = None
    description: str = ""
    id: str = ""
    version: int = 0
    target_type: str = WORKFLOW
    data_format: str | None = None  # workflowTargetSettings.dataFormat, kept as read

    def with_enabled(self, enabled: bool) -> Trigger:
        """The same trigger switched on or off."""
        return replace(self, enabled=enabled)

    def _body(self) -> dict[str, Any]:
        target: dict[str, Any] = {"id": self.target_id, "type": self.target_type}
        if self.data_format:
            target["workflowTargetSettings"] = {"dataFormat": self.data_format}
        body: dict[str, Any] = {
            "name": self.name,
            "topicName": self.topic_name,
            "target": target,
            "enabled": self.enabled,
            "matchCriteria": [c.to_json() for c in self.criteria],
        }
        if self.ttl_s is not None:
            body["eventTTLSeconds"] = self.ttl_s
        if self.delay_s is not None:
            body["delayBySeconds"] = self.delay_s
        if self.description:
            body["description"] = self.description
        return body

    def create_body(self) -> dict[str, Any]:
        """The ``CreateTriggerRequest``."""
        return self._body()

    def update_body(self) -> dict[str, Any]:
        """The ``UpdateTriggerRequest``: the whole trigger with the version it was read at."""
        return {**self._body(), "version": self.version}

    @staticmethod
    def from_json(obj: Mapping[str, Any]) -> Trigger | None:
        """A trigger of a ``Trigger`` object; None when it lacks its id, name, topic or target."""
        target = obj.get("target")
        if not isinstance(target, dict):
            return None
        tid, name, topic = obj.get("id"), obj.get("name"), obj.get("topicName")
        target_id = target.get("id")
        if not all(isinstance(v, str) for v in (tid, name, topic, target_id)):
            return None
        raw = obj.get("matchCriteria")
        criteria = (
            tuple(c for c in (Criterion.from_json(i) for i in raw if isinstance(i, dict)) if c)
            if isinstance(raw, list)
            else ()
        )
        settings = target.get("workflowTargetSettings")
        data_format = settings.get("dataFormat") if isinstance(settings, dict) else None
        description = obj.get("description")
        return Trigger(
            name=str(name),
            topic_name=str(topic),
            target_id=str(target_id),
            enabled=obj.get("enabled") is True,
            criteria=criteria,
            ttl_s=_int(obj.get("eventTTLSeconds")),
            delay_s=_int(obj.get("delayBySeconds")),
            description=description if isinstance(description, str) else "",
            id=str(tid),
            version=_int(obj.get("version")) or 0,
            target_type=str(target.get("type") or WORKFLOW),
            data_format=data_format if isinstance(data_format, str) else None,
        )


def _int(value: object) -> int | None:
    """An int field (the blog wrote TTL as a string: "120"), None when absent or unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


@dataclass(frozen=True, slots=True)
class Workflow:
    """An Architect workflow a trigger can run (from ``/api/v2/flows?type=workflow``)."""

    id: str
    name: str
    published: bool = True
    active: bool = True


def problems(trigger: Trigger) -> list[str]:
    """What is wrong with a trigger before it is sent, in plain words (empty: nothing)."""
    out: list[str] = []
    if not trigger.name.strip():
        out.append("Give the trigger a name.")
    elif len(trigger.name) > MAX_NAME:
        out.append(f"The name is longer than {MAX_NAME} characters.")
    if not trigger.topic_name:
        out.append("Pick the events the trigger listens to.")
    if not trigger.target_id:
        out.append("Pick the workflow the trigger runs.")
    if trigger.ttl_s is not None and trigger.delay_s is not None:
        out.append("A trigger can have a time limit or a delay, not both.")
    if trigger.ttl_s is not None and trigger.ttl_s < MIN_TTL_S:
        out.append(f"The time limit must be at least {MIN_TTL_S} seconds.")
    if trigger.delay_s is not None and not MIN_DELAY_S <= trigger.delay_s <= MAX_DELAY_S:
        out.append(f"The delay must be between {MIN_DELAY_S} and {MAX_DELAY_S} seconds.")
    if len(trigger.description) > MAX_DESCRIPTION:
        out.append(f"The description is longer than {MAX_DESCRIPTION} characters.")
    for criterion in trigger.criteria:
        if not criterion.json_path.strip():
            out.append("Every condition needs a field.")
        if criterion.operator not in OPERATORS:
            out.append(f"Unknown comparison: {criterion.operator}.")
    return out


@dataclass(frozen=True, slots=True)
class Invocation:
    """One run of a workflow by a trigger, from ``v2.flows.instances.flow.{id}``."""

    trigger_id: str
    trigger_name: str
    flow_id: str
    at: float  # epoch seconds (the event's start, else when it arrived)
    error: str = ""  # the first error's reason; empty when the run went well
    throttled: bool = False
    exit_reason: str = ""

    @property
    def failed(self) -> bool:
        """The run failed or was throttled."""
        return bool(self.error) or self.throttled


@dataclass(slots=True)
class TriggerStats:
    """What the flow-instance topic said of one trigger: its recent runs and its last error."""

    runs: list[float] = field(default_factory=list)  # epoch seconds of runs, oldest first
    last_error: str = ""
    last_error_at: float | None = None

    def runs_since(self, since: float) -> int:
        """Runs at or after ``since`` (the board asks for the last hour)."""
        return sum(1 for at in self.runs if at >= since)
