"""Streaming transcription of client audio (WS /v1/stream): raw PCM or WAV chunks in, partials and finals out.

The session keeps the audio not yet committed. Every ``STEP`` seconds of new audio it re-decodes that buffer
through the scheduler: all segments but the last are final (Whisper has closed them), the last one is the
partial. Trailing silence, a long buffer or the end of the stream commit the rest. The buffer is thus a few
seconds long and each decode costs about one short window.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..audio import StreamResampler
from ..constants import SAMPLE_RATE
from ..errors import AudioError
from ..options import TranscribeOptions
from ..results import Segment
from .scheduler import Priority, Scheduler

log = logging.getLogger(__name__)

STEP = 1.0  # s of new audio between partial decodes
MAX_BUFFER = 20.0  # s of uncommitted audio before the oldest segment is forced final
BACKPRESSURE_BUFFER = 40.0  # s of buffered audio above which reading from the client waits for the decoder
ENDPOINT_SILENCE = 0.8  # s of trailing silence that ends an utterance
SILENCE_DBFS = -45.0  # RMS level below which audio counts as silence
MIN_UTTERANCE = 0.3  # s: shorter buffers are not worth a decode
ENCODINGS = ("pcm_s16le", "pcm_f32le", "wav")
MAX_CHANNELS = 8
MIN_RATE, MAX_RATE = 1000, 384_000  # Hz accepted for client streams
WAV_HEADER_LIMIT = 64 * 1024  # bytes of RIFF chunks allowed before the data chunk
PCM_S16_SCALE = 32768.0


@dataclass(frozen=True)
class StreamFormat:
    encoding: str = "pcm_s16le"
    sample_rate: int = SAMPLE_RATE  # Hz
    channels: int = 1

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise AudioError(f"encoding must be one of {', '.join(ENCODINGS)}, not {self.encoding!r}")
        if not MIN_RATE <= self.sample_rate <= MAX_RATE:
            raise AudioError(f"sample_rate must be {MIN_RATE}..{MAX_RATE} Hz, not {self.sample_rate}")
        if not 1 <= self.channels <= MAX_CHANNELS:
            raise AudioError(f"channels must be 1..{MAX_CHANNELS}, not {self.channels}")


class PcmDecoder:
    """Bytes in arbitrary chunks -> float32 mono 16 kHz; a WAV stream's header sets the format."""

    def __init__(self, fmt: StreamFormat) -> None:
        self.fmt = fmt
        self._pending = b""
        self._header_done = fmt.encoding != "wav"
        self._dtype = np.dtype("<f4") if fmt.encoding == "pcm_f32le" else np.dtype("<i2")
        self._channels = fmt.channels
        self._resampler = StreamResampler(fmt.sample_rate, SAMPLE_RATE)

    def feed(self, data: bytes) -> np.ndarray:
        self._pending += data
        if not self._header_done and not self._parse_header():
            return np.zeros(0, dtype=np.float32)
        frame = self._dtype.itemsize * self._channels
        usable = len(self._pending) - len(self._pending) % frame
        raw, self._pending = self._pending[:usable], self._pending[usable:]
        x = np.frombuffer(raw, dtype=self._dtype).reshape(-1, self._channels)
        samples = x.astype(np.float32) / PCM_S16_SCALE if self._dtype.kind == "i" else x.astype(np.float32)
        if not np.isfinite(samples).all():
            raise AudioError("the stream contains NaN or infinite samples")
        return self._resampler.process(samples)

    def flush(self) -> np.ndarray:
        return self._resampler.flush()

    def _parse_header(self) -> bool:
        """Consume RIFF chunks up to 'data'; False while more header bytes are needed."""
        buf = self._pending
        if len(buf) >= 12 and (buf[:4] != b"RIFF" or buf[8:12] != b"WAVE"):
            raise AudioError("not a WAV stream (no RIFF/WAVE header); send encoding=pcm_s16le for raw PCM")
        pos, fmt_seen = 12, False
        while len(buf) >= pos + 8:
            cid, size = buf[pos : pos + 4], struct.unpack("<I", buf[pos + 4 : pos + 8])[0]
            if cid == b"data":
                if not fmt_seen:
                    raise AudioError("WAV stream has no 'fmt ' chunk before its data")
                self._pending = buf[pos + 8 :]
                self._header_done = True
                return True
            if len(buf) < pos + 8 + size:
                break
            if cid == b"fmt ":
                self._read_fmt(buf[pos + 8 : pos + 8 + size])
                fmt_seen = True
            pos += 8 + size + (size & 1)
        if len(buf) > WAV_HEADER_LIMIT:
            raise AudioError(f"WAV header is longer than {WAV_HEADER_LIMIT} bytes")
        return False

    def _read_fmt(self, chunk: bytes) -> None:
        if len(chunk) < 16:
            raise AudioError("WAV 'fmt ' chunk is truncated")
        tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", chunk[:16])
        if tag == 0xFFFE and len(chunk) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
            tag = struct.unpack("<H", chunk[24:26])[0]
        if (tag, bits) == (1, 16):
            self._dtype = np.dtype("<i2")
        elif (tag, bits) == (3, 32):
            self._dtype = np.dtype("<f4")
        else:
            raise AudioError(f"WAV streams must be 16-bit PCM or 32-bit float, not format {tag} at {bits} bits")
        fmt = StreamFormat("pcm_s16le", rate, channels)  # validates rate and channels
        self._channels = fmt.channels
        self._resampler = StreamResampler(fmt.sample_rate, SAMPLE_RATE)


