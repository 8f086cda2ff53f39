"""Samples in memory: downmix to mono and resample (whole signals, or a stream block by block with soxr).

The layer under both the file decoder (:mod:`edge_asr.audio_stream`) and live capture; numpy and soxr only.
"""

from __future__ import annotations

import numpy as np
import soxr

from .errors import AudioError

RESAMPLE_QUALITY = "HQ"  # soxr preset: 20-bit precision, passband to 91 % of Nyquist, linear phase
FULL_SCALE = 1.0  # peak amplitude of float audio


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
