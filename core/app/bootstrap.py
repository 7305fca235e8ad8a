"""Session bootstrap: sign in and assemble one engine, for ``listen`` and the GUI alike.

Where the OAuth client comes from (a signed-in session, the embedded demo org, or an org with the
environment variables over the settings' profile), where its secrets are kept (the credential
store: the OS keyring, or memory and a warning), and how the session signs in (remembered,
client credentials or the browser) are decided here, once, without Qt. The front ends get an
:class:`Engine`: the service plus the controls and closers that belong to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from core.app.sign_in import (
    CLIENT_CREDENTIALS,
    CLIENT_SECRET_ENTRY,
    CredentialStoreFactory,
    SignedIn,
    follow_redirects,
)
from core.auth.credentials import (
    CredentialStore,
    MemoryCredentialStore,
    credential_service_name,
    open_credential_store,
)
from core.auth.saved_tokens import delete_entries
from core.auth.session import Authenticator, BrowserOpener
from core.auth.sign_out import SignOutResult
from core.engine.offline import OFFLINE_ERRORS
from core.engine.records import EngineState, Record, StateRecord
from core.engine.selection import Selection, parse_selection_arg
from core.engine.service import MonitorService
from core.engine.timeline import ConnectionTimeline
from core.errors import AuthError, CredentialStoreError, GenesysTrayError, SignInRequiredError
from core.rest.client import ApiClient
from core.rest.regions import Environment, parse_environment
from core.streaming.memory import StoredChannelMemory

logger = logging.getLogger(__name__)

Closer = Callable[[], Awaitable[None]]
SessionControl = Callable[[], Awaitable[object]]
QueueStarter = Callable[[], Awaitable[str]]  # starts a queue (once) and returns its URL


class UsageError(Exception):
    """The command line or environment lacks something; the message says what."""


@dataclass
class Engine:
    """A signed-in engine, the person's controls over its session, and what to close after it."""

    service: MonitorService
    timeline: ConnectionTimeline
    sign_out: SessionControl
    sign_in_again: SessionControl
    closers: list[Closer] = field(default_factory=list)  # closed newest first
    sandbox_url: str | None = None
    sandbox_banner: str = ""  # the embedded org's "how to reach it" text (the demo only)
    user_id: str | None = None
    credentials_warning: str = ""
    account: str = ""
    credentials: CredentialStore | None = None  # the org's store (an AWS access key may be there)
    demo_queue: QueueStarter | None = None  # the demo org's EventBridge queue, started on demand

    async def aclose(self) -> None:
        """Close everything, newest first, whatever fails."""
        await close_all(self.closers)


async def close_all(closers: list[Closer]) -> None:
    """Run ``closers`` newest first, whatever fails, and forget them."""
    for close in reversed(closers):
        with contextlib.suppress(Exception):
            await close()
    closers.clear()


def environment_words(env: Environment) -> str:
    """An org's place in words: ``EU (Frankfurt) (mypurecloud.de)``, or its base URL."""
    region = env.region
    return f"{region.location} ({region.domain})" if region is not None else str(env.api_base)


@dataclass
class _Login:
    """Who signs in where with what, and where the session is kept."""

    env: Environment
    client_id: str
    secret: str | None = field(repr=False)
    credentials: CredentialStore
    credentials_warning: str = ""
    auth: Authenticator | None = None  # a session signed in already: used as it is
    browser: BrowserOpener | None = None
    sandbox_url: str | None = None
    sandbox_banner: str = ""
    demo_queue: QueueStarter | None = None


def _session_login(session: SignedIn) -> _Login:
    return _Login(
        session.env,
        session.client_id,
        session.secret,
        session.credentials,
        session.credentials_warning,
        auth=session.auth,
    )


