"""Where the SQS client comes from: the endpoint, the region and the AWS credentials.

Credentials follow the standard AWS chain (environment, shared config and profiles, SSO) through
aiobotocore's session, with an optional profile name. A person who has no AWS setup can keep one
access key in the OS keyring (never in settings or logs): it is read through the app's
:class:`~core.auth.credentials.CredentialStore` just before the client is made. The endpoint
honours ``AWS_ENDPOINT_URL_SQS`` (and ``AWS_ENDPOINT_URL``), and plain http is accepted only for a
loopback host (a local test server), because SQS requests carry signed credentials.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core.auth.credentials import CredentialStore
from core.errors import GenesysTrayError

if TYPE_CHECKING:
    from types_aiobotocore_sqs.client import SQSClient

logger = logging.getLogger(__name__)

# Keyring entry names of the optional access key (names, not secrets).
ACCESS_KEY_ID = "aws_access_key_id"
SECRET_ACCESS_KEY = "aws_secret_access_key"  # noqa: S105
SESSION_TOKEN = "aws_session_token"  # noqa: S105
ENDPOINT_ENV = ("AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL")
LOOPBACK_REGION = "us-east-1"  # a local server does not care; botocore needs one
_AWS_QUEUE_HOST = re.compile(r"^sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$", re.IGNORECASE)
_LEGACY_QUEUE_HOST = re.compile(r"^([a-z0-9-]+)\.queue\.amazonaws\.com$", re.IGNORECASE)


class AwsSetupError(GenesysTrayError, ValueError):
    """The EventBridge queue's address or the AWS setup cannot be used, in plain words."""


@dataclass(frozen=True, slots=True)
class SqsTarget:
    """Where to send SQS requests for one queue."""

    queue_url: str
    region: str | None  # None: the AWS chain's region (profile, AWS_REGION ...)
    endpoint_url: str | None  # None: AWS's own endpoint for the region


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_url(url: str, what: str) -> tuple[str, str]:
    """(scheme, host) of ``url``; refuses plain http anywhere but loopback."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in ("https", "http") or not host:
        raise AwsSetupError(f"The {what} is not a web address (it should start with https://).")
    if scheme == "http" and not is_loopback(host):
        raise AwsSetupError(
            f"The {what} uses plain http, which would send AWS credentials unprotected; "
            "use https (plain http is accepted only for this computer's own test server)."
        )
    return scheme, host


def resolve_target(
    queue_url: str,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> SqsTarget:
    """The region and endpoint for ``queue_url`` (pure: the environment is passed in).

    Endpoint: ``endpoint_url``, else ``AWS_ENDPOINT_URL_SQS`` / ``AWS_ENDPOINT_URL``, else the
    queue URL's own origin when it is not an AWS host, else AWS's default. Region: ``region``,
    else the one in an AWS queue URL (``https://sqs.<region>.amazonaws.com/<account>/<name>``),
    else the AWS chain's, or us-east-1 for a local server.
    """
    env = os.environ if environ is None else environ
    scheme, host = _checked_url(queue_url, "EventBridge queue address")
    aws = _AWS_QUEUE_HOST.match(host) or _LEGACY_QUEUE_HOST.match(host)
    endpoint = endpoint_url or next((env[k] for k in ENDPOINT_ENV if env.get(k)), None)
    if endpoint:
        _checked_url(endpoint, "SQS endpoint address")
    elif not aws:
        parts = urlsplit(queue_url.strip())
        endpoint = f"{scheme}://{parts.netloc}"
    chosen_region = region or (aws.group(1).lower() if aws else None)
    if chosen_region is None and endpoint and is_loopback(urlsplit(endpoint).hostname or ""):
        chosen_region = LOOPBACK_REGION
    return SqsTarget(queue_url=queue_url.strip(), region=chosen_region, endpoint_url=endpoint)


async def stored_keys(store: CredentialStore | None) -> dict[str, str]:
    """The access key kept in the keyring as client arguments, or nothing (use the AWS chain)."""
    if store is None:
        return {}
    key_id = await store.get(ACCESS_KEY_ID)
    secret = await store.get(SECRET_ACCESS_KEY)
    if not key_id or not secret:
        return {}
    keys = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
    token = await store.get(SESSION_TOKEN)
    if token:
        keys["aws_session_token"] = token
    return keys


async def save_access_key(
    store: CredentialStore, key_id: str, secret: str, session_token: str = ""
) -> None:
    """Keep an access key in the keyring (only there); an empty token removes an old one."""
    if not store.secure:
        raise AwsSetupError(
            "The AWS access key can only be kept in the system keyring, and none is available; "
            "use an AWS profile instead."
        )
    await store.set(ACCESS_KEY_ID, key_id.strip())
    await store.set(SECRET_ACCESS_KEY, secret.strip())
    if session_token:
        await store.set(SESSION_TOKEN, session_token.strip())
    else:
        await store.delete(SESSION_TOKEN)


async def open_sqs_client(
    target: SqsTarget,
    *,
    profile: str | None = None,
    store: CredentialStore | None = None,
    read_timeout_s: float = 40.0,
) -> AbstractAsyncContextManager[SQSClient]:
    """An aiobotocore SQS client (an async context manager) for ``target``.

    Retries are ours (backoff with jitter in the consumer), so botocore tries each call once.
    """
    from aiobotocore.config import AioConfig
    from aiobotocore.session import AioSession

    session = AioSession(profile=profile or None)
    region = target.region or session.get_config_variable("region") or None
    if region is None:
        raise AwsSetupError(
            "No AWS region is known for the EventBridge queue; use the queue's full address "
            "(https://sqs.<region>.amazonaws.com/...) or set a region in your AWS profile."
        )
    config = AioConfig(
        retries={"mode": "standard", "max_attempts": 1},
        connect_timeout=10,
        read_timeout=read_timeout_s,
        max_pool_connections=16,
    )
    kwargs: dict[str, Any] = await stored_keys(store)
    if target.endpoint_url:
        kwargs["endpoint_url"] = target.endpoint_url
    client: AbstractAsyncContextManager[SQSClient] = session.create_client(
        "sqs", region_name=region, config=config, **kwargs
    )
    return client
