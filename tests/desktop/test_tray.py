"""A QSystemTrayIcon docks into the bed's tray host (trayer, XEmbed) and is painted there."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.desktop.bed import QtProbe

pytestmark = pytest.mark.desktop


def test_tray_icon_docks_and_is_visible(tray_host: str, qt_probe: QtProbe) -> None:
    """isSystemTrayAvailable() is True on xcb, and the shown icon gets a real, red area."""
    shot = Path(os.environ.get("ARTIFACTS", "artifacts")) / "desktop" / "tray.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    result = qt_probe("tray", f"genesys-tray test {uuid.uuid4().hex}", str(shot))

    assert result["platform"] == "xcb"
    assert result["available"] is True
    assert result["visible_after_show"] is True
    _x, _y, width, height = result["geometry"]
    assert width > 0 and height > 0, f"the icon never got a geometry: {result}"
    # Pixels grabbed from the screen inside that geometry are the icon's red: it was drawn.
    assert result["red_fraction"] >= 0.2, f"icon not painted in the tray: {result}"
    assert result["qt_messages"] == []
    assert shot.is_file()
