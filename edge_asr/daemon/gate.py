"""The daemon's outermost ASGI layer: per-route request metrics, bearer-token auth, the request-body size limit
and the pause a body may take (``server.idle_timeout``)."""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import CLIENT_CLOSED, BodyTimeout, BodyTooLarge, error_body, error_response

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
WS_POLICY_VIOLATION = 1008


def _bearer(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    if scope["type"] == "websocket" or scope.get("path") == "/v1/live":
        # Browsers cannot set headers on WebSocket/EventSource requests: the token may come as a query parameter.
        from urllib.parse import parse_qs

        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("access_token")
        return values[0] if values else None
    return None


class Gate:
    """Wraps the FastAPI app; ``daemon`` is the DaemonState (config, token and metrics are read per request)."""

    def __init__(self, app: ASGIApp, routes_app: FastAPI, daemon: Any) -> None:
        self.app, self.routes_app, self.daemon = app, routes_app, daemon

    def _route(self, scope: Scope) -> str:
        for route in self.routes_app.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return str(getattr(route, "path", "other"))
        return "other"  # unknown paths share one label so scanners cannot blow up the series count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        route, method = self._route(scope), scope.get("method", "WS")
        status = {"code": 0}
        started = time.perf_counter()
        m = self.daemon.metrics

        async def send_wrapper(message: Message) -> None:
            t = message["type"]
            if t == "http.response.start":
                status["code"] = message["status"]
            elif t == "websocket.accept":
                status["code"] = 101
            elif t == "websocket.close" and not status["code"]:
                status["code"] = 403
            await send(message)

        try:
            token = self.daemon.token
            if token and scope["path"] not in PUBLIC_PATHS:
                given = _bearer(scope)
                if given is None or not hmac.compare_digest(given.encode(), token.encode()):
                    await self._deny(scope, receive, send_wrapper)
                    return
            if scope["type"] == "http":
                limit = self.daemon.config.server.max_upload_bytes
                length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
                if length is not None and length.isdigit() and int(length) > limit:
                    await error_response(BodyTooLarge(limit))(scope, receive, send_wrapper)
                    return
                receive = self._limited(receive, limit, self.daemon.config.server.idle_timeout)
            await self.app(scope, receive, send_wrapper)
        except Exception:
            if scope["type"] != "http" or not status["code"]:
                raise
            # Starlette re-raises what its error handler has already answered (500) and logged: once is enough.
        finally:
            code = status["code"] or 500
            m.requests.labels(route, method, str(code)).inc()
            if code >= 400 and code != CLIENT_CLOSED:  # a client that went away is not the server's error
                m.errors.labels(route, str(code)).inc()
            if scope["type"] == "http":
                m.latency.labels(route).observe(time.perf_counter() - started)

    @staticmethod
    def _limited(receive: Receive, limit: int, idle: float) -> Receive:
        """The body in at most ``limit`` bytes, each part within ``idle`` s of the previous one; once it is all in,
        receive() only waits for the client to disconnect, without a limit."""
        seen = {"bytes": 0, "done": False}

        async def wrapped() -> Message:
            if seen["done"]:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), idle)
            except asyncio.TimeoutError:
                raise BodyTimeout(idle, seen["bytes"]) from None
            if message["type"] == "http.request":
                seen["bytes"] += len(message.get("body", b""))
                if seen["bytes"] > limit:
                    raise BodyTooLarge(limit)
                seen["done"] = not message.get("more_body", False)
            return message

        return wrapped

    @staticmethod
    async def _deny(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": "missing or wrong token"})
            return
        response = JSONResponse(error_body("missing or wrong bearer token (Authorization: Bearer <token>)",
                                           "authentication_error"), status_code=401,
                                headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)