async def _demo_login(demo_speed: float, closers: list[Closer], eventbridge: bool) -> _Login:
    """Start the embedded sandbox org; its PKCE client signs in through a stand-in browser.

    With ``eventbridge`` the org is an EventBridge source too, but its loopback SQS server
    starts only when :attr:`Engine.demo_queue` is first awaited (after the window shows).
    """
    from sandbox.config import SandboxConfig
    from sandbox.server import Sandbox

    # The demo opens with one ring-out per queue 20 simulated seconds in: an alert to see early.
    sandbox = Sandbox(
        SandboxConfig(port=0, speed=demo_speed, opening_ring_out_s=20.0, eventbridge=eventbridge)
    )
    url = await sandbox.start(eventbridge_later=True)
    closers.append(sandbox.stop)
    return _Login(
        parse_environment(url),
        sandbox.config.pkce_client_id,
        None,
        MemoryCredentialStore(),
        browser=follow_redirects,
        sandbox_url=url,
        sandbox_banner=sandbox.describe(),
        demo_queue=sandbox.start_eventbridge if eventbridge else None,
    )


def _oauth_client(
    client_id: str | None, client_secret: str | None, grant: str | None
) -> tuple[str, str | None, str | None]:
    """(client id, secret, grant): ``GENESYS_CLIENT_ID`` / ``_SECRET`` over the settings' profile.

    Raises:
        UsageError: no client id anywhere.
    """
    env_client_id = os.environ.get("GENESYS_CLIENT_ID", "")
    if env_client_id and env_client_id != client_id:
        client_id, client_secret, grant = env_client_id, None, None
    secret = os.environ.get("GENESYS_CLIENT_SECRET") or client_secret or None
    if not client_id:
        raise UsageError(
            "set GENESYS_CLIENT_ID (and GENESYS_CLIENT_SECRET for a service account), "
            "or try the demo org with --demo"
        )
    return client_id, secret, grant


async def _remembered_secret(credentials: CredentialStore) -> str:
    """A service account's secret from the keyring (the welcome dialog put it there)."""
    secret = None
    try:
        secret = await credentials.get(CLIENT_SECRET_ENTRY)
    except CredentialStoreError as exc:
        logger.warning("could not read the client secret: %s", exc)
    if not secret:
        raise SignInRequiredError(
            "The service account's client secret is not in the keyring (any more). Enter it again."
        )
    return secret


async def _org_login(
    environment: str | None,
    client_id: str | None,
    client_secret: str | None,
    grant: str | None,
    open_store: CredentialStoreFactory | None,
    *,
    trusted_hosts: Iterable[str] = (),
) -> _Login:
    """An org's login: ``environment`` (else ``GENESYS_ENVIRONMENT``) and its OAuth client.

    A custom host outside Genesys Cloud gets the client secret only when it is among
    ``trusted_hosts`` or in ``GENESYS_TRUST_HOST`` (the token client refuses it otherwise).
    """
    trusted = [*trusted_hosts, os.environ.get("GENESYS_TRUST_HOST", "")]
    env = parse_environment(
        environment or os.environ.get("GENESYS_ENVIRONMENT", ""), trusted_hosts=trusted
    )
    client_id, secret, grant = _oauth_client(client_id, client_secret, grant)
    credentials = await asyncio.to_thread(
        open_store or open_credential_store, credential_service_name(env, client_id)
    )
    warning = "" if credentials.secure else credentials.description
    if secret is None and grant == CLIENT_CREDENTIALS:
        secret = await _remembered_secret(credentials)
    return _Login(env, client_id, secret, credentials, warning)


def _report_storage(auth: Authenticator, service: MonitorService) -> None:
    """A sign-in the keyring cannot keep yet (locked, not answering) is a health message on the
    engine's state: the tray, the status bar and ``listen`` say it, and it clears once saved."""

    def report(problem: str | None) -> None:
        service.set_health("Keyring", f"Sign-in not saved yet: {problem}" if problem else None)

    auth.add_storage_listener(report)
    if auth.storage_problem:
        report(auth.storage_problem)


