"""Is the notification socket URL the server offered really the org's own?

The ``connectUri`` of a channel is where the app opens a long-lived socket that carries every
event; a server (or anything in between) that answers ``ws://`` to another host would get that
stream and the channel id, which is the channel's credential. Outside this machine only
``wss://`` on the environment's own domain family is used (``*.mypurecloud.de`` for
``api.mypurecloud.de``); a loopback environment (the sandbox) may use ``ws://`` on loopback only.
"""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from core.errors import ApiError
from core.rest.regions import Environment, is_loopback

logger = logging.getLogger(__name__)

CODE = "invalid.connect_uri"
_MESSAGE = "The server offered a notification address outside its own domain; it was not used."


def domain_family(env: Environment) -> str:
    """The domain every host of ``env`` lives under: the region's, or a custom host's parent."""
    if env.region is not None:
        return env.region.domain
    host = (urlsplit(env.api_base).hostname or "").lower().rstrip(".")
    labels = host.split(".")
    if len(labels) > 2 and not _is_ip(host):
        return ".".join(labels[1:])
    return host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_connect_uri(uri: str, env: Environment, *, method: str = "", path: str = "") -> str:
    """``uri`` when the socket may be opened there.

    Raises:
        ApiError: code ``invalid.connect_uri``; the message never repeats the URL (it carries
            the channel id).
    """
    try:
        parts = urlsplit(uri)
        _ = parts.port  # a broken port raises here
    except ValueError:
        parts = None
    host = (parts.hostname or "").lower().rstrip(".") if parts is not None else ""
    scheme = parts.scheme.lower() if parts is not None else ""
    ok = bool(host) and parts is not None and not (parts.username or parts.password)
    if ok and env.is_loopback:
        ok = scheme in ("ws", "wss") and is_loopback(host)
    elif ok:
        family = domain_family(env)
        ok = scheme == "wss" and (host == family or host.endswith("." + family))
    if ok:
        return uri
    logger.warning(
        "refused a notification address (scheme %r) outside %s",
        scheme,
        "this machine" if env.is_loopback else domain_family(env),
    )
    raise ApiError(200, _MESSAGE, code=CODE, method=method, path=path)
