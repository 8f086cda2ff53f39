"""Audio in: decode any file to float32 mono at Whisper's 16 kHz, plus the small helpers live capture reuses.

libsndfile (``soundfile``) reads wav/flac/ogg/mp3 directly; everything else (m4a, opus-in-webm, mp4, ...) goes
through PyAV, which ships FFmpeg. Channels are averaged to mono and the rate is changed with soxr, band-limited.
Every failure surfaces as :class:`~edge_asr.errors.AudioError` naming the file and what is wrong with it.
"""

from __future__ import annotations

import io
import logging
import os
from typing import BinaryIO

import av
import numpy as np
import soundfile as sf
import soxr

from .constants import SAMPLE_RATE
from .errors import AudioError

log = logging.getLogger(__name__)

AudioSource = str | os.PathLike[str] | bytes | bytearray | BinaryIO
RESAMPLE_QUALITY = "HQ"  # soxr preset: 20-bit precision, passband to 91 % of Nyquist, linear phase
FULL_SCALE = 1.0  # peak amplitude of float audio
_PYAV_SAMPLE_FORMAT = "fltp"  # float32, one plane per channel
_IN_MEMORY_NAME = "<in-memory audio>"
_SOUNDFILE_ERRORS = (sf.LibsndfileError, RuntimeError, TypeError, ValueError, EOFError)
_PYAV_ERRORS = (av.FFmpegError, OSError, ValueError, EOFError, IndexError)


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average the channels of ``x`` (frames, channels) into float32 (frames,); 1-D input is already mono."""
    x = np.asarray(x)
    if x.ndim == 1:
        return x.astype(np.float32, copy=False)
    if x.ndim != 2:
        raise AudioError(f"audio must be 1-D or (frames, channels), not shape {x.shape}")
    if x.shape[1] == 1:
        return x[:, 0].astype(np.float32, copy=False)
    return x.mean(axis=1, dtype=np.float32)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling of float32 mono (or (frames, channels)) audio from ``from_rate`` to ``to_rate`` Hz."""
    if from_rate <= 0 or to_rate <= 0:
        raise AudioError(f"sample rates must be positive, not {from_rate} Hz -> {to_rate} Hz")
    samples = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate or samples.shape[0] == 0:
        return samples
    return np.asarray(soxr.resample(samples, from_rate, to_rate, quality=RESAMPLE_QUALITY), dtype=np.float32)


class StreamResampler:
    """Resample a stream block by block (e.g. microphone capture); blocks are downmixed to mono first.

    The concatenated output of every :meth:`process` call plus :meth:`flush` equals :func:`resample` on the whole
    signal. ``flush`` ends the stream and resets the resampler, so the object can be reused for a new stream.
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        if from_rate <= 0 or to_rate <= 0:
            raise AudioError(f"sample rates must be positive, not {from_rate} Hz -> {to_rate} Hz")
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._stream: soxr.ResampleStream | None = None
        if from_rate != to_rate:
            self._stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Resample one block; the output may be shorter or longer than the rate ratio (filter delay)."""
        mono = np.ascontiguousarray(to_mono(block), dtype=np.float32)
        if self._stream is None:
            return mono
        return np.asarray(self._stream.resample_chunk(mono), dtype=np.float32)

    def flush(self) -> np.ndarray:
        """Return the samples still held in the filter and reset for a new stream."""
        if self._stream is None:
            return np.zeros(0, dtype=np.float32)
        tail = np.asarray(self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True), dtype=np.float32)
        self._stream.clear()
        return tail


def audio_duration(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Duration in seconds of ``samples`` (frames first) at ``sample_rate`` Hz."""
    return len(samples) / sample_rate


def _describe(source: AudioSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray)):
        return _IN_MEMORY_NAME
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else _IN_MEMORY_NAME


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
            data = source.read()
        except (OSError, ValueError) as e:
            raise AudioError(f"{name}: cannot read the stream ({e})") from e
    if not data:
        raise AudioError(f"{name}: the audio data is empty (0 bytes)")
    return io.BytesIO(data)


def _rewind(src: str | BinaryIO) -> str | BinaryIO:
    if not isinstance(src, str):
        src.seek(0)
    return src


def _decode_soundfile(src: str | BinaryIO) -> tuple[np.ndarray, int]:
    data, rate = sf.read(src, dtype="float32", always_2d=True)  # ints scaled to [-1, 1)
    return data, int(rate)


def _decode_pyav(src: str | BinaryIO, name: str) -> tuple[np.ndarray, int]:
    with av.open(src, mode="r") as container:
        if not container.streams.audio:
            raise AudioError(f"{name}: not audio (the file has no audio stream)")
        stream = container.streams.audio[0]
        converter: av.AudioResampler | None = None
        planes: list[np.ndarray] = []
        rate = 0
        for frame in container.decode(stream):
            if converter is None:  # first frame fixes layout and rate; later frames are converted to them
                rate = frame.sample_rate
                converter = av.AudioResampler(format=_PYAV_SAMPLE_FORMAT, layout=frame.layout.name, rate=rate)
            planes.extend(f.to_ndarray() for f in converter.resample(frame))
        if converter is not None:
            planes.extend(f.to_ndarray() for f in converter.resample(None))
    if not planes:
        return np.zeros((0, 1), dtype=np.float32), rate
    return np.concatenate(planes, axis=1).T.astype(np.float32, copy=False), rate


def _decode_any(src: str | BinaryIO, name: str) -> tuple[np.ndarray, int]:
    try:
        return _decode_soundfile(src)
    except _SOUNDFILE_ERRORS as e:
        log.debug("%s: libsndfile cannot read it (%s); trying PyAV", name, e)
    try:
        data, rate = _decode_pyav(_rewind(src), name)
    except _PYAV_ERRORS as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise AudioError(f"{name}: not audio or cannot be decoded ({reason})") from e
    log.debug("%s: decoded with PyAV", name)
    return data, rate


def decode_audio(source: AudioSource, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode a file path, bytes or binary file object to float32 mono samples at ``sample_rate`` Hz in [-1, 1]."""
    name = _describe(source)
    data, rate = _decode_any(_open_source(source, name), name)
    if data.shape[0] == 0 or rate <= 0:
        raise AudioError(f"{name}: contains no audio samples (zero duration)")
    if not np.isfinite(data).all():
        raise AudioError(f"{name}: contains NaN or infinite samples")
    samples = resample(to_mono(data), rate, sample_rate)
    if samples.shape[0] == 0:
        raise AudioError(f"{name}: zero duration after resampling from {rate} Hz to {sample_rate} Hz")
    peak = float(np.abs(samples).max())
    if peak > FULL_SCALE:
        log.debug("%s: peak %.3f exceeds full scale; clipped to [-1, 1]", name, peak)
    seconds = audio_duration(samples, sample_rate)
    log.debug("%s: %d ch at %d Hz -> %.3f s at %d Hz", name, data.shape[1], rate, seconds, sample_rate)
    return np.ascontiguousarray(np.clip(samples, -FULL_SCALE, FULL_SCALE), dtype=np.float32)
