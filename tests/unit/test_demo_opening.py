"""The demo org's opening: one ring-out per queue early on, so a newcomer sees an alert soon.

Driven on a manual clock (the simulation's deadlines are wall-clock times of the org's clock),
so the test takes no time and no chance decides it.
"""

from __future__ import annotations

from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from sandbox.simulation import ALERT_TIMEOUT_S

OPENING_S = 20.0
WATCH_S = 90


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def ring_outs(opening: float | None) -> dict[str, float]:
    """User id -> simulated second they first went NOT_RESPONDING, over WATCH_S seconds."""
    clock = ManualClock()
    sandbox = Sandbox(
        SandboxConfig(simulate=False, seed=1, opening_ring_out_s=opening), clock=clock
    )
    first: dict[str, float] = {}
    for second in range(1, WATCH_S + 1):
        clock.now += 1.0
        sandbox.step(1.0)
        for user in sandbox.org.users.values():
            if user.routing_status == "NOT_RESPONDING":
                first.setdefault(user.id, float(second))
    return first


def test_the_opening_rings_out_agents_soon_after_its_moment() -> None:
    opened = ring_outs(OPENING_S)
    assert len(opened) >= 3
    assert min(opened.values()) <= OPENING_S + ALERT_TIMEOUT_S + 10
    left_to_chance = ring_outs(None)
    assert len(opened) > len(left_to_chance)


def test_nothing_rings_out_early_on_account_of_the_opening() -> None:
    opened = ring_outs(OPENING_S)
    before = {u for u, t in opened.items() if t < OPENING_S + ALERT_TIMEOUT_S}
    assert before <= set(ring_outs(None))
