"""The trigger service as the server plugs it in: one object, two hooks.

``attach`` wraps the org's ``emit`` so every event also reaches the engine (after the streaming
hub has it); ``routes`` gives the REST and control routes; ``truth`` feeds ``/sandbox/truth``.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.auth import Token
from sandbox.config import SandboxConfig
from sandbox.org import Org
from sandbox.triggers.api import TriggersApi
from sandbox.triggers.control import TriggersControl
from sandbox.triggers.engine import Publish, TriggerEngine
from sandbox.triggers.store import TriggerStore
from sandbox.triggers.workflows import WorkflowCatalog
from sandbox.variations import Variations

logger = logging.getLogger(__name__)

ApiHandler = Callable[[web.Request, Token], Awaitable[web.StreamResponse]]
Wrap = Callable[[ApiHandler], Callable[[web.Request], Awaitable[web.StreamResponse]]]


class TriggerService:
    """Workflows, triggers, the engine and their routes."""

    def __init__(
        self, config: SandboxConfig, org: Org, variations: Variations, publish: Publish
    ) -> None:
        self.workflows = WorkflowCatalog(config.seed, org.division_id)
        # Trigger ids from their own generator: the org's seeded ids stay as they were.
        self.store = TriggerStore(self.workflows, _ids(config.seed))
        self.engine = TriggerEngine(
            config,
            self.store,
            self.workflows,
            clock=org.clock,
            division_id=org.division_id,
            publish=publish,
        )
        self.api = TriggersApi(config, self.store, self.workflows, variations)
        self.control = TriggersControl(self.engine)

    def attach(self, org: Org) -> None:
        """Every event the org emits reaches the engine after its other listeners."""
        previous = org.emit

        def emit(topic: str, body: dict[str, Any]) -> None:
            previous(topic, body)
            self.engine.observe(topic, body)

        org.emit = emit

    def routes(self, wrap: Wrap) -> list[web.RouteDef]:
        """REST routes behind the bearer check, then the loopback control routes."""
        return [*self.workflows.routes(wrap), *self.api.routes(wrap), *self.control.routes()]

    def truth(self) -> dict[str, Any]:
        """``{triggerId: tally}``."""
        return self.engine.truth()

    def stop(self) -> None:
        """Drop delayed invocations."""
        self.engine.cancel_all()


def _ids(seed: int) -> Callable[[], str]:
    rng = random.Random(f"triggers-{seed}")
    return lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))
