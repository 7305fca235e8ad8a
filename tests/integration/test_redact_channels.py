"""Issue 14: a channel's id and connect URI are its credential; no log line may carry them.

A real sandbox channel, real websockets records (its DEBUG handshake lines and an ``InvalidURI``
logged with ``%r`` the way the shard logs a failed connect), through the app's redacting filter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidURI

from core.app.redact import MASK
from tests.integration.helpers import Captured, bearer, redacted_log

CHANNELS = "/api/v2/notifications/channels"


@pytest.fixture
def captured() -> Iterator[Captured]:
    with redacted_log("websockets") as handler:
        yield handler


async def test_channel_ids_and_connect_uris_never_reach_a_log_line(
    http: httpx.AsyncClient, user_token: str, captured: Captured
) -> None:
    resp = await http.post(CHANNELS, headers=bearer(user_token))
    assert resp.status_code == 200, resp.text
    channel = resp.json()
    channel_id, connect_uri = channel["id"], channel["connectUri"]
    assert channel_id.startswith("streaming-") and channel_id in connect_uri

    async with connect(connect_uri, logger=logging.getLogger("websockets.client")) as socket:
        await (await socket.ping())  # the handshake and a round trip were logged
    bad_uri = connect_uri.replace("ws://", "http://", 1)
    with pytest.raises(InvalidURI) as failed:
        await connect(bad_uri)
    shard = logging.getLogger("core.streaming.shard")
    shard.warning("channel shard %d: connection failed: %r", 1, failed.value)
    shard.warning("channel shard %d: %s", 1, failed.value)
    logging.getLogger("core.rest.client").debug("channel answer %s", resp.text)
    logging.getLogger("core.rest.client").debug("channel answer %r", channel)
    logging.getLogger("core.streaming.memory").info("stored %s", channel_id)

    text = "\n".join(captured.lines)
    assert any("websockets" in line for line in captured.lines), "websockets logged nothing"
    assert any("InvalidURI(" in line for line in captured.lines)
    assert channel_id not in text
    assert channel_id.split("-", 2)[2] not in text  # not even the random part alone
    assert connect_uri not in text
    assert MASK in text
