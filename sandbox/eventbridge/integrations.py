"""The org's integrations: ``amazon-eventbridge-source`` instances and their configuration.

shared/genesys-eventbridge-triggers.md 2.1: properties ``awsAccountId`` (12 digits),
``awsAccountRegion`` (hyphenated), ``eventSourceSuffix`` (at most 64 of ``[A-Za-z0-9._-]``) and
``eventFilter`` (topic patterns with ``{id}``, 2.2); ``intendedState`` ENABLED / DISABLED /
DELETED / RESTORED, ``reportedState.code`` ACTIVE / INACTIVE...; a configuration carries a
``version`` that a PUT must repeat and that then goes up by one. Only ENABLED EventBridge
integrations with filters deliver.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sandbox.catalog import TOPICS, match_topic
from sandbox.errors import ApiError, bad_request
from sandbox.eventbridge.envelope import filter_regex
from sandbox.timefmt import iso

Json = dict[str, Any]

EVENTBRIDGE_TYPE = "amazon-eventbridge-source"
OTHER_TYPE = "purecloud-data-actions"  # a decoy: a real org lists other types too
TYPE_NAMES = {
    EVENTBRIDGE_TYPE: "Amazon EventBridge Source",
    OTHER_TYPE: "Genesys Cloud Data Actions",
}
TYPE_DESCRIPTIONS = {
    EVENTBRIDGE_TYPE: "Sends Genesys Cloud events to an Amazon EventBridge partner event source.",
    OTHER_TYPE: "Calls Genesys Cloud APIs from Architect flows and scripts.",
}
INTENDED_STATES = ("ENABLED", "DISABLED", "DELETED", "RESTORED")
DEFAULT_FILTERS = (
    "v2.users.{id}.presence",
    "v2.users.{id}.routingStatus",
    "v2.routing.queues.{id}.conversations",
)
_SUFFIX_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_EVENTBRIDGE_CAPABLE = frozenset({"All", "EventBridge"})
_TEMPLATES = {t.template: t for t in TOPICS}


def conflict(message: str) -> ApiError:
    """409: a configuration PUT with a stale ``version``."""
    return ApiError(409, "general.conflict", message)


def check_filter(pattern: Any) -> str:
    """One ``eventFilter`` entry: a known topic pattern (or concrete topic) EventBridge carries."""
    if not isinstance(pattern, str) or not pattern:
        raise bad_request("Each eventFilter entry must be a non-empty topic string.")
    template = _TEMPLATES.get(pattern)
    if template is None:
        found = match_topic(pattern)
        template = found[0] if found else None
    if template is None:
        raise bad_request(f"The topic {pattern} is not a valid topic.")
    if not _EVENTBRIDGE_CAPABLE.intersection(template.transports):
        raise bad_request(f"The topic {pattern} is not available for Amazon EventBridge.")
    return pattern


def check_properties(properties: Any) -> Json:
    """The properties of an EventBridge configuration, or 400 naming the first bad one."""
    if not isinstance(properties, dict):
        raise bad_request("properties must be an object.")
    account = properties.get("awsAccountId")
    if not isinstance(account, str) or not _ACCOUNT_RE.match(account):
        raise bad_request("awsAccountId must be a 12-digit AWS account id.")
    region = properties.get("awsAccountRegion")
    if not isinstance(region, str) or not _REGION_RE.match(region):
        raise bad_request("awsAccountRegion must be an AWS region such as us-east-1.")
    suffix = properties.get("eventSourceSuffix")
    if not isinstance(suffix, str) or not _SUFFIX_RE.match(suffix):
        raise bad_request(
            "eventSourceSuffix: at most 64 characters of letters, numbers, '.', '-' and '_'."
        )
    filters = properties.get("eventFilter")
    if not isinstance(filters, list) or not filters:
        raise bad_request("eventFilter must be a non-empty list of topics.")
    checked = dict(properties)
    checked["eventFilter"] = [check_filter(p) for p in filters]
    return checked


@dataclass(slots=True)
class Integration:
    """One installed integration and its current configuration."""

    id: str
    name: str
    type_id: str
    intended_state: str
    updated: float
    notes: str = ""
    version: int = 1
    properties: Json = field(default_factory=dict)
    advanced: Json = field(default_factory=dict)
    config_notes: str = ""
    config_name: str = ""
    _patterns: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)

    @property
    def self_uri(self) -> str:
        """``/api/v2/integrations/{id}``."""
        return f"/api/v2/integrations/{self.id}"

    def set_properties(self, properties: Json) -> None:
        """New properties; their filters are compiled once here."""
        self.properties = properties
        filters = properties.get("eventFilter") or []
        self._patterns = [(p, filter_regex(p)) for p in filters if isinstance(p, str)]

    @property
    def delivering(self) -> bool:
        """An enabled EventBridge integration with at least one filter."""
        return (
            self.type_id == EVENTBRIDGE_TYPE
            and self.intended_state == "ENABLED"
            and bool(self._patterns)
        )

    def match(self, topic: str) -> str | None:
        """The first filter pattern that covers ``topic`` (the envelope's ``detail-type``)."""
        for pattern, regex in self._patterns:
            if regex.match(topic):
                return pattern
        return None

    def config_entity(self) -> Json:
        """The ``IntegrationConfiguration`` body."""
        return {
            "id": self.id,
            "name": self.config_name or self.name,
            "version": self.version,
            "properties": dict(self.properties),
            "advanced": dict(self.advanced),
            "notes": self.config_notes,
            "credentials": {},
            "selfUri": f"{self.self_uri}/config/current",
        }

    def entity(self, *, with_config: bool) -> Json:
        """The ``Integration`` body (``config.current`` only when expanded)."""
        active = self.intended_state == "ENABLED"
        body: Json = {
            "id": self.id,
            "name": self.name,
            "integrationType": {
                "id": self.type_id,
                "name": TYPE_NAMES[self.type_id],
                "description": TYPE_DESCRIPTIONS[self.type_id],
                "provider": "genesys",
                "selfUri": f"/api/v2/integrations/types/{self.type_id}",
            },
            "notes": self.notes,
            "intendedState": self.intended_state,
            "reportedState": {
                "code": "ACTIVE" if active else "INACTIVE",
                "effective": "Active" if active else "Inactive",
                "lastUpdated": iso(self.updated),
            },
            "attributes": {},
            "selfUri": self.self_uri,
        }
        if with_config:
            body["config"] = {"current": self.config_entity()}
        return body


class IntegrationStore:
    """The org's integrations in creation order."""

    def __init__(self) -> None:
        self.items: dict[str, Integration] = {}
        self.changes = 0  # bumped on every change that can alter delivery

    def create(self, name: str, type_id: str, now: float) -> Integration:
        """A new, disabled integration with an empty version-1 configuration."""
        if type_id not in TYPE_NAMES:
            raise bad_request(f"Unknown integration type {type_id!r}.")
        integration = Integration(
            id=str(uuid.uuid4()), name=name, type_id=type_id, intended_state="DISABLED", updated=now
        )
        self.items[integration.id] = integration
        self.changes += 1
        return integration

    def seed(self, org_id: str, suffix: str, account: str, region: str, now: float) -> Integration:
        """The sandbox's opening: one enabled EventBridge integration (+ a disabled decoy)."""
        decoy = self.create("Data actions", OTHER_TYPE, now)
        decoy.set_properties({})
        main = self.create("Tray monitor EventBridge", EVENTBRIDGE_TYPE, now)
        main.set_properties(
            {
                "awsAccountId": account,
                "awsAccountRegion": region,
                "eventSourceSuffix": suffix,
                "eventFilter": list(DEFAULT_FILTERS),
            }
        )
        main.intended_state = "ENABLED"
        main.notes = f"Delivers org {org_id}'s presence, routing and queue conversations."
        return main

    def live(self) -> list[Integration]:
        """Integrations that are not deleted."""
        return [i for i in self.items.values() if i.intended_state != "DELETED"]

    def delivering(self) -> list[Integration]:
        """Integrations that deliver events now."""
        return [i for i in self.items.values() if i.delivering]

    def put_config(self, integration: Integration, body: Any, now: float) -> None:
        """``PUT .../config/current``: the full configuration with the current ``version``."""
        if not isinstance(body, dict):
            raise bad_request("The body must be an IntegrationConfiguration object.")
        version = body.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise bad_request("version is required.")
        if version != integration.version:
            raise conflict(
                f"The configuration version {version} does not match the current version "
                f"{integration.version}."
            )
        properties = body.get("properties", {})
        if integration.type_id == EVENTBRIDGE_TYPE:
            properties = check_properties(properties)
        elif not isinstance(properties, dict):
            raise bad_request("properties must be an object.")
        advanced = body.get("advanced", {})
        if not isinstance(advanced, dict):
            raise bad_request("advanced must be an object.")
        integration.set_properties(properties)
        integration.advanced = advanced
        integration.config_name = str(body.get("name") or integration.name)
        integration.config_notes = str(body.get("notes") or "")
        integration.version += 1
        integration.updated = now
        self.changes += 1

    def patch(self, integration: Integration, body: Any, now: float) -> None:
        """``PATCH /api/v2/integrations/{id}``: ``intendedState``, ``name``, ``notes``."""
        if not isinstance(body, dict):
            raise bad_request("The body must be an Integration object.")
        state = body.get("intendedState")
        if state is not None:
            if state not in INTENDED_STATES:
                raise bad_request(f"intendedState must be one of {', '.join(INTENDED_STATES)}.")
            integration.intended_state = "DISABLED" if state == "RESTORED" else state
        for key, attr in (("name", "name"), ("notes", "notes")):
            value = body.get(key)
            if isinstance(value, str):
                setattr(integration, attr, value)
        integration.updated = now
        self.changes += 1

    def delete(self, integration: Integration, now: float) -> None:
        """``DELETE``: the integration is gone (and stops delivering at once)."""
        integration.intended_state = "DELETED"
        integration.updated = now
        del self.items[integration.id]
        self.changes += 1
