"""Shared helpers of the benchmarks: the sandbox, a wired engine, /proc readings, results.

Every benchmark is a small script (``python -m benchmarks.p1_ingest`` ...) that prints its
figures and saves them as JSON under ``benchmarks/.data/results``; ``benchmarks.report`` turns
those files into ``benchmarks/RESULTS.md``. Nothing here asserts a time.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.engine.records import Record
from core.engine.selection import Selection
from core.engine.service import MonitorService
from core.rest.client import ApiClient
from core.rest.regions import parse_environment
from core.rest.schema import ChannelInfo, ListedChannel, SubscriptionResult
from core.streaming.reconnect import ChannelSettings
from sandbox.config import SandboxConfig
from sandbox.server import Sandbox

Json = dict[str, Any]

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / ".data"
RESULTS = DATA / "results"
FRAMES = DATA / "frames.jsonl"
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"  # the sandbox's published demo credential
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------- frame servers
class FixedChannel:
    """The channel side of a shard whose "channel" is a local frame server at ``uri``.

    Mixed into a REST client (or used alone), it answers what a shard asks of the Notification
    Service: every new channel is the server, always there, and everything is permitted.
    """

    uri: str
    channels = 0

    async def create_channel(self) -> ChannelInfo:
        """The frame server as a channel."""
        self.channels += 1
        expires = datetime.now(UTC) + timedelta(hours=24)
        return ChannelInfo(f"bench-{self.channels}", self.uri, expires)

    async def channel_exists(self, channel_id: str) -> bool:
        """Always there."""
        return True

    async def put_subscriptions(
        self, channel_id: str, topics: Sequence[str], *, ignore_errors: bool = True
    ) -> SubscriptionResult:
        """Everything permitted (the server sends what was recorded, whatever is asked)."""
        return SubscriptionResult(tuple(topics), ())

    async def delete_subscriptions(self, channel_id: str) -> None:
        """Nothing to do."""

    async def list_channels(self, include: str = "token") -> list[ListedChannel]:
        """Only ours, so the pool always has room."""
        return []


# ---------------------------------------------------------------------------------- results
def save_result(name: str, figures: Json) -> None:
    """Store one benchmark's figures for the report and print them."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    figures = {"benchmark": name, "when": time.strftime("%Y-%m-%d %H:%M:%S"), **figures}
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str))
    print(json.dumps(figures, indent=2, default=str))


def median(values: Sequence[float]) -> float:
    """The median (0.0 of nothing)."""
    return statistics.median(values) if values else 0.0


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (0.0 of nothing)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


# ---------------------------------------------------------------------------------- /proc
def rss_mb(pid: int | str = "self") -> float:
    """Resident set size from /proc/<pid>/statm, in MiB."""
    fields = Path(f"/proc/{pid}/statm").read_text().split()
    return int(fields[1]) * PAGE / (1024 * 1024)


def cpu_s(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process (all threads) from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine() -> str:
    """CPU model and count, for the report header."""
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} x {model}, Python {sys.version.split()[0]}"


# ---------------------------------------------------------------------------------- sandbox
async def client_token(http: httpx.AsyncClient) -> str:
    """A client-credentials token of the sandbox org."""
    resp = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    resp.raise_for_status()
    token: str = resp.json()["access_token"]
    return token


async def control(http: httpx.AsyncClient, path: str, **params: Any) -> Json:
    """POST to the sandbox control API (``faults/drop``, ``simulation/pause``, ...)."""
    resp = await http.post(f"/sandbox/{path}", params=params or None)
    resp.raise_for_status()
    answer: Json = resp.json()
    return answer


async def get_json(http: httpx.AsyncClient, path: str) -> Json:
    """GET a sandbox JSON document (``/sandbox/truth``, ``/sandbox/stats``)."""
    resp = await http.get(path)
    resp.raise_for_status()
    answer: Json = resp.json()
    return answer


@asynccontextmanager
async def sandbox_org(**settings: Any) -> AsyncIterator[tuple[Sandbox, httpx.AsyncClient]]:
    """A running sandbox org on a loopback port and an httpx client pointed at it."""
    async with (
        Sandbox(SandboxConfig(**settings)) as running,
        httpx.AsyncClient(base_url=running.base_url, timeout=30.0) as http,
    ):
        yield running, http


@dataclass
class WiredEngine:
    """An engine wired as main.py's ``listen`` and tests/integration/test_engine.py wire it."""

    auth: Authenticator
    api: ApiClient
    service: MonitorService

    async def close(self) -> None:
        """Stop the service and close its clients."""
        await self.service.stop()
        await self.api.aclose()
        await self.auth.aclose()


async def wire_engine(
    base_url: str,
    selection: Selection,
    settings: ChannelSettings,
    listener: Callable[[Record], None] | None = None,
) -> WiredEngine:
    """Authenticator → ApiClient → MonitorService against the sandbox (not started)."""
    env = parse_environment(base_url)
    auth = Authenticator(env, CLIENT_ID, MemoryCredentialStore(), client_secret=CLIENT_SECRET)
    api = ApiClient(env, auth.access_token, on_unauthorized=auth.renew_rejected)
    service = MonitorService(api, auth, selection, settings=settings)
    if listener is not None:
        service.add_listener(listener)
    await auth.sign_in_client_credentials()
    return WiredEngine(auth, api, service)


async def wait_until(
    condition: Callable[[], bool], deadline_s: float, step_s: float = 0.005
) -> float:
    """Poll ``condition`` until it holds; the seconds it took (raises TimeoutError after)."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > deadline_s:
            raise TimeoutError(f"condition not met within {deadline_s} s")
        await asyncio.sleep(step_s)
    return time.perf_counter() - started


@asynccontextmanager
async def sandbox_process(*args: str) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """The sandbox org in its own process (so it costs the measured process nothing).

    Yields its base URL and an httpx client pointed at it; stopped with SIGTERM by its PID.
    """
    async with sandbox_ready(*args) as (lines, http):
        yield lines[0], http


@asynccontextmanager
async def sandbox_ready(
    *args: str, ready_s: float = 60.0, http_timeout_s: float = 60.0, stop_s: float = 10.0
) -> AsyncIterator[tuple[list[str], httpx.AsyncClient]]:
    """``python -m sandbox *args`` in its own process: the ready file's lines (the base URL, and
    the queue URL with ``--eventbridge``) and an httpx client on it; stopped by SIGTERM."""
    DATA.mkdir(parents=True, exist_ok=True)
    ready = DATA / f"sandbox-{os.getpid()}-{time.monotonic_ns()}.url"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--log-level",
        "WARNING",
        "--ready-file",
        str(ready),
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_until(ready.exists, ready_s, 0.02)
        lines = ready.read_text().split()
        async with httpx.AsyncClient(base_url=lines[0], timeout=http_timeout_s) as http:
            yield lines, http
    finally:
        ready.unlink(missing_ok=True)
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), stop_s)
            except TimeoutError:
                proc.kill()
                await proc.wait()
