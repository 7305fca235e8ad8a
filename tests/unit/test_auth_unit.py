"""Pure parts of sign-in: PKCE maths, token expiry maths, secret hiding, credential stores."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import ClassVar

import keyring
import keyring.core
import pytest
from hypothesis import given
from hypothesis import strategies as st
from keyring.backend import KeyringBackend
from keyring.backends import SecretService, fail, null
from keyring.backends.chainer import ChainerBackend
from keyring.errors import KeyringLocked, PasswordDeleteError, PasswordSetError

from core.auth.credentials import (
    CredentialStore,
    KeyringCredentialStore,
    MemoryCredentialStore,
    credential_service_name,
    open_credential_store,
    secure_backend,
)
from core.auth.loopback import LoopbackListener
from core.auth.pkce import (
    PKCE_ALPHABET,
    build_authorize_url,
    code_challenge,
    make_code_verifier,
    make_state,
)
from core.auth.saved_tokens import (
    ENTRY_ACCESS_TOKEN,
    ENTRY_REFRESH_TOKEN,
    delete_token_set,
    load_token_set,
    save_token_set,
)
from core.auth.tokens import RENEW_MARGIN_MAX_S, TokenSet, token_from_body
from core.errors import AuthError, CredentialStoreError, KeyringLockedError, OAuthError
from core.rest.regions import parse_environment

# RFC 7636 appendix B: the verifier is base64url of these 32 octets.
RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
ACCESS = "acc-SECRET-1234567890"
REFRESH = "ref-SECRET-0987654321"
NOT_REMEMBERED = "tokens will not be remembered after you quit"


# ------------------------------------------------------------------------------- fake backends
# Test backends register in keyring's global class registry; viable=False keeps them out of
# keyring's own detection and the chainer in every later test of this process.
class DictKeyring(KeyringBackend):
    """An in-memory backend whose failures a test can switch on."""

    viable = False
    priority = -1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.values: dict[tuple[str, str], str] = {}
        self.fail_with: Exception | None = None
        self.block: threading.Event | None = None

    def _check(self) -> None:
        if self.block is not None:
            self.block.wait(5)
        if self.fail_with is not None:
            raise self.fail_with

    def get_password(self, service: str, username: str) -> str | None:
        self._check()
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._check()
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._check()
        if self.values.pop((service, username), None) is None:
            raise PasswordDeleteError("not there")


class PlaintextKeyring(DictKeyring):
    """Stands in for keyrings.alt.file.PlaintextKeyring (not installed here, on purpose)."""

    __module__ = "keyrings.alt.file"


class FakeChainer(ChainerBackend):
    """A chainer with a fixed member list."""

    viable = False
    priority = -1
    backends: ClassVar[list[KeyringBackend]] = []


def make(backend_class: Callable[[], KeyringBackend]) -> KeyringBackend:
    """Instantiate a keyring backend (their constructors are untyped)."""
    return backend_class()


@pytest.fixture
def restore_keyring() -> Iterator[None]:
    """Put keyring's process-wide backend back after a test that re-detects it."""
    previous = keyring.get_keyring()
    try:
        yield
    finally:
        keyring.set_keyring(previous)


# ------------------------------------------------------------------------------- PKCE
def test_challenge_matches_rfc7636_appendix_b() -> None:
    assert code_challenge(RFC7636_VERIFIER) == RFC7636_CHALLENGE


def test_verifier_has_allowed_length_and_alphabet() -> None:
    verifiers = {make_code_verifier() for _ in range(50)}
    assert len(verifiers) == 50  # fresh each time
    for verifier in verifiers:
        assert 43 <= len(verifier) <= 128
        assert set(verifier) <= set(PKCE_ALPHABET)
        challenge = code_challenge(verifier)
        assert len(challenge) == 43 and "=" not in challenge


@given(st.integers(min_value=43, max_value=128))
def test_verifier_of_any_allowed_length(length: int) -> None:
    verifier = make_code_verifier(length)
    assert len(verifier) == length
    code_challenge(verifier)


@pytest.mark.parametrize("length", [0, 42, 129])
def test_verifier_length_out_of_range_is_refused(length: int) -> None:
    with pytest.raises(ValueError):
        make_code_verifier(length)


@pytest.mark.parametrize("verifier", ["a" * 42, "a" * 129, "a" * 42 + "+", "ä" * 43, ""])
def test_challenge_refuses_invalid_verifiers(verifier: str) -> None:
    with pytest.raises(ValueError):
        code_challenge(verifier)


def test_state_is_unguessable_and_url_safe() -> None:
    states = {make_state() for _ in range(20)}
    assert len(states) == 20
    assert all(len(s) >= 32 and set(s) <= set(PKCE_ALPHABET) for s in states)


