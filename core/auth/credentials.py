"""Where OAuth tokens are kept between runs: the OS keyring, or nowhere.

Tokens are secrets, so they live only in a keyring backend that encrypts them for the person
(Secret Service, KWallet, macOS Keychain, Windows Credential Locker). Anything weaker
(keyrings.alt's plain-text file, the null and fail backends, a chainer without a secure member) is
refused: the session then lives in memory only and the store says so in words a person
understands, because a weaker secret store must always be announced and a token must never land
on disk in plain text.

keyring is blocking (D-Bus round trips, possibly a password prompt), so every call runs on the
app's one keyring thread (:mod:`core.auth.keyring_worker`) and is bounded by a timeout: a hung
keyring costs one thread, never the app's shared executor. A locked keyring and one that does not
answer get their own errors, in words a person can act on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

import keyring
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend
from keyring.errors import KeyringLocked, PasswordDeleteError

from core.auth.keyring_worker import KeyringNotAnswering, KeyringWorker, default_worker
from core.errors import CredentialStoreError, KeyringLockedError, KeyringNotAnsweringError
from core.rest.regions import Environment

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

KEYRING_TIMEOUT_S = 30.0
SERVICE_PREFIX = "genesys-tray"
NOT_REMEMBERED = "tokens will not be remembered after you quit"
UNLOCK_HINT = "unlock it (log in to your desktop keyring)"
LOCKED = {
    "store": f"The system keyring is locked; {UNLOCK_HINT} and the sign-in will be saved.",
    "read": f"The system keyring is locked, so the saved sign-in could not be read; {UNLOCK_HINT}.",
    "delete": f"The system keyring is locked, so the saved sign-in could not be deleted; "
    f"{UNLOCK_HINT}.",
}

# Backends that keep secrets encrypted for the logged-in person. Matched on the class and its
# bases, so KWallet's versioned subclasses count too. Everything else is refused.
SECURE_BACKENDS = frozenset(
    {
        "keyring.backends.SecretService.Keyring",
        "keyring.backends.libsecret.Keyring",
        "keyring.backends.kwallet.DBusKeyring",
        "keyring.backends.macOS.Keyring",
        "keyring.backends.Windows.WinVaultKeyring",
    }
)


class CredentialStore(Protocol):
    """A small async key/value store for the secrets of one sign-in (one keyring service)."""

    @property
    def secure(self) -> bool:
        """Whether values survive a restart in an encrypted OS store."""

    @property
    def description(self) -> str:
        """Where the values are kept, in words for the person (shown in the GUI)."""

    async def get(self, key: str) -> str | None:
        """The stored value, or None when there is none."""

    async def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing what was there."""

    async def delete(self, key: str) -> None:
        """Forget ``key``; forgetting a missing key is not an error."""


def credential_service_name(env: Environment, client_id: str) -> str:
    """The keyring service of one org's sign-in, as genesys-api.md 2.10 suggests.

    Tokens are per region and per OAuth client, so both are part of the name: a token of one
    region is never offered to another.
    """
    return f"{SERVICE_PREFIX}/{env.storage_key}/{client_id}"


def backend_name(backend: KeyringBackend) -> str:
    """The dotted class name of a keyring backend (never the repr, which varies by backend)."""
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_secure(backend: KeyringBackend) -> bool:
    return any(f"{c.__module__}.{c.__qualname__}" in SECURE_BACKENDS for c in type(backend).__mro__)


def secure_backend(backend: KeyringBackend) -> KeyringBackend | None:
    """``backend`` if it is secure, the best secure member of a chainer, otherwise None.

    A chainer writes to the first member that accepts a value, which may be a plain-text file, so
    we never write through it: we pick its highest-priority secure member and use that directly.
    """
    if isinstance(backend, ChainerBackend):
        members: list[KeyringBackend] = list(backend.backends)
        return next((m for m in members if _is_secure(m)), None)
    return backend if _is_secure(backend) else None


def _describe(backend: KeyringBackend) -> str:
    if isinstance(backend, ChainerBackend):
        members = ", ".join(backend_name(m) for m in backend.backends) or "no backends"
        return f"{backend_name(backend)} of {members}"
    return backend_name(backend)


