"""The two ways a person starts things: ``python main.py --demo`` and ``python -m sandbox``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def _env_without_display() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    return env


async def _read_until(stream: asyncio.StreamReader, needle: str, deadline_s: float) -> str:
    seen = ""
    async with asyncio.timeout(deadline_s):
        while needle not in seen:
            line = await stream.readline()
            if not line:
                break
            seen += line.decode()
    return seen


async def test_demo_without_display_says_so_and_serves_the_sandbox() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        "--demo",
        cwd=REPO,
        env=_env_without_display(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        text = await _read_until(proc.stdout, "keeps running", 20)
        assert "No display found" in text
        url = next(
            line.split(": ", 1)[1].strip()
            for line in text.splitlines()
            if line.startswith("Sandbox Genesys Cloud org:")
        )
        async with httpx.AsyncClient(base_url=url) as http:
            truth = (await http.get("/sandbox/truth")).json()
        assert len(truth["users"]) == 200
        assert len(truth["queues"]) == 20
    finally:
        proc.send_signal(signal.SIGINT)
        rest = await asyncio.wait_for(proc.stdout.read(), 10)
        code = await asyncio.wait_for(proc.wait(), 10)
    assert code == 0
    assert b"Stopped." in rest


async def test_main_without_demo_explains_and_exits_2(tmp_path: Path) -> None:
    # With a display, a first run shows the welcome dialog (tests/gui/test_welcome_dialog.py);
    # without one, nothing can be asked: it says how to go on and exits 2.
    env = {**_env_without_display(), "XDG_CONFIG_HOME": str(tmp_path)}
    env.pop("GENESYS_CLIENT_ID", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert b"--demo" in err
    assert b"Traceback" not in err + out


async def test_sandbox_cli_writes_ready_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "url"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--users",
        "10",
        "--queues",
        "2",
        "--ready-file",
        str(ready),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        await _read_until(proc.stdout, "stop with Ctrl+C", 20)
        url = ready.read_text(encoding="utf-8").strip()
        assert url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient(base_url=url) as http:
            assert len((await http.get("/sandbox/truth")).json()["users"]) == 10
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.stdout.read(), 10)
        code = await asyncio.wait_for(proc.wait(), 10)
    assert code == 0


async def test_sandbox_cli_rejects_bad_arguments_without_traceback() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--users",
        "-3",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert b"--users must not be negative" in err
    assert b"Traceback" not in err
