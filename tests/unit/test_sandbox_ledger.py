"""The sandbox's KPI ledger: what counts as offered, answered, abandoned and within service level.

Driven through the real simulation on a hand-turned clock, so the definition in sandbox.ledger
(answered within the media's own target / answered + abandoned) is what a conversation's life
produces, and the truth's ``today`` is read from the same place.
"""

from __future__ import annotations

from sandbox.config import SandboxConfig
from sandbox.ledger import SERVICE_LEVEL_MS
from sandbox.org import Org
from sandbox.simulation import Simulation
from sandbox.timefmt import local_midnight
from sandbox.variations import Variations

START = local_midnight(1_796_000_000.0) + 10 * 3600.0  # 10:00 local, a fixed day


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def org_and_sim(clock: Clock) -> tuple[Org, Simulation]:
    org = Org(
        users=20,
        queues=1,
        seed=5,
        clock=clock,
        variations=Variations(SandboxConfig(variations=False)),
    )
    return org, Simulation(org, seed=5, speed=1.0)


def test_service_level_uses_each_media_s_own_target() -> None:
    clock = Clock()
    org, sim = org_and_sim(clock)
    queue_id = next(iter(org.queues))
    voice = sim.arrive(queue_id, "voice")
    chat = sim.arrive(queue_id, "chat")
    gone = sim.arrive(queue_id, "voice")
    wait_s = 25.0  # over voice's 20 s target, within chat's 60 s
    assert SERVICE_LEVEL_MS["voice"] < wait_s * 1000 < SERVICE_LEVEL_MS["chat"]
    clock.now += wait_s
    for conv in (voice, chat):
        conv.state = "connected"
        org.conversation_changed(conv)
    gone.state = "ended"
    org.conversation_changed(gone)
    clock.now += 100.0
    voice.state = "ended"  # after talk and wrap-up
    org.conversation_changed(voice)

    today = org.truth()["queues"][queue_id]["today"]
    assert today == {
        "offered": 3,
        "answered": 2,
        "abandoned": 1,
        "serviceLevel": 1 / 3,  # chat in time; voice late; the abandoned one counts against
        "asa": 25.0,
        "aht": 100.0,
    }
    # The half-hour figures the .observations push carries, per media group.
    chat_slot = org.ledger.slot_stats(queue_id, "chat", clock.now)
    assert (chat_slot.offered, chat_slot.sl_numerator, chat_slot.sl_denominator) == (1, 1, 1)


def test_yesterday_does_not_count_today_and_a_quiet_queue_reads_null() -> None:
    clock = Clock()
    clock.now -= 86_400.0
    org, sim = org_and_sim(clock)
    queue_id = next(iter(org.queues))
    sim.arrive(queue_id, "voice")
    clock.now += 86_400.0
    today = org.truth()["queues"][queue_id]["today"]
    assert today == {
        "offered": 0,
        "answered": 0,
        "abandoned": 0,
        "serviceLevel": None,
        "asa": None,
        "aht": None,
    }