class MemoryCredentialStore:
    """Keeps values in this process only; used when no secure keyring exists (and in tests)."""

    secure = False

    def __init__(self, *, insecure_reason: str = "") -> None:
        """Create an empty store.

        Args:
            insecure_reason: why no keyring is used, in words for the person; shown by the GUI.
        """
        self.insecure_reason = insecure_reason
        self._values: dict[str, str] = {}

    @property
    def description(self) -> str:
        """Memory only, plus the reason when there is one."""
        return f"memory only: {self.insecure_reason}" if self.insecure_reason else "memory only"

    async def get(self, key: str) -> str | None:
        """The value, or None."""
        return self._values.get(key)

    async def set(self, key: str, value: str) -> None:
        """Keep the value until the process ends."""
        self._values[key] = value

    async def delete(self, key: str) -> None:
        """Forget the value (missing is fine)."""
        self._values.pop(key, None)

    def keys(self) -> frozenset[str]:
        """The keys held right now (for tests and diagnostics; never the values)."""
        return frozenset(self._values)


class KeyringCredentialStore:
    """One keyring service; each key is a keyring "username" entry under it."""

    def __init__(
        self,
        service: str,
        *,
        backend: KeyringBackend | None = None,
        timeout_s: float = KEYRING_TIMEOUT_S,
        worker: KeyringWorker | None = None,
    ) -> None:
        """Bind to a keyring service.

        Args:
            service: the keyring service name, see :func:`credential_service_name`.
            backend: the backend to use; None takes keyring's detected one. Prefer
                :func:`open_credential_store`, which refuses insecure backends.
            timeout_s: how long one keyring call may take before it counts as failed (a locked
                keyring may sit on an unanswered password prompt forever).
            worker: the thread that runs the calls; None is the app's one keyring thread.
        """
        self.service = service
        self._backend = backend if backend is not None else keyring.get_keyring()
        self._timeout_s = timeout_s
        self._worker = worker if worker is not None else default_worker()
        self.secure = _is_secure(self._backend)
        self.insecure_reason = "" if self.secure else f"{backend_name(self._backend)} is not secure"

    @property
    def backend(self) -> KeyringBackend:
        """The keyring backend in use."""
        return self._backend

    @property
    def description(self) -> str:
        """The keyring in use, for the person."""
        return f"system keyring ({backend_name(self._backend)})"

    async def _call(self, what: str, key: str, func: Callable[..., _T], *args: str) -> _T:
        try:
            return await self._worker.call(self._timeout_s, func, *args)
        except KeyringNotAnswering:
            raise KeyringNotAnsweringError(
                f"The system keyring is not answering (an earlier request is still waiting, "
                f"perhaps for a password), so it could not {what} '{key}'."
            ) from None
        except TimeoutError:
            raise KeyringNotAnsweringError(
                f"The keyring did not answer within {self._timeout_s:g} s while trying to "
                f"{what} '{key}'; it may be locked and waiting for a password."
            ) from None
        except KeyringLocked:
            raise KeyringLockedError(LOCKED[what]) from None
        except PasswordDeleteError:
            raise
        except Exception as exc:
            # Only the class name for writes: a backend's message is never allowed to echo a value.
            detail = type(exc).__name__ if what == "store" else f"{type(exc).__name__}: {exc}"
            raise CredentialStoreError(
                f"The keyring ({backend_name(self._backend)}) could not {what} '{key}': {detail}"
            ) from None

    async def get(self, key: str) -> str | None:
        """Read one entry."""
        return await self._call("read", key, self._backend.get_password, self.service, key)

    async def set(self, key: str, value: str) -> None:
        """Write one entry."""
        await self._call("store", key, self._backend.set_password, self.service, key, value)

    async def delete(self, key: str) -> None:
        """Delete one entry; a missing entry is fine."""
        try:
            await self._call("delete", key, self._backend.delete_password, self.service, key)
        except PasswordDeleteError:
            logger.debug("keyring entry %r was not there to delete", key)


def open_credential_store(
    service: str, *, backend: KeyringBackend | None = None
) -> KeyringCredentialStore | MemoryCredentialStore:
    """The keyring when its backend is secure, otherwise a memory store that says why.

    This may block briefly the first time (keyring detects its backend over D-Bus); call it from
    a thread on a running loop.

    Args:
        service: the keyring service name, see :func:`credential_service_name`.
        backend: the backend to judge; None judges keyring's detected one (tests pass one).
    """
    try:
        chosen = backend if backend is not None else keyring.get_keyring()
    except Exception as exc:  # a broken keyring config must not stop the app from starting
        reason = f"the keyring could not be loaded ({type(exc).__name__}): {NOT_REMEMBERED}"
        logger.warning("credential store: %s", reason)
        return MemoryCredentialStore(insecure_reason=reason)
    usable = secure_backend(chosen)
    if usable is None:
        reason = f"no secure keyring backend ({_describe(chosen)}): {NOT_REMEMBERED}"
        logger.warning("credential store: %s", reason)
        return MemoryCredentialStore(insecure_reason=reason)
    logger.debug("credential store: keyring backend %s", backend_name(usable))
    return KeyringCredentialStore(service, backend=usable)
