"""Audio files as a stream of 16-kHz mono blocks: decoded, downmixed and resampled a block at a time.

Nothing here holds more than one block of the file at its native rate and channel count, so two hours of 96-kHz
7.1 audio cost the same memory as ten seconds of it. libsndfile reads what it can (wav, flac, ogg, mp3); PyAV
(FFmpeg) reads everything else and takes over when libsndfile fails part-way through a damaged file.

A file that ends early (truncated, or damaged past some point) gives the audio before the damage, with a warning
that says how much was recovered; a file of which nothing can be read is an :class:`AudioError`.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import soundfile as sf

from .constants import SAMPLE_RATE
from .errors import AudioError, AudioTooLong
from .resample import FULL_SCALE, StreamResampler, to_mono

log = logging.getLogger(__name__)

AudioSource = str | os.PathLike[str] | bytes | bytearray | BinaryIO
IN_MEMORY_NAME = "<in-memory audio>"

BLOCK_SECONDS = 1.0  # s of audio decoded per block
HEADER_DURATION_SLACK = 1.0  # s a header's duration may exceed max_duration before the file is refused unread
_PYAV_SAMPLE_FORMAT = "fltp"  # float32, one plane per channel
_SOUNDFILE_ERRORS = (sf.LibsndfileError, RuntimeError, TypeError, ValueError, EOFError)
_DECODE_ERRORS = (OSError, ValueError, EOFError, IndexError)


def describe(source: AudioSource) -> str:
    """How errors name ``source``: its path, a file object's name, or IN_MEMORY_NAME."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray)):
        return IN_MEMORY_NAME
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else IN_MEMORY_NAME


def _av() -> Any:
    """PyAV, imported when a file needs it: it costs 17 MB of RSS that wav/flac/ogg/mp3 never use."""
    import av

    return av


def _pyav_errors() -> tuple[type[BaseException], ...]:
    """What PyAV raises on bad input (evaluated only once PyAV is in use)."""
    import sys

    av = sys.modules.get("av")
    return (av.FFmpegError, *_DECODE_ERRORS) if av is not None else _DECODE_ERRORS
_MICROSECONDS = 1_000_000  # PyAV container durations are in µs


