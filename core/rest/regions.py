"""Genesys Cloud regions and environment parsing (genesys-api.md section 1).

People paste whatever they have: ``mypurecloud.de``, ``api.mypurecloud.de``,
``https://login.mypurecloud.de/``, ``eu_central_1``. All of them name one region, and every host
is derived from its domain. A custom base URL (the sandbox's ``http://127.0.0.1:PORT``) is used
as-is for OAuth and REST, the way the official SDK treats a host without ``api.``, once its host
passed :func:`core.rest.hosts.ascii_host`. A custom host outside the regions' domains and this
machine receives the client secret only when the person confirmed it (``trusted_hosts``).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from core.errors import InvalidEnvironmentError
from core.rest.hosts import ascii_host, escaped, hidden_problem, normalised_hosts

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Region:
    """One Genesys Cloud region."""

    key: str  # SDK enum key, e.g. eu_central_1
    location: str
    domain: str  # e.g. mypurecloud.de


REGIONS: tuple[Region, ...] = (
    Region("us_east_1", "US East (Virginia)", "mypurecloud.com"),
    Region("us_east_2", "US East 2 (FedRAMP)", "use2.us-gov-pure.cloud"),
    Region("us_west_2", "US West (Oregon)", "usw2.pure.cloud"),
    Region("ca_central_1", "Canada (Central)", "cac1.pure.cloud"),
    Region("sa_east_1", "South America (São Paulo)", "sae1.pure.cloud"),
    Region("mx_central_1", "Mexico (Central)", "mxc1.pure.cloud"),
    Region("eu_west_1", "EU (Ireland)", "mypurecloud.ie"),
    Region("eu_west_2", "EU (London)", "euw2.pure.cloud"),
    Region("eu_central_1", "EU (Frankfurt)", "mypurecloud.de"),
    Region("eu_central_2", "EU (Zurich)", "euc2.pure.cloud"),
    Region("eusc_de_east_1", "EU Sovereign Cloud (Germany)", "edee1.eusc-pure.cloud"),
    Region("me_central_1", "Middle East (UAE)", "mec1.pure.cloud"),
    Region("ap_south_1", "Asia Pacific (Mumbai)", "aps1.pure.cloud"),
    Region("ap_northeast_1", "Asia Pacific (Tokyo)", "mypurecloud.jp"),
    Region("ap_northeast_2", "Asia Pacific (Seoul)", "apne2.pure.cloud"),
    Region("ap_northeast_3", "Asia Pacific (Osaka)", "apne3.pure.cloud"),
    Region("ap_southeast_1", "Asia Pacific (Southeast)", "apse1.pure.cloud"),
    Region("ap_southeast_2", "Asia Pacific (Sydney)", "mypurecloud.com.au"),
)
_BY_KEY = {r.key: r for r in REGIONS}
_BY_DOMAIN = {r.domain: r for r in REGIONS}
_HOST_PREFIXES = ("api.", "login.", "apps.", "streaming.")


@dataclass(frozen=True, slots=True)
class Environment:
    """Where OAuth, REST and the notification socket of one org live."""

    name: str
    login_base: str  # e.g. https://login.mypurecloud.de (no trailing slash)
    api_base: str  # e.g. https://api.mypurecloud.de
    region: Region | None = None
    # The person confirmed this custom host may receive the client secret (not part of identity).
    host_confirmed: bool = field(default=False, compare=False)

    @property
    def is_custom(self) -> bool:
        """A base URL that is not one of the 18 regions (the sandbox, a gateway)."""
        return self.region is None

    @property
    def is_loopback(self) -> bool:
        """Whether the API host is this machine (the only place plain http is allowed)."""
        return is_loopback(urlsplit(self.api_base).hostname or "")

    @property
    def host(self) -> str:
        """The API host (ASCII form)."""
        return urlsplit(self.api_base).hostname or ""

    @property
    def may_receive_secret(self) -> bool:
        """Whether a client secret may go here: a Genesys host, this machine, or confirmed."""
        return (
            self.region is not None
            or self.host_confirmed
            or is_loopback(self.host)
            or is_genesys_host(self.host)
        )

    @property
    def storage_key(self) -> str:
        """What keyring entries and channel records are filed under."""
        return self.region.domain if self.region else self.api_base

    @classmethod
    def for_region(cls, region: Region) -> Environment:
        """The standard hosts of a region."""
        return cls(
            name=region.key,
            login_base=f"https://login.{region.domain}",
            api_base=f"https://api.{region.domain}",
            region=region,
        )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (where plain http and ws are allowed)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_genesys_host(host: str) -> bool:
    """True for a region's domain and any host under it (``gateway.mypurecloud.de``)."""
    host = host.lower().rstrip(".")
    return any(host == r.domain or host.endswith("." + r.domain) for r in REGIONS)