def test_authorize_url_has_the_sdk_query_keys() -> None:
    env = parse_environment("mypurecloud.de")
    url = build_authorize_url(
        env, "cid", redirect_uri="http://127.0.0.1:53682/callback", challenge="ch", state="st"
    )
    assert url == (
        "https://login.mypurecloud.de/oauth/authorize?client_id=cid&response_type=code"
        "&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fcallback&code_challenge=ch"
        "&code_challenge_method=S256&state=st"
    )
    with pytest.raises(ValueError, match="together"):
        build_authorize_url(env, "c", redirect_uri="r", challenge="c", state="s", org="acme")


# ------------------------------------------------------------------------------- TokenSet
def test_day_long_token_renews_five_minutes_before_expiry() -> None:
    token = TokenSet(ACCESS, expires_at=86_400.0, issued_at=0.0)
    assert token.renewal_margin_s == RENEW_MARGIN_MAX_S
    assert not token.needs_renewal(86_400.0 - 300.0)
    assert token.needs_renewal(86_400.0 - 299.9)
    assert not token.expired(86_399.9)
    assert token.expired(86_400.0)


def test_short_token_renews_with_ten_percent_left() -> None:
    token = TokenSet(ACCESS, expires_at=1003.0, issued_at=1000.0)  # a 3 s test token
    assert token.renewal_margin_s == pytest.approx(0.3)
    assert not token.needs_renewal(1000.0)
    assert not token.needs_renewal(1002.6)
    assert token.needs_renewal(1002.8)
    assert token.needs_renewal(2000.0)


def test_token_without_issue_time_uses_the_full_margin() -> None:
    token = TokenSet(ACCESS, expires_at=1000.0)
    assert token.lifetime_s is None
    assert token.needs_renewal(1000.0 - 299.0)
    assert not token.needs_renewal(1000.0 - 301.0)


def test_zero_lifetime_token_needs_renewal_at_once() -> None:
    assert TokenSet(ACCESS, expires_at=5.0, issued_at=5.0).needs_renewal(5.0)


def test_repr_and_str_hide_the_secrets() -> None:
    token = TokenSet(ACCESS, 10.0, REFRESH, "pkce", 0.0)
    for text in (repr(token), str(token), f"{token}", f"{token!r}", repr([token])):
        assert ACCESS not in text and REFRESH not in text
        assert "<hidden>" in text and "pkce" in text
    assert "refresh_token=None" in repr(TokenSet(ACCESS, 10.0))


def test_token_answer_parsing_keeps_the_old_refresh_token_if_none_is_sent() -> None:
    body = {"access_token": ACCESS, "expires_in": 60, "token_type": "bearer"}
    token = token_from_body(body, grant="pkce", now=100.0, previous_refresh=REFRESH)
    assert (token.expires_at, token.issued_at, token.refresh_token) == (160.0, 100.0, REFRESH)
    rotated = token_from_body({**body, "refresh_token": "new"}, grant="pkce", now=0.0)
    assert rotated.refresh_token == "new"
    with pytest.raises(OAuthError) as caught:
        token_from_body({"expires_in": 60}, grant="pkce", now=0.0)
    assert caught.value.error == "invalid_response"


@given(st.dictionaries(st.text(max_size=20), st.none() | st.booleans() | st.integers() | st.text()))
def test_token_answer_parsing_never_crashes(body: dict[str, object]) -> None:
    try:
        token = token_from_body(body, grant="pkce", now=0.0)
    except OAuthError:
        return
    assert token.expires_at >= 0


# ------------------------------------------------------------------------------- stores
async def test_memory_store_round_trips_and_forgets() -> None:
    store = MemoryCredentialStore(insecure_reason="because")
    assert not store.secure
    assert store.description == "memory only: because"
    assert await store.get("k") is None
    await store.set("k", "v")
    await store.set("k", "w")
    assert await store.get("k") == "w"
    await store.delete("k")
    await store.delete("k")  # missing is fine
    assert await store.get("k") is None and store.keys() == frozenset()


async def test_token_set_round_trips_through_a_store() -> None:
    store = MemoryCredentialStore()
    with_refresh = TokenSet(ACCESS, 1234.5, REFRESH, "pkce", 1000.25)
    await save_token_set(store, with_refresh)
    assert await load_token_set(store) == with_refresh
    without = TokenSet("other", 99.0, None, "client_credentials", None)
    await save_token_set(store, without)
    assert ENTRY_REFRESH_TOKEN not in set(store.keys())  # only stored while one exists
    assert await load_token_set(store) == without
    await store.set("user_id", "u-1")
    await delete_token_set(store)
    assert store.keys() == frozenset()
    assert await load_token_set(store) is None


async def test_incomplete_remembered_session_is_ignored() -> None:
    store = MemoryCredentialStore()
    await store.set(ENTRY_ACCESS_TOKEN, ACCESS)
    assert await load_token_set(store) is None


