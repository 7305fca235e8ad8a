"""The normalised event stream people read: one :class:`FeedEntry` per thing that happened.

The feed, the journal and the alert rules all see the engine through these entries, built from
service records with names and org presence labels already resolved, so every consumer says
"Dana Agent: On Queue → Lunch" the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from core.alerts.model import AlertChange, ChangeKind, Severity
from core.domain.format import clock_text, status_text
from core.engine.records import (
    BudgetRecord,
    ChangeRecord,
    GapRecord,
    Record,
    StateRecord,
)
from core.feed.entry import FeedEntry
from core.feed.payloads import (
    AlertData,
    BudgetData,
    ConnectionData,
    FeedKind,
    GapData,
    MembershipData,
    PresenceData,
    QueueData,
    RoutingData,
)
from core.state.store import Store

logger = logging.getLogger(__name__)


def _count(value: object) -> str:
    return "" if value is None else str(value)


def _moved(before: str, after: str) -> str:
    """ "Idle → Interacting", or "now Interacting" when the earlier value is not known (a first
    sight, or an event recovered from EventBridge whose history starts inside the gap)."""
    return f"{before} → {after}" if before else f"now {after}"


def _title(value: Any) -> str:
    return status_text(str(value)) if value else "?"


_SUFFIX = {
    "resync": " (changed while disconnected)",
    "recovered": " (recovered from EventBridge)",
}

_ALERT_VERBS = {
    ChangeKind.FIRED: "fired",
    ChangeKind.ACKNOWLEDGED: "acknowledged",
    ChangeKind.RESOLVED: "resolved",
}


def alert_entry(change: AlertChange, ended: str = "") -> FeedEntry:
    """The feed line (and journal row) of an alert that fired, was acknowledged or resolved.

    The feed is where a supervisor looks back at the day; an alert that came and went while they
    were away must be there, next to the changes that caused it.
    """
    alert = change.alert
    verb = _ALERT_VERBS.get(change.kind, str(change.kind))
    loud = change.kind is ChangeKind.FIRED and alert.severity is not Severity.INFO
    subject = alert.subject_name or alert.subject_id or "Connection"
    # The alert's summary says what fired ("... is Not Responding"); repeated on a resolution it
    # would read as if the condition still held, so an ending names only the subject.
    # ``ended``: what is true now that it resolved (core.alerts.words.resolved_summary).
    said = alert.summary if change.kind is ChangeKind.FIRED else ended
    summary = f"{alert.rule_name} {verb}: {said or subject}"
    return FeedEntry(
        change.at,
        FeedKind.ALERT,
        alert.subject_id,
        subject,
        summary,
        severity="warning" if loud else "info",
        data=AlertData(alert.id, alert.rule_id, verb, str(alert.severity), alert.value),
    )


class FeedBuilder:
    """Turns service records into feed entries, reading names and labels from the store."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.store = store
        self.clock = clock

    def _user_name(self, user_id: str) -> str:
        state = self.store.users.get(user_id)
        return state.name if state and state.name else user_id[:8]

    def _queue_name(self, queue_id: str) -> str:
        state = self.store.queues.get(queue_id)
        return state.name if state and state.name else queue_id[:8]

    def _label(self, definition_id: Any, system: Any) -> str:
        if isinstance(definition_id, str) and definition_id in self.store.presence_labels:
            return self.store.presence_labels[definition_id]
        return _title(system)

    def entries(self, record: Record) -> list[FeedEntry]:
        """The feed entries of one record (most records yield none or one)."""
        if isinstance(record, ChangeRecord):
            # EventBridge's lines come from the merge's own history (core.app.bridge_merge).
            return [] if record.source == "eventbridge" else self._change(record)
        if isinstance(record, GapRecord):
            return [self._gap(record)]
        if isinstance(record, StateRecord):
            return [
                FeedEntry(
                    self.clock(),
                    FeedKind.CONNECTION,
                    "",
                    "Connection",
                    f"Connection {record.state.value.replace('_', ' ')}"
                    + (f" ({record.detail})" if record.detail else ""),
                    "warning"
                    if record.state.value in ("reconnecting", "sign_in_needed")
                    else "info",
                    ConnectionData(record.state.value, record.detail),
                )
            ]
        if isinstance(record, BudgetRecord) and (record.rejected or record.over_budget):
            missing = sorted({p for r in record.rejected for p in r.missing_permissions})
            text = f"{len(record.rejected)} topics rejected"
            if missing:
                text += f" (missing {', '.join(missing)})"
            if record.over_budget:
                text += f"; {len(record.over_budget)} topics over the channel budget"
            return [
                FeedEntry(
                    self.clock(),
                    FeedKind.BUDGET,
                    "",
                    "Topics",
                    text,
                    "warning",
                    BudgetData(tuple(r.id for r in record.rejected), tuple(missing)),
                )
            ]
        return []

    def change_entries(self, record: ChangeRecord) -> list[FeedEntry]:
        """The lines of one store change, whatever its source (the EventBridge merge's too)."""
        return self._change(record)

    def _change(self, record: ChangeRecord) -> list[FeedEntry]:
        change = record.change
        now = record.at or self.clock()
        suffix = _SUFFIX["recovered"] if record.recovered else _SUFFIX.get(record.source, "")
        values = dict(
            zip(change.fields, zip(change.before, change.after, strict=True), strict=True)
        )
        out: list[FeedEntry] = []
        source = record.source
        if change.kind == "user":
            name = self._user_name(change.id)
            if "definition_id" in values or "system_presence" in values:
                state = self.store.users.get(change.id)

                def pair(name: str) -> tuple[Any, Any]:
                    current = getattr(state, name, None)
                    return values.get(name, (current, current))

                before_def, after_def = pair("definition_id")
                before_sys, after_sys = pair("system_presence")
                before = self._label(before_def, before_sys) if before_sys else ""
                after = self._label(after_def, after_sys)
                if before != after:
                    out.append(
                        FeedEntry(
                            now,
                            FeedKind.PRESENCE,
                            change.id,
                            name,
                            f"{name}: {_moved(before, after)}{suffix}",
                            data=PresenceData(source, after_sys, after_def),
                        )
                    )
            if "routing_status" in values:
                before_status, after_status = values["routing_status"]
                was = _title(before_status) if before_status else ""
                out.append(
                    FeedEntry(
                        now,
                        FeedKind.ROUTING,
                        change.id,
                        name,
                        f"{name}: {_moved(was, _title(after_status))}{suffix}",
                        "warning" if after_status == "NOT_RESPONDING" else "info",
                        RoutingData(source, after_status, before_status or None),
                    )
                )
        elif change.kind == "queue":
            name = self._queue_name(change.id)
            counts = [
                f"{key} {_moved(_count(values[key][0]), _count(values[key][1]))}"
                for key in ("waiting", "interacting")
                if key in values
            ]
            if counts:
                out.append(
                    FeedEntry(
                        now,
                        FeedKind.QUEUE,
                        change.id,
                        name,
                        f"{name}: {', '.join(counts)}{suffix}",
                        data=QueueData(
                            source,
                            values["waiting"][1] if "waiting" in values else None,
                            values["interacting"][1] if "interacting" in values else None,
                        ),
                    )
                )
            if "joined_ids" in values:
                before_ids, after_ids = values["joined_ids"]
                for user_id in sorted(set(after_ids) - set(before_ids)):
                    out.append(self._membership(now, change.id, name, user_id, "joined"))
                for user_id in sorted(set(before_ids) - set(after_ids)):
                    out.append(self._membership(now, change.id, name, user_id, "left"))
        return out

    def _membership(
        self, now: datetime, queue_id: str, queue: str, user_id: str, verb: str
    ) -> FeedEntry:
        who = self._user_name(user_id)
        return FeedEntry(
            now,
            FeedKind.MEMBERSHIP,
            queue_id,
            queue,
            f"{who} {verb} {queue}",
            data=MembershipData(user_id, verb == "joined"),
        )

    def _gap(self, record: GapRecord) -> FeedEntry:
        if record.phase == "start":
            return FeedEntry(
                record.started,
                FeedKind.GAP,
                "",
                "Connection",
                f"Disconnected ({record.reason})",
                "warning",
                GapData("start", record.reason),
            )
        ended = record.ended or self.clock()
        took = clock_text((ended - record.started).total_seconds())
        return FeedEntry(
            ended,
            FeedKind.GAP,
            "",
            "Connection",
            f"Disconnected {took}, re-synced {record.users_resynced} users and "
            f"{record.queues_resynced} queues ({record.changed} changed)",
            data=GapData(
                "end",
                record.reason,
                (ended - record.started).total_seconds(),
                record.users_resynced,
                record.queues_resynced,
                record.changed,
            ),
        )
