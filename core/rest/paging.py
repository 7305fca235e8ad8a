"""Listings over many calls: query values, id batches and paging (genesys-api.md 6.10).

The paging loop is written against a plain ``get(path, params)`` so it guards against a server
that pages forever or hands back the same page without caring how a request is sent or retried.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx

from core.rest.redact import redact_path

logger = logging.getLogger(__name__)

Json = dict[str, Any]
QueryValue = str | int | bool | Sequence[str]
PageGetter = Callable[[str, Mapping[str, str] | httpx.QueryParams], Awaitable[Any]]

MAX_PAGES = 10_000  # no listing of ours is this long; stops a server that pages forever


def query_params(params: Mapping[str, QueryValue] | None) -> dict[str, str]:
    """Query values the way the SDK sends them: lists comma-joined, booleans lower-case."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, int | str):
            out[key] = str(value)
        else:
            out[key] = ",".join(value)
    return out


def chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    """``items`` in batches of at most ``size`` (endpoints cap the ids of one call)."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def unique(items: Iterable[str]) -> list[str]:
    """The non-empty items, first occurrence each, in order."""
    return list(dict.fromkeys(i for i in items if i))


async def paged(
    get: PageGetter,
    path: str,
    params: Mapping[str, QueryValue] | None = None,
    *,
    item_key: str = "entities",
) -> AsyncIterator[Json]:
    """Every item of a paged listing, each page read with ``get(path, params)``.

    Loops ``pageNumber`` 1..``pageCount`` when the listing has ``pageCount``; otherwise
    follows ``nextUri`` (relative, or absolute: only its path and query are used, so the
    token never goes to another host) until it is null or absent. A server that hands back
    a ``nextUri`` already followed, or the same page again, is stopped with a warning.
    """
    base_params = query_params(params)
    shown = redact_path(path)
    page_number = 1
    page = await get(path, {**base_params, "pageNumber": "1"})
    seen_uris: set[str] = set()
    previous_ids: tuple[object, ...] | None = None
    for _ in range(MAX_PAGES):
        listing: Json = page if isinstance(page, dict) else {}
        raw_items = listing.get(item_key)
        items = [i for i in raw_items if isinstance(i, dict)] if isinstance(raw_items, list) else []
        ids = tuple(i.get("id") for i in items)
        if not all(isinstance(i, str) and i for i in ids):
            ids = ()  # without ids a repeat cannot be told from a coincidence
        if previous_ids and ids == previous_ids:
            logger.warning("GET %s repeated page %d; stopping", shown, page_number)
            return
        previous_ids = ids or None
        for item in items:
            yield item
        page_count = listing.get("pageCount")
        if isinstance(page_count, int) and not isinstance(page_count, bool):
            if page_number >= page_count or not items:
                return
            page_number += 1
            page = await get(path, {**base_params, "pageNumber": str(page_number)})
            continue
        next_uri = listing.get("nextUri")
        if not isinstance(next_uri, str) or not next_uri.strip() or not items:
            return
        try:
            target = httpx.URL(next_uri.strip())
        except httpx.InvalidURL:
            logger.warning("GET %s: unusable nextUri; stopping", shown)
            return
        marker = f"{target.path}?{target.query.decode('ascii', 'replace')}"
        if marker in seen_uris:
            logger.warning("GET %s: the server repeated a nextUri; stopping", shown)
            return
        seen_uris.add(marker)
        page_number += 1
        page = await get(target.path, target.params)
    logger.warning("GET %s: more than %d pages; stopping", shown, MAX_PAGES)
