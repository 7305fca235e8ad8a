"""Acceptance: ``listen`` started before the org answers waits, comes live by itself, ends true.

An autostart at login often runs before the network is up. ``listen`` with a service account is
started against a loopback port where nothing answers yet; it must print offline state records
(retrying with backoff) instead of exiting, and once the org comes up on that port sign in,
subscribe and re-sync with nobody's help, end with exit 0 on SIGTERM, and write the org's truth.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import httpx

from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.integration.test_listen_cli import DEADLINE_S, REPO, Lines

OFFLINE_BEFORE_ORG_S = 8.0  # the case: started 8 s before the org is reachable


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def _listen(port: int, state_file: Path, home: Path) -> asyncio.subprocess.Process:
    config = SandboxConfig()
    env = {
        **os.environ,
        "GENESYS_CLIENT_ID": config.client_id,
        "GENESYS_CLIENT_SECRET": config.client_secret,
        # No OS keyring in a test: the memory store (announced on stderr) keeps nothing on disk.
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
    }
    env.pop("GENESYS_ENVIRONMENT", None)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        "listen",
        "--environment",
        f"http://127.0.0.1:{port}",
        "--queues",
        "all",
        "--users",
        "members",
        "--state-out",
        str(state_file),
        "--kinds",
        "state,gap,budget",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        limit=16 * 1024 * 1024,
    )


async def test_listen_started_before_the_org_waits_then_comes_live(tmp_path: Path) -> None:
    port = _free_port()
    state_file = tmp_path / "state.json"
    loop = asyncio.get_running_loop()
    began = loop.time()
    proc = await _listen(port, state_file, tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    lines = Lines(proc.stdout)
    sandbox: Sandbox | None = None
    truth: dict[str, Any] = {}
    try:
        # Offline, and it says so (more than once: it keeps retrying, it does not give up).
        offline = await lines.next_matching(kind="state", state="offline")
        assert offline["detail"].startswith("Offline: retrying in ")
        await lines.next_matching(kind="state", state="starting")
        await lines.next_matching(kind="state", state="offline")
        # The org comes up 8 s after the start, on the port listen keeps trying.
        await asyncio.sleep(max(0.0, OFFLINE_BEFORE_ORG_S - (loop.time() - began)))
        assert proc.returncode is None, "listen gave up while the org was unreachable"
        sandbox = Sandbox(
            SandboxConfig(port=port, users=30, queues=4, seed=7, observation_min_interval_s=0.05)
        )
        url = await sandbox.start()
        # No one helps: it signs in, subscribes and re-syncs by itself.
        await lines.next_matching(kind="budget")
        await lines.next_matching(kind="gap", phase="end")
        await lines.next_matching(kind="state", state="live")
        async with httpx.AsyncClient(base_url=url, timeout=10) as control:
            await control.post("/sandbox/simulation/pause")
            # Settle: one last gap, re-synced while nothing moves, then stop.
            assert (await control.post("/sandbox/faults/drop")).json()["count"] >= 1
            await lines.next_matching(kind="gap", phase="end")
            truth = (await control.get("/sandbox/truth")).json()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(lines.stream.read(), DEADLINE_S)
        errors = await asyncio.wait_for(proc.stderr.read(), DEADLINE_S)
        code = await asyncio.wait_for(proc.wait(), DEADLINE_S)
        if sandbox is not None:
            await sandbox.stop()
    assert code == 0, errors.decode(errors="replace")
    assert b"listen: Could not" not in errors  # it did not give up
    state = json.loads(state_file.read_text(encoding="utf-8"))
    assert state["users"] and state["queues"], "nothing watched"
    for user_id, mine in state["users"].items():
        assert mine == truth["users"][user_id], user_id
    for queue_id, mine in state["queues"].items():
        assert mine == truth["queues"][queue_id], queue_id
