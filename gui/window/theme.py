"""The colour theme: follow the desktop ("system"), or a light or dark Fusion palette.

Applied live to the whole application: ``QApplication.setPalette`` sends every widget an
``ApplicationPaletteChange``, and the monitor window's ``changeEvent`` hook restyles its boards
(presence colours are picked for the palette's lightness, see gui.models.presence_style). "system"
gives
the platform its own style and palette back, so the desktop's light/dark switch is followed again.
Fusion is used for Light and Dark because it draws every control from the palette; native styles
(Windows, macOS) ignore parts of it and would leave light controls on a dark window.
"""

from __future__ import annotations

import logging
from typing import Final

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from core.storage.settings.model import THEMES

logger = logging.getLogger(__name__)

THEME_LABELS: Final = (("system", "System"), ("light", "Light"), ("dark", "Dark"))
THEMED_STYLE: Final = "fusion"
_PLATFORM_STYLE_PROPERTY: Final = "genesysTrayPlatformStyle"  # the style before any theme

_DARK: Final[dict[QPalette.ColorRole, str]] = {
    QPalette.ColorRole.Window: "#2b2b2b",
    QPalette.ColorRole.WindowText: "#e8e8e8",
    QPalette.ColorRole.Base: "#1f1f1f",
    QPalette.ColorRole.AlternateBase: "#292929",
    QPalette.ColorRole.ToolTipBase: "#363636",
    QPalette.ColorRole.ToolTipText: "#e8e8e8",
    QPalette.ColorRole.PlaceholderText: "#8c8c8c",
    QPalette.ColorRole.Text: "#e8e8e8",
    QPalette.ColorRole.Button: "#353535",
    QPalette.ColorRole.ButtonText: "#e8e8e8",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Light: "#474747",
    QPalette.ColorRole.Midlight: "#3c3c3c",
    QPalette.ColorRole.Mid: "#2f2f2f",
    QPalette.ColorRole.Dark: "#1a1a1a",
    QPalette.ColorRole.Shadow: "#0d0d0d",
    QPalette.ColorRole.Highlight: "#2f6fd0",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#6ea8ff",
    QPalette.ColorRole.LinkVisited: "#b48cff",
}
_DARK_DISABLED: Final[dict[QPalette.ColorRole, str]] = {
    QPalette.ColorRole.WindowText: "#7a7a7a",
    QPalette.ColorRole.Text: "#7a7a7a",
    QPalette.ColorRole.ButtonText: "#7a7a7a",
    QPalette.ColorRole.Highlight: "#3d3d3d",
    QPalette.ColorRole.HighlightedText: "#9a9a9a",
}


def dark_palette() -> QPalette:
    """A dark palette with readable disabled text (the stale boards use it)."""
    palette = QPalette()
    for role, colour in _DARK.items():
        palette.setColor(role, QColor(colour))
    for role, colour in _DARK_DISABLED.items():
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(colour))
    return palette


def light_palette() -> QPalette:
    """Fusion's own light palette."""
    style = QStyleFactory.create(THEMED_STYLE)
    palette = style.standardPalette()
    style.deleteLater()
    return palette


def apply_theme(theme: str, qapp: QApplication | None = None) -> None:
    """Switch the whole app to ``theme`` ("system", "light" or "dark") now.

    Raises:
        ValueError: for a theme that is not one of :data:`core.storage.settings.model.THEMES`.
    """
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}; expected one of {', '.join(THEMES)}")
    app = qapp or QApplication.instance()
    if not isinstance(app, QApplication):
        return  # no widgets, nothing to theme
    platform_style = app.property(_PLATFORM_STYLE_PROPERTY)
    if not isinstance(platform_style, str) or not platform_style:
        platform_style = app.style().name()
        app.setProperty(_PLATFORM_STYLE_PROPERTY, platform_style)
    wanted_style = platform_style if theme == "system" else THEMED_STYLE
    if app.style().name().lower() != wanted_style.lower():
        app.setStyle(wanted_style)
    if theme == "system":
        app.setPalette(QPalette())  # an empty palette: the platform's own again
    else:
        app.setPalette(dark_palette() if theme == "dark" else light_palette())
    logger.info("theme: %s", theme)


def is_dark(palette: QPalette) -> bool:
    """Whether a palette draws light text on a dark window."""
    return palette.color(QPalette.ColorRole.Window).lightness() < 128
