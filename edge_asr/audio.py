"""Audio in: decode any file to float32 mono at Whisper's 16 kHz, plus the small helpers live capture reuses.

Files are decoded as a stream (see :mod:`edge_asr.audio_stream`): libsndfile (``soundfile``) reads wav/flac/ogg/mp3
block by block, everything else (m4a, opus-in-webm, mp4, ...) goes through PyAV, which ships FFmpeg. Each block is
averaged to mono and resampled with soxr's streaming resampler, so memory does not grow with the file's rate,
channel count or length. Every failure surfaces as :class:`~edge_asr.errors.AudioError` naming the file and what is
wrong with it.
"""

from __future__ import annotations

import logging

import numpy as np

from .audio_stream import IN_MEMORY_NAME, AudioSource, describe, open_audio
from .constants import SAMPLE_RATE
from .errors import AudioError
from .resample import FULL_SCALE, RESAMPLE_QUALITY, StreamResampler, resample, to_mono

log = logging.getLogger(__name__)

# The stream decoder's and the resampler's public names, re-exported: this module is the front door for audio in.
__all__ = ["FULL_SCALE", "IN_MEMORY_NAME", "RESAMPLE_QUALITY", "AudioSource", "StreamResampler", "audio_duration",
           "decode_audio", "describe", "resample", "to_mono"]


def audio_duration(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """Duration in seconds of ``samples`` (frames first) at ``sample_rate`` Hz."""
    return len(samples) / sample_rate


def decode_audio(
    source: AudioSource, *, sample_rate: int = SAMPLE_RATE, max_duration: float | None = None
) -> np.ndarray:
    """Decode a file path, bytes or binary file object to float32 mono samples at ``sample_rate`` Hz in [-1, 1].

    ``max_duration`` (s) refuses longer audio with :class:`~edge_asr.errors.AudioTooLong`, from the header when it
    tells, else as soon as the decoded audio passes the limit: never after decoding it all.
    """
    stream = open_audio(source, sample_rate=sample_rate, max_duration=max_duration)
    blocks = list(stream.blocks())
    samples = blocks[0] if len(blocks) == 1 else np.concatenate([np.zeros(0, np.float32), *blocks])
    if samples.shape[0] == 0:
        raise AudioError(f"{stream.name}: zero duration after resampling to {sample_rate} Hz")
    return np.ascontiguousarray(samples, dtype=np.float32)