def _open_source(source: AudioSource, name: str) -> str | BinaryIO:
    """A path or a seekable binary stream both decoders can read; raises AudioError for missing or empty input."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise AudioError(f"{name}: no such file")
        if not os.path.isfile(path):
            raise AudioError(f"{name}: not a regular file")
        if os.path.getsize(path) == 0:
            raise AudioError(f"{name}: the file is empty (0 bytes)")
        return path
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        try:
            if source.seekable():  # an upload spooled to disk: read it in place rather than copy it
                start = source.tell()
                empty = source.seek(0, io.SEEK_END) == start
                source.seek(start)
                if empty:
                    raise AudioError(f"{name}: the audio data is empty (0 bytes)")
                return source
            data = source.read()
        except (OSError, ValueError) as e:
            raise AudioError(f"{name}: cannot read the stream ({e})") from e
    if not data:
        raise AudioError(f"{name}: the audio data is empty (0 bytes)")
    return io.BytesIO(data)


def _rewind(src: str | BinaryIO, offset: int) -> str | BinaryIO:
    if not isinstance(src, str):
        src.seek(offset)
    return src


@dataclass
class AudioStream:
    """An opened audio file. ``blocks()`` decodes it (once) as float32 mono blocks at ``sample_rate``."""

    name: str
    native_rate: int  # Hz
    channels: int
    duration: float | None  # s, as the header tells (None: it does not)
    sample_rate: int
    max_duration: float | None
    _src: str | BinaryIO
    _start: int  # byte offset of a stream source
    _soundfile: sf.SoundFile | None

    def blocks(self) -> Iterator[np.ndarray]:
        resampler = StreamResampler(self.native_rate, self.sample_rate)
        limit = None if self.max_duration is None else round(self.max_duration * self.native_rate)
        native = 0  # frames read at the native rate
        error: str | None = None
        try:
            if self._soundfile is not None:
                raws, fallback = self._soundfile_blocks(), True
            else:
                raws, fallback = self._pyav_blocks(0), False
            while True:
                try:
                    raw = next(raws)
                except StopIteration:
                    break
                except _SOUNDFILE_ERRORS + _pyav_errors() as e:
                    error = getattr(e, "strerror", None) or str(e)
                    if not fallback:
                        break
                    # libsndfile lost its way in a damaged file; FFmpeg often reads further: resume with it there.
                    log.debug("%s: libsndfile stopped at %.2f s (%s); continuing with PyAV", self.name,
                              native / self.native_rate, error)
                    raws, fallback = self._pyav_blocks(native), False
                    continue
                if not np.isfinite(raw).all():
                    raise AudioError(f"{self.name}: contains NaN or infinite samples")
                native += len(raw)
                if limit is not None and native > limit:
                    raise AudioTooLong(self.name, native / self.native_rate, self.max_duration or 0.0)
                out = resampler.process(raw)
                if out.size:
                    yield np.clip(out, -FULL_SCALE, FULL_SCALE)
        finally:
            self.close()
        if native == 0:
            if error is not None:
                raise AudioError(f"{self.name}: not audio or cannot be decoded ({error})")
            raise AudioError(f"{self.name}: contains no audio samples (zero duration)")
        tail = resampler.flush()
        if tail.size:
            yield np.clip(tail, -FULL_SCALE, FULL_SCALE)
        if error is not None:
            total = f" of {self.duration:.1f} s" if self.duration else ""
            log.warning("%s: the file is damaged or truncated: decoding stopped at %.1f s%s (%s); what comes before "
                        "is transcribed", self.name, native / self.native_rate, total, error)

    def close(self) -> None:
        if self._soundfile is not None:
            self._soundfile.close()

    def _soundfile_blocks(self) -> Iterator[np.ndarray]:
        f = self._soundfile
        assert f is not None
        size = max(1, round(self.native_rate * BLOCK_SECONDS))
        while True:
            raw = f.read(size, dtype="float32", always_2d=True)  # ints scaled to [-1, 1)
            if len(raw) == 0:
                return
            yield to_mono(raw)

    def _pyav_blocks(self, skip: int) -> Iterator[np.ndarray]:
        """Mono blocks from PyAV, leaving out the first ``skip`` native-rate frames (already read elsewhere)."""
        av = _av()
        with av.open(_rewind(self._src, self._start), mode="r") as container:
            if not container.streams.audio:
                raise AudioError(f"{self.name}: not audio (the file has no audio stream)")
            stream = container.streams.audio[0]
            converter: Any = None
            frames = container.decode(stream)
            while True:
                frame = next(frames, None)
                if converter is None:
                    if frame is None:
                        return
                    # The first frame fixes layout and rate; later frames are converted to them.
                    converter = av.AudioResampler(format=_PYAV_SAMPLE_FORMAT, layout=frame.layout.name,
                                                  rate=self.native_rate)
                for converted in converter.resample(frame):
                    mono = to_mono(converted.to_ndarray().T)
                    if skip >= len(mono):
                        skip -= len(mono)
                        continue
                    mono, skip = mono[skip:], 0
                    yield mono
                if frame is None:
                    return


def open_audio(
    source: AudioSource, *, sample_rate: int = SAMPLE_RATE, max_duration: float | None = None
) -> AudioStream:
    """Open ``source`` and read its header; raises AudioError when nothing can read it, AudioTooLong when the header
    says it is longer than ``max_duration`` s."""
    name = describe(source)
    src = _open_source(source, name)
    start = 0 if isinstance(src, str) else src.tell()
    stream: AudioStream | None = None
    try:
        f = sf.SoundFile(src)
        duration = f.frames / f.samplerate if f.frames > 0 and f.samplerate > 0 else None
        if f.samplerate <= 0 or f.frames == 0:
            f.close()
            raise AudioError(f"{name}: contains no audio samples (zero duration)")
        stream = AudioStream(name, int(f.samplerate), int(f.channels), duration, sample_rate, max_duration, src,
                             start, f)
    except _SOUNDFILE_ERRORS as e:
        log.debug("%s: libsndfile cannot read it (%s); trying PyAV", name, e)
    if stream is None:
        stream = _open_pyav(src, start, name, sample_rate, max_duration)
    if max_duration is not None and stream.duration is not None \
            and stream.duration > max_duration + HEADER_DURATION_SLACK:
        stream.close()
        raise AudioTooLong(name, stream.duration, max_duration)
    log.debug("%s: %d ch at %d Hz, %s s", name, stream.channels, stream.native_rate,
              f"{stream.duration:.3f}" if stream.duration else "unknown")
    return stream


def _open_pyav(src: str | BinaryIO, start: int, name: str, sample_rate: int,
               max_duration: float | None) -> AudioStream:
    av = _av()
    try:
        with av.open(_rewind(src, start), mode="r") as container:
            if not container.streams.audio:
                raise AudioError(f"{name}: not audio (the file has no audio stream)")
            stream = container.streams.audio[0]
            rate = int(stream.sample_rate or stream.codec_context.sample_rate or 0)
            channels = int(stream.channels or 0)
            duration: float | None = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / _MICROSECONDS
    except _pyav_errors() as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise AudioError(f"{name}: not audio or cannot be decoded ({reason})") from e
    if rate <= 0:
        raise AudioError(f"{name}: not audio or cannot be decoded (no sample rate)")
    log.debug("%s: decoded with PyAV", name)
    return AudioStream(name, rate, channels, duration, sample_rate, max_duration, src, start, None)
