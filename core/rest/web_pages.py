"""Links into the Genesys Cloud web app for a queue or a person ("Open in Genesys Cloud").

The web app lives on ``apps.<domain>`` of the org's region (genesys-api.md section 1, community)
and routes with a fragment under ``/directory/``. Genesys documents no stable deep-link scheme,
so the routes below are the best known ones, each with its confidence:

* a person's profile: ``/directory/#/person/<userId>``. High: the address the web app itself
  shows for a profile, seen the same in several regions' public examples.
* a queue: ``/directory/#/admin/admin/organization/_queuesV2/<queueId>``, the queue's page under
  Admin > Queues. Medium: quoted in public tools as the place a queue's id is read from; it
  needs the queue view permission (a supervisor without it sees the web app's own refusal).

An org outside the regions (the demo org, the sandbox, a gateway) has no web app: no link.
"""

from __future__ import annotations

import logging
import re
from typing import Final
from urllib.parse import quote

from core.rest.regions import Environment

logger = logging.getLogger(__name__)

APPS_PREFIX: Final = "apps."
PERSON_ROUTE: Final = "/directory/#/person/{id}"
QUEUE_ROUTE: Final = "/directory/#/admin/admin/organization/_queuesV2/{id}"

# Genesys ids are UUIDs; anything else is not put into a link (no path or fragment tricks).
_ID: Final = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")


def apps_base(env: Environment | None) -> str | None:
    """``https://apps.<domain>`` of the org's region; None for an org outside the regions."""
    if env is None or env.region is None:
        return None
    return f"https://{APPS_PREFIX}{env.region.domain}"


def _page(env: Environment | None, route: str, item_id: str) -> str | None:
    base = apps_base(env)
    if base is None or not _ID.match(item_id):
        return None
    return base + route.format(id=quote(item_id, safe="-"))


def queue_page(env: Environment | None, queue_id: str) -> str | None:
    """The queue's page in the Genesys Cloud web app, or None when there is none."""
    return _page(env, QUEUE_ROUTE, queue_id)


def person_page(env: Environment | None, user_id: str) -> str | None:
    """The person's profile in the Genesys Cloud web app, or None when there is none."""
    return _page(env, PERSON_ROUTE, user_id)
