"""A logging filter that keeps secrets out of every log line, whoever wrote it.

Our own modules never log tokens, codes or URLs with query strings; third-party libraries
(httpx, httpcore, websockets) might at DEBUG. This filter on the root handler is the backstop
the house rules ask for: Authorization headers, bearer/basic credentials, OAuth parameters in
query strings or form bodies, and JSON token fields are replaced by ``[redacted]``.
"""

from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

MASK = "[redacted]"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer xyz / Basic xyz (headers printed as text, dicts or tuples)
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=,]\s*\(?['\"]?)(bearer|basic)\s+[^\s'\",)]+"),
        rf"\1\2 {MASK}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    # OAuth parameters in URLs and form bodies
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|id_token|code|code_verifier|client_secret|"
            r"state|password|token)=[^&\s'\"]+"
        ),
        rf"\1={MASK}",
    ),
    # JSON bodies, and Python dicts printed with repr() (single quotes)
    (
        re.compile(
            r"(?i)(([\"'])(?:access_token|refresh_token|id_token|code|code_verifier|"
            r"client_secret|password)\2\s*:\s*([\"']))(?:(?!\3).)*\3"
        ),
        rf"\1{MASK}\3",
    ),
)


def redact(text: str) -> str:
    """``text`` with every credential-looking part masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's final message (arguments included), then lets it through."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not take logging down
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install(handler: logging.Handler | None = None) -> RedactingFilter:
    """Put the filter on ``handler`` (default: every handler of the root logger)."""
    flt = RedactingFilter()
    targets = [handler] if handler is not None else logging.getLogger().handlers
    for target in targets:
        target.addFilter(flt)
    return flt
