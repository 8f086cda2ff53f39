"""gRPC (proto/edge_asr.proto) as a thin adapter over the daemon's scheduler: unary ``Transcribe`` and
bidirectional ``StreamingTranscribe``. Needs grpcio and grpcio-tools (extra ``grpc``); the message classes are
built from the .proto when the server starts (grpc.protos_and_services), so no generated code is kept in the repo.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc

from ..audio import decode_audio
from ..constants import SAMPLE_RATE
from ..errors import AudioError, ConfigError, EdgeAsrError
from .scheduler import Overloaded, Priority, Unavailable
from .stream import PcmDecoder, StreamFormat, StreamSession

log = logging.getLogger(__name__)

PROTO = "edge_asr/daemon/proto/edge_asr.proto"  # relative to the directory holding the edge_asr package
SERVICE = "edge_asr.v1.Transcription"
STREAM_QUEUE = 64  # results buffered per stream before the decoder waits for the client
GRACE = 5.0  # s for open calls on shutdown


def load_protos() -> tuple[Any, Any]:
    """The message and service modules built from the .proto (grpcio-tools compiles it in memory)."""
    try:
        return grpc.protos_and_services(PROTO)  # type: ignore[no-any-return]
    except (ImportError, NotImplementedError) as exc:
        raise ModuleNotFoundError(f"grpcio-tools is needed to load {PROTO} ({exc})") from None


class TranscriptionService:
    def __init__(self, daemon: Any, pb: Any) -> None:
        self.daemon, self.pb = daemon, pb

    async def _check(self, context: grpc.aio.ServicerContext) -> None:
        d = self.daemon
        if d.token:
            meta = dict(context.invocation_metadata() or ())
            scheme, _, given = str(meta.get("authorization", "")).partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), d.token.encode()):
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        if d.scheduler is None or d.shutting_down:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the model is loading or the server is stopping")

    async def _fail(self, context: grpc.aio.ServicerContext, exc: BaseException) -> None:
        if isinstance(exc, Overloaded):
            context.set_trailing_metadata((("retry-after", str(exc.retry_after)),))
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        if isinstance(exc, Unavailable):
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        if isinstance(exc, (AudioError, ConfigError)):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if isinstance(exc, TimeoutError):
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "transcription did not finish in time")
        await context.abort(grpc.StatusCode.INTERNAL, str(exc) if isinstance(exc, EdgeAsrError) else "internal error")

    def _options(self, language: str) -> Any:
        d = self.daemon
        if language and not d.is_multilingual and language != "en":
            raise ConfigError(f"the loaded model {d.model_name} is English-only; it cannot transcribe {language!r}")
        base = d.config.decoding.transcribe_options()
        return base.with_(language=language or base.language)

    async def Transcribe(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._check(context)
        d, pb = self.daemon, self.pb
        try:
            opts = self._options(request.language).with_(initial_prompt=request.prompt or None,
                                                         word_timestamps=request.word_timestamps)
            async with d.decode_slots:  # refused from the header, or as soon as it passes the limit
                audio = await asyncio.to_thread(decode_audio, bytes(request.audio),
                                                max_duration=d.config.server.max_audio_seconds)
            job = d.scheduler.submit(audio, opts, Priority.UPLOAD)
            try:
                result = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(job.future)),
                                                d.config.server.request_timeout)
            except BaseException:
                job.cancel()
                raise
        except (EdgeAsrError, TimeoutError) as exc:
            await self._fail(context, exc)
            raise  # not reached: abort raises
        segments = [pb.Segment(id=s.id, start=s.start, end=s.end, text=s.text, avg_logprob=s.avg_logprob,
                               no_speech_prob=s.no_speech_prob,
                               words=[pb.Word(start=w.start, end=w.end, word=w.word, probability=w.probability)
                                      for w in (s.words or ())])
                    for s in result.segments]
        return pb.TranscribeResponse(text="".join(s.text for s in result.segments).strip(),
                                     language=result.info.language, duration=result.info.duration, segments=segments)

    async def StreamingTranscribe(self, requests: AsyncIterator[Any],
                                  context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await self._check(context)
        d, pb = self.daemon, self.pb
        if d.streams >= d.config.scheduler.max_streams:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many concurrent streams")
        out: asyncio.Queue[Any] = asyncio.Queue(STREAM_QUEUE)
        kinds = {"partial": pb.StreamResponse.PARTIAL, "final": pb.StreamResponse.FINAL}

        async def send(msg: dict[str, Any]) -> None:
            await out.put(pb.StreamResponse(kind=kinds[msg["type"]], text=msg["text"], start=msg["start"],
                                            end=msg["end"], id=msg.get("id", 0)))

        async def consume() -> None:
            decoder: PcmDecoder | None = None
            session: StreamSession | None = None
            async for req in requests:
                if req.HasField("config"):
                    if decoder is not None:
                        raise AudioError("the stream config must come before any audio")
                    c = req.config
                    decoder = PcmDecoder(StreamFormat(c.encoding or "pcm_s16le", c.sample_rate or SAMPLE_RATE,
                                                      c.channels or 1))
                    session = StreamSession(d.scheduler, self._options(c.language), send)
                    continue
                if decoder is None or session is None:
                    decoder = PcmDecoder(StreamFormat())
                    session = StreamSession(d.scheduler, self._options(""), send)
                await session.add(decoder.feed(bytes(req.audio)))
                if session.received > d.config.server.max_audio_seconds:
                    raise AudioError(f"stream longer than {d.config.server.max_audio_seconds:.0f} s")
            if decoder is not None and session is not None:
                await session.add(decoder.flush())
                await session.finish()

        d.streams += 1
        task = asyncio.create_task(consume())
        task.add_done_callback(lambda _: out.put_nowait(None))
        try:
            while (item := await out.get()) is not None:
                yield item
            if task.exception() is not None:
                await self._fail(context, task.exception())  # type: ignore[arg-type]
        finally:
            d.streams -= 1
            task.cancel()


class GrpcServer:
    def __init__(self, daemon: Any, host: str, port: int) -> None:
        self.daemon, self.host, self.port = daemon, host, port
        self._server: grpc.aio.Server | None = None

    async def start(self) -> tuple[str, int]:
        protos, _ = load_protos()  # the service stubs are for clients
        limit = self.daemon.config.server.max_upload_bytes
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", limit)])
        service = TranscriptionService(self.daemon, protos)
        handlers = {
            "Transcribe": grpc.unary_unary_rpc_method_handler(
                service.Transcribe, protos.TranscribeRequest.FromString,
                protos.TranscribeResponse.SerializeToString),
            "StreamingTranscribe": grpc.stream_stream_rpc_method_handler(
                service.StreamingTranscribe, protos.StreamRequest.FromString,
                protos.StreamResponse.SerializeToString),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        port = server.add_insecure_port(f"{self.host}:{self.port}")
        if port == 0:
            raise ConfigError(f"grpc: cannot listen on {self.host}:{self.port}")
        await server.start()
        self._server = server
        return self.host, port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(GRACE)
