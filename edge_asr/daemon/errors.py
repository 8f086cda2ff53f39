"""HTTP error translation: every error leaves as JSON ``{"error": {"message", "type", "param", "code"}}`` (the
shape OpenAI's clients parse), with Retry-After when the client should come back."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from ..errors import AudioError, ConfigError, EdgeAsrError
from .scheduler import Overloaded, Unavailable
from .waits import ClientGone

log = logging.getLogger(__name__)

LOADING_RETRY_AFTER = 5  # s a client should wait while the model loads
MIB = 1024 * 1024  # bytes
CLIENT_CLOSED = 499  # nginx's status for "the client closed the connection before the answer" (metrics label)

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          405: "invalid_request_error", 408: "timeout", 413: "invalid_request_error", 415: "invalid_request_error",
          422: "invalid_request_error", 429: "rate_limit_error", 503: "service_unavailable", 504: "timeout"}


class ApiError(Exception):
    """An error answer: status, a message for humans, optionally the form field at fault and Retry-After."""

    def __init__(self, status: int, message: str, *, param: str | None = None, kind: str | None = None,
                 retry_after: int | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param
        self.kind = kind or _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        self.headers = dict(headers or {})
        if retry_after is not None:
            self.headers["Retry-After"] = str(retry_after)


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        mib = f" ({limit / MIB:.0f} MiB)" if limit >= MIB else ""
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes{mib}")


class BodyTimeout(ApiError):
    def __init__(self, idle: float, received: int) -> None:
        super().__init__(408, f"the request body stopped arriving: nothing for {idle:g} s after {received} bytes "
                              "(server.idle_timeout)")


def unavailable(daemon: Any) -> ApiError:
    if daemon.shutting_down:
        return ApiError(503, "the server is shutting down", retry_after=LOADING_RETRY_AFTER)
    if daemon.load_error:
        return ApiError(503, f"the model could not be loaded: {daemon.load_error}")
    return ApiError(503, "the model is still loading", retry_after=LOADING_RETRY_AFTER)


def error_body(message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(error_body(exc.message, exc.kind, exc.param), status_code=exc.status, headers=exc.headers)


def to_api_error(exc: BaseException) -> ApiError:
    """Library errors at the HTTP boundary."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, Overloaded):
        return ApiError(429, str(exc), retry_after=exc.retry_after)
    if isinstance(exc, Unavailable):
        return ApiError(503, str(exc), retry_after=exc.retry_after)
    if isinstance(exc, (AudioError, ConfigError)):
        return ApiError(400, str(exc))
    if isinstance(exc, EdgeAsrError):
        return ApiError(500, str(exc), kind="server_error")
    return ApiError(500, "internal error; the server log has the details", kind="server_error")


def install_handlers(app: FastAPI) -> None:
    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        api = to_api_error(exc)
        if api.status >= 500 and not isinstance(exc, ApiError):
            log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(api)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return error_response(ApiError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {})))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(ApiError(422, f"{where}: {first.get('msg', 'invalid request')}"))

    async def on_gone(request: Request, exc: Exception) -> Response:
        # The client's doing, not the server's: one line, no traceback, its own status in the metrics.
        log.info("%s %s: the client disconnected before the answer", request.method, request.url.path)
        return Response(status_code=CLIENT_CLOSED)  # never reaches the client; labels the metrics

    app.add_exception_handler(ClientDisconnect, on_gone)
    app.add_exception_handler(ClientGone, on_gone)
    app.add_exception_handler(ApiError, on_error)
    app.add_exception_handler(EdgeAsrError, on_error)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_error)
