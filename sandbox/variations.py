"""Every choice the fact sheet leaves open, taken at random (seeded) when variations are on.

A client tuned to one spelling, one grouping or one key order must fail our own tests, so the
sandbox varies what genesys-api.md allows to vary: ``systemPresence`` in any of its three
documented spellings (6.11), best-effort ``expand`` blocks that go missing (6.2, 8.17), unknown
keys in bodies and envelopes and any key order (4.2: "ignore unknown keys"), presence events
without ``modifiedDate`` (5.1), observation user metrics in their own group or repeated per media
(5.9, 6.8), queue activity events with all or only the changed media blocks (5.10, 9) and
observation query answers with or without zero-count media groups, conversation aggregates
answers with or without the queues that had no traffic and with metrics in any order
(sandbox.aggregates), and trigger bodies whose unset optional fields and missing next/previous
page links are absent or null (sandbox.triggers; the SDK models allow both). Off, each surface
keeps one fixed choice. The generator is separate from the org's and the simulation's, so switching
variations leaves the org and its traffic unchanged.
"""

from __future__ import annotations

import json
import logging
import random
from typing import Any

from sandbox.catalog import NEW_API_ENUM, REST_LABEL
from sandbox.config import SandboxConfig

logger = logging.getLogger(__name__)

# Unknown keys the sandbox adds. None of them is a JSON name of any SDK model the bodies are
# checked against (tests/integration/sdk_validate.py is told to skip exactly these).
EXTRA_KEYS = ("sandboxRevision", "edgeHint", "x-sandbox-trace", "futureField")

# Keys whose value is a map (dimension → value, locale → label, stat → number...), not a model:
# an extra key inside would be a fake dimension or a non-number stat.
MAP_KEYS = frozenset(
    {
        "group",
        "stats",
        "languageLabels",
        "attributes",
        "systemToOrganizationMappings",
        "messageParams",
        "schema",
        "userParams",
        "additionalProperties",
        "credentials",  # IntegrationConfiguration: credential name -> CredentialInfo
    }
)

SPELLINGS = ("event", "rest", "definitions")


def spell(key: str, style: str) -> str:
    """A system presence key (``ON_QUEUE``) in one documented spelling."""
    if style == "rest":
        return REST_LABEL[key]
    if style == "definitions":
        return NEW_API_ENUM[key]
    return key


class Variations:
    """The seeded source of every variation; with ``config.variations`` off, fixed choices."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.on = config.variations
        self.rng = random.Random(f"variations-{config.seed}")
        self._grouping: dict[str, str] = {}

    def chance(self, rate: float) -> bool:
        """True with probability ``rate`` when variations are on, never when off."""
        return self.on and self.rng.random() < rate

    # ------------------------------------------------------------------ spellings
    def presence(self, key: str, usual: str) -> str:
        """``systemPresence`` for a surface whose usual spelling is ``usual``."""
        if self.chance(self.config.spelling_variation_rate):
            return spell(key, self.rng.choice([s for s in SPELLINGS if s != usual]))
        return spell(key, usual)

    # ------------------------------------------------------------------ groupings
    def user_metrics_grouping(self, queue_id: str) -> str:
        """``separate`` or ``repeated``: where a queue's user metrics go in observation events."""
        mode = self.config.user_metrics_grouping
        if mode in ("separate", "repeated"):
            return mode
        if not self.on:
            return "separate"
        found = self._grouping.get(queue_id)
        if found is None:
            # Seeded by queue id, so the choice does not depend on the order queues are seen.
            found = random.Random(f"{self.config.seed}-{queue_id}").choice(("separate", "repeated"))
            self._grouping[queue_id] = found
        return found

    def partial_activity(self) -> bool:
        """Whether a queue activity event carries only the media blocks that changed."""
        return self.chance(self.config.partial_activity_rate)

    def zero_media_groups(self) -> bool:
        """Whether an observation query answer lists media groups whose counts are all zero."""
        if not self.on:
            return True
        return self.rng.random() < self.config.zero_media_groups_rate

    def optional_absent(self) -> bool:
        """Whether a trigger body leaves its unset optional fields out instead of null."""
        return self.chance(self.config.trigger_optional_drop_rate)

    # ------------------------------------------------------------------ decoration
    def decorate(self, value: Any) -> Any:
        """A copy of a JSON value with unknown keys added and keys shuffled (when on)."""
        if not self.on or (self.config.extra_key_rate <= 0 and not self.config.shuffle_keys):
            return value
        return self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        if not isinstance(value, dict):
            return value
        items = [(k, v if k in MAP_KEYS else self._walk(v)) for k, v in value.items()]
        if self.rng.random() < self.config.extra_key_rate:
            key = self.rng.choice(EXTRA_KEYS)
            if key not in value:
                items.append((key, self._extra_value()))
        if self.config.shuffle_keys:
            self.rng.shuffle(items)
        return dict(items)

    def _extra_value(self) -> Any:
        return self.rng.choice(
            ("preview", 7, True, {"nested": {"deeper": [1, 2]}}, ["a", "b"], None, 0.5)
        )

    def dumps(self, value: Any) -> str:
        """JSON text of a value after :meth:`decorate`."""
        return json.dumps(self.decorate(value), separators=(",", ":"))
