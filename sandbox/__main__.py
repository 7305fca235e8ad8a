"""``python -m sandbox``: run the simulated Genesys Cloud org until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from sandbox.config import SandboxConfig
from sandbox.server import Sandbox

logger = logging.getLogger("sandbox")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line of the sandbox."""
    p = argparse.ArgumentParser(
        prog="python -m sandbox",
        description=(
            "A simulated Genesys Cloud org (OAuth, REST, Notification Service) on loopback."
        ),
    )
    d = SandboxConfig()
    p.add_argument("--host", default=d.host, help="address to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=d.port, help="port; 0 picks a free one")
    p.add_argument("--users", type=int, default=d.users, help="users in the org")
    p.add_argument("--queues", type=int, default=d.queues, help="queues in the org")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the org and simulation")
    p.add_argument("--heartbeat", type=float, default=d.heartbeat_s, help="heartbeat interval, s")
    p.add_argument("--speed", type=float, default=d.speed, help="simulated seconds per second")
    p.add_argument("--no-simulation", action="store_true", help="start with the simulation paused")
    p.add_argument(
        "--voice-only",
        action="store_true",
        help="every queue carries voice only (default: multichannel queues)",
    )
    p.add_argument(
        "--no-variations",
        action="store_true",
        help="one fixed spelling, grouping and key order (default: vary what the API allows)",
    )
    p.add_argument(
        "--eventbridge",
        action="store_true",
        help="also an EventBridge source into a loopback SQS queue (moto; ready file line 2)",
    )
    p.add_argument("--token-ttl", type=float, default=d.token_ttl_s, help="access token TTL, s")
    p.add_argument("--channel-ttl", type=float, default=d.channel_ttl_s, help="channel TTL, s")
    p.add_argument("--pkce-client-id", default=d.pkce_client_id, help="public PKCE client id")
    p.add_argument("--client-id", default=d.client_id, help="confidential client id")
    p.add_argument("--client-secret", default=d.client_secret, help="confidential client secret")
    p.add_argument(
        "--pkce-refresh-tokens",
        action="store_true",
        help="also return refresh tokens to the PKCE client",
    )
    p.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="register an exact redirect URI (default: any loopback URI)",
    )
    p.add_argument(
        "--login-user", default=None, help="id, e-mail or name the authorize page signs in"
    )
    p.add_argument(
        "--ready-file", type=Path, default=None, help="write the base URL here when listening"
    )
    p.add_argument("--log-level", default="INFO", help="logging level (default %(default)s)")
    args = p.parse_args(argv)
    for name in ("users", "queues"):
        if getattr(args, name) < 0:
            p.error(f"--{name} must not be negative")
    if args.speed <= 0 or args.heartbeat <= 0 or args.token_ttl <= 0 or args.channel_ttl <= 0:
        p.error("--speed, --heartbeat, --token-ttl and --channel-ttl must be positive")
    return args


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """Turn parsed arguments into a :class:`SandboxConfig`."""
    return SandboxConfig(
        host=args.host,
        port=args.port,
        users=args.users,
        queues=args.queues,
        seed=args.seed,
        heartbeat_s=args.heartbeat,
        speed=args.speed,
        simulate=not args.no_simulation,
        multichannel=not args.voice_only,
        variations=not args.no_variations,
        eventbridge=args.eventbridge,
        token_ttl_s=args.token_ttl,
        channel_ttl_s=args.channel_ttl,
        pkce_client_id=args.pkce_client_id,
        client_id=args.client_id,
        client_secret=args.client_secret,
        pkce_refresh_tokens=args.pkce_refresh_tokens,
        redirect_uris=list(args.redirect_uri),
        login_user=args.login_user,
    )


def _write_atomically(path: Path, text: str) -> None:
    """Write then rename, so a watcher never reads half a URL."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


async def serve(config: SandboxConfig, ready_file: Path | None) -> None:
    """Run the org until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with Sandbox(config) as sandbox:
        if ready_file is not None:
            lines = [sandbox.base_url]
            if sandbox.eventbridge is not None:
                lines.append(sandbox.eventbridge.queue_url)  # ready file line 2
            await asyncio.to_thread(_write_atomically, ready_file, "\n".join(lines) + "\n")
        print(sandbox.describe(), flush=True)
        await stop.wait()
    print("Sandbox stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m sandbox``."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(serve(config_from_args(args), args.ready_file))
    except OSError as exc:
        print(f"sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:  # --eventbridge without moto
        print(
            f"sandbox: --eventbridge needs {exc.name}: .venv/bin/pip install -e '.[sandbox]'",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
