"""P6 start-up: ``main.py --demo --minimized`` from launch to its tray icon visible, under Xvfb.

A real desktop in miniature: a private session bus (dbus-daemon), an X server (Xvfb, on a
display it picks itself) and an XEmbed tray host (trayer), all started here and stopped by PID
afterwards, unless BENCH_P6_DISPLAY names a display that already has a trayer (then only that is
used). The app runs on xcb with a fresh HOME/XDG profile of its own, exactly as a person starts
it: it embeds the demo org, signs in, opens its journal and docks its icon.

"Visible" is read from the X server, not from the app: a new window embedded under trayer's
panel (XEmbed puts the icon's window inside a socket window there), bigger than 1x1, whose map
state is IsViewable. Launch time is taken just before the process is spawned. One untimed
launch first (it creates the profile and warms the page cache), then RUNS timed ones; the figure
is their median. The app is stopped with SIGTERM after each launch (its normal staged shutdown).

The import-time profile is one more launch under ``python -X importtime``: every module the real
start-up imports (lazy ones included), the top 15 by cumulative time.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from benchmarks.common import ROOT, median, save_result

RUNS = int(os.environ.get("BENCH_P6_RUNS", "5"))
DEADLINE_S = 30.0
POLL_S = 0.01
PY = sys.executable
APP = ("main.py", "--demo", "--minimized")
WINDOW = re.compile(r"^\s*(0x[0-9a-f]+) (\"[^\"]*\"|\(has no name\)).*?\s(\d+)x(\d+)[+-]")
TRAYER = (  # as tests/testbed/run.sh starts it: a 200x32 panel at the top right
    "trayer --edge top --align right --widthtype pixel --width 200 --heighttype pixel "
    "--height 32 --transparent false"
).split()
ISOLATE = (  # nothing of the caller's desktop session may leak into the measured app
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "DBUS_SESSION_BUS_ADDRESS",
    "QT_QPA_PLATFORMTHEME",
    "QT_STYLE_OVERRIDE",
    "XDG_CURRENT_DESKTOP",
    "SESSION_MANAGER",
    "GENESYS_CLIENT_ID",
    "GENESYS_CLIENT_SECRET",
    "GENESYS_ENVIRONMENT",
)


def x(display: str, *args: str) -> str:
    """Run an X utility (xwininfo) on ``display``; its stdout ("" on failure)."""
    out = subprocess.run(
        [*args, "-display", display], capture_output=True, text=True, timeout=10, check=False
    )
    return out.stdout if out.returncode == 0 else ""


def panel_window(display: str) -> str | None:
    """The id of trayer's panel window (the icons dock inside it), if it is mapped."""
    for line in x(display, "xwininfo", "-root", "-children").splitlines():
        if '("panel" "trayer")' in line:
            return line.split()[0]
    return None


def docked(display: str, panel: str) -> dict[str, tuple[int, int]]:
    """Windows inside the panel, by id: their size."""
    found: dict[str, tuple[int, int]] = {}
    for line in x(display, "xwininfo", "-tree", "-id", panel).splitlines():
        match = WINDOW.match(line)
        if match and match.group(1) != panel:
            found[match.group(1)] = (int(match.group(3)), int(match.group(4)))
    return found


def viewable(display: str, window: str) -> bool:
    """Whether the window is mapped and all its ancestors too."""
    return "IsViewable" in x(display, "xwininfo", "-id", window)


# ------------------------------------------------------------------------------- the desktop
@dataclass
class Desktop:
    """The bus, X display and tray host the app starts on; what this benchmark started."""

    display: str
    bus: str
    workdir: Path
    started: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)


def _read_fd(fd: int, deadline_s: float) -> str:
    """What a service writes on a pipe (its display number or bus address), until a newline."""
    data = b""
    started = time.monotonic()
    while not data.endswith(b"\n") and time.monotonic() - started < deadline_s:
        chunk = os.read(fd, 256)
        if not chunk:
            break
        data += chunk
    os.close(fd)
    return data.decode().strip()


