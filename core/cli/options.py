"""The ``listen`` command line: its flags, and the typed options the runner takes.

Declared apart from the runner (:mod:`core.cli.run`) so that parsing the command line loads no
engine: ``main.py`` mounts these flags and imports the runner only when ``listen`` runs.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

RECORD_KINDS = "state,event,change,gap,budget,watch,alert,sandbox,source"


def add_listen_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Mount ``listen`` and its flags on the top-level parser's subcommands (``add_subparsers``)."""
    listen = commands.add_parser(
        "listen",
        help="follow the notification stream headless: JSON lines on stdout",
        description=(
            "Keep a Notification Service channel alive and print one JSON object per line for "
            "each event, state change, gap marker, budget report and alert (the settings' rules; "
            "the demo org's example rules with --demo). Client id and secret come "
            "from GENESYS_CLIENT_ID / GENESYS_CLIENT_SECRET (PKCE sign-in when no secret)."
        ),
    )
    where = listen.add_mutually_exclusive_group()
    where.add_argument("--demo", action="store_true", help="embed the sandbox org")
    where.add_argument(
        "--environment",
        metavar="ENV",
        help="region (mypurecloud.de, eu_central_1, ...) or base URL (http://127.0.0.1:8765)",
    )
    listen.add_argument(
        "--trust-host",
        metavar="HOST",
        action="append",
        default=[],
        help="a custom host outside Genesys Cloud that may receive the client secret "
        "(refused otherwise; also GENESYS_TRUST_HOST)",
    )
    listen.add_argument(
        "--users", default="mine", help="all | mine (members of the queues) | ID,ID,..."
    )
    listen.add_argument("--queues", default="mine", help="all | mine | a name with * | ID,ID,...")
    listen.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    listen.add_argument("--state-out", type=Path, metavar="FILE", help="write the final state")
    listen.add_argument(
        "--journal", type=Path, metavar="FILE", help="journal the feed and alerts (default: none)"
    )
    listen.add_argument(
        "--kinds", metavar="KIND,..", help=f"only print these record kinds ({RECORD_KINDS})"
    )
    bridge = listen.add_argument_group(
        "EventBridge",
        "a second, durable source: events missed while the WebSocket was down come back from "
        'the queue (printed once, with "source": "eventbridge")',
    )
    bridge.add_argument(
        "--eventbridge-queue",
        metavar="URL",
        help="the SQS queue EventBridge delivers to (endpoint: AWS_ENDPOINT_URL_SQS if set)",
    )
    bridge.add_argument(
        "--eventbridge",
        action="store_true",
        help="with --demo: the demo org is an EventBridge source too, read from its queue",
    )
    bridge.add_argument("--aws-profile", metavar="NAME", help="AWS profile (default: the chain)")
    bridge.add_argument("--aws-region", metavar="REGION", help="the queue's region, if not in URL")
    listen.add_argument("--debug", action="store_true", help="verbose logging on stderr")
    return listen


@dataclass(frozen=True)
class ListenOptions:
    """What ``listen`` was asked for, typed (built from the parsed command line)."""

    demo: bool = False
    environment: str | None = None
    queues: str = "mine"
    users: str = "mine"
    duration: float | None = None
    state_out: Path | None = None
    kinds: frozenset[str] | None = None
    journal: Path | None = None
    trust_hosts: tuple[str, ...] = ()  # custom hosts that may receive the client secret
    eventbridge_queue: str | None = None  # an SQS queue URL: EventBridge as a second source
    demo_eventbridge: bool = False  # --demo --eventbridge: the demo org's own queue
    aws_profile: str = ""
    aws_region: str = ""

    @property
    def eventbridge(self) -> bool:
        """Whether EventBridge is a second source in this run."""
        return bool(self.eventbridge_queue) or (self.demo and self.demo_eventbridge)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ListenOptions:
        """The options of a parsed ``listen`` command line."""
        kinds = frozenset(k.strip() for k in args.kinds.split(",")) if args.kinds else None
        return cls(
            demo=bool(args.demo),
            environment=args.environment,
            queues=args.queues,
            users=args.users,
            duration=args.duration,
            state_out=args.state_out,
            kinds=kinds,
            journal=args.journal,
            trust_hosts=tuple(getattr(args, "trust_host", None) or ()),
            eventbridge_queue=getattr(args, "eventbridge_queue", None) or None,
            demo_eventbridge=bool(getattr(args, "eventbridge", False)),
            aws_profile=getattr(args, "aws_profile", None) or "",
            aws_region=getattr(args, "aws_region", None) or "",
        )
