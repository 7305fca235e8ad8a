"""The bed's Xvfb accepts X clients, and Qt's xcb platform plugin can open on it."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.desktop.bed import QtProbe

pytestmark = pytest.mark.desktop


def root_size(display: str) -> tuple[int, int]:
    """Width and height of the root window, as the X server itself reports them."""
    out = subprocess.run(
        ["xwininfo", "-root", "-display", display],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    width = re.search(r"^\s*Width:\s*(\d+)$", out, re.MULTILINE)
    height = re.search(r"^\s*Height:\s*(\d+)$", out, re.MULTILINE)
    assert width and height, f"unexpected xwininfo output:\n{out}"
    return int(width.group(1)), int(height.group(1))


def test_x_server_answers_on_display(x_display: str) -> None:
    """An X client connects to $DISPLAY and sees a real screen."""
    width, height = root_size(x_display)
    assert width >= 640
    assert height >= 480


def test_qt_xcb_opens_the_same_screen(x_display: str, qt_probe: QtProbe) -> None:
    """Qt loads the xcb plugin (its Debian libraries are installed) and sees that screen."""
    result = qt_probe("screen")
    assert result["platform"] == "xcb"
    assert tuple(result["screen"]) == root_size(x_display)
    assert result["qt_messages"] == []
