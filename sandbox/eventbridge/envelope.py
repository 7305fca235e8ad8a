"""The EventBridge event as Genesys' partner source puts it and an SQS target stores it.

shared/genesys-eventbridge-triggers.md 1: ``version`` "0", ``id`` (a UUID per event),
``detail-type`` = the integration's *filter pattern* with ``{id}`` left in, ``source`` =
``aws.partner/genesys.com/cloud/<orgId>/<eventSourceSuffix>``, ``account``, ``time`` (UTC to the
second), ``region``, ``resources`` ``[]`` and ``detail`` = the WebSocket message plus
``timestamp`` (UTC with milliseconds). The SQS body is the whole event as JSON (3.1).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from sandbox.timefmt import iso
from sandbox.variations import Variations

Json = dict[str, Any]

PARTNER_DOMAIN = "genesys.com"
TEST_PARTNER_DOMAIN = "genesys.com.test"  # AWS appends .test for partners under test (1.2)
ENVELOPE_KEYS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)
_PLACEHOLDER = re.escape("{id}")


def source_name(org_id: str, suffix: str, *, test_domain: bool = False) -> str:
    """The partner event source (and so the envelope's ``source``) of one integration."""
    domain = TEST_PARTNER_DOMAIN if test_domain else PARTNER_DOMAIN
    return f"aws.partner/{domain}/cloud/{org_id}/{suffix}"


def filter_regex(pattern: str) -> re.Pattern[str]:
    """A filter pattern as a regex: each ``{id}`` stands for any one dot-free id segment.

    A pattern without placeholders matches exactly that concrete topic (whether Genesys accepts
    concrete ids in ``eventFilter`` is open question 2; the sandbox does).
    """
    return re.compile("^" + re.escape(pattern).replace(_PLACEHOLDER, "[^.?]+") + "$")


def iso_seconds(epoch_s: float) -> str:
    """``2021-06-25T15:11:52Z``: the envelope's ``time``, to the second, no milliseconds."""
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def detail_of(message: Json, event_time: float, variations: Variations) -> Json:
    """The WebSocket message plus ``timestamp``; the message's own keys keep their order."""
    items = list(message.items())
    position = len(items)
    if variations.on and variations.config.shuffle_keys:
        position = variations.rng.randint(0, len(items))
    items.insert(position, ("timestamp", iso(event_time)))
    return dict(items)


def build_envelope(
    *,
    envelope_id: str,
    pattern: str,
    source: str,
    account: str,
    region: str,
    event_time: float,
    message: Json,
    variations: Variations,
) -> Json:
    """One full envelope; with variations on, keys in any order and ``account`` sometimes absent.

    ``account`` is always in a real delivery, but moto's EventBridge leaves it out (4.3), so a
    client must not need it.
    """
    values: Json = {
        "version": "0",
        "id": envelope_id,
        "detail-type": pattern,
        "source": source,
        "account": account,
        "time": iso_seconds(event_time),
        "region": region,
        "resources": [],
        "detail": detail_of(message, event_time, variations),
    }
    keys = list(ENVELOPE_KEYS)
    if variations.chance(variations.config.eventbridge_account_drop_rate):
        keys.remove("account")
    if variations.on and variations.config.shuffle_keys:
        variations.rng.shuffle(keys)
    return {key: values[key] for key in keys}


def dumps(envelope: Json) -> str:
    """The SQS message body: the whole event, compact JSON."""
    return json.dumps(envelope, separators=(",", ":"))
