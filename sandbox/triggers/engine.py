"""Events in, workflow invocations out: what the trigger service does with every org event.

Each event the org emits on a trigger topic (``v2.users.{id}.activity`` in the sandbox) is matched
against the enabled triggers of its topic pattern. A match invokes the target workflow:

- now, unless the trigger has ``delayBySeconds``: then that much later (wall clock, times
  ``triggers_delay_scale``; ``/sandbox/triggers/flush`` runs every waiting one at once); a
  trigger deleted or disabled in the meantime does not run;
- not at all when the event is older than the trigger's ``eventTTLSeconds`` on arrival; events
  arrive at once unless ``/sandbox/triggers/lag`` makes the service that many seconds late;
- not at all when over the documented limits (fact sheet 5.3): 36,000 an hour and 6,000 a
  minute for the org, and at most 80 % of a minute's limit for one workflow
  (``distinct.target.ratio``). Such an invocation is "throttled".

Every invocation that ran, and every throttled one, is published on
``v2.flows.instances.flow.{flowId}`` as a ``V2FlowExecutionDataFlowidTopicFlowExecutionHistory``
with ``invokingContext.processAutomation`` {``triggerId``, ``triggerName``} (fact sheet 5.4),
on the Notification Service and so on EventBridge when an integration's filter covers it.

ASSUMPTION (no public source says how a run or a throttle is reported; ``flowExitReason`` values
are undocumented): a run that succeeded has ``errors: []`` and ``flowExitReason`` ``FLOW_END``; a
failed run has one ``errors`` entry with the reason and ``flowExitReason`` ``FLOW_ERROR``; a
throttled invocation has no ``executionId``, ``flowExitReason`` ``THROTTLED`` and one ``errors``
entry saying which limit. A client tells failure by a non-empty ``errors``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.catalog import TRIGGER_TOPICS
from sandbox.config import SandboxConfig
from sandbox.timefmt import iso
from sandbox.triggers.criteria import matches
from sandbox.triggers.store import Trigger, TriggerStore
from sandbox.triggers.workflows import FAILURE_REASON, WorkflowCatalog

logger = logging.getLogger(__name__)

Publish = Callable[[str, dict[str, Any]], None]
FLOW_TOPIC = "v2.flows.instances.flow.{id}"
EXIT_SUCCESS, EXIT_FAILURE, EXIT_THROTTLED = "FLOW_END", "FLOW_ERROR", "THROTTLED"
_PATTERNS = tuple(
    (re.compile("^" + re.escape(t).replace(re.escape("{id}"), "[A-Za-z0-9-]{1,64}") + "$"), t)
    for t in TRIGGER_TOPICS
)
RECENT_LIMIT = 500


def trigger_topic(topic: str) -> str | None:
    """The trigger topic pattern (with ``{id}``) a concrete topic belongs to, or None."""
    return next((pattern for regex, pattern in _PATTERNS if regex.match(topic)), None)


@dataclass(slots=True)
class TriggerTally:
    """What happened to one trigger's matches (``/sandbox/truth``'s ``triggers``)."""

    matched: int = 0
    invocations: int = 0  # runs of the workflow, succeeded or failed
    failures: int = 0
    throttled: int = 0
    expired: int = 0  # dropped: older than eventTTLSeconds on arrival
    dropped: int = 0  # delayed, then the trigger was deleted or disabled
    last_error: str | None = None
    last_invocation: str | None = None

    def truth(self, pending: int) -> dict[str, Any]:
        """The tally as JSON."""
        return {
            "matched": self.matched,
            "invocations": self.invocations,
            "failures": self.failures,
            "throttled": self.throttled,
            "expired": self.expired,
            "dropped": self.dropped,
            "pending": pending,
            "lastError": self.last_error,
            "lastInvocation": self.last_invocation,
        }


@dataclass(slots=True)
class _Waiting:
    trigger_id: str
    body: dict[str, Any]
    handle: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class RateWindow:
    """Invocations of the last hour as (time, workflow id), oldest first."""

    entries: deque[tuple[float, str]] = field(default_factory=deque)

    def over(self, config: SandboxConfig, now: float, flow_id: str) -> str | None:
        """Which limit one more invocation of ``flow_id`` would break, or None."""
        while self.entries and self.entries[0][0] <= now - 3600:
            self.entries.popleft()
        if len(self.entries) >= config.triggers_per_hour:
            return f"{config.triggers_per_hour} workflow invocations per hour"
        minute = [target for at, target in self.entries if at > now - 60]
        if len(minute) >= config.triggers_per_minute:
            return f"{config.triggers_per_minute} workflow invocations per minute"
        share = int(config.triggers_per_minute * config.triggers_target_ratio)
        if sum(1 for target in minute if target == flow_id) >= share:
            return (
                f"{share} invocations per minute of one workflow "
                f"({config.triggers_target_ratio:.0%} of the per-minute limit)"
            )
        return None


class TriggerEngine:
    """Matches org events against the triggers and runs, delays, drops or throttles invocations."""

    def __init__(
        self,
        config: SandboxConfig,
        store: TriggerStore,
        workflows: WorkflowCatalog,
        *,
        clock: Callable[[], float],
        division_id: str,
        publish: Publish,
    ) -> None:
        self.config = config
        self.store = store
        self.workflows = workflows
        self.clock = clock
        self.division_id = division_id
        self.publish = publish
        self.lag_s = 0.0
        self.window = RateWindow()
        self.tallies: dict[str, TriggerTally] = {}
        self.waiting: dict[int, _Waiting] = {}
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_LIMIT)
        self._next_wait = 0

    # ------------------------------------------------------------------ events in
    def observe(self, topic: str, body: dict[str, Any]) -> None:
        """One org event (called for every event the org emits)."""
        pattern = trigger_topic(topic)
        if pattern is None:
            return
        for trigger in self.store.on_topic(pattern):
            if trigger.enabled and matches(trigger.criteria, body):
                self._matched(trigger, body)

    def tally(self, trigger_id: str) -> TriggerTally:
        """The tally of a trigger (made on first use)."""
        return self.tallies.setdefault(trigger_id, TriggerTally())

    def _matched(self, trigger: Trigger, body: dict[str, Any]) -> None:
        tally = self.tally(trigger.id)
        tally.matched += 1
        ttl = trigger.event_ttl_seconds
        if ttl is not None and self.lag_s > ttl:
            tally.expired += 1
            logger.info(
                "trigger %s: event %.0f s old, past its TTL of %d s", trigger.id, self.lag_s, ttl
            )
            return
        if trigger.delay_by_seconds:
            self._wait(trigger, body, trigger.delay_by_seconds * self.config.triggers_delay_scale)
            return
        self._invoke(trigger, body)

    def _wait(self, trigger: Trigger, body: dict[str, Any], seconds: float) -> None:
        key = self._next_wait
        self._next_wait += 1
        waiting = _Waiting(trigger.id, body)
        self.waiting[key] = waiting
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): /sandbox/triggers/flush runs it
        waiting.handle = loop.call_later(seconds, self._due, key)

    def _due(self, key: int) -> None:
        waiting = self.waiting.pop(key, None)
        if waiting is None:
            return
        trigger = self.store.items.get(waiting.trigger_id)
        if trigger is None or not trigger.enabled:
            self.tally(waiting.trigger_id).dropped += 1
            return
        self._invoke(trigger, waiting.body)

    def flush(self) -> int:
        """Run every delayed invocation now; how many there were."""
        keys = list(self.waiting)
        for key in keys:
            handle = self.waiting[key].handle
            if handle is not None:
                handle.cancel()
            self._due(key)
        return len(keys)

    def cancel_all(self) -> None:
        """Forget delayed invocations (the sandbox stops)."""
        for waiting in self.waiting.values():
            if waiting.handle is not None:
                waiting.handle.cancel()
        self.waiting.clear()

    # ------------------------------------------------------------------ invocations out
    def _invoke(self, trigger: Trigger, body: dict[str, Any]) -> None:
        tally = self.tally(trigger.id)
        now = self.clock()
        flow_id = str(trigger.target.get("id", ""))
        limit = self.window.over(self.config, now, flow_id)
        if limit is not None:
            tally.throttled += 1
            tally.last_error = f"Over the limit of {limit}: the invocation was throttled."
            self._report(trigger, flow_id, now, EXIT_THROTTLED, tally.last_error, run=False)
            return
        self.window.entries.append((now, flow_id))
        workflow = self.workflows.get(flow_id)
        error: str | None = None
        if workflow is None:
            error = "The target workflow no longer exists."
        elif not workflow.active:
            error = f"The workflow {workflow.name!r} is not published."
        elif workflow.fails:
            error = FAILURE_REASON
        tally.invocations += 1
        tally.last_invocation = iso(now)
        if error is not None:
            tally.failures += 1
            tally.last_error = error
        self._report(
            trigger,
            flow_id,
            now,
            EXIT_FAILURE if error else EXIT_SUCCESS,
            error,
            run=True,
            inputs=self._inputs(trigger, body),
        )

    @staticmethod
    def _inputs(trigger: Trigger, body: dict[str, Any]) -> dict[str, Any]:
        """The workflow's inputs: ``jsonData`` (Json) or the top-level primitives (fact 5.2)."""
        settings = trigger.target.get("workflowTargetSettings") or {}
        if settings.get("dataFormat") == "Json":
            return {"jsonData": body}
        return {k: v for k, v in body.items() if isinstance(v, str | int | float | bool)}

    def _report(
        self,
        trigger: Trigger,
        flow_id: str,
        now: float,
        exit_reason: str,
        error: str | None,
        *,
        run: bool,
        inputs: dict[str, Any] | None = None,
    ) -> None:
        execution_id = str(uuid.uuid4()) if run else None
        workflow = self.workflows.get(flow_id)
        message: dict[str, Any] = {
            "divisionId": self.division_id,
            "startDateTime": iso(now),
            "endDateTime": iso(now),
            "flowId": flow_id,
            "flowType": "WORKFLOW",
            "flowVersion": workflow.version if workflow else "1.0",
            "flowIsDebug": False,
            "flowExitReason": exit_reason,
            "errors": [],
            "warnings": [],
            "execution": [],
            "executionItemsTruncated": False,
            "invokingContext": {
                "processAutomation": {"triggerId": trigger.id, "triggerName": trigger.name}
            },
        }
        if execution_id is not None:
            message["executionId"] = execution_id
        if error is not None:
            entry = {"reason": error, "objectId": flow_id}
            if execution_id is not None:
                entry["executionId"] = execution_id
            message["errors"].append(entry)
        self.recent.append({"triggerId": trigger.id, "inputs": inputs, "message": message})
        self.publish(FLOW_TOPIC.replace("{id}", flow_id), message)

    # ------------------------------------------------------------------ ground truth
    def truth(self) -> dict[str, Any]:
        """``{triggerId: tally}`` for every trigger the org has (and had, if it ran)."""
        pending: dict[str, int] = {}
        for waiting in self.waiting.values():
            pending[waiting.trigger_id] = pending.get(waiting.trigger_id, 0) + 1
        ids = list(self.store.items) + [i for i in self.tallies if i not in self.store.items]
        return {i: self.tally(i).truth(pending.get(i, 0)) for i in ids}
