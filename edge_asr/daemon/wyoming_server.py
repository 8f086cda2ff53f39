"""The Wyoming protocol (Home Assistant's voice pipeline) as a thin adapter over the daemon's scheduler.

Home Assistant sends ``transcribe``, ``audio-start``, ``audio-chunk``... ``audio-stop`` and expects one
``transcript``; ``describe`` is answered with the model. Needs the ``wyoming`` package (extra ``wyoming``).
Wyoming has no authentication: bind it to loopback, or to a LAN you trust.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Describe, Info
from wyoming.server import AsyncEventHandler, AsyncTcpServer

from .. import __version__
from ..constants import SAMPLE_RATE
from ..errors import AudioError, ConfigError, EdgeAsrError
from .scheduler import Overloaded, Priority, Unavailable
from .stream import PcmDecoder, StreamFormat

log = logging.getLogger(__name__)

PCM_WIDTH = 2  # bytes per sample the model side wants (16-bit)
ATTRIBUTION = Attribution(name="OpenAI Whisper (tiny.en), INT8 via edge-asr", url="https://github.com/openai/whisper")
ENGLISH_ONLY = ["en"]


class WyomingHandler(AsyncEventHandler):
    """One Home Assistant connection: collect one utterance, transcribe it through the scheduler."""

    def __init__(self, daemon: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.daemon = daemon
        self.language: str | None = None
        # Only the sample width goes through wyoming's audioop converter; channels and rate go through the same
        # soxr resampler as every other input (audioop.ratecv is a low-quality interpolator).
        self.converter = AudioChunkConverter(width=PCM_WIDTH)
        self.decoder: PcmDecoder | None = None
        self.chunks: list[np.ndarray] = []
        self.samples = 0

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self._info().event())
        elif Transcribe.is_type(event.type):
            self.language = Transcribe.from_event(event).language
        elif AudioStart.is_type(event.type):
            self.chunks, self.samples, self.decoder = [], 0, None
        elif AudioChunk.is_type(event.type):
            chunk = self.converter.convert(AudioChunk.from_event(event))
            try:
                if self.decoder is None:
                    self.decoder = PcmDecoder(StreamFormat("pcm_s16le", chunk.rate, chunk.channels))
                samples = self.decoder.feed(chunk.audio)
            except AudioError as exc:
                await self._error(str(exc), "bad-audio")
                return False
            self.samples += len(samples)
            if self.samples / SAMPLE_RATE > self.daemon.config.server.max_audio_seconds:
                await self._error("the utterance is longer than server.max_audio_seconds", "too-long")
                return False
            self.chunks.append(samples)
        elif AudioStop.is_type(event.type):
            if self.decoder is not None:
                self.chunks.append(self.decoder.flush())
            await self._transcribe()
        return True

    def _info(self) -> Info:
        d = self.daemon
        languages = ENGLISH_ONLY if not d.is_multilingual else []
        model = AsrModel(name=d.model_name or "loading", attribution=ATTRIBUTION, installed=d.scheduler is not None,
                         description=d.model_name, version=__version__, languages=languages)
        program = AsrProgram(name="edge-asr", attribution=ATTRIBUTION, installed=True,
                             description="on-device INT8 Whisper", version=__version__, models=[model])
        return Info(asr=[program])

    async def _transcribe(self) -> None:
        d = self.daemon
        audio = np.concatenate(self.chunks) if self.chunks else np.zeros(0, dtype=np.float32)
        self.chunks, self.decoder = [], None
        if d.scheduler is None or d.shutting_down:
            await self._error("the model is loading or the server is stopping", "unavailable")
            return
        try:
            if len(audio) == 0:
                raise AudioError("no audio between audio-start and audio-stop")
            language = self.language
            if language and not d.is_multilingual and language.split("-")[0].lower() != "en":
                raise ConfigError(f"the loaded model {d.model_name} is English-only; it cannot transcribe {language}")
            base = d.config.decoding.transcribe_options()
            opts = base.with_(language=language.split("-")[0].lower() if language and d.is_multilingual
                              else base.language)
            job = d.scheduler.submit(audio, opts, Priority.STREAM)  # a person is waiting for the answer
            result = await asyncio.wait_for(asyncio.wrap_future(job.future), d.config.server.request_timeout)
        except (Overloaded, Unavailable) as exc:
            await self._error(str(exc), "busy")
            return
        except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
            job.cancel()
            await self._error("transcription timed out", "timeout")
            return
        except EdgeAsrError as exc:
            await self._error(str(exc), "bad-request")
            return
        text = "".join(s.text for s in result.segments).strip()
        log.info("wyoming: %.1f s -> %r", len(audio) / SAMPLE_RATE, text)
        await self.write_event(Transcript(text=text, language=result.info.language).event())

    async def _error(self, text: str, code: str) -> None:
        log.warning("wyoming: %s", text)
        await self.write_event(Error(text=text, code=code).event())


class WyomingServer:
    def __init__(self, daemon: Any, host: str, port: int) -> None:
        self.daemon = daemon
        self._server = AsyncTcpServer(host, port)

    async def start(self) -> tuple[str, int]:
        """Listen; returns the bound (host, port)."""
        try:
            await self._server.start(lambda r, w: WyomingHandler(self.daemon, r, w))
        except OSError as exc:
            raise ConfigError(f"wyoming: cannot listen on {self._server.host}:{self._server.port} ({exc})") from None
        listener: Any = self._server._server  # an asyncio.Server once started
        host, port = listener.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def stop(self) -> None:
        await self._server.stop()
