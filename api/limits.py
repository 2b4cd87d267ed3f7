"""The API checks before it trusts: a pure ASGI middleware in front of every route.

For each HTTP request, before the application reads a byte of its body:

1. a declared ``Content-Length`` over ``MAX_BODY_BYTES`` is refused with 413;
2. a request with a body whose ``Content-Type`` is not JSON is refused with 415 (but see 3);
3. on every route but the public ones (``PUBLIC_PATHS``) and the pages (paths under ``pages_prefix``, which
   sign people in with a session cookie and take HTML forms: ``web.session``), the bearer token is checked
   (``authenticate``) and a body must be JSON; a refusal (401, or 503 when the identity provider's keys cannot
   be fetched) is sent without reading the body;
4. the body is then passed on as it streams, its bytes counted: once past ``MAX_BODY_BYTES`` (a body sent in
   chunks, with no length declared) reading stops with 413. Nothing is buffered here, so a large body costs
   the API no memory beyond the chunk in hand.

Refusals have the API's error shape (``api.errors``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from domain import limits

MAX_BODY_BYTES = limits.STATE_BYTES
"""The largest request body accepted (1 MB): the engine's own input limit, an agreement request's whole JSON
(``domain.limits.STATE_BYTES``); every action is smaller."""

PUBLIC_PATHS = frozenset({"/attestor-keys", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
"""Routes served without a token."""

Authenticate = Callable[[str | None], Awaitable[tuple[int, str, str] | None]]
"""Checks an ``Authorization`` header: None when it proves someone, else the refusal (status, type, message)."""


class BodyTooLarge(HTTPException):
    """A request body past ``MAX_BODY_BYTES`` (HTTP 413)."""

    def __init__(self) -> None:
        super().__init__(413, f"the request body is over {MAX_BODY_BYTES} bytes, the most the engine accepts")


class ChecksFirst:
    """The middleware: ``app`` behind the checks above, tokens checked by ``authenticate``, paths under
    ``pages_prefix`` (when given) left to the pages' own session."""

    def __init__(self, app: ASGIApp, authenticate: Authenticate, pages_prefix: str | None = None) -> None:
        self.app = app
        self.authenticate = authenticate
        self.pages_prefix = pages_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        refusal = await self._refusal(scope, headers)
        if refusal is not None:
            status, kind, message = refusal
            await error_response(status, kind, message)(scope, _nothing_more, send)
            return
        await self.app(scope, _counting(receive), send)

    async def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return 413, "PayloadTooLarge", BodyTooLarge().detail
        path: str = scope["path"]
        if self.pages_prefix and (path == self.pages_prefix or path.startswith(f"{self.pages_prefix}/")):
            return None
        has_body = (declared.isdigit() and int(declared) > 0) or "transfer-encoding" in headers
        media_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if has_body and media_type != "application/json":
            return 415, "UnsupportedMediaType", "send the request body as JSON (Content-Type: application/json)"
        if path in PUBLIC_PATHS:
            return None
        return await self.authenticate(headers.get("authorization"))


def _counting(receive: Receive) -> Receive:
    """``receive``, raising ``BodyTooLarge`` once the body's bytes pass ``MAX_BODY_BYTES``."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise BodyTooLarge()
        return message

    return counted


async def _nothing_more() -> Message:
    """What a refused request's response reads from it: nothing (its body is never read)."""
    return {"type": "http.disconnect"}
