"""Every error the API answers, whatever its status, has one shape: ``{type, message, problems}``.

``api.app`` raises its own refusals (``ApiError``) and shapes request validation; this module shapes the rest:
what Starlette and FastAPI answer by themselves (404 for no such route, 405, 400 for a body that cannot be
read, 413 from ``api.limits``) and any error the API did not expect (500, logged with its traceback).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

TYPE_OF_STATUS = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge",
                  415: "UnsupportedMediaType", 500: "InternalError"}
"""The error type of each status Starlette or FastAPI answer by themselves."""


def error_body(kind: str, message: str, problems: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The documented error shape; one problem repeating the message when none is given."""
    return {"type": kind, "message": message,
            "problems": problems if problems is not None else [{"field": "", "code": kind, "message": message}]}


def error_response(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON response of ``status`` with the documented shape (401s say how to authenticate)."""
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse(error_body(kind, message), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Shape Starlette's and FastAPI's own errors, and unexpected ones, on ``app``."""

    @app.exception_handler(HTTPException)
    async def _http(_: Request, error: HTTPException) -> JSONResponse:
        kind = TYPE_OF_STATUS.get(error.status_code, "HttpError")
        message = error.detail if isinstance(error.detail, str) else kind
        return error_response(error.status_code, kind, message, dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        structlog.get_logger("concordat.api").exception("request_failed", method=request.method,
                                                        path=request.url.path, error=type(error).__name__)
        return error_response(500, "InternalError", "the API failed to answer this request; it was logged")
