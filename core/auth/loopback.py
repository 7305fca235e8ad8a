"""The loopback listener that catches the browser's OAuth redirect (RFC 8252 section 7.3).

A desktop app cannot keep a client secret, so it signs in with authorization code + PKCE and
asks the browser to come back to ``http://127.0.0.1:<port>/callback``. This module is that
port: a tiny HTTP/1.1 server on plain ``asyncio.start_server`` (no web framework in ``core``).

Why it is strict:

* single use: the first answer on the callback path decides the sign-in; anything else a browser
  asks for (``/favicon.ico``, a preconnect that never sends a request) is answered or dropped
  without using it up;
* the ``state`` must match, or the answer may be a forged link (login CSRF). A mismatch is
  answered with a plain 400 page and otherwise ignored: the ports are fixed and well known, so
  any web page or local user can send one, and it must not abort the real sign-in;
* only requests for ``Host: 127.0.0.1:<port>`` are served (a rebound DNS name is refused), and
  one that names a foreign ``Origin`` is refused too (a real redirect sends none);
* bound to 127.0.0.1 only, and always closed, also on timeout and cancellation, so the port is
  free for the next attempt.

Genesys Cloud matches redirect URIs exactly (genesys-api.md 2.9), so real orgs register a fixed
port plus fallbacks (:data:`DEFAULT_REDIRECT_PORTS`); the sandbox accepts any loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import html
import logging
import secrets
from collections.abc import Sequence
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from core.errors import AuthError, OAuthError, SignInCancelledError, SignInTimedOutError

logger = logging.getLogger(__name__)

LOOPBACK_HOST = "127.0.0.1"
CALLBACK_PATH = "/callback"
# Register exactly these on the OAuth client: http://127.0.0.1:<port>/callback for each.
DEFAULT_REDIRECT_PORTS: tuple[int, ...] = (53682, 53683, 53684)
MAX_REQUEST_HEAD_BYTES = 16 * 1024
REQUEST_READ_TIMEOUT_S = 10.0
RESPONSE_GRACE_S = 2.0
_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
}
_HELPER = "This is the sign-in helper of Genesys Tray."


class LoopbackListener:
    """Waits for one OAuth redirect on 127.0.0.1 and hands back its authorization code.

    Use as ``async with LoopbackListener(state) as listener:`` then :meth:`wait_for_code`; the
    listener is closed when the block ends, whatever happened.
    """

    def __init__(
        self,
        state: str,
        *,
        ports: Sequence[int] = (0,),
        host: str = LOOPBACK_HOST,
        path: str = CALLBACK_PATH,
    ) -> None:
        """Prepare (not yet bind) a listener.

        Args:
            state: the ``state`` sent to the authorize endpoint; the redirect must echo it.
            ports: ports to try in order; 0 lets the OS pick a free one (any-port loopback
                matching, fine for the sandbox). Real orgs need registered fixed ports.
            host: the loopback address to bind; never a routable one.
            path: the path of the redirect URI.
        """
        if not ports:
            raise ValueError("at least one port is needed")
        self._state = state
        self._ports = tuple(ports)
        self._host = host
        self._path = path
        self._server: asyncio.Server | None = None
        self._port = 0
        self._result: asyncio.Future[str] | None = None
        self._handlers: dict[asyncio.Task[None], str] = {}  # task -> "reading" | "answering"
        self._ignored = 0  # answers that did not belong to this sign-in
        self._refused = 0  # requests for another host or from another site

    @property
    def port(self) -> int:
        """The bound port (0 before :meth:`start`)."""
        return self._port

    @property
    def redirect_uri(self) -> str:
        """The redirect URI to send to the authorize endpoint and the token exchange."""
        if self._server is None:
            raise RuntimeError("the listener is not started")
        return f"http://{self._host}:{self._port}{self._path}"

    @property
    def serving(self) -> bool:
        """Whether the listening socket is open."""
        return self._server is not None

    async def start(self) -> None:
        """Bind the first free port of the list.

        Raises:
            AuthError: every port is taken (another program, or another sign-in).
        """
        if self._server is not None:
            return
        self._result = asyncio.get_running_loop().create_future()
        for port in self._ports:
            try:
                server = await asyncio.start_server(
                    self._on_connection, self._host, port, limit=MAX_REQUEST_HEAD_BYTES
                )
            except OSError as exc:
                if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                    raise AuthError(
                        f"Cannot listen for the sign-in on {self._host}: {exc}"
                    ) from exc
                logger.debug("sign-in port %d is taken; trying the next", port)
                continue
            self._server = server
            self._port = server.sockets[0].getsockname()[1]
            logger.debug("sign-in listener on %s:%d", self._host, self._port)
            return
        listed = ", ".join(str(p) for p in self._ports)
        raise AuthError(
            f"None of the sign-in ports ({listed}) on {self._host} is free. Close the program "
            "that uses them (or another sign-in window) and try again."
        )

    async def wait_for_code(self, timeout_s: float) -> str:
        """The authorization code of the redirect.

        Raises:
            SignInTimedOutError: no redirect came within ``timeout_s``.
            SignInCancelledError: the person declined (``error=access_denied``).
            OAuthError: the redirect carried another OAuth error.
            AuthError: the redirect (with the right ``state``) carried no code.
        """
        if self._result is None:
            raise RuntimeError("the listener is not started")
        try:
            async with asyncio.timeout(timeout_s):
                return await asyncio.shield(self._result)
        except TimeoutError:
            if self._result.done():
                return self._result.result()
            ignored = (
                " An answer that did not belong to this sign-in (an old tab or another page) "
                "was ignored."
                if self._ignored
                else ""
            )
            raise SignInTimedOutError(
                f"The browser did not come back within {timeout_s:g} s.{ignored} Sign in again."
            ) from None

    async def aclose(self) -> None:
        """Stop listening; let answers in flight finish, drop idle connections."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task, phase in list(self._handlers.items()):
            if phase == "reading":
                task.cancel()
        pending = set(self._handlers)
        if pending:
            _, late = await asyncio.wait(pending, timeout=RESPONSE_GRACE_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if server is not None:
            await server.wait_closed()
            logger.debug("sign-in listener on port %d closed", self._port)
        if self._result is not None:
            if not self._result.done():
                self._result.cancel()
            elif not self._result.cancelled():
                self._result.exception()  # retrieved: no "never retrieved" noise at exit

    async def __aenter__(self) -> LoopbackListener:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ one connection
    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers[task] = "reading"
        try:
            try:
                async with asyncio.timeout(REQUEST_READ_TIMEOUT_S):
                    head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                return  # a preconnect that never asked, or junk: not an answer
            except ConnectionError:
                return
            self._handlers[task] = "answering"
            status, title, message = self._answer(head)
            await _respond(writer, status, title, message)
        finally:
            self._handlers.pop(task, None)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    def _origin(self) -> str:
        """``host:port`` as a browser names this listener in ``Host`` (IPv6 in brackets)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self._port}"

    def _answer(self, head: bytes) -> tuple[int, str, str]:
        """Decide the sign-in from one request head; returns the page to show."""
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return 400, "Bad request", _HELPER
        headers = _headers(header_lines)
        hosts = headers.get("host", [])
        if len(hosts) != 1 or hosts[0].lower() != self._origin():
            self._refused += 1
            _log_first(self._refused, "sign-in listener refused a request for another host")
            return 400, "Bad request", _HELPER
        origins = headers.get("origin", [])
        if any(origin.lower() != f"http://{self._origin()}" for origin in origins):
            self._refused += 1
            _log_first(self._refused, "sign-in listener refused a request sent by another site")
            return 403, "Not allowed", _HELPER
        method, target = parts[0], parts[1]
        try:
            url = urlsplit(target)
        except ValueError:  # e.g. "//[" : not a URL a browser would send
            return 400, "Bad request", _HELPER
        if url.path != self._path:
            return 404, "Not found", _HELPER
        if method != "GET":
            return 405, "Not allowed", _HELPER
        result = self._result
        if result is None or result.done():
            return 410, "Sign-in already finished", "You can close this window."
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        state = query.get("state", "")
        if not secrets.compare_digest(state.encode(), self._state.encode()):
            self._ignored += 1
            _log_first(self._ignored, "sign-in redirect with a wrong state; ignored, still waiting")
            return (
                400,
                "Not this sign-in",
                "This answer does not belong to the current sign-in, so it was ignored. If you "
                "are signing in, finish it in the newest browser tab.",
            )
        error = query.get("error")
        if error is not None:
            description = query.get("error_description", "")
            logger.info("sign-in redirect carried OAuth error %r", error)
            if error == "access_denied":
                result.set_exception(
                    SignInCancelledError("The sign-in was declined in the browser.")
                )
                return 200, "Sign-in cancelled", "You can close this window."
            result.set_exception(OAuthError(error, description))
            return 400, "Sign-in failed", f"{error}: {description}" if description else error
        code = query.get("code", "")
        if not code:
            result.set_exception(AuthError("The browser answer carried no authorization code."))
            return 400, "Sign-in failed", "The answer carried no authorization code."
        logger.debug("sign-in redirect received")
        result.set_result(code)
        return (
            200,
            "Signed in",
            "Genesys Tray received your sign-in. You can close this window and return to the app.",
        )


def _log_first(count: int, message: str) -> None:
    """A warning for the first stray request, debug after: strangers cannot flood the log."""
    logger.log(logging.WARNING if count == 1 else logging.DEBUG, "%s (%d so far)", message, count)


def _headers(lines: list[str]) -> dict[str, list[str]]:
    """Header values by lower-cased name; a repeated header keeps every value."""
    headers: dict[str, list[str]] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and name and name == name.strip():
            headers.setdefault(name.lower(), []).append(value.strip())
    return headers


async def _respond(writer: asyncio.StreamWriter, status: int, title: str, message: str) -> None:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head>"
        "<body style='font-family:sans-serif;margin:3em'>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    ).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Referrer-Policy: no-referrer\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with contextlib.suppress(ConnectionError, OSError):
        writer.write(head + body)
        await writer.drain()
