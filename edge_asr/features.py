"""Whisper's log-mel front end in numpy: periodic Hann STFT, Slaney mel filters, log10 with an 8-decade floor."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .constants import HOP_LENGTH, LOG_MEL_DYNAMIC_RANGE, LOG_MEL_FLOOR, N_FFT, N_SAMPLES, SAMPLE_RATE

# Slaney mel scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3  # Hz per mel in the linear part
_MIN_LOG_HZ = 1000.0  # Hz
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = np.log(6.4) / 27.0
LOG_MEL_OFFSET = 4.0  # Whisper's normalisation: (log_spec + 4) / 4


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    mel = f / _F_SP
    log_part = f >= _MIN_LOG_HZ
    mel[log_part] = _MIN_LOG_MEL + np.log(f[log_part] / _MIN_LOG_HZ) / _LOG_STEP
    return mel


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f = m * _F_SP
    log_part = m >= _MIN_LOG_MEL
    f[log_part] = _MIN_LOG_HZ * np.exp(_LOG_STEP * (m[log_part] - _MIN_LOG_MEL))
    return f


@lru_cache(maxsize=4)
def mel_filters(n_mels: int, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """Slaney-normalised triangular filters [n_mels, n_fft // 2 + 1], as librosa.filters.mel(htk=False)."""
    fft_freqs = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    mel_points = _mel_to_hz(
        np.linspace(_hz_to_mel(np.array([0.0]))[0], _hz_to_mel(np.array([sample_rate / 2]))[0], n_mels + 2)
    )
    widths = np.diff(mel_points)
    ramps = mel_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_points[2 : n_mels + 2] - mel_points[:n_mels]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=1)
def _hann() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic


def power_spectrogram(audio: np.ndarray) -> np.ndarray:
    """|STFT|^2 [n_fft//2+1, frames], centred frames with reflect padding, the last frame dropped (as Whisper)."""
    x = np.pad(np.asarray(audio, dtype=np.float32), N_FFT // 2, mode="reflect")
    n_frames = 1 + (len(x) - N_FFT) // HOP_LENGTH
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(n_frames, N_FFT), strides=(x.strides[0] * HOP_LENGTH, x.strides[0]), writeable=False
    )
    spec = np.fft.rfft(frames * _hann(), axis=-1)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    return power[:-1].T


def log_mel_spectrogram(audio: np.ndarray, n_mels: int = 80, padding: int = 0) -> np.ndarray:
    """Normalised log-mel [n_mels, frames]. ``padding`` zero samples are appended first (Whisper pads 30 s so
    every window, the last included, sees the log-mel of real silence rather than of nothing).

    Frames lying wholly in the zero padding all equal the clamped floor, so only the first ``N_FFT`` padding
    samples go through the STFT and the rest is filled in: the same result for a fraction of the work.
    """
    audio = np.asarray(audio, dtype=np.float32)
    computed_pad = min(padding, N_FFT)
    audio_p = np.concatenate([audio, np.zeros(computed_pad, dtype=np.float32)]) if computed_pad > 0 else audio
    mel = mel_filters(n_mels) @ power_spectrogram(audio_p)
    log_spec = np.log10(np.maximum(mel, LOG_MEL_FLOOR))
    floor = log_spec.max() - LOG_MEL_DYNAMIC_RANGE
    log_spec = np.maximum(log_spec, floor)
    silence = max(float(np.log10(LOG_MEL_FLOOR)), float(floor))  # what a frame of pure zeros becomes
    total_frames = (len(audio) + padding) // HOP_LENGTH
    if total_frames > log_spec.shape[1]:
        fill = np.full((n_mels, total_frames - log_spec.shape[1]), silence, dtype=log_spec.dtype)
        log_spec = np.concatenate([log_spec, fill], axis=1)
    return ((log_spec + LOG_MEL_OFFSET) / LOG_MEL_OFFSET).astype(np.float32)


WINDOW_CONTEXT = N_FFT // 2  # samples of audio on each side of a window that its edge frames see


def window_log_mel(audio: np.ndarray, n_frames: int, n_mels: int = 80) -> np.ndarray:
    """Normalised log-mel [n_mels, n_frames] of one window, computed from that window's audio alone.

    ``audio`` holds the window's samples with WINDOW_CONTEXT samples of context on each side (reflected at the
    start of a file, zeros past its end), so every frame equals the frame of a whole-file STFT. Only the clamp to
    8 decades below the maximum is taken over the window instead of the file: it moves only frames more than
    80 dB under the loudest, and it is what keeps memory flat in the file's length.
    """
    x = np.asarray(audio, dtype=np.float32)
    need = (n_frames - 1) * HOP_LENGTH + N_FFT
    if len(x) < need:
        x = np.pad(x, (0, need - len(x)))
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(n_frames, N_FFT), strides=(x.strides[0] * HOP_LENGTH, x.strides[0]), writeable=False
    )
    spec = np.fft.rfft(frames * _hann(), axis=-1)
    power = (spec.real**2 + spec.imag**2).astype(np.float32).T
    log_spec = np.log10(np.maximum(mel_filters(n_mels) @ power, LOG_MEL_FLOOR))
    log_spec = np.maximum(log_spec, log_spec.max() - LOG_MEL_DYNAMIC_RANGE)
    return ((log_spec + LOG_MEL_OFFSET) / LOG_MEL_OFFSET).astype(np.float32)


def pad_or_trim_frames(mel: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad the time axis of [n_mels, frames] to ``length``."""
    if mel.shape[-1] > length:
        return mel[:, :length]
    if mel.shape[-1] < length:
        return np.pad(mel, ((0, 0), (0, length - mel.shape[-1])))
    return mel


__all__ = [
    "N_SAMPLES",
    "log_mel_spectrogram",
    "mel_filters",
    "pad_or_trim_frames",
    "power_spectrogram",
    "window_log_mel",
]
