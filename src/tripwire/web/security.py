"""The dashboard's guards: bearer tokens compared in constant time, a request body limit,
and response headers that keep pages from running anything but their own scripts.

Writes (ingest, attest) always need `Authorization: Bearer <TRIPWIRE_TOKEN>`; a browser sends
it from the dashboard's own script, never from a cookie, so another site cannot make a visitor's
browser write (no CSRF). Reads are open unless the server is started private: then they need
the same bearer token, or the session cookie `/login` sets (HttpOnly, SameSite=Strict).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "tripwire_session"
DEFAULT_MAX_BODY = 50 * 1024 * 1024
"""Largest request body accepted (bytes); larger ones get 413."""

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
"""No inline script runs, so markup injected through a name could not execute even if an
escape were missed; plotly needs inline styles only."""

SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def token_matches(given: str | None, expected: str | None) -> bool:
    """True when `given` is the configured token; constant time in the token's content and
    length (both sides are hashed to 32 bytes before `hmac.compare_digest`)."""
    if not expected:
        return False
    return hmac.compare_digest(_digest(given or ""), _digest(expected))


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (None when absent or another
    scheme)."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def session_value(token: str) -> str:
    """The read-session cookie for a token: an HMAC of a fixed label, so the cookie is not the
    token itself and stops working when the token changes."""
    return hmac.new(token.encode("utf-8"), b"tripwire read session v1",
                    hashlib.sha256).hexdigest()


def session_matches(cookie: str | None, token: str | None) -> bool:
    if not token or not cookie:
        return False
    return hmac.compare_digest(_digest(cookie), _digest(session_value(token)))


class BodyTooLarge(Exception):
    """A request body went over the limit while it was being read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body is larger than the limit of {limit} bytes")
        self.limit = limit


class BodyLimit:
    """ASGI middleware: refuse bodies over `limit` bytes with 413, whether declared by
    Content-Length (refused before reading) or streamed (stopped once over)."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _plain(send, 400, "the Content-Length header is not a number")
                return
            if size > self.limit:
                await _plain(send, 413, f"the request body ({size} bytes) is larger than the "
                                        f"limit of {self.limit} bytes")
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)


class SecurityHeaders:
    """ASGI middleware adding SECURITY_HEADERS to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in names]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _plain(send: Send, status: int, text: str) -> None:
    body = ('{"error": "' + text.replace('"', "'") + '"}').encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