async def _authenticate(
    login: _Login, closers: list[Closer], timeline: ConnectionTimeline, *, interactive: bool
) -> tuple[Authenticator, SessionControl | None]:
    """The session's authenticator, signed in: remembered, client credentials or the browser.

    A service account whose org does not answer yet (no network at login) is not an error:
    its sign-in is returned, to be done by the engine once the org answers (it retries).

    Returns:
        (the authenticator, the sign-in still to do or None).

    Raises:
        SignInRequiredError: nothing remembered and ``interactive`` is False (the GUI asks).
    """
    auth = login.auth or Authenticator(
        login.env,
        login.client_id,
        login.credentials,
        client_secret=login.secret,
        open_browser=login.browser,
    )
    closers.append(auth.aclose)
    auth.add_listener(timeline.on_token)
    if login.auth is not None:  # signed in already: the timeline learns its token
        if auth.token is not None:
            timeline.on_token(auth.token)
    elif await auth.restore() is None:
        if login.secret is not None:
            try:
                await auth.sign_in_client_credentials()
            except OFFLINE_ERRORS as exc:
                logger.warning("signing in when the org answers: %s", exc)
                return auth, auth.sign_in_client_credentials
        elif not interactive:
            if auth.storage_problem:  # locked or silent keyring: say that, not "forgotten"
                raise SignInRequiredError(
                    f"Your sign-in could not be read: {auth.storage_problem} "
                    "Unlock the keyring and start again, or sign in again."
                )
            raise SignInRequiredError("Your sign-in was not remembered. Sign in again.")
        else:
            await auth.sign_in_pkce()
    return auth, None


def parse_selection(queues: str, users: str) -> Selection:
    """The ``--queues`` / ``--users`` words as a selection (``mine`` users: the members)."""
    return Selection(
        queues=parse_selection_arg(queues, keywords=("all", "mine", "none")),
        users=parse_selection_arg(
            "members" if users == "mine" else users, keywords=("all", "members", "none")
        ),
    )


async def _signed_in_user(api: ApiClient) -> str | None:
    """Who the person is (mute while busy); None when it cannot be read."""
    try:
        return (await api.me()).id
    except GenesysTrayError as exc:
        logger.warning("could not read the signed-in user: %s", exc)
        return None


def sign_in_again_when_needed(
    auth: Authenticator, signed_out: asyncio.Event | None = None
) -> Callable[[Record], None]:
    """A PKCE session cannot renew itself: open the browser again when the engine asks.

    Not after the person signed out on purpose (``signed_out`` set).
    """
    running: set[asyncio.Task[None]] = set()

    async def sign_in() -> None:
        try:
            await auth.sign_in_pkce()
        except AuthError as exc:
            print(f"listen: sign-in failed: {exc}", file=sys.stderr)

    def on_record(record: Record) -> None:
        if (
            isinstance(record, StateRecord)
            and record.state is EngineState.SIGN_IN_NEEDED
            and not running
            and not (signed_out is not None and signed_out.is_set())
        ):
            task = asyncio.get_running_loop().create_task(sign_in())
            running.add(task)
            task.add_done_callback(running.discard)

    return on_record


def _session_controls(
    auth: Authenticator, login: _Login, memory: StoredChannelMemory, signing_out: asyncio.Event
) -> tuple[SessionControl, SessionControl]:
    """(sign out, sign in again) for the person: the same org and OAuth client.

    Sign-out deletes every entry SECURITY.md lists (tokens, user id, client secret, channel ids)
    and returns a :class:`SignOutResult` that says what was really done.
    """

    async def sign_in_again() -> object:
        # A new token makes the service roll its channels over.
        if login.secret is not None:
            return await auth.sign_in_client_credentials()
        return await auth.sign_in_pkce()

    async def sign_out() -> SignOutResult:
        signing_out.set()  # no browser pops up for the sign-in this just ended
        memory.seal()
        result = await auth.sign_out(also_forget=(CLIENT_SECRET_ENTRY, *memory.entry_keys()))
        if login.credentials is auth.store:
            return result
        # A session signed in elsewhere with its own store: its secret and channels live there.
        done, kept, reasons = await delete_entries(
            login.credentials, (CLIENT_SECRET_ENTRY, *memory.entry_keys())
        )
        return dataclasses.replace(
            result,
            forgotten=result.forgotten + done,
            kept=result.kept + kept,
            problems=result.problems + reasons,
        )

    return sign_out, sign_in_again


