"""A logging filter that keeps secrets out of every log line, whoever wrote it.

Our own modules never log tokens, codes or URLs with query strings; third-party libraries
(httpx, httpcore, websockets) might at DEBUG, and an exception's ``repr`` can carry a URL. This
filter on the root handler is the backstop the house rules ask for. It masks with ``[redacted]``:

- Authorization headers (with or without a scheme) and Cookie / Set-Cookie headers;
- bearer/basic credentials wherever they appear;
- secret-looking keys (``*token``, ``*secret``, ``*secret_access_key``, ``*signature``,
  ``password``, ``code_verifier``, ``code``, ``state``, ``connectUri``; snake_case or camelCase)
  as query or form parameters (plain or URL-encoded), as ``key: value`` lines, and in JSON or
  Python reprs, escaped JSON included;
- notification channel ids and connect URIs: a channel id is the only credential of its socket.

An engine state or an error code (``"state": "live"``, ``"code": "not.found"``) stays readable:
only a value that looks random is masked for those two keys, and only outside query strings.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

logger = logging.getLogger(__name__)

MASK = "[redacted]"
_NOT_MASKED = r"(?!\[redacted\])"
# A key starts a word, or follows a percent-escape (``%26client_secret%3D...``).
_KEY_START = r"(?:(?<![\w-])|(?<=%[0-9a-fA-F]{2}))"
_KEYS = (
    r"[\w-]*?(?:token|secret|password|passwd|api[_-]?key)"
    # AWS: aws_secret_access_key, secret_key, SigV4's Signature / X-Amz-Signature.
    r"|[\w-]*?secret[_-]?(?:access[_-]?)?key|[\w-]*?signature"
    r"|code[_-]?verifier|connect[_-]?uri|code|state"
)
# Keys whose values are often plain words (engine states, error codes): see _keep. A kept word
# has at most 24 letters: OAuth codes and states (ours, the sandbox's) are 32+ random characters.
_WORDY_KEYS = frozenset({"code", "state"})
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z_. -]{0,23}|\d{1,5}")
# A quoted value ends at its quote followed by something that ends a value.
_VALUE_END = r"(?=[\s,;}\])&]|\Z)"

_KEY_VALUE_RE = re.compile(
    rf"(?i)(?P<kq>\\*[\"']?){_KEY_START}(?P<key>{_KEYS})(?P=kq)"
    r"(?P<sep>\s*(?:[:=]|%3[ad])\s*)"
    r"(?:(?P<b>b?)(?P<vq>\\*[\"'])(?P<qval>(?:\\.|[^\\\n])*?)(?:(?P<close>(?P=vq))"
    + _VALUE_END
    + r"|(?=[\r\n]|\Z))"
    + rf"|{_NOT_MASKED}(?P<val>(?:(?!%26)[^\s&'\"\\,;)\]}}<>])+))"
)


def _keep(key: str, sep: str, value: str) -> bool:
    """Whether ``value`` of ``key`` is a plain word worth keeping (never in a query string)."""
    if key.lower() not in _WORDY_KEYS or "=" in sep or "%3" in sep.lower():
        return False
    return _WORD_RE.fullmatch(value) is not None


def _mask_key_value(match: re.Match[str]) -> str:
    key, sep = match["key"], match["sep"]
    head = f"{match['kq']}{key}{match['kq']}{sep}"
    if match["val"] is not None:
        return match[0] if _keep(key, sep, match["val"]) else f"{head}{MASK}"
    if _keep(key, sep, match["qval"]):
        return match[0]
    return f"{head}{match['b']}{match['vq']}{MASK}{match['close'] or ''}"


_AUTH_RE = re.compile(
    r"(?i)(?P<head>authorization(?:\\*['\"]\s*,\s*\(?b?\\*['\"]|\\*['\"]?\s*[:=]\s*(?:b?\\*['\"])?))"
    r"(?:(?P<scheme>bearer|basic|digest|negotiate|ntlm|token|aws4-hmac-sha256)\s+)?[^\s'\"\\,)]+"
)


def _mask_authorization(match: re.Match[str]) -> str:
    scheme = f"{match['scheme']} " if match["scheme"] else ""
    return f"{match['head']}{scheme}{MASK}"


_Replacement = str | Callable[[re.Match[str]], str]
# (words one of which the lowercased text must hold, pattern, replacement): the words skip a
# pattern cheaply on the many lines that cannot match it (every record passes through here).
_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str], _Replacement], ...] = (
    # Connect URIs: keep the scheme and host, mask the path (the channel id) and query.
    (
        ("ws://", "wss://"),
        re.compile(r"(?i)\b(wss?://[^/\s'\"\\<>]+)/[^\s'\"\\<>]*"),
        rf"\1/{MASK}",
    ),
    # A channel id in any URL path, then one standing alone (streaming-<shard>-<random>).
    (
        ("/channels/",),
        re.compile(rf"(?i)(/channels/){_NOT_MASKED}[^/?#\s'\"\\<>]{{8,}}"),
        rf"\1{MASK}",
    ),
    (("streaming-",), re.compile(r"(?i)\b(streaming-\d+-)[a-z0-9]{6,}"), rf"\1{MASK}"),
    # Authorization headers, with or without a scheme (text, dicts, tuples, bytes).
    (("authorization",), _AUTH_RE, _mask_authorization),
    (
        ("bearer", "basic"),
        re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
        rf"\1 {MASK}",
    ),
    # Cookie and Set-Cookie: the whole value (quoted in dicts and tuples, else to the line end).
    (
        ("cookie",),
        re.compile(r"(?i)(?<![\w-])((?:set-)?cookie\\*['\"]\s*[:,]\s*b?\\*['\"])[^'\"\\\r\n]+"),
        rf"\1{MASK}",
    ),
    (
        ("cookie",),
        re.compile(r"(?i)(?<![\w-])((?:set-)?cookie\s*:(?!\s*\[redacted\])\s*)[^'\"\\\r\n]+"),
        rf"\1{MASK}",
    ),
    # Secret keys: query strings, form bodies (URL-encoded too), key: value, JSON and reprs.
    (
        ("token", "secret", "passw", "key", "code", "connect", "state", "signature"),
        _KEY_VALUE_RE,
        _mask_key_value,
    ),
)


def redact(text: str) -> str:
    """``text`` with every credential-looking part masked (applying it twice changes nothing)."""
    lowered = text.lower()
    for words, pattern, replacement in _PATTERNS:
        if any(word in lowered for word in words):
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
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(handler: logging.Handler | None = None) -> RedactingFilter:
    """Put the filter on ``handler`` (default: every handler of the root logger)."""
    flt = RedactingFilter()
    targets = [handler] if handler is not None else logging.getLogger().handlers
    for target in targets:
        target.addFilter(flt)
    return flt
