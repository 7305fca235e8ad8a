"""A believable multichannel contact centre moving through the day.

Interactions arrive at queues (with occasional surges) as calls, callbacks, chats, messages or
e-mails by the queue's traffic shares, wait, are offered to an on-queue member with room for
them, ring, are answered or ring out (the agent becomes NOT_RESPONDING unless busy on other
work), are handled, wrapped up, or abandoned. Utilization: a call or callback is exclusive; up to
three chats and messages and one or two e-mails at once. An agent is INTERACTING while any ACD
interaction is alerting, connected or in wrap-up, and now and then COMMUNICATING on a non-ACD
call. Agents take breaks, lunch (a custom presence), meetings, log in and out. Durations are in
simulated seconds; ``speed`` compresses them into wall time.
"""

from __future__ import annotations

import logging
import math
import random

from sandbox.entities import Conversation, Participant, User
from sandbox.media import EXCLUSIVE, MAX_CHATS_AND_MESSAGES, PROFILES, VOICE, pick_media
from sandbox.org import Org

logger = logging.getLogger(__name__)

ARRIVALS_PER_JOINED_MEMBER_S = 0.0015
SURGE_FACTOR = 4.0
SURGE_RATE_S = 1 / 900  # a queue starts a surge about every 15 simulated minutes
SURGE_LENGTH_S = (60.0, 240.0)
ALERT_TIMEOUT_S = 8.0
NO_ANSWER_P = 0.06
NOT_RESPONDING_S = (15.0, 60.0)
AUX_RATE_S = 1 / 1500  # an idle on-queue agent leaves for a break/meal/meeting...
AUX_LENGTH_S = (90.0, 900.0)
LOGIN_RATE_S = 1 / 1800
LOGOUT_RATE_S = 1 / 9000
GO_ON_QUEUE_RATE_S = 1 / 400
COMMUNICATING_RATE_S = 1 / 3600
COMMUNICATING_S = (30.0, 150.0)
MEMBERSHIP_CHURN_RATE_S = 1 / 300  # org-wide
OOO_TOGGLE_RATE_S = 1 / 1200  # org-wide
AUX_CHOICES = ("BREAK", "MEAL", "MEETING", "TRAINING", "AWAY", "BUSY")


