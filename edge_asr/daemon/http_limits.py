"""What uvicorn does not bound by itself: the time a client may take to send a request's line and headers, and
the number of open connections.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) and h11 caps the size of the headers, but a
connection that sends half a request line and then a byte every few seconds (slowloris) is held open forever.
Here every connection gets ``server.header_timeout`` seconds to complete each request's headers, and a connection
beyond ``server.max_connections`` is closed at once. Body pauses are bounded in gate.Gate (``server.idle_timeout``).
A flood from many addresses still costs a connection each until these limits close it: in front of an untrusted
network, a reverse proxy (nginx, Caddy, HAProxy) is the answer (README, "Exposing the daemon").
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)

SUMMARY_INTERVAL = 60.0  # s between log lines summing up closed connections (a flood must not flood the log)


class _Summary:
    """Counts closed connections per reason and logs the first one at once, then at most one line a minute."""

    def __init__(self) -> None:
        self.pending: dict[str, int] = {}
        self.last = -SUMMARY_INTERVAL

    def note(self, reason: str) -> None:
        self.pending[reason] = self.pending.get(reason, 0) + 1
        now = time.monotonic()
        if now - self.last >= SUMMARY_INTERVAL:
            parts = ", ".join(f"{n} {why}" for why, n in sorted(self.pending.items()))
            log.warning("closed connections: %s (in the last %.0f s at most)", parts, SUMMARY_INTERVAL)
            self.pending.clear()
            self.last = now


def _timeout_response(seconds: float) -> bytes:
    body = json.dumps({"error": {"message": f"the request headers did not arrive within {seconds:g} s",
                                 "type": "timeout", "param": None, "code": None}}).encode()
    head = (f"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode("ascii")
    return head + body


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus a per-request header deadline and a connection cap (from the daemon's config,
    read per connection, so SIGHUP changes them)."""

    daemon: Any = None  # DaemonState, set by limited_protocol()
    summary: _Summary = _Summary()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        server = self.daemon.config.server
        if len(self.connections) > server.max_connections:
            self._refuse("over server.max_connections", "too_many")
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            self._disarm()  # the headers are in (or this is now a WebSocket): the app's own limits apply

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # keep-alive: the next request's headers get the same allowance

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.daemon.config.server.header_timeout, self._expired)

    def _disarm(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return
        if self.conn.their_state is h11.IDLE:
            self.transport.write(_timeout_response(self.daemon.config.server.header_timeout))
            self._refuse("that did not send their headers in time", "header_timeout")

    def _refuse(self, why: str, label: str) -> None:
        self.daemon.metrics.closed_connections.labels(label).inc()
        self.summary.note(why)
        self.transport.close()


def limited_protocol(daemon: Any) -> type[LimitedH11Protocol]:
    """The protocol class uvicorn should instantiate per connection, bound to this daemon's state."""
    return type("DaemonH11Protocol", (LimitedH11Protocol,), {"daemon": daemon, "summary": _Summary()})
