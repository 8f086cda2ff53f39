"""Test signals that are not speech: noise and music-like tones, 16 kHz float32, reproducible."""

from __future__ import annotations

import numpy as np

RATE = 16_000  # Hz
NOTE = 0.4  # s per chord
HARMONICS = (1, 2, 3, 4)
VIBRATO_HZ = 5.0
VIBRATO_DEPTH = 0.003  # relative frequency swing


def _scale(x: np.ndarray, dbfs: float) -> np.ndarray:
    x = x / (np.sqrt(np.mean(x**2)) + 1e-12)
    return (x * 10 ** (dbfs / 20)).astype(np.float32)


def white(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    return _scale(np.random.default_rng(seed).standard_normal(round(seconds * RATE)), dbfs)


def pink(seconds: float, dbfs: float, seed: int = 1) -> np.ndarray:
    """1/f noise by shaping white noise in the frequency domain."""
    n = round(seconds * RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    f[0] = f[1]
    return _scale(np.fft.irfft(spectrum / np.sqrt(f), n), dbfs)


def tones(seconds: float, dbfs: float, seed: int = 2) -> np.ndarray:
    """Random major chords with harmonics, attack/decay envelopes and vibrato: music, not speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(NOTE * RATE)) / RATE
    envelope = np.minimum(1.0, t / 0.02) * np.exp(-3.0 * t)
    vibrato = 1 + VIBRATO_DEPTH * np.sin(2 * np.pi * VIBRATO_HZ * t)
    notes = []
    for _ in range(int(seconds / NOTE)):
        root = 220.0 * 2 ** (rng.integers(0, 24) / 12)
        chord = (root, root * 2 ** (4 / 12), root * 2 ** (7 / 12))
        notes.append(envelope * sum(np.sin(2 * np.pi * f * h * t * vibrato) / h**1.5 for f in chord for h in HARMONICS))
    return _scale(np.concatenate(notes), dbfs)
