"""The daemon's web app (FastAPI on uvicorn): health, metrics, the OpenAI-style upload, live events, streaming.

Everything here is async glue: decoding audio runs in worker threads and inference in the scheduler's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp

from .. import __version__
from ..constants import SAMPLE_RATE
from ..errors import AudioError, EdgeAsrError
from .config import DaemonConfig
from .errors import ApiError, install_handlers
from .gate import Gate
from .live import ALL_TYPES, DEFAULT_TYPES, EventHub, LiveManager
from .metrics import CONTENT_TYPE, Metrics
from .openai_api import register as register_openai
from .scheduler import Overloaded, Scheduler
from .stream import PcmDecoder, StreamFormat, StreamSession
from .waits import close_quietly, receive_within, ws_gone

log = logging.getLogger(__name__)

DECODE_SLOTS = 2  # uploads decoded at once (each may hold up to max_audio_seconds of float32 samples)
SSE_KEEPALIVE = 15.0  # s between SSE comments so proxies keep an idle stream open
WS_POLICY_VIOLATION = 1008
WS_TRY_AGAIN_LATER = 1013
WS_UNSUPPORTED_DATA = 1003
WS_TOO_BIG = 1009
WS_GOING_AWAY = 1001
WS_NORMAL = 1000
WS_INTERNAL_ERROR = 1011
BUSY_RETRY_AFTER = 5  # s a client refused for lack of slots should wait


@dataclass
class DaemonState:
    config: DaemonConfig
    metrics: Metrics
    token: str | None = None
    scheduler: Scheduler | None = None
    live: LiveManager | None = None
    hub: EventHub | None = None
    model_name: str = ""
    is_multilingual: bool = False
    load_error: str | None = None
    shutting_down: bool = False
    streams: int = 0
    decode_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(DECODE_SLOTS))
    grace_over: asyncio.Event = field(default_factory=asyncio.Event)  # set on SIGTERM once the grace period ends


def _types(param: str | None) -> frozenset[str]:
    if not param:
        return DEFAULT_TYPES
    wanted = frozenset(t.strip() for t in param.split(",") if t.strip())
    unknown = wanted - ALL_TYPES
    if unknown:
        raise ApiError(400, f"unknown event types {', '.join(sorted(unknown))}; known: {', '.join(sorted(ALL_TYPES))}",
                       param="types")
    return wanted


def create_app(daemon: DaemonState) -> ASGIApp:
    app = FastAPI(title="edge-asr daemon", version=__version__,
                  description="On-device speech-to-text: OpenAI-compatible uploads, live microphone events, "
                              "streaming transcription, health and Prometheus metrics.")
    app.state.daemon = daemon
    install_handlers(app)
    register_openai(app)

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: the model is loaded; also reports the microphone")
    async def readyz() -> JSONResponse:
        if daemon.shutting_down:
            state = "stopping"
        elif daemon.load_error:
            state = "error"
        else:
            state = "ready" if daemon.scheduler is not None else "loading"
        body = {
            "status": state,
            "model": daemon.model_name or None,
            "error": daemon.load_error,
            "mic": daemon.live.status() if daemon.live else {"enabled": daemon.config.live.enabled,
                                                             "state": "stopped", "reason": "model not loaded"},
            "queue": daemon.scheduler.depth() if daemon.scheduler else {},
        }
        return JSONResponse(body, status_code=200 if state == "ready" else 503)

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(daemon.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/v1/live", summary="Live microphone events as Server-Sent Events (WebSocket on the same path)")
    async def live_sse(types: str | None = None) -> StreamingResponse:
        hub = daemon.hub
        if hub is None:
            raise ApiError(503, "live events are not available yet (the model is loading)",
                           retry_after=BUSY_RETRY_AFTER)
        sub = hub.subscribe(_types(types))
        if sub is None:
            raise ApiError(429, f"too many live clients (limit {hub.max_clients})", retry_after=BUSY_RETRY_AFTER)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + daemon.config.live.max_session_seconds

        async def events() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n\n"
                while True:
                    left = deadline - loop.time()
                    if left <= 0:  # EventSource reconnects by itself after the retry delay
                        daemon.metrics.ws_closed.labels("/v1/live", "session_limit").inc()
                        return
                    try:
                        item = await asyncio.wait_for(sub.queue.get(), min(SSE_KEEPALIVE, left))
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if item is None:
                        return
                    yield f"event: {item['type']}\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"
            finally:
                hub.unsubscribe(sub)

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.websocket("/v1/live")
    async def live_ws(ws: WebSocket, types: str | None = None) -> None:
        hub = daemon.hub
        await ws.accept()
        try:
            wanted = _types(types)
        except ApiError as exc:
            await ws.close(WS_UNSUPPORTED_DATA, exc.message)
            return
        sub = hub.subscribe(wanted) if hub is not None else None
        if sub is None:
            await ws.close(WS_TRY_AGAIN_LATER, "live events unavailable or too many clients")
            return
        assert hub is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + daemon.config.live.max_session_seconds
        reader = asyncio.create_task(_drain(ws))
        try:
            await ws.send_json({"type": "hello", "mic": daemon.live.status() if daemon.live else None})
            while True:
                getter = asyncio.create_task(sub.queue.get())
                done, _ = await asyncio.wait({getter, reader}, timeout=max(deadline - loop.time(), 0.0),
                                             return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    getter.cancel()
                    if reader.exception() is not None and not ws_gone(ws):
                        raise reader.exception()  # type: ignore[misc]
                    return
                if getter not in done:
                    getter.cancel()
                    daemon.metrics.ws_closed.labels("/v1/live", "session_limit").inc()
                    await close_quietly(ws, WS_NORMAL, "session time limit (live.max_session_seconds); reconnect")
                    return
                item = getter.result()
                if item is None:
                    await close_quietly(ws, WS_GOING_AWAY, "server shutting down")
                    return
                try:
                    await asyncio.wait_for(ws.send_json(item), daemon.config.server.idle_timeout)
                except asyncio.TimeoutError:  # the client reads nothing: it only holds a slot
                    daemon.metrics.ws_closed.labels("/v1/live", "unread").inc()
                    log.info("/v1/live: a client left events unread for %.0f s; dropped it",
                             daemon.config.server.idle_timeout)
                    return
        except WebSocketDisconnect:
            return
        except Exception:
            if ws_gone(ws):
                return  # the client went away while we used the socket (Starlette raises RuntimeError then)
            log.exception("/v1/live session failed")
            await close_quietly(ws, WS_INTERNAL_ERROR, "internal error; the server log has the details")
        finally:
            reader.cancel()
            hub.unsubscribe(sub)

    @app.websocket("/v1/stream")
    async def stream_ws(ws: WebSocket, encoding: str = "pcm_s16le", sample_rate: int = SAMPLE_RATE, channels: int = 1,
                        language: str | None = None) -> None:
        await ws.accept()
        scheduler = daemon.scheduler
        if scheduler is None or daemon.shutting_down:
            await ws.close(WS_TRY_AGAIN_LATER, "model loading or server shutting down")
            return
        if daemon.streams >= daemon.config.scheduler.max_streams:
            await ws.send_json({"type": "error", "message": "too many concurrent streams",
                                "retry_after": BUSY_RETRY_AFTER})
            await ws.close(WS_TRY_AGAIN_LATER, "too many concurrent streams")
            return
        daemon.streams += 1
        daemon.metrics.stream_sessions.set(daemon.streams)
        try:
            await _stream(ws, daemon, scheduler, encoding, sample_rate, channels, language)
        finally:
            daemon.streams -= 1
            daemon.metrics.stream_sessions.set(daemon.streams)
            log.info("stream session ended (%d open)", daemon.streams)

    return Gate(app, app, daemon)


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) client messages until it disconnects."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _stream(ws: WebSocket, daemon: DaemonState, scheduler: Scheduler, encoding: str, sample_rate: int,
                  channels: int, language: str | None) -> None:
    try:
        decoder = PcmDecoder(StreamFormat(encoding, sample_rate, channels))
        base = daemon.config.decoding.transcribe_options()
        if language and not daemon.is_multilingual and language != "en":
            raise AudioError(f"the loaded model {daemon.model_name} is English-only; it cannot transcribe {language!r}")
        options = base.with_(language=language or base.language)
    except EdgeAsrError as exc:
        await ws.send_json({"type": "error", "message": str(exc)})
        await ws.close(WS_UNSUPPORTED_DATA, "bad stream parameters")
        return
    session = StreamSession(scheduler, options, ws.send_json)
    server = daemon.config.server
    limit, idle = server.max_audio_seconds, server.idle_timeout
    loop = asyncio.get_running_loop()
    deadline = loop.time() + server.stream_max_seconds
    try:
        await ws.send_json({"type": "ready", "model": daemon.model_name, "sample_rate": sample_rate,
                            "encoding": encoding})
        while True:
            left = deadline - loop.time()
            message = await receive_within(ws, min(idle, left))
            if message is None:  # an idle client would hold one of the few stream slots forever
                reason = "session_limit" if left <= idle else "idle"
                text = (f"stream session longer than server.stream_max_seconds ({server.stream_max_seconds:.0f} s)"
                        if reason == "session_limit" else f"nothing received for {idle:g} s (server.idle_timeout)")
                daemon.metrics.ws_closed.labels("/v1/stream", reason).inc()
                log.info("stream closed: %s", text)
                await _fail(ws, session, text, WS_POLICY_VIOLATION)
                return
            if message["type"] == "websocket.disconnect":
                session.cancel()
                return
            if message.get("bytes") is not None:
                await session.add(decoder.feed(message["bytes"]))
                if session.received > limit:
                    await ws.send_json({"type": "error", "message": f"stream longer than {limit:.0f} s"})
                    await ws.close(WS_TOO_BIG, "stream too long")
                    session.cancel()
                    return
            elif message.get("text") is not None:
                try:
                    command = json.loads(message["text"]).get("type")
                except (ValueError, AttributeError):
                    command = None
                if command in ("end", "eof"):
                    break
                await ws.send_json({"type": "error", "message": 'text messages must be {"type": "end"}'})
        await session.add(decoder.flush())
        await session.finish()
        await ws.send_json({"type": "done", "duration": round(session.received, 3), "finals": len(session.finals)})
        await ws.close(WS_NORMAL)
    except Overloaded as exc:
        await _fail(ws, session, str(exc), WS_TRY_AGAIN_LATER, exc.retry_after)
    except EdgeAsrError as exc:
        await _fail(ws, session, str(exc), WS_UNSUPPORTED_DATA if isinstance(exc, AudioError) else WS_INTERNAL_ERROR)
    except WebSocketDisconnect:
        session.cancel()
    except Exception:
        session.cancel()
        if ws_gone(ws):
            return  # the client went away while we used the socket (Starlette raises RuntimeError then)
        log.exception("stream session failed")
        await _fail(ws, session, "internal error; the server log has the details", WS_INTERNAL_ERROR)


async def _fail(ws: WebSocket, session: StreamSession, message: str, code: int, retry_after: int | None = None) -> None:
    session.cancel()
    if ws_gone(ws):
        return
    body: dict[str, Any] = {"type": "error", "message": message}
    if retry_after is not None:
        body["retry_after"] = retry_after
    with contextlib.suppress(WebSocketDisconnect):
        await ws.send_json(body)
    await close_quietly(ws, code, message)