def _region_for_host(host: str) -> Region | None:
    host = host.lower().rstrip(".")
    if host in _BY_DOMAIN:
        return _BY_DOMAIN[host]
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and host[len(prefix) :] in _BY_DOMAIN:
            return _BY_DOMAIN[host[len(prefix) :]]
    return None


def parse_environment(text: str, *, trusted_hosts: Iterable[str] = ()) -> Environment:
    """Normalise what a person typed into an :class:`Environment`.

    Args:
        text: a region key or domain, or a base URL.
        trusted_hosts: custom hosts the person confirmed may receive the client secret (a
            host or a base URL each; see :attr:`Environment.may_receive_secret`).

    Raises:
        InvalidEnvironmentError: with a message that says what is wrong and what would work;
            what was typed is quoted with its hidden characters escaped.
    """
    raw = text.strip()
    if not raw:
        raise InvalidEnvironmentError("No region given. Choose a region such as mypurecloud.de.")
    problem = None if raw.isprintable() else hidden_problem(raw)
    if problem is not None:  # before urlsplit, which drops tabs and newlines without a word
        raise InvalidEnvironmentError(problem)
    key = raw.lower().replace("-", "_")
    if key in _BY_KEY:
        return Environment.for_region(_BY_KEY[key])
    if "://" not in raw:
        region = _region_for_host(raw.rstrip("/"))
        if region is not None:
            return Environment.for_region(region)
        raise InvalidEnvironmentError(
            f"'{escaped(raw)}' is not a Genesys Cloud region. Use a region such as "
            "mypurecloud.de or eu_central_1, or a full base URL such as http://127.0.0.1:8765."
        )
    return _parse_url(raw, trusted_hosts)


def _port(raw: str, netloc: str) -> int | None:
    """The URL's port; a missing one is None, anything but 1..65535 is refused."""
    _, colon, digits = netloc.rpartition("]")[2].rpartition(":")
    if not colon:
        return None
    if not digits.isascii() or not digits.isdigit() or not 1 <= int(digits) <= 65535:
        raise InvalidEnvironmentError(
            f"'{escaped(raw)}' is not a valid URL: its port must be a number from 1 to 65535."
        )
    return int(digits)


def _parse_url(raw: str, trusted_hosts: Iterable[str]) -> Environment:
    try:
        parts = urlsplit(raw)
    except ValueError as exc:
        raise InvalidEnvironmentError(
            f"'{escaped(raw)}' is not a valid URL ({escaped(str(exc), 60)})."
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise InvalidEnvironmentError(f"'{escaped(raw)}' must be an http(s) URL with a host.")
    if "@" in parts.netloc:
        raise InvalidEnvironmentError("The URL must not contain a user name or password.")
    port = _port(raw, parts.netloc)
    host = ascii_host(parts.hostname or "")
    if parts.query or parts.fragment:
        raise InvalidEnvironmentError("The URL must not contain a query or fragment.")
    if parts.path not in ("", "/"):
        raise InvalidEnvironmentError(f"'{escaped(raw)}' must be a base URL without a path.")
    region = _region_for_host(host)
    if region is not None:
        if scheme != "https":
            raise InvalidEnvironmentError("Genesys Cloud regions are only reached over https.")
        return Environment.for_region(region)
    if scheme == "http" and not is_loopback(host):
        raise InvalidEnvironmentError(
            "Plain http is only allowed for this machine (127.0.0.1 or localhost); "
            "use https for any other host."
        )
    netloc = f"[{host}]" if ":" in host else host
    base = f"{scheme}://{netloc}" + (f":{port}" if port is not None else "")
    confirmed = host in normalised_hosts(trusted_hosts)
    return Environment(
        name=base, login_base=base, api_base=base, region=None, host_confirmed=confirmed
    )