async def build_engine(
    *,
    demo: bool,
    environment: str | None,
    queues: str,
    users: str,
    demo_speed: float = 1.0,
    client_id: str | None = None,
    client_secret: str | None = None,
    grant: str | None = None,
    session: SignedIn | None = None,
    interactive_sign_in: bool = True,
    auto_sign_in: bool = True,
    open_store: CredentialStoreFactory | None = None,
    trusted_hosts: Iterable[str] = (),
    demo_eventbridge: bool = False,
) -> Engine:
    """Sign in and assemble the engine for ``listen`` and the GUI alike.

    ``demo`` embeds the sandbox org and signs in through the real PKCE code path with a
    stand-in for the person's browser. Otherwise the OAuth client comes from the arguments (the
    settings' profile) with the ``GENESYS_CLIENT_ID`` / ``GENESYS_CLIENT_SECRET`` environment
    variables as an override; a service account's secret may also come from the keyring (the
    welcome dialog put it there). ``session`` is an already signed-in session to use as it is.
    Tokens live in the OS keyring.

    Args:
        interactive_sign_in: False: without a remembered session raise SignInRequiredError
            instead of opening the browser (the GUI then shows its sign-in dialog).
        auto_sign_in: True (``listen``): open the browser by itself when a PKCE session needs
            a new sign-in. False (the GUI): only ``Engine.sign_in_again``, when the person asks.
        open_store: the credential store factory for an org (default: the OS keyring).
        trusted_hosts: custom hosts outside Genesys Cloud confirmed to receive the client
            secret (the profile's, or ``listen --trust-host``).
        demo_eventbridge: the demo org is an EventBridge source too (``Engine.demo_queue``).
    """
    closers: list[Closer] = []
    timeline = ConnectionTimeline()
    try:
        if session is not None:
            login = _session_login(session)
        elif demo:
            login = await _demo_login(demo_speed, closers, demo_eventbridge)
        else:
            login = await _org_login(
                environment,
                client_id,
                client_secret,
                grant,
                open_store,
                trusted_hosts=trusted_hosts,
            )
        auth, sign_in_later = await _authenticate(
            login, closers, timeline, interactive=interactive_sign_in
        )
        api = ApiClient(login.env, auth.access_token, on_unauthorized=auth.renew_rejected)
        closers.append(api.aclose)
        person = login.secret is None  # a person, not a service account
        user_id = await _signed_in_user(api) if person else None
        memory = StoredChannelMemory(login.credentials)
        service = MonitorService(
            api, auth, parse_selection(queues, users), memory=memory, first_sign_in=sign_in_later
        )
        _report_storage(auth, service)
        signing_out = asyncio.Event()
        if person and auto_sign_in:
            service.add_listener(sign_in_again_when_needed(auth, signing_out))
        sign_out, sign_in_again = _session_controls(auth, login, memory, signing_out)
        closers.append(service.stop)
        return Engine(
            service=service,
            timeline=timeline,
            sign_out=sign_out,
            sign_in_again=sign_in_again,
            closers=closers,
            sandbox_url=login.sandbox_url,
            sandbox_banner=login.sandbox_banner,
            user_id=user_id,
            credentials_warning=login.credentials_warning,
            credentials=login.credentials,
            demo_queue=login.demo_queue,
            account="The demo org on this computer"
            if demo
            else f"Signed in to {environment_words(login.env)} with OAuth client {login.client_id}",
        )
    except BaseException:
        await close_all(closers)
        raise