def test_both_stores_satisfy_the_port() -> None:
    stores: list[CredentialStore] = [
        MemoryCredentialStore(),
        KeyringCredentialStore("svc", backend=DictKeyring()),
    ]
    assert [s.secure for s in stores] == [False, False]


def test_service_name_carries_region_and_client() -> None:
    assert (
        credential_service_name(parse_environment("eu_central_1"), "cid")
        == "genesys-tray/mypurecloud.de/cid"
    )
    sandbox = parse_environment("http://127.0.0.1:8765")
    assert credential_service_name(sandbox, "x") == "genesys-tray/http://127.0.0.1:8765/x"


@pytest.mark.parametrize(
    ("backend", "name"),
    [
        (make(fail.Keyring), "keyring.backends.fail.Keyring"),
        (make(null.Keyring), "keyring.backends.null.Keyring"),
        (PlaintextKeyring(), "keyrings.alt.file.PlaintextKeyring"),
        (DictKeyring(), "tests.unit.test_auth_unit.DictKeyring"),
    ],
)
def test_insecure_backends_give_a_memory_store_with_a_reason(
    backend: KeyringBackend, name: str
) -> None:
    store = open_credential_store("svc", backend=backend)
    assert isinstance(store, MemoryCredentialStore)
    assert not store.secure
    assert store.insecure_reason == f"no secure keyring backend ({name}): {NOT_REMEMBERED}"
    assert NOT_REMEMBERED in store.description


@pytest.mark.parametrize("name", ["keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"])
def test_backend_chosen_by_environment_variable_is_judged(
    monkeypatch: pytest.MonkeyPatch, restore_keyring: None, name: str
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", name)
    keyring.core.init_backend()
    store = open_credential_store("svc")
    assert isinstance(store, MemoryCredentialStore)
    assert store.insecure_reason == f"no secure keyring backend ({name}): {NOT_REMEMBERED}"


def test_unloadable_backend_gives_a_memory_store(
    monkeypatch: pytest.MonkeyPatch, restore_keyring: None
) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)  # detect again on the next get
    store = open_credential_store("svc")
    assert isinstance(store, MemoryCredentialStore)
    assert NOT_REMEMBERED in store.insecure_reason


def test_chainer_without_a_secure_member_is_refused() -> None:
    FakeChainer.backends = [PlaintextKeyring(), make(null.Keyring)]
    store = open_credential_store("svc", backend=make(FakeChainer))
    assert isinstance(store, MemoryCredentialStore)
    assert "keyrings.alt.file.PlaintextKeyring" in store.insecure_reason


def test_chainer_with_a_secure_member_uses_that_member_directly() -> None:
    secret_service = make(SecretService.Keyring)
    FakeChainer.backends = [PlaintextKeyring(), secret_service]
    assert secure_backend(make(FakeChainer)) is secret_service
    store = open_credential_store("svc", backend=make(FakeChainer))
    assert isinstance(store, KeyringCredentialStore)
    assert store.backend is secret_service and store.secure
    assert "SecretService" in store.description


async def test_keyring_store_translates_keyring_errors() -> None:
    backend = DictKeyring()
    store = KeyringCredentialStore("svc", backend=backend)
    assert not store.secure  # judged honestly even when built directly
    await store.set("k", "v")
    assert await store.get("k") == "v"
    await store.delete("k")
    await store.delete("k")  # PasswordDeleteError for a missing entry is swallowed
    backend.fail_with = KeyringLocked("Failed to unlock the collection!")
    with pytest.raises(KeyringLockedError, match="keyring is locked, so the saved sign-in could"):
        await store.get("k")
    backend.fail_with = PasswordSetError("echoing the-value")
    with pytest.raises(CredentialStoreError) as caught:
        await store.set("k", "the-value")
    assert "the-value" not in str(caught.value)


async def test_keyring_store_times_out_on_a_hung_keyring() -> None:
    backend = DictKeyring()
    backend.block = threading.Event()
    store = KeyringCredentialStore("svc", backend=backend, timeout_s=0.05)
    try:
        with pytest.raises(CredentialStoreError, match="did not answer"):
            await store.get("k")
    finally:
        backend.block.set()
        await asyncio.sleep(0)


# ------------------------------------------------------------------------------- loopback parser
@given(st.binary(max_size=300) | st.text(max_size=200).map(lambda t: f"GET {t} HTTP/1.1".encode()))
def test_redirect_request_parser_never_crashes(head: bytes) -> None:
    """Whatever reaches the loopback port, the answer is a page and at most a failed sign-in."""

    async def run() -> None:
        listener = LoopbackListener("state-xyz")
        listener._result = asyncio.get_running_loop().create_future()  # as start() does
        status, _, _ = listener._answer(head + b"\r\n\r\n")
        assert status in (200, 400, 404, 405, 410)
        if listener._result.done() and listener._result.exception() is not None:
            assert isinstance(listener._result.exception(), AuthError)

    asyncio.run(run())