def _dbfs(x: np.ndarray) -> float:
    if len(x) == 0:
        return -np.inf
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return 20 * np.log10(max(rms, 1e-10))


Send = Callable[[dict[str, Any]], Awaitable[None]]


class StreamSession:
    """The decoding side of one /v1/stream connection."""

    def __init__(self, scheduler: Scheduler, options: TranscribeOptions | None, send: Send) -> None:
        self.scheduler, self.options, self.send = scheduler, options, send
        self._buffer = np.zeros(0, dtype=np.float32)
        self._offset = 0.0  # stream time (s) of the buffer's first sample
        self._undecoded = 0  # samples added since the last decode started
        self._task: asyncio.Task[None] | None = None
        self._next_id = 0
        self.received = 0.0  # s of audio received
        self.finals: list[dict[str, Any]] = []

    async def add(self, samples: np.ndarray) -> None:
        if len(samples) == 0:
            return
        self._buffer = np.concatenate([self._buffer, samples])
        self._undecoded += len(samples)
        self.received += len(samples) / SAMPLE_RATE
        if len(self._buffer) > BACKPRESSURE_BUFFER * SAMPLE_RATE and self._task is not None:
            await self._task  # the client is faster than the model: stop reading until it catches up
        if self._task is not None and self._task.done():
            self._task.result()  # surfaces a failed decode (Overloaded, ...)
            self._task = None
        if self._task is None and self._undecoded >= STEP * SAMPLE_RATE:
            self._task = asyncio.create_task(self._decode(final=False))

    async def finish(self) -> None:
        """End of stream: wait for the decode in flight, then commit everything left."""
        if self._task is not None:
            await self._task
            self._task = None
        if len(self._buffer) >= MIN_UTTERANCE * SAMPLE_RATE:
            await self._decode(final=True)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _decode(self, final: bool) -> None:
        self._undecoded = 0
        audio = self._buffer.copy()
        job = self.scheduler.submit(audio, self.options, Priority.STREAM)
        try:
            result = await asyncio.wrap_future(job.future)
        except asyncio.CancelledError:
            job.cancel()
            raise
        # Audio may have arrived meanwhile: it stays in the buffer after the committed part.
        segs = [s for s in result.segments if s.text.strip()]
        duration = len(audio) / SAMPLE_RATE
        silent_tail = _dbfs(audio[-int(ENDPOINT_SILENCE * SAMPLE_RATE):]) < SILENCE_DBFS
        if final or (silent_tail and duration > ENDPOINT_SILENCE):
            commit, cut = segs, duration
        elif len(segs) >= 2:
            commit, cut = segs[:-1], segs[-1].start
        elif duration > MAX_BUFFER:
            commit, cut = segs, (segs[-1].end if segs else duration - ENDPOINT_SILENCE)
        else:
            commit, cut = [], 0.0
        for seg in commit:
            await self._final(seg)
        cut = min(max(cut, 0.0), duration)
        if cut > 0:
            self._buffer = self._buffer[round(cut * SAMPLE_RATE):]
            self._offset += cut
        rest = segs[len(commit):] if commit is not segs else []
        if rest and not final:
            await self.send({"type": "partial", "text": "".join(s.text for s in rest).strip(),
                             "start": round(self._offset + rest[0].start - cut, 3),
                             "end": round(self._offset + rest[-1].end - cut, 3)})

    async def _final(self, seg: Segment) -> None:
        d = {"type": "final", "id": self._next_id, "text": seg.text.strip(),
             "start": round(self._offset + seg.start, 3), "end": round(self._offset + seg.end, 3),
             "avg_logprob": seg.avg_logprob, "no_speech_prob": seg.no_speech_prob}
        self._next_id += 1
        self.finals.append(d)
        await self.send(d)
