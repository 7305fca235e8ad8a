"""The state of one simulated Genesys Cloud organisation.

The org is the single source of truth of the sandbox: REST answers are read from it, streaming
events are emitted by its mutators, and ``/sandbox/truth`` dumps it. Mutators never talk to the
network; they call the two hooks a server plugs in (``emit`` for a topic event and ``queue_changed``
for the rate-limited analytics topics).
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable

from sandbox import conversation_shapes, shapes
from sandbox.catalog import AGENT_PERMISSIONS, SUPERVISOR_PERMISSIONS, SYSTEM_PRESENCES
from sandbox.config import SandboxConfig
from sandbox.entities import (
    Conversation,
    JsonDict,
    Member,
    PresenceDefinition,
    Queue,
    Role,
    User,
)
from sandbox.ledger import Ledger, Stats, today_truth
from sandbox.media import PROFILES, queue_media_mixes
from sandbox.timefmt import local_midnight
from sandbox.variations import Variations

logger = logging.getLogger(__name__)

EmitFn = Callable[[str, JsonDict], None]
QueueChangedFn = Callable[[str], None]

# Custom org presences (type "User"), each under a system presence. The deactivated one must not
# show up when a client asks for ``deactivated=false``.
CUSTOM_PRESENCES: tuple[tuple[str, dict[str, str], bool], ...] = (
    ("MEAL", {"en_US": "Lunch", "de": "Mittagessen"}, False),
    ("MEETING", {"en_US": "Team Huddle"}, False),
    ("TRAINING", {"en_US": "Coaching"}, False),
    ("BREAK", {"en_US": "Smoke Break"}, True),
)
# More custom presences, made after users and queues so the seeded ids of those stay as they
# were: two active definitions share MEAL ("Lunch" and "Dinner"), and BREAK has an active one.
LATE_CUSTOM_PRESENCES: tuple[tuple[str, dict[str, str], bool], ...] = (
    ("MEAL", {"en_US": "Dinner", "de": "Abendessen"}, False),
    ("BREAK", {"en_US": "Coffee"}, False),
)

ROUTING_STATUSES = ("OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING")

FIRST_NAMES = (
    "Dana Alex Sam Robin Kim Jordan Taylor Morgan Casey Jamie Avery Riley Quinn Drew Sky Noor "
    "Lena Jonas Mia Felix Ines Omar Yuki Priya Mateo Elif Tariq Hana Lars Zoe Ravi Sofia Emil Ana"
).split()
LAST_NAMES = (
    "Agent Berger Chen Dubois Evans Fischer Garcia Hansen Ito Jansen Kowalski Lopez Meyer Nakamura "
    "Okafor Petrov Quint Rossi Schmidt Tanaka Ueda Varga Weber Xu Yilmaz Zimmer"
).split()
QUEUE_TOPICS = (
    "Sales Support Billing Retention Technical Claims Bookings VIP Returns Onboarding "
    "Collections Escalations Partners Warranty Loyalty"
).split()
QUEUE_LANGS = ("EN", "DE", "FR", "ES", "NL", "IT")


class Org:
    """A seeded organisation: users, queues, presence definitions and live conversations."""

    def __init__(
        self,
        *,
        users: int,
        queues: int,
        seed: int,
        clock: Callable[[], float],
        multichannel: bool = True,
        variations: Variations | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.multichannel = multichannel
        self.variations = variations or Variations(SandboxConfig(variations=False, seed=seed))
        self.clock = clock
        self.id = self.new_id()
        self.name = "Sandbox Contact Centre"
        self.division_id = self.new_id()
        self.presences: dict[str, PresenceDefinition] = {}
        self.users: dict[str, User] = {}
        self.queues: dict[str, Queue] = {}
        self.conversations: dict[str, Conversation] = {}
        self.ledger = Ledger()  # what every offered conversation came to (queue KPIs)
        self.emit: EmitFn = _no_emit
        self.queue_changed: QueueChangedFn = _no_queue_changed
        self._build_presences()
        self._build_users(users)
        self._build_queues(queues)
        self._build_late_presences()

    # ----------------------------------------------------------------- construction
    def new_id(self) -> str:
        """A reproducible UUID4 from the org's seeded generator."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _build_presences(self) -> None:
        now = self.clock()
        for key, label, _ in SYSTEM_PRESENCES:
            pid = self.new_id()  # random per seed: clients must never hard-code presence ids
            self.presences[pid] = PresenceDefinition(
                pid, key, {"en_US": label}, "System", False, now
            )
        for key, labels, deactivated in CUSTOM_PRESENCES:
            pid = self.new_id()
            self.presences[pid] = PresenceDefinition(pid, key, labels, "User", deactivated, now)

    def _build_late_presences(self) -> None:
        now = self.clock()
        for key, labels, deactivated in LATE_CUSTOM_PRESENCES:
            pid = self.new_id()
            self.presences[pid] = PresenceDefinition(pid, key, labels, "User", deactivated, now)

    def system_presence_id(self, key: str) -> str:
        """The id of the System definition for an upper-snake system presence key."""
        for definition in self.presences.values():
            if definition.type == "System" and definition.system == key:
                return definition.id
        raise KeyError(key)

    def custom_presence_ids(self, key: str) -> list[str]:
        """Active custom definitions under a system presence."""
        return [
            d.id
            for d in self.presences.values()
            if d.type == "User" and d.system == key and not d.deactivated
        ]

    def _build_users(self, count: int) -> None:
        now = self.clock()
        used: set[str] = set()
        for index in range(count):
            first = self.rng.choice(FIRST_NAMES)
            last = self.rng.choice(LAST_NAMES)
            name = f"{first} {last}"
            suffix = 2
            while name in used:
                name = f"{first} {last} {suffix}"
                suffix += 1
            used.add(name)
            role: Role = "supervisor" if index % 25 == 0 else "agent"
            if index == 0:
                name = "Sam Supervisor"
            email = name.lower().replace(" ", ".") + "@sandbox.example"
            roll = self.rng.random()
            if role == "supervisor":
                key = "AVAILABLE"
            elif roll < 0.6:
                key = "ON_QUEUE"
            elif roll < 0.7:
                key = "AVAILABLE"
            elif roll < 0.8:
                key = self.rng.choice(("BREAK", "MEAL", "MEETING", "TRAINING", "AWAY", "BUSY"))
            else:
                key = "OFFLINE"
            presence_id = self._pick_definition(key)
            since = now - self.rng.uniform(30, 3600)
            routing = "IDLE" if key == "ON_QUEUE" else "OFF_QUEUE"
            user = User(
                id=self.new_id(),
                name=name,
                email=email,
                role=role,
                permissions=SUPERVISOR_PERMISSIONS if role == "supervisor" else AGENT_PERMISSIONS,
                presence_id=presence_id,
                presence_message="",
                presence_modified=since,
                routing_status=routing,
                routing_start=since,
                ooo_modified=now - self.rng.uniform(86_400, 86_400 * 200),
                active_queues_changed=now - self.rng.uniform(3600, 86_400 * 3),
            )
            user.email_capacity = 1 + int(user.id[-1], 16) % 2  # 1 or 2, no extra rng draw
            self.users[user.id] = user

    def _pick_definition(self, key: str) -> str:
        custom = self.custom_presence_ids(key)
        if custom and self.rng.random() < 0.5:
            return self.rng.choice(custom)
        return self.system_presence_id(key)

    def _build_queues(self, count: int) -> None:
        now = self.clock()
        names: list[str] = []
        for index in range(count):
            topic = QUEUE_TOPICS[index % len(QUEUE_TOPICS)]
            lang = QUEUE_LANGS[(index // len(QUEUE_TOPICS)) % len(QUEUE_LANGS)]
            rnd = index // (len(QUEUE_TOPICS) * len(QUEUE_LANGS))
            names.append(f"{topic} {lang}" + (f" {rnd + 1}" if rnd else ""))
        mixes = queue_media_mixes(count, self.seed, multichannel=self.multichannel)
        for name, mix in zip(names, mixes, strict=True):
            kind = "calls" if len(mix) == 1 else "contacts"
            queue = Queue(self.new_id(), name, f"Inbound {name} {kind}", created=now, media=mix)
            self.queues[queue.id] = queue
        queue_ids = list(self.queues)
        if not queue_ids:
            return
        for index, user in enumerate(self.users.values()):
            if user.role == "supervisor":
                picks = self.rng.sample(queue_ids, k=min(3, len(queue_ids)))
                joined = False
            else:
                picks = self.rng.sample(queue_ids, k=min(self.rng.randint(1, 4), len(queue_ids)))
                joined = True
            for ring, qid in enumerate(picks, start=1):
                is_joined = joined and (index % 11 != 5)
                self.queues[qid].members[user.id] = Member(user.id, is_joined, ring)

    # ----------------------------------------------------------------- reading
    def presence_key(self, user: User) -> str:
        """The upper-snake system presence of a user."""
        return self.presences[user.presence_id].system

    def queues_of(self, user_id: str) -> list[Queue]:
        """Queues the user is a member of."""
        return [q for q in self.queues.values() if user_id in q.members]

    def active_queue_ids(self, user_id: str) -> list[str]:
        """Queues the user is joined to (the activity topic's ``activeQueueIds``)."""
        return [q.id for q in self.queues.values() if (m := q.members.get(user_id)) and m.joined]

    def find_user(self, ref: str) -> User | None:
        """A user by id, e-mail or exact name (case-insensitive)."""
        if ref in self.users:
            return self.users[ref]
        lowered = ref.lower()
        for user in self.users.values():
            if lowered in (user.email.lower(), user.name.lower()):
                return user
        return None

    def queue_counts(self, queue_id: str, media: str | None = None) -> dict[str, int]:
        """Live conversation counts of a queue, of one media type or all (what analytics sees)."""
        counts = {"waiting": 0, "alerting": 0, "interacting": 0}
        for conv in self.conversations.values():
            if conv.queue_id != queue_id or (media is not None and conv.media != media):
                continue
            if conv.state == "waiting":
                counts["waiting"] += 1
            elif conv.state == "alerting":
                counts["alerting"] += 1
            elif conv.state == "connected":
                counts["interacting"] += 1
        return counts

    def truth(self) -> JsonDict:
        """The ground truth a client's store must converge to (``GET /sandbox/truth``)."""
        now = self.clock()
        today = self.ledger.by_queue(local_midnight(now), now + 1.0)
        return {
            "users": {
                u.id: {
                    "presence": self.presence_key(u),
                    "presenceDefinitionId": u.presence_id,
                    "routingStatus": u.routing_status,
                }
                for u in self.users.values()
            },
            "queues": {qid: self._queue_truth(qid, today.get(qid)) for qid in self.queues},
        }

    def _queue_truth(self, queue_id: str, today: Stats | None) -> JsonDict:
        """Totals, the split by media type (only busy media) and today's KPIs (sandbox.ledger)."""
        media: dict[str, dict[str, int]] = {}
        for kind in self.queues[queue_id].media_groups():
            counts = self.queue_counts(queue_id, kind)
            if counts["waiting"] or counts["interacting"]:
                media[kind] = {"waiting": counts["waiting"], "interacting": counts["interacting"]}
        return {
            "waiting": sum(m["waiting"] for m in media.values()),
            "interacting": sum(m["interacting"] for m in media.values()),
            "media": media,
            "today": today_truth(today or Stats()),
        }

    # ----------------------------------------------------------------- mutators (emit events)
    def set_presence(self, user: User, presence_id: str, message: str | None = None) -> None:
        """Change a user's presence; going on or off queue moves the routing status with it."""
        now = self.clock()
        old_key = self.presence_key(user)
        user.presence_id = presence_id
        if message is not None:
            user.presence_message = message
        user.presence_modified = now
        new_key = self.presence_key(user)
        self.emit(f"v2.users.{user.id}.presence", shapes.presence_event(self, user))
        self.emit(f"v2.users.{user.id}.activity", shapes.activity_event(self, user, presence=True))
        if new_key == "ON_QUEUE" and old_key != "ON_QUEUE":
            self.set_routing(user, "IDLE")
        elif new_key != "ON_QUEUE" and user.routing_status != "OFF_QUEUE":
            self.set_routing(user, "OFF_QUEUE")
        self._queues_of_user_changed(user.id)

    def set_routing(self, user: User, status: str) -> None:
        """Change a user's routing status."""
        if status == user.routing_status:
            return
        user.routing_status = status
        user.routing_start = self.clock()
        self.emit(f"v2.users.{user.id}.routingStatus", shapes.routing_event(user))
        self.emit(f"v2.users.{user.id}.activity", shapes.activity_event(self, user, routing=True))
        self._queues_of_user_changed(user.id)

    def set_out_of_office(self, user: User, active: bool) -> None:
        """Switch a user's out-of-office flag."""
        user.ooo_active = active
        user.ooo_modified = self.clock()
        self.emit(f"v2.users.{user.id}.outofoffice", shapes.out_of_office_event(self, user))
        self.emit(f"v2.users.{user.id}.activity", shapes.activity_event(self, user, ooo=True))

    def set_membership(self, queue: Queue, user: User, *, member: bool, joined: bool) -> None:
        """Add, remove, join or unjoin a user on a queue."""
        existing = queue.members.get(user.id)
        if member:
            if existing and existing.joined == joined:
                return
            queue.members[user.id] = Member(
                user.id, joined, existing.ring_number if existing else 1
            )
        else:
            if existing is None:
                return
            del queue.members[user.id]
            joined = False
        user.active_queues_changed = self.clock()
        self.emit(
            f"v2.routing.queues.{queue.id}.users",
            {"id": user.id, "user": {"id": user.id}, "queueId": queue.id, "joined": joined},
        )
        self.emit(f"v2.users.{user.id}.activity", shapes.activity_event(self, user, queues=True))
        self.queue_changed(queue.id)

    def refresh_summary(self, user: User) -> None:
        """Recount the user's conversation summary from the conversations; publish a change."""
        summary: dict[str, tuple[int, int]] = {}
        for conv_id in user.interactions:
            conv = self.conversations.get(conv_id)
            if conv is None or conv.state not in ("connected", "acw"):
                continue
            active, acw = summary.get(conv.media, (0, 0))
            if conv.state == "connected":
                active += 1
            else:
                acw += 1
            summary[conv.media] = (active, acw)
        if summary == user.summary:
            return
        user.summary = summary
        self.emit(f"v2.users.{user.id}.conversationsummary", shapes.conversation_summary(user))

    def set_enterprise_call(self, user: User, active: bool) -> None:
        """A non-ACD call starts or ends (shown under ``call.enterprise`` of the summary)."""
        count = 1 if active else 0
        if user.enterprise_calls == count:
            return
        user.enterprise_calls = count
        self.emit(f"v2.users.{user.id}.conversationsummary", shapes.conversation_summary(user))

    def conversation_changed(self, conv: Conversation) -> None:
        """Publish a conversation on its queue's generic topic and its media's own topic."""
        self.ledger.observe(conv, self.clock())
        base = f"v2.routing.queues.{conv.queue_id}.conversations"
        self.emit(base, conversation_shapes.generic(self, conv))
        suffix = PROFILES[conv.media].topic_suffix
        self.emit(f"{base}.{suffix}", conversation_shapes.flattened(self, conv))
        self.queue_changed(conv.queue_id)

    def _queues_of_user_changed(self, user_id: str) -> None:
        for queue in self.queues.values():
            if user_id in queue.members:
                self.queue_changed(queue.id)


def _no_emit(topic: str, body: JsonDict) -> None:
    """Default hook before a server is attached: events go nowhere."""


def _no_queue_changed(queue_id: str) -> None:
    """Default hook before a server is attached."""
