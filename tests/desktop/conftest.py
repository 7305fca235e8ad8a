"""Fixtures that hand desktop tests the services of the test bed (tests/testbed/run.sh).

Why the skip/fail split: a developer running plain ``pytest`` without the bed should see these
tests skipped with the reason, but under the bed or in CI (``CI_DESKTOP=1`` or ``CI`` set) a
missing service means the bed is broken, and that must fail rather than pass as "skipped".

The checks only ask whether a service is there (``NameHasOwner`` never D-Bus-activates anything,
so they cannot start a locked keyring that would prompt, recipe gotcha G5).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from jeepney import new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from tests.desktop.bed import NOTIFICATIONS, RECORDER_SERVER_NAME, SECRETS_BUS_NAME, QtProbe

REPO = Path(__file__).resolve().parents[2]
X_TIMEOUT_S = 10
PROBE_TIMEOUT_S = 60


def bed_required() -> bool:
    """True under the test bed or in CI, where a missing service is a failure."""
    return os.environ.get("CI_DESKTOP") == "1" or os.environ.get("CI", "") not in ("", "0", "false")


def missing(reason: str) -> NoReturn:
    """Fail (bed/CI) or skip (plain developer run) because a desktop service is absent."""
    if bed_required():
        pytest.fail(f"desktop test bed: {reason} (CI_DESKTOP=1: a missing service is a failure)")
    pytest.skip(f"desktop test bed: {reason}; `make test` starts one")


@pytest.fixture(scope="session")
def x_display() -> str:
    """The X display of the bed's Xvfb, checked to accept connections."""
    display = os.environ.get("DISPLAY", "")
    if not display:
        missing("DISPLAY is not set (no Xvfb)")
    if shutil.which("xwininfo") is None:
        missing("xwininfo (Debian x11-utils) is not installed")
    proc = subprocess.run(
        ["xwininfo", "-root"], capture_output=True, text=True, timeout=X_TIMEOUT_S, check=False
    )
    if proc.returncode != 0:
        missing(f"cannot connect to X display {display}: {proc.stderr.strip()}")
    return display


@pytest.fixture(scope="session")
def tray_host(x_display: str) -> str:
    """The bed's XEmbed tray host (trayer) is mapped on the display."""
    proc = subprocess.run(
        ["xwininfo", "-root", "-children"],
        capture_output=True,
        text=True,
        timeout=X_TIMEOUT_S,
        check=False,
    )
    if '"trayer")' not in proc.stdout:
        missing(f"no trayer window on {x_display}")
    return x_display


@pytest.fixture
def session_bus() -> Iterator[DBusConnection]:
    """A jeepney connection to the bed's private session bus, closed after the test."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    if not address or "/nonexistent" in address:
        missing("DBUS_SESSION_BUS_ADDRESS is not set (no private session bus)")
    try:
        conn = open_dbus_connection(bus="SESSION")
    except OSError as exc:
        missing(f"cannot connect to the session bus {address}: {exc}")
    with conn:
        yield conn


def has_owner(conn: DBusConnection, name: str) -> bool:
    """Whether ``name`` is owned on the bus right now (never activates it)."""
    return bool(conn.send_and_get_reply(message_bus.NameHasOwner(name), timeout=5).body[0])


@pytest.fixture
def notify_recorder(session_bus: DBusConnection) -> Path:
    """The recorder's JSON-lines log, once the recorder is checked to own the name."""
    log = os.environ.get("NOTIFY_RECORDER_LOG", "")
    if not log:
        missing("NOTIFY_RECORDER_LOG is not set")
    if not has_owner(session_bus, NOTIFICATIONS.bus_name):
        missing("nobody owns org.freedesktop.Notifications")
    reply = session_bus.send_and_get_reply(
        new_method_call(NOTIFICATIONS, "GetServerInformation"), timeout=5
    )
    if reply.body[0] != RECORDER_SERVER_NAME:
        missing(f"org.freedesktop.Notifications is {reply.body[0]!r}, not the test recorder")
    if not Path(log).is_file():
        missing(f"the recorder's log {log} does not exist")
    return Path(log)


@pytest.fixture
def secret_service(session_bus: DBusConnection) -> str:
    """The bus name of a running (already unlocked by the bed) Secret Service."""
    if not has_owner(session_bus, SECRETS_BUS_NAME):
        missing(f"no Secret Service (gnome-keyring-daemon) owns {SECRETS_BUS_NAME}")
    return SECRETS_BUS_NAME


@pytest.fixture
def qt_probe(x_display: str) -> QtProbe:
    """Run ``tests/desktop/qt_probe.py`` on xcb in a subprocess and return its JSON result."""

    def run(*args: str) -> dict[str, Any]:
        env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": x_display}
        proc = subprocess.run(
            [sys.executable, "-m", "tests.desktop.qt_probe", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
        assert proc.returncode == 0, f"qt_probe {args} exited {proc.returncode}:\n{proc.stderr}"
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        result["stderr"] = proc.stderr
        return result

    return run


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    """Tests marked ``qt_loop`` run on qasync's loop over the suite's QApplication (the app's
    own loop); every other desktop test keeps a plain asyncio loop."""
    if item.get_closest_marker("qt_loop") is None:
        import asyncio

        return {"asyncio": asyncio.new_event_loop}
    import qasync
    from PySide6.QtWidgets import QApplication

    return {"qasync": lambda: qasync.QEventLoop(QApplication.instance() or QApplication([]))}
