"""Record a realistic frame stream once: the sandbox simulation at high speed, one socket.

Subscribes presence, routing status and activity of every user and, per queue, analytics
observations + activity, conversations (generic and ``.calls``) and membership; records every
non-heartbeat frame exactly as the sandbox sent it to ``benchmarks/.data/frames.jsonl``.
"""

from __future__ import annotations

import asyncio
import collections
import time
from pathlib import Path

from websockets.asyncio.client import connect

from benchmarks.common import DATA, FRAMES, client_token, sandbox_org

TARGET_FRAMES = 60_000
MAX_SECONDS = 60.0


def family(topic: str) -> str:
    """``v2.users.<id>.presence`` → ``users.presence`` (the id left out)."""
    parts = topic.split(".")
    return ".".join([parts[1], *parts[4 if parts[1] != "users" else 3 :]])


def topics_of(users: list[str], queues: list[str]) -> list[str]:
    """Every topic family the sandbox emits for these users and queues."""
    topics = [f"v2.users.{u}?presence&routingStatus&activity" for u in users]
    for q in queues:
        topics += [
            f"v2.analytics.queues.{q}.observations",
            f"v2.analytics.queues.{q}.activity",
            f"v2.routing.queues.{q}.conversations",
            f"v2.routing.queues.{q}.conversations.calls",
            f"v2.routing.queues.{q}.users",
        ]
    return topics


async def record(
    target: int = TARGET_FRAMES,
    *,
    users: int = 200,
    queues: int = 20,
    seed: int = 5,
    path: Path = FRAMES,
) -> int:
    """Record ``target`` frames (or what came within MAX_SECONDS) of an org of ``users`` and
    ``queues`` to ``path``; the number recorded.

    One socket holds every topic (the recorder is no client under test), so the org's topic
    limit is lifted for it.
    """
    DATA.mkdir(parents=True, exist_ok=True)
    settings = {
        "users": users,
        "queues": queues,
        "seed": seed,
        "max_topics": 100_000,
        "heartbeat_s": 30.0,
        "simulate": True,
        "speed": 400.0,
        "tick_s": 0.02,
        "observation_min_interval_s": 0.05,
        "max_socket_queue": 500_000,
    }
    async with sandbox_org(**settings) as (sandbox, http):
        token = await client_token(http)
        auth = {"Authorization": f"Bearer {token}"}
        truth = (await http.get("/sandbox/truth")).json()
        user_ids, queue_ids = sorted(truth["users"]), sorted(truth["queues"])
        channel = (await http.post("/api/v2/notifications/channels", headers=auth)).json()
        resp = await http.put(
            f"/api/v2/notifications/channels/{channel['id']}/subscriptions",
            headers=auth,
            json=[{"id": t} for t in topics_of(user_ids, queue_ids)],
        )
        resp.raise_for_status()
        frames: list[str] = []
        kinds: collections.Counter[str] = collections.Counter()
        started = time.monotonic()
        async with connect(channel["connectUri"], max_size=None) as ws:
            while len(frames) < target and time.monotonic() - started < MAX_SECONDS:
                try:
                    data = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    continue
                text = data if isinstance(data, str) else data.decode()
                if '"channel.metadata"' in text[:80]:
                    continue
                frames.append(text)
                topic = text.split('"topicName"', 1)[1].split('"')[1]
                kinds[family(topic)] += 1
        del sandbox
    await asyncio.to_thread(path.write_text, "\n".join(frames) + "\n")
    size = sum(len(f) for f in frames)
    print(
        f"recorded {len(frames)} frames ({size / 1e6:.1f} MB) in {time.monotonic() - started:.1f} s"
    )
    for kind, count in kinds.most_common():
        print(f"  {kind:40s} {count}")
    return len(frames)


def load_frames(path: Path = FRAMES) -> list[str]:
    """The recorded stream, one JSON text per frame."""
    return [line for line in path.read_text().splitlines() if line]


if __name__ == "__main__":
    asyncio.run(record())
