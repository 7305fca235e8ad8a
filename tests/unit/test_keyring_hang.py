"""A hung keyring costs the app at most one thread, and the store works again once it answers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from core.auth.credentials import KeyringCredentialStore
from core.auth.keyring_worker import QUEUE_WAIT_S, KeyringWorker, default_worker
from core.errors import CredentialStoreError

CALLS = 20


@pytest.fixture
def worker() -> Iterator[KeyringWorker]:
    """A worker of the test's own, closed after it: no idle keyring thread outlives the test
    (the chaos run counts keyring threads, and a later file must not find this one)."""
    own = KeyringWorker("test-keyring")
    yield own
    assert own.close(5.0), "the test's keyring thread did not end"


@pytest.fixture(autouse=True)
def _close_default_worker() -> Iterator[None]:
    """The app's shared worker is closed after each test, as the app's shutdown does."""
    yield
    assert default_worker().close(5.0), "the keyring thread did not end"


class HangingKeyring(KeyringBackend):
    """A real backend whose calls block until the test opens ``gate`` (an unanswered prompt)."""

    viable = False  # never picked by keyring's own detection in later tests
    priority = -1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.gate = threading.Event()
        self.entered = threading.Event()  # a call is blocked on the gate
        self.values: dict[tuple[str, str], str] = {}

    def _wait(self) -> None:
        self.entered.set()
        if not self.gate.wait(60):
            raise RuntimeError("the test never opened the gate")

    def get_password(self, service: str, username: str) -> str | None:
        self._wait()
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._wait()
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._wait()
        if self.values.pop((service, username), None) is None:
            raise PasswordDeleteError("not there")


async def test_twenty_timeouts_leak_no_threads_and_the_store_recovers() -> None:
    backend = HangingKeyring()
    store = KeyringCredentialStore("genesys-tray/test-hang", backend=backend, timeout_s=0.05)
    before = threading.active_count()
    messages: list[str] = []
    try:
        for i in range(CALLS):
            with pytest.raises(CredentialStoreError) as caught:
                if i % 2:
                    await store.set("access_token", "secret-value")
                else:
                    await store.get("access_token")
            messages.append(str(caught.value))
        assert threading.active_count() - before <= 1  # one keyring thread, not one per call
        # The app's default executor is not starved: every other to_thread still runs.
        assert await asyncio.wait_for(asyncio.to_thread(lambda: 1), 5) == 1
        assert "did not answer" in messages[0]
        assert all("not answering" in m or "did not answer" in m for m in messages)
        assert all("secret-value" not in m for m in messages)
    finally:
        backend.gate.set()
    # The hung call returns; the keyring thread takes calls again, with no action by anyone
    # (a store with an everyday timeout on the same thread, so a loaded machine cannot flake).
    store = KeyringCredentialStore("genesys-tray/test-hang", backend=backend)
    await store.set("access_token", "fresh")
    assert await store.get("access_token") == "fresh"
    await store.delete("access_token")
    assert await store.get("access_token") is None
    assert threading.active_count() - before <= 2  # the keyring thread + to_thread's one


async def test_a_call_queued_behind_a_hung_one_gives_up_instead_of_waiting_its_timeout(
    worker: KeyringWorker,
) -> None:
    """A channel record read behind a save stuck on a prompt fails after the short queue wait,
    not after the stuck save's own timeout, and is never run later (found by the chaos run)."""

    backend = HangingKeyring()
    store = KeyringCredentialStore(
        "genesys-tray/test-queue", backend=backend, timeout_s=60.0, worker=worker
    )
    loop = asyncio.get_running_loop()
    stuck = asyncio.ensure_future(store.set("access_token", "renewed"))
    try:
        assert await asyncio.to_thread(backend.entered.wait, 10)
        began = loop.time()
        with pytest.raises(CredentialStoreError, match="not answering"):
            await store.get("channel.0")
        waited = loop.time() - began
        assert waited < QUEUE_WAIT_S + 1.0, waited  # not the 60 s of the stuck call
        assert worker.hung  # from now on later calls fail after the short grace
        with pytest.raises(CredentialStoreError, match="not answering"):
            await store.delete("channel.0")
    finally:
        backend.gate.set()
    await stuck
    assert not _hung(worker)  # it answered: the worker takes calls again
    assert backend.values == {("genesys-tray/test-queue", "access_token"): "renewed"}


def _hung(worker: KeyringWorker) -> bool:
    """Read the property afresh (mypy keeps an earlier assert's narrowing across the await)."""
    return worker.hung


def _alive(worker: KeyringWorker) -> bool:
    """Read the property afresh (see :func:`_hung`)."""
    return worker.alive


def _named(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


async def test_close_ends_the_thread_and_a_later_call_starts_it_again() -> None:
    worker = KeyringWorker("test-keyring-close")
    assert worker.close()  # never started: nothing to end
    assert await worker.call(5.0, lambda: 41) == 41
    assert _alive(worker) and len(_named("test-keyring-close")) == 1
    assert worker.close(5.0)
    assert not _alive(worker) and _named("test-keyring-close") == []
    assert worker.close(5.0)  # idempotent
    assert await worker.call(5.0, lambda: 42) == 42  # a call after close starts a new thread
    assert len(_named("test-keyring-close")) == 1
    assert worker.close(5.0) and _named("test-keyring-close") == []


async def test_close_while_a_call_hangs_returns_and_the_thread_ends_once_it_answers() -> None:
    backend = HangingKeyring()
    worker = KeyringWorker("test-keyring-hung")
    store = KeyringCredentialStore(
        "genesys-tray/test-close", backend=backend, timeout_s=0.05, worker=worker
    )
    with pytest.raises(CredentialStoreError):
        await store.set("access_token", "value")
    assert await asyncio.to_thread(backend.entered.wait, 10)
    try:
        assert not await asyncio.to_thread(worker.close, 0.1)  # it cannot interrupt the call
        assert _alive(worker)
    finally:
        backend.gate.set()
    for thread in _named("test-keyring-hung"):
        await asyncio.to_thread(thread.join, 10)
    assert _named("test-keyring-hung") == [] and not _alive(worker)  # ended once it answered
    assert backend.values == {("genesys-tray/test-close", "access_token"): "value"}


async def test_calls_racing_close_all_run() -> None:
    """A call submitted while close() is ending the thread runs (on this or a new thread)."""
    worker = KeyringWorker("test-keyring-race")
    try:
        for i in range(200):
            closing = asyncio.ensure_future(asyncio.to_thread(worker.close, 5.0))
            assert await worker.call(5.0, lambda i=i: i) == i
            await closing
    finally:
        assert await asyncio.to_thread(worker.close, 5.0)
    assert _named("test-keyring-race") == []
