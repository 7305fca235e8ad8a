"""What a typed host may be, how it is quoted back, and the refusal to send a secret abroad.

A custom base URL is typed or pasted by a person (or set in ``GENESYS_ENVIRONMENT``), and its
host is dialled, shown in the welcome dialog and filed in the keyring. So it must be a host
name a resolver would look up (valid after IDNA encoding) or an IP address, never text with
markup, spaces, control or direction characters (``https://a<img src=x>``, a name with U+202E
that reads backwards). A rejected text is quoted back with its hidden characters escaped.

A host outside Genesys Cloud and this machine gets the client secret only when the person
confirmed it (:class:`UnconfirmedHostError` otherwise): the region table that decides what is
Genesys lives in :mod:`core.rest.regions`.
"""

from __future__ import annotations

import ipaddress
import logging
import unicodedata
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

import idna

from core.domain.text import plain_line
from core.errors import AuthError, InvalidEnvironmentError

logger = logging.getLogger(__name__)

QUOTE_LIMIT: Final = 80
"""The longest a rejected text is quoted back."""

_MARKUP: Final = frozenset("<>\"'`&")
# Categories that are invisible or move text around: controls, format (bidi marks, joiners,
# soft hyphens), surrogates, private use, unassigned, and every separator.
_HIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


class UnconfirmedHostError(InvalidEnvironmentError, AuthError):
    """A client secret was about to go to a host outside Genesys Cloud nobody confirmed.

    An environment problem (``listen`` exits 2 and names ``--trust-host``) that only a person
    can settle (an :class:`AuthError`: the app shows the welcome dialog again, which asks).

    Attributes:
        host: the host, in its ASCII form (safe to show).
    """

    def __init__(self, host: str) -> None:
        super().__init__(
            f"{host} is not a Genesys Cloud address, and nobody confirmed that it may receive "
            "the client secret, so it was not sent."
        )
        self.host = host


def _hidden(ch: str) -> bool:
    return ch != " " and unicodedata.category(ch) in _HIDDEN_CATEGORIES


def escaped(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` safe to quote in a message: hidden characters as ``\\uXXXX``, length capped.

    Escaped rather than dropped, so the person sees that something hides in what they pasted.
    """
    shown = "".join(f"\\u{ord(ch):04x}" if _hidden(ch) else ch for ch in text)
    return plain_line(shown, limit)


def hidden_problem(text: str) -> str | None:
    """What is wrong with ``text`` as part of an address, in words; None when nothing is."""
    if any(_hidden(ch) for ch in text):
        return (
            f"The address '{escaped(text)}' contains a hidden control, space or direction "
            "character (shown escaped). Type the address again."
        )
    return None


def ascii_host(host: str) -> str:
    """``host`` as it is dialled: an IP address, or the IDNA (ASCII) form, lowercase, no final dot.

    Raises:
        InvalidEnvironmentError: the host is empty, carries markup, a space, a control or
            direction character, or is not a valid host name; the message quotes it escaped.
    """
    problem = hidden_problem(host)
    if problem is not None:
        raise InvalidEnvironmentError(problem)
    if any(ch in _MARKUP for ch in host):
        raise InvalidEnvironmentError(
            f"The host '{escaped(host)}' contains markup characters such as < or \"; "
            "a host name has letters, digits, dots and hyphens only."
        )
    if " " in host:
        raise InvalidEnvironmentError(f"The host '{escaped(host)}' contains a space.")
    name = host.strip("[]").rstrip(".")
    if not name:
        raise InvalidEnvironmentError("The address has no host name.")
    try:
        return ipaddress.ip_address(name).compressed
    except ValueError:
        pass
    try:
        encoded = idna.encode(name, uts46=True, std3_rules=True, transitional=False).decode()
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidEnvironmentError(
            f"'{escaped(host)}' is not a valid host name ({escaped(str(exc), 60)})."
        ) from None
    if encoded.rsplit(".", 1)[-1].isdigit():  # 999.1.1.1: neither an address nor a name
        raise InvalidEnvironmentError(
            f"'{escaped(host)}' is not a valid host name (nor an IP address)."
        )
    return encoded


def normalised_hosts(hosts: Iterable[str]) -> frozenset[str]:
    """The hosts a person confirmed, in their ASCII form; a base URL counts for its host.

    Anything that is not a valid host is left out (it cannot match a parsed environment).
    """
    found: set[str] = set()
    for item in (hosts,) if isinstance(hosts, str) else hosts:
        if not item.strip():
            continue
        text = item.strip()
        try:
            host = urlsplit(text).hostname if "://" in text else text
            if host:
                found.add(ascii_host(host))
        except (ValueError, InvalidEnvironmentError):
            logger.debug("a confirmed host that is no host was left out")
    return frozenset(found)
