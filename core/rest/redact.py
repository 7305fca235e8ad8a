"""What of a request may be logged or put in an error message.

A query string can carry ids and filters, and a channel id is the only credential of its
WebSocket, so paths lose their query and channel ids are shortened before anyone sees them.
"""

from __future__ import annotations

import re

_CHANNEL_ID_RE = re.compile(r"(/channels/)([^/?#]{6})[^/?#]*")
_URL_RE = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#'\"]*)[?#][^\s'\"]*", re.IGNORECASE)


def redact_path(path: str) -> str:
    """The path without its query, with channel ids shortened (safe to log)."""
    bare = path.split("?", 1)[0].split("#", 1)[0]
    return _CHANNEL_ID_RE.sub(r"\1\2…", bare)


def redact_text(text: str) -> str:
    """``text`` with the query and fragment cut from every URL in it (server/httpx messages)."""
    return _URL_RE.sub(r"\1", text)
