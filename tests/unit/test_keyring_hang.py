"""A hung keyring costs the app at most one thread, and the store works again once it answers."""

from __future__ import annotations

import asyncio
import threading

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from core.auth.credentials import KeyringCredentialStore
from core.auth.keyring_worker import QUEUE_WAIT_S, KeyringWorker
from core.errors import CredentialStoreError

CALLS = 20


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


async def test_a_call_queued_behind_a_hung_one_gives_up_instead_of_waiting_its_timeout() -> None:
    """A channel record read behind a save stuck on a prompt fails after the short queue wait,
    not after the stuck save's own timeout, and is never run later (found by the chaos run)."""

    backend = HangingKeyring()
    worker = KeyringWorker("test-keyring")
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
