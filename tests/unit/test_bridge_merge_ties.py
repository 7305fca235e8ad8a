"""A recovered event as old as the live state never rolls it back (found by the chaos run).

Two routing changes of one agent in the same millisecond (a call ends, the next connects: Idle,
then Interacting, both since 19:12:03.888) carry equal times. EventBridge delivered them out of
order; the Idle one, as old as the Interacting the store held, was taken as newer and the board
showed Idle until the next re-sync. A change is newer only when its time is later.
"""

from __future__ import annotations

from datetime import timedelta

from tests.unit.test_bridge_merge import T0, USER, Rig, bridged, rig, routing

__all__ = ["rig"]  # the fixture


async def test_an_event_as_old_as_the_socket_state_does_not_roll_it_back(rig: Rig) -> None:
    rig.service.shard_event(0, routing("INTERACTING", T0, "second"))  # the later of the two
    await rig.merge([bridged(routing("IDLE", T0, "first"), T0)])  # the earlier, from a gap
    user = rig.service.store.users[USER]
    assert (user.routing_status, user.routing_since) == ("INTERACTING", T0)
    assert [e.correlation_id for e in rig.events()] == ["second", "first"]  # still told


async def test_an_event_as_old_as_an_applied_one_does_not_roll_it_back(rig: Rig) -> None:
    rig.service.shard_event(0, routing("INTERACTING", T0 - timedelta(seconds=4), "before"))
    await rig.merge([bridged(routing("INTERACTING", T0, "second"), T0)])
    await rig.merge([bridged(routing("IDLE", T0, "first"), T0)])  # overtaken on its way
    user = rig.service.store.users[USER]
    assert (user.routing_status, user.routing_since) == ("INTERACTING", T0)
