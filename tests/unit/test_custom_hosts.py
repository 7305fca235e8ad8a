"""Custom hosts are checked, and a client secret goes to a foreign host only when confirmed.

Issue 14: ``https://a<img src=x>`` and bidi host names were accepted, and any custom https host
received the client secret. A typed base URL must name a real host (valid after IDNA encoding,
no markup, space, control or direction character, no user name, no path, a port in range), and
a host outside Genesys Cloud (and not this machine) gets the secret only after the person said
so: in the welcome dialog, or with ``listen --trust-host HOST``.
"""

from __future__ import annotations

import argparse
import io
import os

import httpx
import pytest

from core.app import bootstrap
from core.auth.credentials import MemoryCredentialStore
from core.auth.session import Authenticator
from core.auth.token_http import TokenHttpClient
from core.cli.options import ListenOptions, add_listen_parser
from core.cli.process import EXIT_USAGE
from core.cli.run import run_listen
from core.errors import AuthError, InvalidEnvironmentError, OAuthError
from core.rest.hosts import UnconfirmedHostError, ascii_host, escaped
from core.rest.regions import is_genesys_host, parse_environment
from core.storage.settings.codec import profile_to_json, read_profile
from core.storage.settings.model import Profile

HIDDEN = ("\u202e", "\u202c", "\u2066", "\n", "\r", "\x1b", "\t")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("https://a<img src=x>", "markup"),
        ('https://a"b.example', "markup"),
        ("https://exa\u202eelpmaxe.com", "hidden"),
        ("https://gateway\u2066.example.com", "hidden"),
        ("https://gate\nway.example.com", "hidden"),  # urlsplit would drop the newline silently
        ("https://gate\tway.example.com", "hidden"),
        ("https://gate way.example.com", "space"),
        ("https://gate\u00a0way.example.com", "hidden"),
        ("https://gate_way.example.com", "not a valid host name"),
        ("https://-gateway.example.com", "not a valid host name"),
        ("https://" + "a" * 64 + ".example.com", "not a valid host name"),
        ("https://" + ".".join(["abcdefgh"] * 40), "not a valid host name"),
        ("https://%3Cimg%3E.example.com", "not a valid host name"),
        ("https://999.1.1.1", "not a valid host name"),
        ("https://gateway.example.com:0", "port"),
        ("https://gateway.example.com:70000", "port"),
        ("https://gateway.example.com:https", "port"),
        ("https://user:pw@gateway.example.com", "user name"),
        ("https://gateway.example.com/api", "path"),
        ("http://gateway.example.com", "Plain http"),
        ("mypurecloud.de\u202e", "hidden"),
    ],
)
def test_a_bad_custom_host_is_refused_in_plain_words(text: str, fragment: str) -> None:
    with pytest.raises(InvalidEnvironmentError) as caught:
        parse_environment(text)
    message = str(caught.value)
    assert fragment in message
    assert not any(ch in message for ch in HIDDEN), repr(message)  # shown escaped, never raw
    assert message.isprintable()


def test_the_message_names_the_hidden_character_escaped() -> None:
    with pytest.raises(InvalidEnvironmentError, match=r"\\u202e"):
        parse_environment("https://exa\u202eelpmaxe.com")


@pytest.mark.parametrize(
    ("text", "base"),
    [
        ("https://Gateway.Example.com", "https://gateway.example.com"),
        ("https://gateway.example.com.:8443/", "https://gateway.example.com:8443"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),  # shown as what is dialled
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://[::1]:9", "http://[::1]:9"),
        ("http://localhost:9", "http://localhost:9"),
    ],
)
def test_a_good_custom_host_is_used_in_its_ascii_form(text: str, base: str) -> None:
    env = parse_environment(text)
    assert env.api_base == base == env.login_base


def test_helpers_escape_and_encode() -> None:
    assert escaped("a\u202eb\nc") == "a\\u202eb\\u000ac"
    assert len(escaped("x" * 500)) <= 80
    assert ascii_host("BÜCHER.example.") == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("host", "genesys"),
    [
        ("api.mypurecloud.de", True),
        ("mypurecloud.de", True),
        ("gateway.mypurecloud.de", True),
        ("apps.usw2.pure.cloud", True),
        ("mypurecloud.de.evil.example", False),
        ("evilmypurecloud.de", False),
        ("pure.cloud", False),
        ("gateway.example.com", False),
    ],
)
def test_genesys_hosts_are_the_regions_domains(host: str, genesys: bool) -> None:
    assert is_genesys_host(host) is genesys


def test_who_may_receive_the_client_secret() -> None:
    assert parse_environment("mypurecloud.de").may_receive_secret
    assert parse_environment("https://gateway.mypurecloud.de").may_receive_secret
    assert parse_environment("http://127.0.0.1:8765").may_receive_secret
    assert not parse_environment("https://gateway.example.com").may_receive_secret
    trusted = parse_environment(
        "https://Gateway.example.com:8443", trusted_hosts=["gateway.example.com"]
    )
    assert trusted.may_receive_secret
    by_url = parse_environment(
        "https://gateway.example.com", trusted_hosts=["https://gateway.example.com:8443/"]
    )
    assert by_url.may_receive_secret
    other = parse_environment("https://gateway.example.com", trusted_hosts=["example.com"])
    assert not other.may_receive_secret
    # A confirmation does not change where keyring entries are filed.
    assert trusted.storage_key == parse_environment("https://gateway.example.com:8443").storage_key


