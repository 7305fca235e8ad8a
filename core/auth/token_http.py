"""The session's two HTTP calls: the OAuth token endpoint and token revocation.

The boundary where httpx stops for signing in: transport failures become
:class:`~core.errors.TransportError`, OAuth refusals :class:`~core.errors.OAuthError`, so the
session only reasons about tokens. Neither forms nor answers are ever logged: they carry codes,
verifiers, secrets and tokens.

Two guards against a foreign or hostile server: a client secret goes only to a host that may
receive it (:attr:`~core.rest.regions.Environment.may_receive_secret`: Genesys Cloud, this
machine, or a custom host the person confirmed), so no caller (the GUI, ``listen``) can send it
elsewhere by mistake; and an answer is read up to :data:`MAX_TOKEN_ANSWER_BYTES` only (a token
answer is a few hundred bytes; an endless one must not fill memory).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from core.errors import OAuthError, TransportError
from core.rest.hosts import UnconfirmedHostError
from core.rest.regions import Environment

logger = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 30.0
MAX_TOKEN_ANSWER_BYTES = 1024 * 1024  # an OAuth answer (or error page) is far smaller
_TOO_LARGE = "The sign-in server's answer was too large; it was not read."
_GARBLED = "The sign-in server's answer could not be unpacked."


class TokenHttpClient:
    """Posts token requests to the login host and revokes tokens on the API host."""

    def __init__(
        self,
        env: Environment,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = HTTP_TIMEOUT_S,
    ) -> None:
        self.env = env
        self._http = httpx.AsyncClient(
            transport=transport, timeout=timeout_s, follow_redirects=False
        )

    async def token(
        self, form: Mapping[str, str], *, basic: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        """POST the token endpoint; the JSON answer, or the OAuth error as :class:`OAuthError`.

        Raises:
            UnconfirmedHostError: the request carries a client secret and the host may not
                receive it (nothing was sent).
            OAuthError: the server's OAuth error, or ``invalid_response`` for a non-OAuth or
                oversized answer.
            TransportError: the login host could not be reached or answered 5xx.
        """
        if (basic is not None or "client_secret" in form) and not self.env.may_receive_secret:
            logger.warning("the client secret was not sent to an unconfirmed custom host")
            raise UnconfirmedHostError(self.env.host)
        url = f"{self.env.login_base}/oauth/token"
        request = self._http.build_request("POST", url, data=dict(form))
        auth = httpx.BasicAuth(*basic) if basic else httpx.USE_CLIENT_DEFAULT
        try:
            resp = await self._http.send(request, auth=auth, stream=True)
            try:
                raw = await _read_capped(resp)
            finally:
                await resp.aclose()
        except httpx.DecodingError:  # a body that does not unpack: no OAuth answer
            raise OAuthError("invalid_response", _GARBLED) from None
        except httpx.TimeoutException as exc:
            raise TransportError(
                f"The sign-in server {self.env.login_base} did not answer in time."
            ) from exc
        except httpx.HTTPError as exc:
            raise TransportError(
                f"Could not reach the sign-in server {self.env.login_base} ({type(exc).__name__})."
            ) from exc
        if raw is None:
            raise OAuthError("invalid_response", _TOO_LARGE)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than we can follow
            body = None
        if resp.status_code == 200 and isinstance(body, dict):
            return body
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            description = body.get("error_description")
            raise OAuthError(body["error"], description if isinstance(description, str) else "")
        if resp.status_code >= 500:
            raise TransportError(
                f"The sign-in server {self.env.login_base} answered HTTP {resp.status_code}."
            )
        raise OAuthError(
            "invalid_response", f"HTTP {resp.status_code} without an OAuth answer from the server"
        )

    async def revoke(self, access_token: str) -> bool:
        """``DELETE /api/v2/tokens/me``; whether the token is dead now (401: it was already)."""
        url = f"{self.env.api_base}/api/v2/tokens/me"
        try:
            resp = await self._http.delete(url, headers={"Authorization": f"Bearer {access_token}"})
        except httpx.HTTPError as exc:
            logger.warning("could not reach the API to revoke the token (%s)", type(exc).__name__)
            return False
        if resp.status_code == 401:
            logger.info("the token was already invalid when signing out")
            return True
        if resp.is_success:
            logger.debug("token revoked")
            return True
        logger.warning("revoking the token answered HTTP %d", resp.status_code)
        return False

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()


async def _read_capped(resp: httpx.Response) -> bytes | None:
    """The (decoded) body, or None when it is announced or grows past the cap (unread then)."""
    announced = resp.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > MAX_TOKEN_ANSWER_BYTES:
        logger.warning("the sign-in server announced a %s byte answer; refused", announced)
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size > MAX_TOKEN_ANSWER_BYTES:
            logger.warning("the sign-in server's answer passed %d bytes; cut off", size)
            return None
        chunks.append(chunk)
    return b"".join(chunks)
