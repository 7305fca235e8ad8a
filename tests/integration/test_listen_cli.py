"""Acceptance: ``python main.py listen --demo`` survives injected faults and ends equal to truth."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 30.0


class Lines:
    """The JSON lines a subprocess prints, read with deadlines."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.stream = stream
        self.seen: list[dict[str, Any]] = []

    async def next_matching(self, **fields: Any) -> dict[str, Any]:
        async with asyncio.timeout(DEADLINE_S):
            while True:
                raw = await self.stream.readline()
                assert raw, f"listen ended before a line with {fields}"
                line: dict[str, Any] = json.loads(raw)
                self.seen.append(line)
                if all(line.get(k) == v for k, v in fields.items()):
                    return line


async def listen_demo(*args: str) -> tuple[asyncio.subprocess.Process, Lines]:
    """``python main.py listen --demo ARGS`` as a subprocess, and its JSON lines."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        "listen",
        "--demo",
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        limit=16 * 1024 * 1024,
    )
    assert proc.stdout is not None
    return proc, Lines(proc.stdout)


async def test_listen_demo_survives_faults_and_writes_the_true_state(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    proc, lines = await listen_demo(
        "--state-out", str(state_file), "--kinds", "sandbox,state,gap,change,budget"
    )
    try:
        url = (await lines.next_matching(kind="sandbox"))["url"]
        budget = await lines.next_matching(kind="budget")
        assert budget["channels"] == 1 and budget["topics"] > 0
        await lines.next_matching(kind="gap", phase="end")
        async with httpx.AsyncClient(base_url=url, timeout=10) as control:
            for fault in ("drop", "expire_channels", "socket_closing?grace=1", "revoke_tokens"):
                resp = await control.post(f"/sandbox/faults/{fault}")
                assert resp.status_code == 200 and resp.json()["count"] >= 1, fault
                await lines.next_matching(kind="gap", phase="end")
            await control.post("/sandbox/simulation/pause")
            # The live stream (not only re-sync) keeps the picture: change a watched user.
            truth = (await control.get("/sandbox/truth")).json()
            watched = [
                line["change"]["id"]
                for line in lines.seen
                if line.get("kind") == "change" and line.get("change", {}).get("kind") == "user"
            ]
            target = watched[0]
            new = "MEETING" if truth["users"][target]["presence"] != "MEETING" else "AVAILABLE"
            await control.post(f"/sandbox/users/{target}/presence", json={"presence": new})
            while True:
                line = await lines.next_matching(kind="change", source="stream")
                change = line["change"]
                if change["id"] == target and new in change["after"]:
                    break
            # Settle: one last gap, re-synced while nothing moves, then stop.
            await control.post("/sandbox/faults/drop")
            await lines.next_matching(kind="gap", phase="end")
            truth = (await control.get("/sandbox/truth")).json()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(lines.stream.read(), DEADLINE_S)
        code = await asyncio.wait_for(proc.wait(), DEADLINE_S)
    assert code == 0
    state = json.loads(state_file.read_text(encoding="utf-8"))
    assert state["users"], "no watched users"
    for user_id, mine in state["users"].items():
        assert mine == truth["users"][user_id], user_id
    for queue_id, mine in state["queues"].items():
        assert mine == truth["queues"][queue_id], queue_id


async def test_listen_prints_and_journals_an_alert_that_began_in_a_gap(tmp_path: Path) -> None:
    """The demo's "Not responding" rule fires for an agent whose status changed while offline."""
    from core.feed.payloads import AlertData
    from core.storage.journal.journal import Journal

    journal_file = tmp_path / "journal.sqlite3"
    proc, lines = await listen_demo(
        "--journal", str(journal_file), "--kinds", "sandbox,watch,gap,change,alert"
    )
    try:
        url = (await lines.next_matching(kind="sandbox"))["url"]
        await lines.next_matching(kind="gap", phase="end")
        watched = [line for line in lines.seen if line.get("kind") == "watch"][-1]["users"]
        async with httpx.AsyncClient(base_url=url, timeout=10) as control:
            await control.post("/sandbox/simulation/pause")
            truth = (await control.get("/sandbox/truth")).json()["users"]
            target = next(
                u for u in sorted(watched) if truth[u]["routingStatus"] != "NOT_RESPONDING"
            )
            # The socket goes down first: the stream cannot tell, only the re-sync can.
            assert (await control.post("/sandbox/faults/drop")).json()["count"] >= 1
            resp = await control.post(
                f"/sandbox/users/{target}/routingstatus", json={"status": "NOT_RESPONDING"}
            )
            assert resp.status_code == 200, resp.text
            while True:
                line = await lines.next_matching(kind="alert", change="fired")
                if line["alert"]["subject_id"] == target:
                    break
        assert line["alert"]["rule_id"] == "demo-not-responding"
        assert line["alert"]["state"] == "firing"
        changes = [
            seen
            for seen in lines.seen
            if seen.get("kind") == "change" and seen["change"]["id"] == target
        ]
        assert changes and changes[-1]["source"] == "resync"  # learnt across the gap
        gap_ends = [seen for seen in lines.seen if seen.get("kind") == "gap"]
        assert [g["phase"] for g in gap_ends[-2:]] == ["start", "end"]
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(lines.stream.read(), DEADLINE_S)
        code = await asyncio.wait_for(proc.wait(), DEADLINE_S)
    assert code == 0
    async with await Journal.open(journal_file) as journal:
        rows = await journal.search(kinds=["alert"])
    assert any(
        row.subject_id == target and isinstance(row.data, AlertData) and row.data.change == "fired"
        for row in rows
    )