def _token_server(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600})

    return httpx.MockTransport(handler)


async def test_the_secret_is_not_sent_to_an_unconfirmed_foreign_host() -> None:
    seen: list[httpx.Request] = []
    env = parse_environment("https://gateway.example.com")
    session = Authenticator(
        env,
        "client-id",
        MemoryCredentialStore(),
        client_secret="s3cret",
        transport=_token_server(seen),
    )
    async with session:
        with pytest.raises(UnconfirmedHostError) as caught:
            await session.sign_in_client_credentials()
    assert seen == []  # nothing left this machine
    assert "gateway.example.com is not a Genesys Cloud address" in str(caught.value)
    assert "s3cret" not in str(caught.value)


async def test_the_token_client_refuses_a_secret_in_the_form_too() -> None:
    seen: list[httpx.Request] = []
    client = TokenHttpClient(
        parse_environment("https://gateway.example.com"), transport=_token_server(seen)
    )
    try:
        with pytest.raises(UnconfirmedHostError):
            await client.token({"grant_type": "client_credentials", "client_secret": "s3cret"})
        # A public client's request carries no secret and goes to the host it signs in at.
        await client.token({"grant_type": "refresh_token", "client_id": "c", "refresh_token": "r"})
    finally:
        await client.aclose()
    assert len(seen) == 1


@pytest.mark.parametrize(
    "where", ["https://gateway.example.com", "https://gateway.mypurecloud.de", "mypurecloud.de"]
)
async def test_a_confirmed_or_genesys_host_gets_the_secret(where: str) -> None:
    seen: list[httpx.Request] = []
    env = parse_environment(where, trusted_hosts=["gateway.example.com"])
    session = Authenticator(
        env,
        "client-id",
        MemoryCredentialStore(),
        client_secret="s3cret",
        transport=_token_server(seen),
    )
    async with session:
        await session.sign_in_client_credentials()
    assert len(seen) == 1 and seen[0].headers["Authorization"].startswith("Basic ")


def test_listen_takes_trust_host() -> None:
    parser = argparse.ArgumentParser()
    add_listen_parser(parser.add_subparsers())
    args = parser.parse_args(
        [
            "listen",
            "--environment",
            "https://gateway.example.com",
            "--trust-host",
            "gateway.example.com",
        ]
    )
    assert ListenOptions.from_args(args).trust_hosts == ("gateway.example.com",)
    assert ListenOptions.from_args(parser.parse_args(["listen"])).trust_hosts == ()


def test_a_profile_remembers_its_confirmed_host() -> None:
    profile = Profile(
        "https://gateway.example.com", "cid", "client_credentials", "gateway.example.com"
    )
    assert read_profile(profile_to_json(profile)) == profile
    plain = Profile("mypurecloud.de", "cid")
    assert "trusted_host" not in profile_to_json(plain)  # files of older apps stay as they were
    assert read_profile(profile_to_json(plain)) == plain
    assert read_profile({**profile_to_json(profile), "trusted_host": 7}) == Profile(
        "https://gateway.example.com", "cid", "client_credentials"
    )


def _service_account_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("GENESYS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GENESYS_CLIENT_ID", "svc")
    monkeypatch.setenv("GENESYS_CLIENT_SECRET", "s3cret")
    monkeypatch.setattr(bootstrap, "open_credential_store", lambda _name: MemoryCredentialStore())


async def test_listen_refuses_an_unconfirmed_host_and_names_the_flag(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing reaches the network: the refusal comes before the first request."""
    _service_account_env(monkeypatch)
    options = ListenOptions(environment="https://gateway.example.com", duration=0.1)
    assert await run_listen(options, out=io.StringIO()) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "gateway.example.com is not a Genesys Cloud address" in err
    assert "--trust-host gateway.example.com" in err
    assert "s3cret" not in err


async def test_the_app_asks_again_for_an_unconfirmed_host() -> None:
    """A profile from before the question: the sign-in refuses with an AuthError, which makes
    the app show the welcome dialog again (with this problem) instead of quitting."""
    with pytest.raises(AuthError, match="not a Genesys Cloud address"):
        await bootstrap.build_engine(
            demo=False,
            environment="https://gateway.example.com",
            queues="mine",
            users="mine",
            client_id="svc",
            client_secret="s3cret",
            grant="client_credentials",
            open_store=lambda _name: MemoryCredentialStore(),
        )


@pytest.mark.parametrize("how", ["flag", "variable"])
async def test_a_trusted_host_is_asked_for_its_token(
    monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """With ``--trust-host`` (or ``GENESYS_TRUST_HOST``) the secret goes: the request leaves."""
    _service_account_env(monkeypatch)
    if how == "variable":
        monkeypatch.setenv("GENESYS_TRUST_HOST", "gateway.example.com")
    asked: list[str] = []

    async def unreachable(self: TokenHttpClient, form: object, **_kw: object) -> dict[str, str]:
        asked.append(self.env.host)
        raise OAuthError("invalid_client")

    monkeypatch.setattr(TokenHttpClient, "token", unreachable)
    with pytest.raises(OAuthError):
        await bootstrap.build_engine(
            demo=False,
            environment="https://gateway.example.com",
            queues="mine",
            users="mine",
            trusted_hosts=["gateway.example.com"] if how == "flag" else (),
        )
    assert asked == ["gateway.example.com"]
