"""Audio in: decode any file to float32 mono at Whisper's 16 kHz, plus the small helpers live capture reuses.

Files are decoded as a stream (see :mod:`edge_asr.audio_stream`): libsndfile (``soundfile``) reads wav/flac/ogg/mp3
block by block, everything else (m4a, opus-in-webm, mp4, ...) goes through PyAV, which ships FFmpeg. Each block is
averaged to mono and resampled with soxr's streaming resampler, so memory does not grow with the file's rate,
channel count or length. Every failure surfaces as :class:`~edge_asr.errors.AudioError` naming the file and what is
wrong with it.
"""

from __future__ import annotations

import logging
import os
from typing import BinaryIO

import numpy as np
import soxr

from .constants import SAMPLE_RATE
from .errors import AudioError

log = logging.getLogger(__name__)

AudioSource = str | os.PathLike[str] | bytes | bytearray | BinaryIO
RESAMPLE_QUALITY = "HQ"  # soxr preset: 20-bit precision, passband to 91 % of Nyquist, linear phase
FULL_SCALE = 1.0  # peak amplitude of float audio
IN_MEMORY_NAME = "<in-memory audio>"


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average the channels of ``x`` (frames, channels) into float32 (frames,); 1-D input is already mono."""
    x = np.asarray(x)
    if x.ndim == 1:
        return x.astype(np.float32, copy=False)
    if x.ndim != 2:
        raise ValueError(f"audio must be 1-D or (frames, channels), not shape {x.shape}")
    if x.shape[1] == 1:
        return x[:, 0].astype(np.float32, copy=False)
    return x.mean(axis=1, dtype=np.float32)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling of float32 mono (or (frames, channels)) audio from ``from_rate`` to ``to_rate`` Hz."""
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, not {from_rate} Hz -> {to_rate} Hz")
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
            raise ValueError(f"sample rates must be positive, not {from_rate} Hz -> {to_rate} Hz")
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


def describe(source: AudioSource) -> str:
    """How errors name ``source``: its path, a file object's name, or IN_MEMORY_NAME."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray)):
        return IN_MEMORY_NAME
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else IN_MEMORY_NAME


def decode_audio(
    source: AudioSource, *, sample_rate: int = SAMPLE_RATE, max_duration: float | None = None
) -> np.ndarray:
    """Decode a file path, bytes or binary file object to float32 mono samples at ``sample_rate`` Hz in [-1, 1].

    ``max_duration`` (s) refuses longer audio with :class:`~edge_asr.errors.AudioTooLong`, from the header when it
    tells, else as soon as the decoded audio passes the limit: never after decoding it all.
    """
    from .audio_stream import open_audio

    stream = open_audio(source, sample_rate=sample_rate, max_duration=max_duration)
    blocks = list(stream.blocks())
    samples = blocks[0] if len(blocks) == 1 else np.concatenate([np.zeros(0, np.float32), *blocks])
    if samples.shape[0] == 0:
        raise AudioError(f"{stream.name}: zero duration after resampling to {sample_rate} Hz")
    return np.ascontiguousarray(samples, dtype=np.float32)


