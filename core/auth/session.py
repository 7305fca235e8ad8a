"""OAuth for the engine: PKCE sign-in, client credentials, renewal and the remembered session.

Facts from genesys-api.md section 2: the desktop app is a public client (authorization code +
PKCE, no secret, client id in the form body, exactly five fields in the code exchange); a
confidential client uses HTTP Basic; refresh tokens rotate and must be re-stored each time; PKCE
usually gets no refresh token, so such a session ends when its token does and the person has to
sign in again (8.11) - we say so *before* the token dies, so the engine can prompt while the
channel still works (8.10). Logout is ``DELETE /api/v2/tokens/me`` plus forgetting the keyring
entries (2.10).

The pieces live beside this module: :mod:`core.auth.pkce` (verifier, challenge, authorize URL),
:mod:`core.auth.tokens` (the token set and its maths), :mod:`core.auth.saved_tokens` (keyring
entries) and :mod:`core.auth.token_http` (the HTTP calls). This one holds the session's state.

Secrets stay secret: tokens, codes, verifiers, states, client secrets and Authorization headers
are never logged or put in an exception message, and :class:`TokenSet` hides them in its repr.
The authorize URL carries the state and challenge, so only the fact that a browser was opened is
logged.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import secrets
import time
import webbrowser
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType

import httpx

from core.auth.credentials import CredentialStore
from core.auth.loopback import DEFAULT_REDIRECT_PORTS, LoopbackListener
from core.auth.pkce import build_authorize_url, code_challenge, make_code_verifier, make_state
from core.auth.saved_tokens import (
    ENTRY_KEYS,
    ENTRY_USER_ID,
    SAVE_RETRY_S,
    ProblemListener,
    TokenSaver,
    delete_entries,
    delete_token_set,
    load_token_set,
)
from core.auth.sign_out import NOT_REVOKED, SignOutResult
from core.auth.token_http import HTTP_TIMEOUT_S, TokenHttpClient
from core.auth.tokens import MIN_TOKEN_LIFETIME_S, TokenSet, token_from_body
from core.errors import (
    AuthError,
    CredentialStoreError,
    GenesysTrayError,
    OAuthError,
    SignInRequiredError,
    SignInTimedOutError,
)
from core.rest.regions import Environment

logger = logging.getLogger(__name__)

DEFAULT_SIGN_IN_TIMEOUT_S = 300.0

BrowserOpener = Callable[[str], Awaitable[None] | None]
TokenListener = Callable[[TokenSet | None], None]


async def open_system_browser(url: str) -> None:
    """Open ``url`` in the person's browser (off the loop thread: it may spawn a process).

    Raises:
        AuthError: no browser could be started.
    """
    if not await asyncio.to_thread(webbrowser.open, url):
        raise AuthError("No web browser could be opened for the sign-in.")


# ---------------------------------------------------------------------------------------- session
class Authenticator:
    """Owns the session of one org + OAuth client: signs in, renews, remembers and signs out.

    The engine asks :meth:`access_token` before every call; listeners added with
    :meth:`add_listener` hear about every new token (and ``None`` on sign-out or loss), so the
    channel manager can rebuild its channel under the new token.
    """

    def __init__(
        self,
        env: Environment,
        client_id: str,
        store: CredentialStore,
        *,
        client_secret: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        open_browser: BrowserOpener | None = None,
        redirect_ports: Sequence[int] | None = None,
        sign_in_timeout_s: float = DEFAULT_SIGN_IN_TIMEOUT_S,
        http_timeout_s: float = HTTP_TIMEOUT_S,
        save_retry_s: Sequence[float] = SAVE_RETRY_S,
    ) -> None:
        """Create a signed-out session.

        Args:
            env: the org's hosts.
            client_id: the OAuth client id.
            store: where the session is remembered (see core.auth.credentials).
            client_secret: set for a confidential client: enables client credentials and makes
                refreshes use HTTP Basic. Kept in memory only.
            transport: httpx transport seam (tests, proxies); None is httpx's default.
            clock: epoch-seconds clock used for all expiry maths.
            open_browser: shows the authorize URL to the person; default: the system browser.
            redirect_ports: loopback ports to try for the PKCE redirect; default any free port
                for a loopback (sandbox) environment, :data:`DEFAULT_REDIRECT_PORTS` otherwise.
            sign_in_timeout_s: how long a browser sign-in may take.
            http_timeout_s: timeout of each token/revoke request.
            save_retry_s: backoff between tries to save a token the store did not take.
        """
        self.env = env
        self.client_id = client_id
        self._store = store
        self._saver = TokenSaver(store, retry_s=save_retry_s)
        self._client_secret = client_secret
        self._clock = clock
        # Only the sandbox on loopback hands out second-long tokens on purpose.
        self._min_lifetime_s = 0.0 if env.is_loopback else MIN_TOKEN_LIFETIME_S
        self._open_browser: BrowserOpener = open_browser or open_system_browser
        if redirect_ports is None:
            redirect_ports = (0,) if env.is_loopback else DEFAULT_REDIRECT_PORTS
        self._redirect_ports = tuple(redirect_ports)
        self._sign_in_timeout_s = sign_in_timeout_s
        self._http = TokenHttpClient(env, transport=transport, timeout_s=http_timeout_s)
        self._token: TokenSet | None = None
        self._user_id: str | None = None
        self._lock = asyncio.Lock()  # one renewal at a time: refresh tokens are single use
        self._signing_in = False
        self._listeners: list[TokenListener] = []

    # ------------------------------------------------------------------ state
    @property
    def token(self) -> TokenSet | None:
        """The current token set, if any."""
        return self._token

    @property
    def signed_in(self) -> bool:
        """Whether a token set is held (it may still need renewal)."""
        return self._token is not None

    @property
    def user_id(self) -> str | None:
        """The id of the signed-in user, once the engine told us (see :meth:`remember_user`)."""
        return self._user_id

    @property
    def store(self) -> CredentialStore:
        """Where the session is remembered."""
        return self._store

    @property
    def storage_problem(self) -> str | None:
        """Why the sign-in is not (yet) remembered, in plain words; None when all is saved.

        Set while the keyring is locked or not answering: the session works from memory and the
        save is retried until it lands (then this goes back to None).
        """
        return self._saver.problem

    def add_storage_listener(self, listener: ProblemListener) -> Callable[[], None]:
        """Call ``listener(storage_problem)`` on every change of it; returns the remover."""
        return self._saver.add_listener(listener)

    def retry_save(self) -> None:
        """Try a pending save at once (e.g. the person says they unlocked the keyring)."""
        self._saver.retry_now()

    def add_listener(self, listener: TokenListener) -> Callable[[], None]:
        """Call ``listener(token_set_or_None)`` on every change; returns the remover.

        Listeners run synchronously on the loop and must not block: schedule real work.
        """
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def _notify(self, token: TokenSet | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(token)
            except Exception:
                logger.exception("a token listener failed")

    # ------------------------------------------------------------------ tokens for callers
    async def access_token(self) -> str:
        """A bearer token that is good for a while, renewed first if it is close to expiry.

        Raises:
            SignInRequiredError: not signed in, or the token cannot be renewed without the person
                (PKCE without a refresh token, a revoked refresh token).
            OAuthError: the server refused a silent renewal for another reason.
            TransportError: the login host could not be reached for a renewal.
        """
        async with self._lock:
            token = self._token
            if token is None:
                raise SignInRequiredError("Not signed in to Genesys Cloud.")
            if not token.needs_renewal(self._clock()):
                return token.access_token
            return (await self._renew_locked(token)).access_token

    async def renew_rejected(self, rejected_token: str) -> str:
        """The API answered 401 to ``rejected_token``: renew once and return the new token.

        Many calls may see the same 401; only the first renews, the rest get its result. A dead
        token that cannot be renewed silently is forgotten (memory and store).

        Raises:
            SignInRequiredError: the person has to sign in again.
        """
        async with self._lock:
            token = self._token
            if token is None:
                raise SignInRequiredError("Not signed in to Genesys Cloud.")
            if token.access_token != rejected_token:
                return token.access_token  # someone renewed meanwhile
            if not token.renewable_silently:
                await self._forget_locked()
                raise SignInRequiredError(
                    "Genesys Cloud no longer accepts your sign-in (expired, idle or revoked). "
                    "Sign in again."
                )
            return (await self._renew_locked(token)).access_token

    async def _renew_locked(self, token: TokenSet) -> TokenSet:
        now = self._clock()
        if token.refresh_token is not None:
            try:
                new = await self._refresh(token)
            except OAuthError as exc:
                if exc.error != "invalid_grant":
                    raise
                # The refresh token was revoked or already used: keep the access token while it
                # lives, but never try that refresh token again.
                await self._adopt(
                    TokenSet(
                        token.access_token, token.expires_at, None, token.grant, token.issued_at
                    ),
                    notify=False,
                )
                raise SignInRequiredError(
                    "Your Genesys Cloud sign-in can no longer be renewed. Sign in again."
                ) from None
        elif token.grant == "client_credentials" and self._client_secret is not None:
            new = await self._request_client_credentials(self._client_secret)
        else:
            left = token.expires_at - now
            broken = not math.isfinite(left)  # a remembered expiry that is NaN or infinite
            when = (
                "has expired"
                if broken or left <= 0
                else f"expires in {max(1, round(left / 60))} min"
            )
            raise SignInRequiredError(
                f"Your Genesys Cloud sign-in {when} and cannot be renewed without you. "
                "Sign in again."
            )
        logger.info("renewed the %s token; it is good for %.0f s", new.grant, new.expires_at - now)
        await self._adopt(new)
        return new

    # ------------------------------------------------------------------ sign-in
    async def sign_in_pkce(
        self,
        *,
        open_browser: BrowserOpener | None = None,
        timeout_s: float | None = None,
        org: str | None = None,
        provider: str | None = None,
        check_client: bool = True,
    ) -> TokenSet:
        """Sign the person in through their browser (authorization code + PKCE).

        Args:
            open_browser: overrides the constructor's browser opener for this sign-in.
            timeout_s: overrides the constructor's sign-in timeout.
            org: SSO shortcut, together with ``provider`` (genesys-api.md 2.2).
            provider: the identity provider of ``org``.
            check_client: first ask the token endpoint whether the client id exists, so an
                unknown id fails at once with ``invalid_client`` instead of leaving the person
                on an error page while we wait for a redirect that never comes.

        Raises:
            OAuthError: ``invalid_client`` (unknown client id in this region) and other OAuth
                errors of the redirect or the code exchange.
            SignInCancelledError: the person declined.
            SignInTimedOutError: the browser did not come back in time.
            AuthError: the redirect did not match this sign-in (state), ports busy, no browser.
            TransportError: the login host could not be reached.
        """
        if self._signing_in:
            raise AuthError("A sign-in is already in progress.")
        self._signing_in = True
        try:
            verifier = make_code_verifier()
            state = make_state()
            opener = open_browser or self._open_browser
            timeout = self._sign_in_timeout_s if timeout_s is None else timeout_s
            async with LoopbackListener(state, ports=self._redirect_ports) as listener:
                redirect_uri = listener.redirect_uri
                if check_client:
                    await self._check_client_known(redirect_uri)
                url = build_authorize_url(
                    self.env,
                    self.client_id,
                    redirect_uri=redirect_uri,
                    challenge=code_challenge(verifier),
                    state=state,
                    org=org,
                    provider=provider,
                )
                deadline = asyncio.timeout(timeout)
                try:
                    async with deadline:
                        result = opener(url)
                        if inspect.isawaitable(result):
                            await result
                        logger.info("opened the browser for sign-in at %s", self.env.login_base)
                        code = await listener.wait_for_code(timeout)
                except TimeoutError:
                    if not deadline.expired():
                        raise
                    raise SignInTimedOutError(
                        f"The browser did not come back within {timeout:g} s. Sign in again."
                    ) from None
            form = {
                "grant_type": "authorization_code",
                "code": code,
                "code_verifier": verifier,
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
            }
            now = self._clock()
            body = await self._http.token(form)
            token = token_from_body(
                body, grant="pkce", now=now, min_lifetime_s=self._min_lifetime_s
            )
        finally:
            self._signing_in = False
        logger.info("signed in through the browser (PKCE)")
        async with self._lock:
            await self._adopt(token, forget_user=True)
        return token

    async def _check_client_known(self, redirect_uri: str) -> None:
        """Fail early if the token endpoint says the client id does not exist.

        A code exchange with a made-up code is answered ``invalid_client`` for an unknown client
        and ``invalid_grant`` for a known one (client authentication comes first, RFC 6749
        5.2). Only a definite ``invalid_client`` counts; anything else lets the sign-in go on.
        """
        form = {
            "grant_type": "authorization_code",
            "code": "client-check-" + secrets.token_urlsafe(8),
            "code_verifier": make_code_verifier(),
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
        }
        try:
            await self._http.token(form)
        except OAuthError as exc:
            if exc.error == "invalid_client":
                logger.warning("the token endpoint does not know this client id")
                raise
            logger.debug("client id check: the client is known (%s)", exc.error)

    async def sign_in_client_credentials(self, client_secret: str | None = None) -> TokenSet:
        """Get a service token with the client's id and secret (genesys-api.md 2.6).

        Args:
            client_secret: the secret; None uses the constructor's. Kept in memory for renewals.

        Raises:
            OAuthError: ``invalid_client`` for an unknown id or a wrong secret, among others.
            TransportError: the login host could not be reached.
        """
        secret = client_secret if client_secret is not None else self._client_secret
        if not secret:
            raise AuthError("Client credentials need the client secret.")
        token = await self._request_client_credentials(secret)
        self._client_secret = secret
        logger.info("signed in with client credentials")
        async with self._lock:
            await self._adopt(token, forget_user=True)
        return token

    async def _request_client_credentials(self, secret: str) -> TokenSet:
        now = self._clock()
        body = await self._http.token(
            {"grant_type": "client_credentials"}, basic=(self.client_id, secret)
        )
        return token_from_body(
            body, grant="client_credentials", now=now, min_lifetime_s=self._min_lifetime_s
        )

    async def _refresh(self, token: TokenSet) -> TokenSet:
        assert token.refresh_token is not None
        form = {"grant_type": "refresh_token", "refresh_token": token.refresh_token}
        basic = None
        if self._client_secret is not None:
            basic = (self.client_id, self._client_secret)
        else:
            form["client_id"] = self.client_id  # a public client names itself in the body
        now = self._clock()
        body = await self._http.token(form, basic=basic)
        return token_from_body(
            body,
            grant=token.grant,
            now=now,
            previous_refresh=token.refresh_token,
            min_lifetime_s=self._min_lifetime_s,
        )

    # ------------------------------------------------------------------ remembering
    async def restore(self) -> TokenSet | None:
        """Load the remembered session at start-up; None when there is none (or it is broken).

        A restored token may be close to expiry; :meth:`access_token` decides what that means.
        A keyring that is locked or does not answer counts as nothing remembered (yet), and
        :attr:`storage_problem` says why; calling this again later may find the session.
        """
        async with self._lock:
            try:
                token = await load_token_set(self._store)
                user_id = await self._store.get(ENTRY_USER_ID) if token is not None else None
            except CredentialStoreError as exc:
                logger.warning("could not read the remembered session: %s", exc)
                self._saver.report(str(exc))
                return None
            if self._saver.problem is not None and not self._saver.pending:
                self._saver.report(None)
            if token is None:
                return None
            self._user_id = user_id
            self._token = token
        logger.info("restored the remembered %s session", token.grant)
        self._notify(token)
        return token

    async def remember_user(self, user_id: str) -> None:
        """Record who is signed in (the engine learns it from ``/api/v2/users/me``).

        Raises:
            CredentialStoreError: the keyring could not be written (and no save was pending).
        """
        self._user_id = user_id
        await self._saver.save_user(user_id)

    async def _adopt(
        self,
        token: TokenSet,
        *,
        notify: bool = True,
        forget_user: bool = False,
    ) -> None:
        """Make ``token`` current, remember it, tell the listeners (lock held).

        A store that does not take the token never fails the caller: the saver keeps it and
        retries (see :attr:`storage_problem`).
        """
        self._token = token
        if forget_user:  # possibly another person: the engine tells us who (remember_user)
            self._user_id = None
        try:
            await self._saver.save(token, forget_user=forget_user)
        finally:
            if notify:
                self._notify(token)

    async def _forget_locked(self) -> None:
        self._token = None
        self._user_id = None
        await self._saver.drop()  # an unsaved token must not land after it was forgotten
        try:
            await delete_token_set(self._store)
        except CredentialStoreError as exc:
            logger.warning("could not forget the remembered session: %s", exc)
        self._notify(None)

    # ------------------------------------------------------------------ sign-out
    async def sign_out(self, *, also_forget: Sequence[str] = ()) -> SignOutResult:
        """Revoke the session at Genesys Cloud and forget it here; say what was really done.

        Local forgetting always happens, even when the server cannot be reached. A live access
        token is revoked (a 401 means it was dead already). Genesys has no call that revokes a
        refresh token, so a stored one is used one last time: that retires it, and the access
        token it returns is revoked at once (the rotated refresh token that comes with it is
        never stored). This also covers an access token that expired here while its refresh
        token still lives on the server.

        Args:
            also_forget: more entries of the same store to delete (channel ids, client secret).

        Returns:
            What was revoked and deleted, and what failed, in words (never raises for either).
        """
        async with self._lock:
            token, self._token, self._user_id = self._token, None, None
            try:
                await self._saver.drop()
                revoked = await self._revoke(token)
                forgotten, kept, reasons = await delete_entries(
                    self._store, (*ENTRY_KEYS, *also_forget)
                )
            finally:
                self._notify(None)
        problems = ((NOT_REVOKED,) if not revoked else ()) + reasons
        result = SignOutResult(revoked, forgotten, kept, problems)
        if result.complete:
            logger.info("signed out: revoked, %d entries deleted", len(forgotten))
        else:
            logger.warning(
                "signed out incompletely: revoked=%s, %d entries not deleted", revoked, len(kept)
            )
        return result

    async def _revoke(self, token: TokenSet | None) -> bool:
        """Whether no stored token of ``token`` works at Genesys Cloud any more (lock held)."""
        if token is None:
            return True
        revoked = True
        if not token.expired(self._clock()):
            revoked = await self._http.revoke(token.access_token)
        if token.refresh_token is None:
            return revoked
        try:
            renewed = await self._refresh(token)
        except OAuthError as exc:
            if exc.error == "invalid_grant":  # revoked or used already: nothing to retire
                return revoked
            logger.warning("could not use the refresh token to sign out (%s)", exc.error)
            return False
        except GenesysTrayError as exc:
            logger.warning("could not use the refresh token to sign out (%s)", type(exc).__name__)
            return False
        return await self._http.revoke(renewed.access_token) and revoked

    # ------------------------------------------------------------------ life cycle
    async def aclose(self) -> None:
        """Close the HTTP client and stop retrying a save (the session stays remembered)."""
        await self._saver.aclose()
        await self._http.aclose()

    async def __aenter__(self) -> Authenticator:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
