"""The injectors and the report of the life driver (tests/chaos/life.py).

:class:`WallClock` is the engine's wall clock, moved by a suspend or a clock jump;
:class:`ChaosKeyring` is a keyring backend a test can lock or make hang; the thread probes tell
long-lived threads from leaked ones; :class:`LifeReport` holds a run's figures and its table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError

from tests.chaos.report import ChaosReport, percentile

_T = TypeVar("_T")


class WallClock:
    """The engine's wall clock: real time plus an offset the test moves (suspend, clock jump)."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


class ChaosKeyring(KeyringBackend):
    """An in-memory keyring that a test can lock (KeyringLocked) or make hang (an Event).

    ``viable = False`` keeps it out of keyring's own detection in every later test.
    """

    viable = False
    priority = -1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.values: dict[tuple[str, str], str] = {}
        self.locked = False
        self.open = threading.Event()  # cleared: every call hangs until it is set again
        self.open.set()
        self.refused = 0  # calls refused while locked
        self.hung = 0  # calls that waited on a hang
        self.inside = 0  # threads inside a call right now
        self.most_inside_hung = 0  # most threads stuck in a hang at once
        self._guard = threading.Lock()

    def _call(self, func: Callable[[], _T]) -> _T:
        """Run one keyring operation as a locked or hanging keyring would."""
        with self._guard:
            self.inside += 1
            if not self.open.is_set():
                self.hung += 1
                self.most_inside_hung = max(self.most_inside_hung, self.inside)
        try:
            # Bounded, so that a broken run never leaves a thread here for good.
            if not self.open.wait(120.0):
                raise KeyringLocked("the test keyring hung for two minutes")
            if self.locked:
                with self._guard:
                    self.refused += 1
                raise KeyringLocked("Failed to unlock the collection!")
            return func()
        finally:
            with self._guard:
                self.inside -= 1

    def get_password(self, service: str, username: str) -> str | None:
        return self._call(lambda: self.values.get((service, username)))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._call(lambda: self.values.__setitem__((service, username), password))

    def delete_password(self, service: str, username: str) -> None:
        def delete() -> None:
            if self.values.pop((service, username), None) is None:
                raise PasswordDeleteError("not there")

        self._call(delete)


def thread_idents() -> dict[int, str]:
    """Every live thread of this process: ident -> name."""
    return {t.ident: t.name for t in threading.enumerate() if t.ident is not None}


def long_lived(name: str) -> bool:
    """A thread that may outlive a fault: an idle worker of asyncio's executor (reused, capped)
    or the keyring's one worker."""
    return name.startswith("asyncio_") or "keyring" in name.lower()


# ---------------------------------------------------------------------------------- the report
@dataclass
class LifeStats:
    """Figures of one fault kind."""

    injected: int = 0
    survived: int = 0
    live_again_s: list[float] = field(default_factory=list)
    mismatches: int = 0
    dead_tasks: int = 0
    leaked_threads: int = 0


@dataclass
class LifeReport(ChaosReport):
    """A life run's figures: the per-kind table plus the totals every chaos mode shares."""

    life: dict[str, LifeStats] = field(default_factory=dict)
    most_threads_stuck: int = 0  # in a hanging keyring at once
    threads_start: int = 0
    threads_end: int = 0

    @property
    def dead_tasks(self) -> int:
        """Supervised tasks found dead after a fault, in all."""
        return sum(s.dead_tasks for s in self.life.values())

    @property
    def leaked_threads(self) -> int:
        """Threads left behind by a fault, in all."""
        return sum(s.leaked_threads for s in self.life.values())

    @property
    def life_mismatches(self) -> int:
        """State mismatches in all."""
        return sum(s.mismatches for s in self.life.values())

    def table(self) -> str:
        """One line per fault kind, then the totals."""
        head = f"{'fault':<20}{'injected':>9}{'survived':>9}{'live again p50':>16}"
        head += f"{'max':>9}{'mismatches':>11}{'dead tasks':>11}{'leaked threads':>15}"
        lines = [head, "-" * len(head)]
        for kind, s in self.life.items():
            lines.append(
                f"{kind:<20}{s.injected:>9}{s.survived:>9}"
                f"{percentile(s.live_again_s, 0.5):>14.2f} s"
                f"{max(s.live_again_s, default=0):>7.2f} s"
                f"{s.mismatches:>11}{s.dead_tasks:>11}{s.leaked_threads:>15}"
            )
        lines += [
            "-" * len(head),
            f"{'all':<20}{sum(s.injected for s in self.life.values()):>9}"
            f"{sum(s.survived for s in self.life.values()):>9}{'':>25}"
            f"{self.life_mismatches:>11}{self.dead_tasks:>11}{self.leaked_threads:>15}",
            "",
            f"threads: {self.threads_start} at the start, {self.threads_end} at the end; most "
            f"stuck in a hanging keyring at once: {self.most_threads_stuck}",
        ]
        return "\n".join(lines + self.footer())
