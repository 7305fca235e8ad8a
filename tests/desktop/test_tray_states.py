"""The real TrayController docks into the bed's tray host, and its pixels follow the health.

Runs gui.tray.controller in an xcb subprocess (tests/desktop/qt_probe.py ``tray-states``): the
in-process
QApplication is offscreen, which has no tray. Each step's docked icon is grabbed from the screen
and saved zoomed under $ARTIFACTS/desktop/tray_states/ for a person to look at.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest

from tests.desktop.bed import QtProbe

pytestmark = pytest.mark.desktop

EVERY_LOOK = [
    "live",
    "reconnecting",
    "live",
    "stale",
    "resyncing",
    "starting",
    "sign_in_needed",
    "stopped",
    "live+alerts=3",
    "live+alerts=12",
    "live+alerts=12+paused",
    "reconnecting+snoozed",
]


_RUNS: dict[str, dict[str, Any]] = {}  # one probe run serves every test of this module


@pytest.fixture
def docked(tray_host: str, qt_probe: QtProbe) -> dict[str, Any]:
    """The real tray driven through every look, in this order (the probe runs once)."""
    if "run" not in _RUNS:
        outdir = Path(os.environ.get("ARTIFACTS", "artifacts")) / "desktop" / "tray_states"
        _RUNS["run"] = qt_probe("tray-states", str(outdir), *EVERY_LOOK) | {"outdir": outdir}
    return _RUNS["run"]


def test_tray_icon_docks_with_a_geometry(docked: dict[str, Any]) -> None:
    """On xcb with trayer, the tray is available and our icon gets a real place in it."""
    assert docked["platform"] == "xcb"
    assert docked["available"] is True
    assert docked["shown"] is True
    _x, _y, width, height = docked["steps"][0]["geometry"]
    assert width > 0 and height > 0, docked
    assert docked["qt_messages"] == []


def test_docked_pixels_follow_live_reconnecting_live(docked: dict[str, Any]) -> None:
    """live -> reconnecting -> live: the screen changes each time, and comes back to the same."""
    live, reconnecting, live_again = docked["steps"][:3]
    assert [s["step"] for s in (live, reconnecting, live_again)] == ["live", "reconnecting", "live"]
    for step in (live, reconnecting, live_again):
        assert step["settled"], f"{step['step']} never showed on screen: {step}"
        assert step["colour_fraction"] >= 0.08, step
    assert live["digest"] != reconnecting["digest"] != live_again["digest"]
    assert live_again["digest"] == live["digest"], "the same state should look the same"


def test_every_look_shows_and_is_saved(docked: dict[str, Any]) -> None:
    """Every state and overlay settles on screen, differs from the one before, and is saved."""
    for step in docked["steps"]:
        assert step["settled"], f"{step['step']} never showed on screen: {step}"
        assert (docked["outdir"] / step["screenshot"]).is_file()
    digests = [s["digest"] for s in docked["steps"]]
    assert all(a != b for a, b in itertools.pairwise(digests))
    assert (docked["outdir"] / "screen.png").is_file()
