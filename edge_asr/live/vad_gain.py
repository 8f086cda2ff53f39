"""The level the VAD hears: a slow automatic gain in front of Silero, so that a quiet microphone or a soft passage
still opens an utterance.

Silero's speech probability depends on the input level far more than one would like. JFK's quiet "ask not"
(en-dev/jfk.flac, 3.3-4.4 s) peaks at P = 0.45-0.75 depending on where the 512-sample windows fall, and at 0.25-0.70
when the same audio is 4 dB quieter, under the 0.5 onset threshold in most phases: the words were lost before any
decoder saw them. Louder, the same words score 0.86-0.93 at every phase. So the VAD (and only the VAD: the decoder
gets the audio as captured) hears the input raised until the level of its recent loudest window reaches
``peak_dbfs``. A level here is a window's mean square, so at -6 dBFS the loudest syllables clip a little; only the
VAD hears that (measured: -9 dBFS still lost "ask not" in a quarter of the phases).

The remembered peak follows a louder window at once (the gain only ever drops quickly, on a louder syllable) and
falls ``decay`` dB per second of stream time, gated windows included, so the gain rises back within seconds after
a loud noise rather than within a sentence. The rise is capped (``max_gain``) so that a silent room's hiss is not
made into speech. The energy gate in front of the model still uses the level as captured.
"""

from __future__ import annotations

import numpy as np

DEFAULT_PEAK = -6.0  # dBFS the loudest recent window is raised to
DEFAULT_MAX_GAIN = 18.0  # dB at most
PEAK_DECAY = 1.0  # dB/s the remembered peak falls while the input stays quieter
INITIAL_PEAK = -20.0  # dBFS assumed before any window is heard (a typical speaking level)
PEAK_RANGE = (-40.0, 0.0)  # dBFS: targets outside it are refused
MAX_GAIN_RANGE = (0.0, 40.0)  # dB


class VadGain:
    """Tracks the recent peak level and scales windows for the speech model. Not thread-safe (one segmenter)."""

    def __init__(self, peak_dbfs: float = DEFAULT_PEAK, max_gain: float = DEFAULT_MAX_GAIN,
                 decay: float = PEAK_DECAY) -> None:
        self.peak_dbfs = peak_dbfs
        self.max_gain = max_gain
        self._decay = decay  # dB/s
        self._peak = INITIAL_PEAK  # dBFS

    @property
    def gain_db(self) -> float:
        return min(self.max_gain, max(0.0, self.peak_dbfs - self._peak))

    def reset(self) -> None:
        """Forget the level heard (a gap in the audio: the next device may be another microphone)."""
        self._peak = INITIAL_PEAK

    def observe(self, level: float, seconds: float) -> None:
        """Every window, gated or not: its level (dBFS) and duration (s)."""
        self._peak = max(level, self._peak - self._decay * seconds)

    def scale(self, window: np.ndarray) -> np.ndarray:
        """``window`` (float32) as the VAD should hear it; the caller's array is not changed."""
        gain = self.gain_db
        if gain <= 0.0:
            return window
        scaled = window * np.float32(10.0 ** (gain / 20.0))
        return np.clip(scaled, -1.0, 1.0, out=scaled)