def _spawn(desk: Desktop, name: str, args: list[str], env: dict[str, str]) -> str:
    """Start a service that prints its address on fd 3; keep its process; its address."""
    read, write = os.pipe()
    log = (desk.workdir / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [a.replace("{fd}", str(write)) for a in args],
        pass_fds=(write,),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    os.close(write)
    desk.started.append((name, proc))
    answer = _read_fd(read, 15.0)
    if not answer:
        raise RuntimeError(f"{name} did not start (log: {desk.workdir / name}.log)")
    return answer


def _stop(name: str, proc: subprocess.Popen[Any]) -> None:
    """SIGTERM by PID, up to 5 s, then SIGKILL; reaped."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            print(f"{name} (pid {proc.pid}) ignored SIGTERM; killing it", flush=True)
            proc.kill()
            proc.wait()


@contextmanager
def desktop(workdir: Path) -> Iterator[Desktop]:
    """BENCH_P6_DISPLAY's desktop, or a private dbus-daemon + Xvfb + trayer (stopped after)."""
    given = os.environ.get("BENCH_P6_DISPLAY")
    if given:
        yield Desktop(given, os.environ.get("BENCH_P6_BUS", "unix:path=/nonexistent"), workdir)
        return
    missing = [t for t in ("dbus-daemon", "Xvfb", "trayer", "xwininfo") if not shutil.which(t)]
    if missing:
        raise SystemExit(f"p6_startup needs {', '.join(missing)} (bash .ci/bootstrap.sh test)")
    env = {k: v for k, v in os.environ.items() if k not in ISOLATE and k != "DISPLAY"}
    desk = Desktop("", "", workdir)
    try:
        desk.bus = _spawn(
            desk,
            "dbus-daemon",
            [
                "dbus-daemon",
                "--session",
                "--nofork",
                "--nopidfile",
                f"--address=unix:path={workdir}/bus",
                "--print-address={fd}",
            ],
            env,
        )
        number = _spawn(
            desk,
            "Xvfb",
            ["Xvfb", "-displayfd", "{fd}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
            env,
        )
        desk.display = f":{number}"
        log = (workdir / "trayer.log").open("wb")
        trayer = subprocess.Popen(
            TRAYER,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**env, "DISPLAY": desk.display, "DBUS_SESSION_BUS_ADDRESS": desk.bus},
        )
        desk.started.append(("trayer", trayer))
        started = time.monotonic()
        while panel_window(desk.display) is None:
            if trayer.poll() is not None or time.monotonic() - started > 15:
                raise RuntimeError(f"trayer did not map its panel (log: {workdir}/trayer.log)")
            time.sleep(0.05)
        yield desk
    finally:
        for name, proc in reversed(desk.started):
            _stop(name, proc)


# ------------------------------------------------------------------------------- launches
@dataclass
class Launch:
    """One launch: seconds from spawn to the docked, viewable icon, and to log milestones."""

    tray_s: float
    milestones: dict[str, float]
    stderr: list[str]


MILESTONES = {
    "sandbox_started_s": "sandbox org listening",
    "journal_open_s": "journal: open",
    "engine_starting_s": "engine: starting",
    "engine_live_s": "engine: live",
}


def app_env(desk: Desktop, profile: Path) -> dict[str, str]:
    """The app's environment: this desktop, a profile of its own, xcb."""
    env = {k: v for k, v in os.environ.items() if k not in ISOLATE}
    dirs = {name: profile / name.lower() for name in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    dirs |= {name: profile / name.lower() for name in ("XDG_STATE_HOME", "XDG_CACHE_HOME")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    runtime = profile / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env |= {name: str(path) for name, path in dirs.items()}
    env |= {
        "XDG_RUNTIME_DIR": str(runtime),
        "DISPLAY": desk.display,
        "DBUS_SESSION_BUS_ADDRESS": desk.bus,
        "QT_QPA_PLATFORM": "xcb",
        "GENESYS_TRAY_INSTANCE": f"bench-p6-{os.getpid()}",
        "GENESYS_TRAY_LOG_DIR": str(profile / "log"),
        "PYTHONUNBUFFERED": "1",
    }
    return env


def _collect(stream: IO[str], started: float, lines: list[tuple[float, str]]) -> None:
    for line in stream:
        lines.append((time.perf_counter() - started, line.rstrip("\n")))


def launch(desk: Desktop, env: dict[str, str], *python_options: str) -> Launch:
    """Start the app, wait for its icon in the tray, stop it; the timings."""
    panel = panel_window(desk.display)
    if panel is None:
        raise RuntimeError("trayer's panel is gone")
    before = set(docked(desk.display, panel))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [PY, *python_options, *APP],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines: list[tuple[float, str]] = []
    reader = threading.Thread(target=_collect, args=(proc.stderr, started, lines), daemon=True)
    reader.start()
    tray_s: float | None = None
    try:
        while time.perf_counter() - started < DEADLINE_S and proc.poll() is None:
            fresh = [
                w
                for w, (width, height) in docked(desk.display, panel).items()
                if w not in before and width > 1 and height > 1
            ]
            if fresh and any(viewable(desk.display, w) for w in fresh):
                tray_s = time.perf_counter() - started
                break
            time.sleep(POLL_S)
        time.sleep(0.3)  # let the log say "engine: live" too, for the milestones
    finally:
        _stop("the app", proc)
        reader.join(5)
    if tray_s is None:
        tail = "\n".join(text for _, text in lines[-20:])
        raise RuntimeError(f"no tray icon within {DEADLINE_S} s; the app said:\n{tail}")
    milestones: dict[str, float] = {}
    for key, needle in MILESTONES.items():
        for at, text in lines:
            if needle in text:
                milestones[key] = round(at, 3)
                break
    return Launch(tray_s, milestones, [text for _, text in lines])


def import_profile(lines: list[str], top: int = 15) -> tuple[float, list[dict[str, Any]]]:
    """``-X importtime`` lines → (total import seconds, the ``top`` modules by cumulative time)."""
    rows: list[dict[str, Any]] = []
    total_us = 0
    for line in lines:
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cumulative_us, name = line.split(":", 1)[1].split("|", 2)
        level = (len(name) - len(name.lstrip(" ")) - 1) // 2
        cumulative = int(cumulative_us)
        if level == 0:
            total_us += cumulative
        rows.append(
            {
                "module": name.strip(),
                "cumulative_ms": round(cumulative / 1000, 1),
                "self_ms": round(int(self_us) / 1000, 1),
                "level": level,
            }
        )
    rows.sort(key=lambda r: r["cumulative_ms"], reverse=True)
    return total_us / 1e6, rows[:top]


def main() -> None:
    """A warm-up launch, RUNS timed ones, one under -X importtime; save the figures."""
    with tempfile.TemporaryDirectory(prefix="bench-p6-") as tmp, desktop(Path(tmp)) as desk:
        env = app_env(desk, Path(tmp) / "profile")
        first = launch(desk, env)
        print(f"first launch (new profile): tray icon after {first.tray_s:.3f} s", flush=True)
        runs: list[Launch] = []
        for n in range(RUNS):
            runs.append(launch(desk, env))
            print(f"launch {n + 1}: tray icon after {runs[-1].tray_s:.3f} s", flush=True)
        profiled = launch(desk, env, "-X", "importtime")
        imports_s, top = import_profile(profiled.stderr)
    times = [r.tray_s for r in runs]
    milestones = {
        key: round(median([r.milestones[key] for r in runs if key in r.milestones]), 3)
        for key in MILESTONES
    }
    save_result(
        "p6_startup",
        {
            "command": " ".join(APP),
            "runs": RUNS,
            "tray_visible_median_s": round(median(times), 3),
            "tray_visible_s": [round(t, 3) for t in times],
            "first_launch_new_profile_s": round(first.tray_s, 3),
            "median_milestones_s": milestones,
            "desktop": "given" if os.environ.get("BENCH_P6_DISPLAY") else "Xvfb + trayer + dbus",
            "importtime_launch_tray_s": round(profiled.tray_s, 3),
            "import_total_s": round(imports_s, 3),
            "import_top15": top,
        },
    )


if __name__ == "__main__":
    main()
