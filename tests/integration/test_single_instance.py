"""A second launch brings the first one's window forward and exits (two real processes)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 40.0


async def _until(stream: asyncio.StreamReader, needle: str, seen: list[str]) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while True:
            raw = await stream.readline()
            assert raw, "".join(seen[-20:])
            seen.append(raw.decode(errors="replace"))
            if needle in seen[-1]:
                return


async def test_second_launch_activates_the_first_and_exits(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "GENESYS_TRAY_INSTANCE": f"single-instance-test-{os.getpid()}",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
        "PYTHONUNBUFFERED": "1",
    }
    first = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        "--demo",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert first.stdout is not None
    seen: list[str] = []
    try:
        await _until(first.stdout, "engine: live", seen)
        second = await asyncio.create_subprocess_exec(
            sys.executable,
            "main.py",
            "--demo",
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(second.communicate(), DEADLINE_S)
        assert second.returncode == 0
        assert b"already running" in out
        assert b"Sandbox Genesys Cloud org" not in out  # it never started an engine
        await _until(first.stdout, "showing the monitor window", seen)
    finally:
        first.terminate()
        await asyncio.wait_for(first.stdout.read(), DEADLINE_S)
        assert await asyncio.wait_for(first.wait(), DEADLINE_S) == 0
