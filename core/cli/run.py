"""The ``listen`` runner: sign in, follow the stream, print records, write the final state.

Its flags live in :mod:`core.cli.options`. Records leave the engine in one place,
:func:`attach_sinks`, which is where the Qt-free pipeline (feed, journal, alerts) plugs in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import IO

from core.alerts.model import Rule
from core.app.bootstrap import Engine, UsageError, build_engine
from core.app.eventbridge_wiring import EventBridgeLink
from core.app.pipeline import JournalSink, Pipeline
from core.cli.listen import (
    JsonLinesWriter,
    listen_pipeline,
    listen_rules,
    state_snapshot,
    write_state,
)
from core.cli.options import ListenOptions
from core.cli.process import EXIT_FAILED, EXIT_OK, EXIT_USAGE, install_stop_signals
from core.engine.service import MonitorService
from core.errors import GenesysTrayError, InvalidEnvironmentError
from core.rest.hosts import UnconfirmedHostError
from core.storage.journal.journal import Journal


def main_listen(options: ListenOptions) -> int:
    """Run ``listen`` to its end; an engine error is one line on stderr and exit code 1."""
    try:
        return asyncio.run(run_listen(options))
    except GenesysTrayError as exc:
        print(f"listen: {exc}", file=sys.stderr)
        return EXIT_FAILED


def attach_sinks(
    engine: Engine,
    options: ListenOptions,
    out: IO[str],
    rules: list[Rule],
    journal: JournalSink | None = None,
) -> tuple[Pipeline, JsonLinesWriter]:
    """Where the engine's records go: the app's pipeline (feed, journal, alerts), then stdout."""
    writer = JsonLinesWriter(out, kinds=options.kinds)
    engine.closers.insert(0, writer.aclose)  # closed last: the final records are written too
    return listen_pipeline(engine.service, writer, rules=rules, journal=journal), writer


def _eventbridge(
    engine: Engine, options: ListenOptions, writer: JsonLinesWriter
) -> EventBridgeLink | None:
    """The EventBridge source of this run (its status changes printed), or None."""
    queue = options.eventbridge_queue or (engine.demo_queue if options.eventbridge else None)
    if queue is None:
        return None
    link = EventBridgeLink(
        queue,
        profile=options.aws_profile,
        region=options.aws_region,
        credentials=engine.credentials,
    )
    link.add_status_listener(writer.write_source)
    return link


async def run_listen(options: ListenOptions, *, out: IO[str] | None = None) -> int:
    """``listen``: sign in, follow the stream, print records, write the state on exit."""
    out = out if out is not None else sys.stdout
    stop = asyncio.Event()
    install_stop_signals(stop)
    if options.demo_eventbridge and not options.demo and not options.eventbridge_queue:
        print(
            "listen: --eventbridge goes with --demo; give --eventbridge-queue URL", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        engine = await build_engine(
            demo=options.demo,
            environment=options.environment,
            queues=options.queues,
            users=options.users,
            trusted_hosts=options.trust_hosts,
            demo_eventbridge=options.demo and options.demo_eventbridge,
        )
    except (UsageError, InvalidEnvironmentError) as exc:  # what the person typed: exit 2
        hint = ""
        if isinstance(exc, UnconfirmedHostError):
            hint = f" If it is yours, add --trust-host {exc.host}."
        print(f"listen: {exc}{hint}", file=sys.stderr)
        return EXIT_USAGE
    try:
        _announce(engine, options, out)
        rules = await asyncio.to_thread(listen_rules, options.demo)
        journal = None
        if options.journal is not None:
            journal = await Journal.open(options.journal)
            engine.closers.insert(0, journal.close)  # closed last, after the final records
            if journal.problem:
                print(f"listen: {journal.problem}", file=sys.stderr)
        sink = journal.append if journal is not None else None
        pipeline, writer = attach_sinks(engine, options, out, rules, sink)
        link = _eventbridge(engine, options, writer)
        if link is not None:
            link.attach(engine.service, pipeline, journal.flush if journal is not None else None)
        pipeline.start()
        try:
            await _follow(engine.service, stop, options.duration, link)
        finally:
            if link is not None:
                await link.stop()  # before the pipeline: a pending gap line still goes out
            pipeline.stop()
        if options.state_out is not None:
            service = engine.service
            document = state_snapshot(service.store, service.watch.users, service.watch.queues)
            await asyncio.to_thread(write_state, options.state_out, document)
        return EXIT_OK
    finally:
        await engine.aclose()


def _announce(engine: Engine, options: ListenOptions, out: IO[str]) -> None:
    """A weak credential store on stderr; the demo org's address as the first record."""
    if engine.credentials_warning:
        print(f"listen: {engine.credentials_warning}", file=sys.stderr)
    if engine.sandbox_url and (options.kinds is None or "sandbox" in options.kinds):
        print(json.dumps({"kind": "sandbox", "url": engine.sandbox_url}), file=out, flush=True)


async def _follow(
    service: MonitorService,
    stop: asyncio.Event,
    duration: float | None,
    link: EventBridgeLink | None = None,
) -> None:
    """Run the service (and EventBridge) until ``stop`` is set or ``duration`` seconds passed.

    EventBridge stops first: its consumer, then the merge (its gap line), then the engine.
    """
    await service.start()
    if link is not None:
        link.start()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=duration)
    if link is not None:
        await link.stop()
    await service.stop()
