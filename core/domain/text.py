"""Server text made safe to show: one line, no hidden direction or control characters.

Names, presence labels and messages come from the org's server. A bidi override (U+202E) can
make a name read backwards, and a newline or another control character in a name can fake the
next line of a notification, a feed line or the tray's tooltip. :func:`plain_line` is applied
where such text enters the app's state, so every place that shows it gets the plain form.
"""

from __future__ import annotations

import re
from typing import Final

MAX_LINE: Final = 256
"""The longest a name or message is shown; longer text ends in an ellipsis."""

# Line and paragraph breaks, tabs and the other separators: each run (with the spaces around
# it) becomes one space.
_BREAK_CHARS: Final = r"\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029"
_BREAKS: Final = re.compile(rf"[ {_BREAK_CHARS}]*[{_BREAK_CHARS}][ {_BREAK_CHARS}]*")
# Dropped outright: the other C0 and C1 controls, DEL, and the bidi marks, embeddings,
# overrides and isolates (U+061C, U+200E-200F, U+202A-202E, U+2066-2069).
_DROP: Final = re.compile(
    r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+"
)


def plain_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` as one plain line: no controls or bidi overrides, breaks folded, length capped.

    Plain printable text that fits comes back as it is (the common case costs one check).
    """
    if text.isprintable() and len(text) <= limit:
        return text
    line = _BREAKS.sub(" ", _DROP.sub("", text)).strip()
    if len(line) > limit:
        line = line[: max(0, limit - 1)].rstrip() + "…"
    return line
