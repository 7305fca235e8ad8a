"""What a chaos run measured, and the probes it measures with.

:class:`ChaosReport` holds the figures of a run (the calm driver's per-kind table and the totals
every mode shares); the probes read open sockets and RSS from ``/proc``; :class:`LogTrap` collects
the ERROR records of our loggers. :func:`save_table` prints a table and writes it to
``artifacts/`` (``ARTIFACTS`` overrides the folder) so CI keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WATCHED_LOGGERS = ("core", "sandbox", "asyncio", "aiohttp")
ARTIFACTS = Path(os.environ.get("ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts"))


def progress(line: str) -> None:
    """A progress line on stderr (pytest -s shows it as the run goes)."""
    print(f"[chaos] {line}", file=sys.stderr, flush=True)


def save_table(table: str, name: str) -> None:
    """Print a run's table and keep it as ``artifacts/<name>``."""
    print("\n" + table, flush=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_text(table + "\n", encoding="utf-8")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (0.0 of nothing)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@dataclass
class KindStats:
    """Figures of one fault kind."""

    injected: int = 0
    survived: int = 0
    resyncs: int = 0
    max_live_again_s: float = 0.0
    mismatches: int = 0
    channels_created: int = 0
    alerts_after_gap: int = 0


@dataclass
class ChaosReport:
    """Everything a run measured; :attr:`problems` must be empty."""

    seed: int
    kinds: dict[str, KindStats] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    errors_logged: list[str] = field(default_factory=list)
    warnings_logged: int = 0
    evictions_total: int = 0
    evictions_by_us: int = 0
    abandoned_channels: int = 0
    max_channels_per_subject: int = 0
    max_orphans: int = 0
    sockets_start: int = 0
    sockets_warm: int = 0
    sockets_max: int = 0
    sockets_end: int = 0
    rss_warm_mb: float = 0.0
    rss_max_mb: float = 0.0
    rss_end_mb: float = 0.0
    leaked_tasks: list[str] = field(default_factory=list)
    alert_checks: int = 0
    alert_mismatches: int = 0
    gui_checks: int = 0
    gui_mismatches: int = 0
    elapsed_s: float = 0.0
    order: list[str] = field(default_factory=list)

    @property
    def faults(self) -> int:
        """Faults injected in all."""
        return sum(k.injected for k in self.kinds.values())

    @property
    def mismatches(self) -> int:
        """State mismatches in all."""
        return sum(k.mismatches for k in self.kinds.values())

    def table(self) -> str:
        """The soak table: one line per fault kind, then the run's totals."""
        head = f"{'fault':<22}{'injected':>9}{'survived':>9}{'re-syncs':>9}"
        head += f"{'max live again':>16}{'mismatches':>11}{'new channels':>13}"
        lines = [head, "-" * len(head)]
        for kind, s in self.kinds.items():
            lines.append(
                f"{kind:<22}{s.injected:>9}{s.survived:>9}{s.resyncs:>9}"
                f"{s.max_live_again_s:>14.2f} s{s.mismatches:>11}{s.channels_created:>13}"
            )
        total_resyncs = sum(k.resyncs for k in self.kinds.values())
        survived = sum(k.survived for k in self.kinds.values())
        worst = max((k.max_live_again_s for k in self.kinds.values()), default=0.0)
        lines.append("-" * len(head))
        lines.append(
            f"{'all':<22}{self.faults:>9}{survived:>9}{total_resyncs:>9}"
            f"{worst:>14.2f} s{self.mismatches:>11}"
            f"{sum(k.channels_created for k in self.kinds.values()):>13}"
        )
        after_gap = sum(k.alerts_after_gap for k in self.kinds.values())
        lines += [
            "",
            f"alerts: {self.alert_checks} checks against the truth, {self.alert_mismatches}"
            f" wrong; {after_gap} TRAINING alerts fired after a re-sync for presences set"
            f" while the engines could not hear",
            f"window: {self.gui_checks} checks of every board cell against the truth,"
            f" {self.gui_mismatches} wrong",
        ]
        return "\n".join(lines + self.footer())

    def footer(self) -> list[str]:
        """The run's totals every mode shares: errors, tasks, the pool, sockets, problems."""
        lines = [
            f"seed {self.seed}, {self.elapsed_s:.0f} s, unhandled errors logged: "
            f"{len(self.errors_logged)}, warnings logged (expected under faults): "
            f"{self.warnings_logged}, leaked tasks: {len(self.leaked_tasks)}",
            f"evictions: {self.evictions_total} (by our own new channels: {self.evictions_by_us},"
            f" all in 21st-channel faults), channels left to another client:"
            f" {self.abandoned_channels}, unused channels of ours in the pool (max):"
            f" {self.max_orphans}, most channels of one subject:"
            f" {self.max_channels_per_subject}/20",
            f"sockets: {self.sockets_start} before, {self.sockets_warm} warm, max "
            f"{self.sockets_max}, {self.sockets_end} after; RSS warm {self.rss_warm_mb:.0f} MB, "
            f"max {self.rss_max_mb:.0f} MB, end {self.rss_end_mb:.0f} MB",
        ]
        if self.problems:
            lines += ["", f"PROBLEMS ({len(self.problems)}):", *self.problems[:40]]
        return lines


def open_sockets() -> int:
    """Socket file descriptors of this process (the sandbox's included: one process)."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                count += 1
    return count


def rss_mb() -> float:
    """Resident set size of this process in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


class LogTrap(logging.Handler):
    """Collects ERROR records of our loggers, counts their warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors: list[str] = []
        self.warnings = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Keep what matters of one record."""
        if record.name.split(".")[0] not in WATCHED_LOGGERS:
            return
        if record.levelno >= logging.ERROR:
            text = f"{record.name}: {record.getMessage()}"
            if record.exc_info and record.exc_info[1] is not None:
                text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            self.errors.append(text)
        else:
            self.warnings += 1


def is_the_sandboxes(task: asyncio.Task[Any]) -> bool:
    """A task of the in-process sandbox (or its aiohttp server), not of an engine."""
    code = getattr(task.get_coro(), "cr_code", None)
    filename = code.co_filename if code is not None else ""
    return "/sandbox/" in filename or "/aiohttp/" in filename
