"""The README's quick start says what the app really prints and shows (issue 16, defect 14).

A newcomer compares the README with the terminal and the tray: the banner block must be the
demo's own output (the port aside), and every tray menu entry the README names must exist.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import uuid
from pathlib import Path

from gui.tray import controller

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _readme_banner() -> list[str]:
    start = README.index("`make run` prints where the sandbox org listens")
    opening = README.index("```text\n", start) + len("```text\n")
    block = README[opening : README.index("```\n", opening)]
    return block.rstrip("\n").splitlines()


def _without_port(lines: list[str]) -> list[str]:
    return [re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line) for line in lines]


def test_the_readme_banner_is_what_make_run_prints(tmp_path: Path) -> None:
    """``main.py --demo`` (what ``make run`` runs), offscreen: its banner equals the README's."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "GENESYS_TRAY_LOG_DIR": str(tmp_path / "log"),
        "GENESYS_TRAY_INSTANCE": f"readme-banner-{uuid.uuid4().hex}",
    }
    wanted = _readme_banner()

    async def run() -> list[str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "main.py",
            "--demo",
            cwd=REPO,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        printed: list[str] = []
        try:
            async with asyncio.timeout(40):
                while not printed or printed[-1] != wanted[-1]:
                    line = await proc.stdout.readline()
                    if not line:
                        break
                    printed.append(line.decode().rstrip("\n"))
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return printed

    printed = asyncio.run(run())
    first = next(i for i, line in enumerate(printed) if line.startswith("Sandbox Genesys Cloud"))
    assert _without_port(printed[first : first + len(wanted)]) == _without_port(wanted)


def test_every_tray_entry_the_readme_names_exists() -> None:
    """The README's tray bullet names the menu as the tray labels it."""
    start = README.index("- **Tray icon**")
    bullet = README[start : README.index("\n- **", start + 5)]
    named = re.search(r"The menu has (.+?)\.\n", bullet.replace("\n  ", " ") + "\n")
    assert named is not None, bullet
    items = [i.strip() for i in re.split(r",| and ", named.group(1)) if i.strip()]
    labels = {
        value.replace("&&", "&")
        for name, value in vars(controller).items()
        if name.startswith("ACTION_") and isinstance(value, str)
    }
    assert items and set(items) <= labels, set(items) - labels
