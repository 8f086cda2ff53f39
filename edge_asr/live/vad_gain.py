"""The level the VAD hears: a slow automatic gain in front of Silero, so that a quiet microphone or a soft passage
still opens an utterance.

Silero's speech probability depends on the input level far more than one would like. JFK's quiet "ask not"
(en-dev/jfk.flac, 3.3-4.4 s) peaks at P = 0.45-0.75 depending on where the 512-sample windows fall, and at 0.25-0.70
when the same audio is 4 dB quieter, under the 0.5 onset threshold in most phases: the words were lost before any
decoder saw them. Louder, the same words score 0.86-0.93 at every phase. So the VAD (and only the VAD: the decoder
gets the audio as captured) hears the input raised until its recent loudest window reaches ``peak_dbfs``.

The peak follows a louder window at once and falls slowly (``decay``), so the gain never pumps within a sentence;
the rise is capped (``max_gain``) so that a silent room's hiss is not made into speech. The energy gate in front
of the model still uses the level as captured.
"""

from __future__ import annotations

import numpy as np

from ..constants import SAMPLE_RATE

DEFAULT_PEAK = -6.0  # dBFS the loudest recent window is raised to
DEFAULT_MAX_GAIN = 18.0  # dB at most
PEAK_DECAY = 0.5  # dB/s the remembered peak falls while the input stays quieter
INITIAL_PEAK = -20.0  # dBFS assumed before any window is heard (a typical speaking level)


class VadGain:
    """Tracks the recent peak level and scales windows for the speech model. Not thread-safe (one segmenter)."""

    def __init__(self, peak_dbfs: float = DEFAULT_PEAK, max_gain: float = DEFAULT_MAX_GAIN,
                 decay: float = PEAK_DECAY) -> None:
        self.peak_dbfs = peak_dbfs
        self.max_gain = max_gain
        self._decay = decay  # dB/s
        self._peak = INITIAL_PEAK  # dBFS
        self.gain_db = self._gain()

    def _gain(self) -> float:
        return min(self.max_gain, max(0.0, self.peak_dbfs - self._peak))

    def apply(self, window: np.ndarray, level: float) -> np.ndarray:
        """``window`` (float32, of level ``level`` dBFS) as the VAD should hear it."""
        seconds = len(window) / SAMPLE_RATE
        self._peak = max(level, self._peak - self._decay * seconds)
        self.gain_db = self._gain()
        if self.gain_db <= 0.0:
            return window
        scaled = window * np.float32(10.0 ** (self.gain_db / 20.0))
        return np.clip(scaled, -1.0, 1.0, out=scaled)
