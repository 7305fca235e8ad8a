"""A large org's stream, made from the recorded one: 5,000 users and 200 queues at any rate.

The sandbox's simulation is too slow at 5,000 users to record a busy stream in a minute (it
gives a few hundred frames), so P8's stream is the recorded 200-user org's (benchmarks.
record_frames), copied onto the large org: copy k speaks for users k*200 ... k*200+199 and for
one of ten blocks of twenty queues, with the large org's real ids (both orgs share the seed, so
their presence definitions match by system presence and label), and every other id
(conversations, participants, correlation ids) made distinct per copy. The copies are
interleaved, so every user and queue of the large org moves throughout the stream.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from benchmarks.record_frames import load_frames
from sandbox.org import Org

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SMALL = {"users": 200, "queues": 20}
SEED = 5  # benchmarks.record_frames' org


def _org(users: int, queues: int) -> Org:
    return Org(users=users, queues=queues, seed=SEED, clock=time.time)


def _presence_ids(org: Org) -> dict[tuple[str, str, str], str]:
    return {(d.system, d.type, d.labels.get("en_US", "")): d.id for d in org.presences.values()}


def id_maps(users: int, queues: int) -> list[dict[str, str]]:
    """One map of small-org ids to large-org ids per copy."""
    small, large = _org(**SMALL), _org(users, queues)
    small_users, large_users = sorted(small.users), sorted(large.users)
    small_queues, large_queues = sorted(small.queues), sorted(large.queues)
    large_presences = _presence_ids(large)
    presences = {pid: large_presences[key] for key, pid in _presence_ids(small).items()}
    copies = len(large_users) // len(small_users)
    blocks = len(large_queues) // len(small_queues)
    maps: list[dict[str, str]] = []
    for k in range(copies):
        mapping = dict(presences)
        base = k * len(small_users)
        mapping.update(zip(small_users, large_users[base : base + len(small_users)], strict=True))
        qbase = (k % blocks) * len(small_queues)
        mapping.update(
            zip(small_queues, large_queues[qbase : qbase + len(small_queues)], strict=True)
        )
        maps.append(mapping)
    return maps


def _remap(text: str, mapping: dict[str, str], suffix: str) -> str:
    """One frame of one copy: known ids mapped, every other id made this copy's own."""

    def swap(match: re.Match[str]) -> str:
        return mapping.get(match[0]) or match[0][:-2] + suffix

    return UUID.sub(swap, text)


def write_large_stream(path: Path, *, users: int, queues: int, frames: int) -> int:
    """Write about ``frames`` frames of the large org's stream to ``path``; how many."""
    maps = id_maps(users, queues)
    source = load_frames()[: max(1, frames // len(maps))]
    out = [_remap(text, mapping, f"{k:02x}") for text in source for k, mapping in enumerate(maps)]
    path.write_text("\n".join(out) + "\n")
    return len(out)