class Simulation:
    """Advances an :class:`Org` by small steps of simulated time."""

    def __init__(
        self, org: Org, *, seed: int, speed: float, opening_ring_out_s: float | None = None
    ) -> None:
        self.org = org
        self.rng = random.Random(seed * 7919 + 17)
        self.speed = speed
        self._surge_until: dict[str, float] = {}
        self._conv_seq = 0
        # The demo's opening (SandboxConfig.opening_ring_out_s): queues whose first offer after
        # this moment still has to ring out.
        self._opening_at = None if opening_ring_out_s is None else self._after(opening_ring_out_s)
        self._opening_queues: set[str] = (
            set(org.queues) if opening_ring_out_s is not None else set()
        )

    # Wall-clock deadline `sim_s` simulated seconds from now.
    def _after(self, sim_s: float) -> float:
        return self.org.clock() + sim_s / self.speed

    def _chance(self, rate_per_sim_s: float, dt_sim: float) -> bool:
        return self.rng.random() < 1.0 - math.exp(-rate_per_sim_s * dt_sim)

    def step(self, dt_sim: float) -> None:
        """Advance the org by ``dt_sim`` simulated seconds."""
        now = self.org.clock()
        self._arrivals(dt_sim, now)
        self._progress_conversations(now)
        self._route(now)
        self._agents(dt_sim, now)
        if self._chance(MEMBERSHIP_CHURN_RATE_S, dt_sim):
            self._churn_membership()
        if self._chance(OOO_TOGGLE_RATE_S, dt_sim) and self.org.users:
            user = self.rng.choice(list(self.org.users.values()))
            if user.role == "agent" and self.org.presence_key(user) == "OFFLINE":
                self.org.set_out_of_office(user, not user.ooo_active)

    # ------------------------------------------------------------------ conversations
    def _arrivals(self, dt_sim: float, now: float) -> None:
        for queue in self.org.queues.values():
            joined = sum(1 for m in queue.members.values() if m.joined)
            if not joined:
                continue
            if self._surge_until.get(queue.id, 0.0) < now and self._chance(SURGE_RATE_S, dt_sim):
                self._surge_until[queue.id] = self._after(self.rng.uniform(*SURGE_LENGTH_S))
            rate = ARRIVALS_PER_JOINED_MEMBER_S * joined
            if self._surge_until.get(queue.id, 0.0) >= now:
                rate *= SURGE_FACTOR
            if self._chance(rate, dt_sim):
                self.arrive(queue.id)

    def arrive(self, queue_id: str, media: str | None = None) -> Conversation:
        """A new inbound interaction enters a queue and starts waiting.

        Without ``media`` it is drawn by the queue's traffic shares (a voice-only queue draws
        nothing, so a voice-only org's traffic is what it always was).
        """
        org, now = self.org, self.org.clock()
        queue = org.queues[queue_id]
        if media is None:
            media = VOICE if len(queue.media) == 1 else pick_media(self.rng, queue.media)
        queue.media_seen.add(media)
        profile = PROFILES[media]
        self._conv_seq += 1
        number = f"+4930{self.rng.randint(1_000_000, 9_999_999)}"
        if media in EXCLUSIVE:
            ani, dnis = f"tel:{number}", "tel:+498001234567"
        elif media == "email":
            ani, dnis = f"customer{self._conv_seq}@mail.example", "support@sandbox.example"
        else:
            ani, dnis = f"{media}:{number}", f"{media}:sandbox-support"
        conv = Conversation(
            id=org.new_id(),
            queue_id=queue_id,
            media=media,
            ani=ani,
            dnis=dnis,
            customer_name=f"{'Caller' if media in EXCLUSIVE else 'Customer'} {self._conv_seq}",
            created=now,
            participants=[
                Participant(org.new_id(), "customer", "connected", now, connected=now),
                Participant(
                    org.new_id(), "acd", "connected", now, connected=now, queue_id=queue_id
                ),
            ],
            patience_until=self._after(self.rng.uniform(*profile.patience_s)),
            priority=0,
        )
        org.conversations[conv.id] = conv
        org.conversation_changed(conv)
        return conv

    def _route(self, now: float) -> None:
        waiting = sorted(
            (c for c in self.org.conversations.values() if c.state == "waiting"),
            key=lambda c: c.created,
        )
        for conv in waiting:
            agent = self._free_agent(conv.queue_id, conv.media, now)
            if agent is None:
                continue
            self._offer(conv, agent, now)

    def _has_room(self, user: User, media: str, now: float) -> bool:
        """Utilization: may this agent be offered one more interaction of ``media``?"""
        if user.routing_status not in ("IDLE", "INTERACTING") or now < user.blocked_until:
            return False
        held = [self.org.conversations[c] for c in user.interactions if c in self.org.conversations]
        if not held:
            return user.routing_status == "IDLE"
        if media in EXCLUSIVE or any(c.media in EXCLUSIVE for c in held):
            return False
        if any(c.state == "alerting" for c in held):
            return False  # one offer at a time
        if media == "email":
            return sum(1 for c in held if c.media == "email") < user.email_capacity
        return sum(1 for c in held if c.media != "email") < MAX_CHATS_AND_MESSAGES

    def _free_agent(self, queue_id: str, media: str, now: float) -> User | None:
        """The longest-idle agent with room; busy digital agents only when nobody is idle."""
        best: User | None = None
        best_rank: tuple[int, float] = (0, 0.0)
        for member in self.org.queues[queue_id].members.values():
            user = self.org.users[member.user_id]
            if not member.joined or not self._has_room(user, media, now):
                continue
            rank = (len(user.interactions), user.routing_start)
            if best is None or rank < best_rank:
                best, best_rank = user, rank
        return best

    def _offer(self, conv: Conversation, agent: User, now: float) -> None:
        conv.state = "alerting"
        conv.agent_id = agent.id
        conv.offered_at = now
        conv.will_answer = self.rng.random() >= NO_ANSWER_P
        if self._opening_rings_out(conv, agent, now):
            conv.will_answer = False
        conv.answer_at = self._after(
            self.rng.uniform(*PROFILES[conv.media].ring_s) if conv.will_answer else ALERT_TIMEOUT_S
        )
        conv.participants.append(
            Participant(self.org.new_id(), "agent", "alerting", now, user_id=agent.id)
        )
        agent.interactions.append(conv.id)
        self.org.set_routing(agent, "INTERACTING")
        self.org.conversation_changed(conv)

    def _opening_rings_out(self, conv: Conversation, agent: User, now: float) -> bool:
        """True for the demo opening's one ring-out of this queue (an agent free of other work)."""
        if self._opening_at is None or now < self._opening_at or agent.interactions:
            return False
        if conv.queue_id not in self._opening_queues:
            return False
        self._opening_queues.discard(conv.queue_id)
        return True

    def _progress_conversations(self, now: float) -> None:
        for conv in list(self.org.conversations.values()):
            if conv.state == "alerting" and now >= conv.answer_at:
                if conv.will_answer:
                    self._answer(conv, now)
                else:
                    self._ring_out(conv, now)
            elif conv.state in ("waiting", "alerting") and now >= conv.patience_until:
                self._abandon(conv, now)
            elif conv.state == "connected" and now >= conv.talk_until:
                self._hang_up(conv, now)
            elif conv.state == "acw" and now >= conv.acw_until:
                self._finish(conv, now)

    def _part(self, conv: Conversation, purpose: str) -> Participant:
        return next(p for p in reversed(conv.participants) if p.purpose == purpose)

    def _answer(self, conv: Conversation, now: float) -> None:
        agent = self._part(conv, "agent")
        agent.state, agent.connected = "connected", now
        acd = self._part(conv, "acd")
        acd.state, acd.end, acd.disconnect_type = "disconnected", now, "transfer"
        conv.state = "connected"
        conv.talk_until = self._after(self.rng.uniform(*PROFILES[conv.media].talk_s))
        user = self.org.users[conv.agent_id or ""]
        self.org.refresh_summary(user)
        self.org.conversation_changed(conv)

    def _release(self, user: User, conv: Conversation) -> None:
        """The agent no longer holds ``conv``."""
        if conv.id in user.interactions:
            user.interactions.remove(conv.id)

    def _ring_out(self, conv: Conversation, now: float) -> None:
        agent_part = self._part(conv, "agent")
        agent_part.state, agent_part.end, agent_part.disconnect_type = (
            "disconnected",
            now,
            "timeout",
        )
        user = self.org.users[conv.agent_id or ""]
        conv.state, conv.agent_id = "waiting", None
        self._release(user, conv)
        pause = self._after(self.rng.uniform(*NOT_RESPONDING_S))
        if user.interactions:
            user.blocked_until = pause  # busy on other work: no new offers for a while
        else:
            user.busy_until = pause
            self.org.set_routing(user, "NOT_RESPONDING")
        self.org.conversation_changed(conv)

    def _abandon(self, conv: Conversation, now: float) -> None:
        if conv.state == "alerting" and conv.agent_id:
            agent_part = self._part(conv, "agent")
            agent_part.state, agent_part.end, agent_part.disconnect_type = (
                "disconnected",
                now,
                "peer",
            )
            user = self.org.users[conv.agent_id]
            self._release(user, conv)
            if not user.interactions:
                self.org.set_routing(user, "IDLE")
        for part in conv.participants:
            if part.state != "disconnected":
                part.state, part.end = "disconnected", now
                part.disconnect_type = "endpoint" if part.purpose == "customer" else "peer"
        conv.state = "ended"
        self.org.conversation_changed(conv)
        del self.org.conversations[conv.id]

    def _hang_up(self, conv: Conversation, now: float) -> None:
        customer = self._part(conv, "customer")
        customer.state, customer.end, customer.disconnect_type = "disconnected", now, "endpoint"
        agent = self._part(conv, "agent")
        agent.state, agent.end, agent.disconnect_type = "disconnected", now, "peer"
        agent.wrapup_required, agent.start_acw = True, now
        conv.state = "acw"
        conv.acw_until = self._after(self.rng.uniform(*PROFILES[conv.media].acw_s))
        user = self.org.users[conv.agent_id or ""]
        self.org.refresh_summary(user)
        self.org.conversation_changed(conv)

    def _finish(self, conv: Conversation, now: float) -> None:
        agent = self._part(conv, "agent")
        agent.wrapup_required, agent.end_acw = False, now
        for part in conv.participants:
            part.state = "terminated" if part.purpose == "customer" else part.state
        conv.state = "ended"
        self.org.conversation_changed(conv)
        del self.org.conversations[conv.id]
        user = self.org.users[conv.agent_id or ""]
        self._release(user, conv)
        self.org.refresh_summary(user)
        if not user.interactions and self.org.presence_key(user) == "ON_QUEUE":
            self.org.set_routing(user, "IDLE")

    # ------------------------------------------------------------------ agents
    def _agents(self, dt_sim: float, now: float) -> None:
        org = self.org
        for user in list(org.users.values()):
            if user.interactions:
                continue
            key = org.presence_key(user)
            if user.role == "supervisor":
                if self._chance(AUX_RATE_S, dt_sim):
                    target = self.rng.choice(("AVAILABLE", "MEETING", "BUSY", "AVAILABLE"))
                    self._set_key(user, target)
                continue
            if user.routing_status == "NOT_RESPONDING":
                if now >= user.busy_until:
                    org.set_routing(user, "IDLE")
                continue
            if user.routing_status == "COMMUNICATING":
                if now >= user.busy_until:
                    org.set_enterprise_call(user, False)
                    org.set_routing(user, "IDLE")
                continue
            if key == "ON_QUEUE":
                if self._chance(LOGOUT_RATE_S, dt_sim):
                    self._set_key(user, "OFFLINE")
                elif self._chance(AUX_RATE_S, dt_sim):
                    self._set_key(user, self.rng.choice(AUX_CHOICES))
                    user.busy_until = self._after(self.rng.uniform(*AUX_LENGTH_S))
                elif self._chance(COMMUNICATING_RATE_S, dt_sim):
                    user.busy_until = self._after(self.rng.uniform(*COMMUNICATING_S))
                    org.set_routing(user, "COMMUNICATING")
                    org.set_enterprise_call(user, True)
            elif key == "OFFLINE":
                if self._chance(LOGIN_RATE_S, dt_sim):
                    self._set_key(user, "AVAILABLE")
            elif key == "AVAILABLE":
                if self._chance(GO_ON_QUEUE_RATE_S, dt_sim):
                    self._set_key(user, "ON_QUEUE")
            elif now >= user.busy_until:
                self._set_key(user, "ON_QUEUE")

    def _set_key(self, user: User, key: str) -> None:
        custom = self.org.custom_presence_ids(key)
        if custom and self.rng.random() < 0.5:
            presence_id = self.rng.choice(custom)
        else:
            presence_id = self.org.system_presence_id(key)
        message = "back soon" if key in AUX_CHOICES and self.rng.random() < 0.3 else ""
        self.org.set_presence(user, presence_id, message)

    def _churn_membership(self) -> None:
        queues = list(self.org.queues.values())
        agents = [u for u in self.org.users.values() if u.role == "agent"]
        if not queues or not agents:
            return
        queue = self.rng.choice(queues)
        roll = self.rng.random()
        if roll < 0.6 and queue.members:
            user = self.org.users[self.rng.choice(list(queue.members))]
            joined = not queue.members[user.id].joined
            self.org.set_membership(queue, user, member=True, joined=joined)
        elif roll < 0.8:
            outsiders = [a for a in agents if a.id not in queue.members]
            if outsiders:
                user = self.rng.choice(outsiders)
                self.org.set_membership(queue, user, member=True, joined=True)
        elif queue.members:
            user = self.org.users[self.rng.choice(list(queue.members))]
            if not user.interactions:
                self.org.set_membership(queue, user, member=False, joined=False)
