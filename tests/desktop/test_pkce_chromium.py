"""PKCE sign-in with a real browser: Debian's headless Chromium follows the sandbox's redirect.

The integration tests use an httpx "browser"; this one proves a real browser engine reaches our
loopback listener, takes its page, and that stray requests (favicon, preconnects) do no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.rest.regions import parse_environment
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox
from tests.desktop.conftest import missing

pytestmark = pytest.mark.desktop

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
SIGN_IN_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


@pytest.fixture
def chromium() -> str:
    """Debian's chromium; a missing one fails under the bed (it is in TESTBED_PKGS)."""
    if shutil.which(CHROMIUM) is None:
        missing(f"{CHROMIUM} is not installed (Debian package chromium)")
    return CHROMIUM


class ChromiumOpener:
    """A browser opener that starts headless Chromium on the URL and stops it afterwards."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir
        self.procs: list[asyncio.subprocess.Process] = []

    async def __call__(self, url: str) -> None:
        profile = self.workdir / f"profile-{len(self.procs)}"
        log = (self.workdir / f"chromium-{len(self.procs)}.log").open("wb")
        with log:
            proc = await asyncio.create_subprocess_exec(
                self.binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                url,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self.procs.append(proc)

    async def stop(self) -> None:
        """Stop every Chromium this opener started (by its own PID, then reap it)."""
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.workdir.glob("chromium-*.log"))


@pytest.fixture
async def opener(chromium: str, tmp_path: Path) -> AsyncIterator[ChromiumOpener]:
    browser = ChromiumOpener(chromium, tmp_path)
    try:
        yield browser
    finally:
        await browser.stop()


async def test_pkce_sign_in_completes_in_headless_chromium(opener: ChromiumOpener) -> None:
    config = SandboxConfig(users=5, queues=1, seed=7, simulate=False)
    async with Sandbox(config) as sandbox:
        env = parse_environment(sandbox.base_url)
        async with Authenticator(env, "sandbox-desktop", MemoryCredentialStore()) as auth:
            try:
                token = await auth.sign_in_pkce(open_browser=opener, timeout_s=SIGN_IN_TIMEOUT_S)
            except Exception as exc:
                log = opener.logs()[-4000:]
                pytest.fail(f"sign-in with Chromium failed: {exc!r}; Chromium's log:\n{log}")
            assert len(opener.procs) == 1
            async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
                me = await http.get(
                    "/api/v2/users/me", headers={"Authorization": f"Bearer {token.access_token}"}
                )
            assert me.status_code == 200
            assert me.json()["name"] == "Sam Supervisor"
