"""Server text in Qt widgets that guess the format: shown as written, never as markup.

A tooltip (and a label left on automatic format) renders text that looks like HTML as HTML, so a
presence message ``<b>URGENT</b><img src=...>`` would be styled, or fetch an image. Text that
carries anything the server wrote goes through :func:`plain_tooltip` first.
"""

from __future__ import annotations

import logging

from PySide6.QtGui import Qt

logger = logging.getLogger(__name__)


def plain_tooltip(text: str | None) -> str | None:
    """``text`` as tooltip rich text that reads exactly as written (None and "" pass through).

    Qt decides per tooltip whether it is markup; escaped rich text is the one form it cannot
    misread. Line breaks stay line breaks.
    """
    if not text:
        return text
    return Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal)
