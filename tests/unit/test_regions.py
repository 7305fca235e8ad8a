"""Environment parsing: every way a person names a region, and the URLs we refuse."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidEnvironmentError
from core.rest.regions import REGIONS, Environment, parse_environment


@pytest.mark.parametrize(
    "text",
    [
        "mypurecloud.de",
        "api.mypurecloud.de",
        "login.mypurecloud.de",
        "https://login.mypurecloud.de/",
        "https://api.mypurecloud.de",
        "eu_central_1",
        "EU-CENTRAL-1",
        "  streaming.mypurecloud.de  ",
    ],
)
def test_every_spelling_of_frankfurt_names_frankfurt(text: str) -> None:
    env = parse_environment(text)
    assert env.region is not None
    assert env.region.key == "eu_central_1"
    assert env.api_base == "https://api.mypurecloud.de"
    assert env.login_base == "https://login.mypurecloud.de"
    assert not env.is_custom


def test_there_are_18_regions_with_distinct_domains() -> None:
    assert len(REGIONS) == 18
    assert len({r.domain for r in REGIONS}) == 18
    for region in REGIONS:
        assert parse_environment(region.domain) == Environment.for_region(region)
        assert parse_environment(region.key).region == region


def test_loopback_base_url_is_used_as_is_for_oauth_and_rest() -> None:
    env = parse_environment("http://127.0.0.1:8765")
    assert env.is_custom and env.is_loopback
    assert env.login_base == env.api_base == "http://127.0.0.1:8765"
    assert parse_environment("http://localhost:9/").api_base == "http://localhost:9"
    assert parse_environment("http://[::1]:9").api_base == "http://[::1]:9"


def test_https_gateway_is_accepted_without_rewriting() -> None:
    env = parse_environment("https://gateway.example.com:8443")
    assert env.is_custom and not env.is_loopback
    assert env.api_base == env.login_base == "https://gateway.example.com:8443"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "No region"),
        ("mypurecloud.xx", "not a Genesys Cloud region"),
        ("http://gateway.example.com", "Plain http"),
        ("http://api.mypurecloud.de", "only reached over https"),
        ("https://127.0.0.1:8765/api/v2", "without a path"),
        ("https://user:pw@example.com", "user name or password"),
        ("https://example.com/?token=abc", "query or fragment"),
        ("ftp://example.com", "http(s) URL"),
        ("http://127.0.0.1:99999", "not a valid URL"),
    ],
)
def test_bad_environments_get_a_clear_message(text: str, fragment: str) -> None:
    with pytest.raises(
        InvalidEnvironmentError, match=fragment.replace("(", r"\(").replace(")", r"\)")
    ):
        parse_environment(text)


@given(st.text(max_size=80))
def test_parsing_never_crashes(text: str) -> None:
    try:
        env = parse_environment(text)
    except InvalidEnvironmentError:
        return
    assert env.api_base.startswith(("http://", "https://"))
    assert not env.api_base.endswith("/")
