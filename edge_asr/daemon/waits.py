"""Bounded waits of the daemon's handlers: for a scheduled job (against the client leaving, the request timeout and
the end of the shutdown grace period) and for a WebSocket message (against idle and session limits).

On Python 3.10 ``asyncio.wait_for`` raises ``asyncio.TimeoutError`` and ``Future.result`` raises
``concurrent.futures.TimeoutError``, neither of which is the builtin ``TimeoutError`` (they became aliases in
3.11): the daemon always names the asyncio/concurrent.futures classes (tests/daemon/test_py310_timeouts.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.types import Message, Receive
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from .scheduler import Job, JobResult


class ClientGone(Exception):
    """The client disconnected before its answer (HTTP 499 in the metrics, one INFO line in the log)."""


class GraceOver(Exception):
    """The shutdown grace period ended before the job finished."""


class JobTimeout(Exception):
    """The job did not finish within the request timeout."""


def _consume(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()  # retrieved: no "Future exception was never retrieved" when nobody waits any more


def abandon(job: Job, fut: asyncio.Future[Any] | None = None) -> None:
    """Cancel ``job`` (the scheduler stops it at its next step) whose answer nobody will read."""
    job.cancel()
    if fut is not None:
        fut.add_done_callback(_consume)


async def wait_disconnect(receive: Receive) -> None:
    """Return when the HTTP client disconnects (call once the request body has been read)."""
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return


async def await_job(job: Job, timeout: float, grace_over: asyncio.Event,
                    receive: Receive | None = None) -> JobResult:
    """The job's result; raises ClientGone, GraceOver or JobTimeout (having cancelled the job), or the job's own
    error. Cancellation of the caller cancels the job too."""
    fut = asyncio.wrap_future(job.future)
    watchers: list[asyncio.Future[Any]] = [asyncio.ensure_future(grace_over.wait())]
    if receive is not None:
        watchers.append(asyncio.ensure_future(wait_disconnect(receive)))
    try:
        done, _ = await asyncio.wait({fut, *watchers}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        abandon(job, fut)
        raise
    finally:
        for w in watchers:
            w.cancel()
    if fut in done:
        result: JobResult = fut.result()
        return result
    abandon(job, fut)
    if len(watchers) > 1 and watchers[1] in done:
        raise ClientGone
    if watchers[0] in done:
        raise GraceOver
    raise JobTimeout


def ws_gone(ws: WebSocket) -> bool:
    """True when either side has closed ``ws`` (Starlette then raises RuntimeError on any use of it)."""
    return WebSocketState.DISCONNECTED in (ws.client_state, ws.application_state)


async def receive_within(ws: WebSocket, seconds: float) -> Message | None:
    """The next message from the client, or None when none came within ``seconds``."""
    try:
        return await asyncio.wait_for(ws.receive(), max(seconds, 0.0))
    except asyncio.TimeoutError:
        return None


async def close_quietly(ws: WebSocket, code: int, reason: str) -> None:
    """Close ``ws`` unless it is already closed; a client that vanished meanwhile is not an error."""
    if ws_gone(ws):
        return
    with contextlib.suppress(WebSocketDisconnect):
        await ws.close(code, reason[:120])
