"""Issue 14: the shapes of secrets the log redaction used to let through, one test per finding."""

from __future__ import annotations

import json
import logging

import pytest

from core.app.redact import MASK, RedactingFilter, redact

SECRET = "Zq9sEcReT7vAlue0x"
OTHER = "Pw4nOtHeR8sEcReT"


def _assert_masked(text: str, *secrets: str) -> str:
    cleaned = redact(text)
    for secret in secrets or (SECRET,):
        assert secret not in cleaned, cleaned
    assert MASK in cleaned, cleaned
    assert redact(cleaned) == cleaned, "redacting twice must change nothing"
    return cleaned


@pytest.mark.parametrize(
    "text",
    [
        f'{{"accessToken": "{SECRET}", "expiresIn": 3600}}',
        f"{{'refreshToken': '{SECRET}'}}",
        f'{{"idToken":"{SECRET}"}}',
        f'{{"clientSecret": "{SECRET}"}}',
        f'{{"codeVerifier": "{SECRET}"}}',
        f"GET /x?accessToken={SECRET}&b=1",
        f"refreshToken={SECRET}",
    ],
)
def test_camel_case_keys_are_masked(text: str) -> None:
    _assert_masked(text)


@pytest.mark.parametrize(
    "text",
    [
        f'{{"token": "{SECRET}"}}',
        f"{{'token': '{SECRET}'}}",
        f'{{"state": "{SECRET}", "code": "{OTHER}"}}',
        f"{{'state': '{SECRET}'}}",
    ],
)
def test_the_keys_token_and_state_are_masked(text: str) -> None:
    _assert_masked(text, SECRET, *([OTHER] if OTHER in text else []))


def test_plain_state_and_error_words_stay_readable() -> None:
    """An engine state or a Genesys error code is no credential; the bundle needs them."""
    text = '{"state": "live", "token_type": "bearer", "expires_in": 3600}'
    assert redact(text) == text
    assert redact("grant_type=refresh_token&scope=x") == "grant_type=refresh_token&scope=x"
    assert redact('{"code": "not.authorized", "status": 401}') == (
        '{"code": "not.authorized", "status": 401}'
    )
    # A random state of letters only is still masked: it is longer than any state word.
    _assert_masked('{"state": "abcdefghijklmnopqrstuvwxyzABCDEF"}', "abcdefghijklmnopqrstuvwxyz")
    _assert_masked("GET /cb?state=live", "live")  # in a query string, never kept


@pytest.mark.parametrize(
    "text",
    [
        f"client_secret: {SECRET}",
        f"  clientSecret : {SECRET}\n",
        f"password: {SECRET}",
        f"client_secret = {SECRET}",
        f'client_secret: "{SECRET}"',
        f"token: {SECRET}",
    ],
)
def test_key_colon_value_lines_are_masked(text: str) -> None:
    _assert_masked(text)


@pytest.mark.parametrize(
    "text",
    [
        f"body grant_type%3Dclient_credentials%26client_secret%3D{SECRET}%26scope%3Dx",
        f"next=%2Fcb%3Fcode%3D{SECRET}%26state%3D{OTHER}",
        f"client_secret={SECRET}&grant_type=client_credentials",
        f"b'grant_type=refresh_token&refresh_token={SECRET}'",
    ],
)
def test_url_encoded_forms_are_masked(text: str) -> None:
    cleaned = _assert_masked(text, SECRET, *([OTHER] if OTHER in text else []))
    assert "grant_type" in cleaned or "next=" in cleaned


def test_url_encoded_value_ends_at_the_encoded_ampersand() -> None:
    cleaned = redact(f"a%3Db%26client_secret%3D{SECRET}%26scope%3Dread")
    assert cleaned == f"a%3Db%26client_secret%3D{MASK}%26scope%3Dread"


@pytest.mark.parametrize(
    "text",
    [
        # a JSON body logged inside another JSON string (escaped quotes)
        json.dumps({"body": json.dumps({"access_token": SECRET, "expires_in": 60})}),
        json.dumps({"body": json.dumps({"refreshToken": SECRET})}),
        # a value that contains an escaped quote
        json.dumps({"access_token": f'ab"{SECRET}', "x": 1}),
        json.dumps({"client_secret": f'"{SECRET}"'}),
        # doubly escaped
        json.dumps(json.dumps(json.dumps({"access_token": SECRET}))),
    ],
)
def test_escaped_json_and_escaped_quotes_are_masked(text: str) -> None:
    _assert_masked(text)


def test_escaped_json_keeps_the_fields_around_the_secret() -> None:
    text = json.dumps({"body": json.dumps({"access_token": SECRET, "expires_in": 60})})
    cleaned = redact(text)
    assert SECRET not in cleaned and "expires_in" in cleaned and "60" in cleaned


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: {SECRET}",
        f"authorization={SECRET}",
        f"{{'Authorization': '{SECRET}'}}",
        f"[('authorization', '{SECRET}')]",
        f"[(b'authorization', b'{SECRET}')]",
        f"Proxy-Authorization: Digest {SECRET}",
        f"Authorization: Bearer {SECRET}",
        f"Cookie: sid={SECRET}; theme=dark",
        f"Set-Cookie: sid={SECRET}; Path=/; HttpOnly",
        f"{{'Cookie': 'a=1; sid={SECRET}'}}",
        f"[(b'cookie', b'sid={SECRET}')]",
    ],
)
def test_bare_authorization_and_cookie_headers_are_masked(text: str) -> None:
    _assert_masked(text)


def test_a_cookie_header_is_masked_to_the_end_of_its_line_only() -> None:
    cleaned = redact(f"Cookie: sid={SECRET}; b={OTHER}\nnext line stays")
    assert cleaned == f"Cookie: {MASK}\nnext line stays"


@pytest.mark.parametrize(
    "text",
    [
        f"subscribed streaming-0-{SECRET.lower()}",
        f"GET /api/v2/notifications/channels/streaming-3-{SECRET.lower()}/subscriptions",
        f'{{"id": "streaming-12-{SECRET.lower()}"}}',
        f"wss://streaming.mypurecloud.de/channels/{SECRET}",
        f'{{"connectUri": "wss://streaming.usw2.pure.cloud/channels/{SECRET}"}}',
        f"ws://127.0.0.1:8123/channels/{SECRET}?x=1",
        f"InvalidURI('http://evil.example/channels/{SECRET}', \"scheme isn't ws or wss\")",
    ],
)
def test_channel_ids_and_connect_uris_are_masked(text: str) -> None:
    _assert_masked(text, SECRET, SECRET.lower())


def test_a_connect_uri_keeps_its_host_for_the_reader() -> None:
    cleaned = redact(f"connecting to wss://streaming.mypurecloud.de/channels/{SECRET} now")
    assert cleaned == f"connecting to wss://streaming.mypurecloud.de/{MASK} now"


def test_the_filter_masks_arguments_formatted_with_repr() -> None:
    record = logging.LogRecord(
        "core.streaming.shard",
        logging.WARNING,
        __file__,
        1,
        "channel shard %d: connection failed: %r",
        (1, ValueError(f"wss://h/channels/streaming-1-{SECRET.lower()}", {"token": SECRET})),
        None,
    )
    assert RedactingFilter().filter(record)
    message = record.getMessage()
    assert SECRET not in message and SECRET.lower() not in message and MASK in message
