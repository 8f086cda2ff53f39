"""VAD-driven long-form mode (``--vad``, like faster-whisper's ``vad_filter``): Silero VAD keeps the speech of a
file, with some padding, and drops long silences; Whisper then decodes the speech regions joined end to end in
30-s windows, and every time is mapped back to the file.

It runs as a filter on the stream of 16-kHz blocks, so memory stays flat: a window is decided once min_silence
of audio after it is known, and only the windows waiting for that decision are held.
"""

from __future__ import annotations

import bisect
import collections
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from .constants import SAMPLE_RATE
from .errors import ConfigError
from .results import Segment, WindowResult, Word

log = logging.getLogger(__name__)

VAD_WINDOW = 512  # samples per Silero window at 16 kHz
THRESHOLD = 0.5  # P(speech) that starts speech (faster-whisper's default)
NEG_THRESHOLD = 0.35  # P(speech) under which speech may end
MIN_SILENCE = 2.0  # s of silence that ends a speech region
SPEECH_PAD = 0.4  # s of audio kept on each side of a region
GATE_DBFS = -60.0  # quieter windows are silence without running the model
POWER_FLOOR = 1e-12


def _windows(seconds: float) -> int:
    return max(1, round(seconds * SAMPLE_RATE / VAD_WINDOW))


@dataclass
class TimeMap:
    """Where the kept audio came from: chunk k starts at virtual sample ``virtual[k]`` and real ``real[k]``."""

    virtual: list[int] = field(default_factory=list)
    real: list[int] = field(default_factory=list)
    kept: int = 0  # samples kept so far

    def add(self, real_start: int, n: int) -> None:
        if self.virtual and self.real[-1] + (self.kept - self.virtual[-1]) == real_start:
            self.kept += n  # continues the last chunk
            return
        self.virtual.append(self.kept)
        self.real.append(real_start)
        self.kept += n

    def to_real(self, seconds: float, is_end: bool = False) -> float:
        """A time in the kept audio as a time in the file; an end on a chunk boundary stays in the earlier chunk."""
        if not self.virtual:
            return seconds
        v = seconds * SAMPLE_RATE
        k = (bisect.bisect_left(self.virtual, v) if is_end else bisect.bisect_right(self.virtual, v)) - 1
        k = max(k, 0)
        return (self.real[k] + (v - self.virtual[k])) / SAMPLE_RATE


class SpeechFilter:
    """Feeds blocks through Silero and yields only the samples of (padded) speech regions, recording a TimeMap."""

    def __init__(self, model: object | None = None) -> None:
        if model is None:
            try:
                from .live.vad import SileroModel

                model = SileroModel()
            except ModuleNotFoundError as exc:
                raise ConfigError(f"--vad needs Silero VAD: pip install 'edge-asr[live]' ({exc})") from None
        self.model = model
        self.time_map = TimeMap()
        self._pad = _windows(SPEECH_PAD)
        self._min_silence = _windows(MIN_SILENCE)
        self.speech_seconds = 0.0

    def _prob(self, window: np.ndarray) -> float:
        level = 10.0 * np.log10(max(float(np.dot(window, window)) / len(window), POWER_FLOOR))
        return 0.0 if level < GATE_DBFS else float(self.model(window))  # type: ignore[operator]

    def filter(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        pending: collections.deque[tuple[int, np.ndarray]] = collections.deque()  # (real sample, window) undecided
        rest = np.zeros(0, dtype=np.float32)
        position = 0  # real sample index of rest[0]
        in_speech = False
        silence = 0

        def emit(items: Iterable[tuple[int, np.ndarray]]) -> Iterator[np.ndarray]:
            for start, w in items:
                self.time_map.add(start, len(w))
                yield w

        for block in blocks:
            data = np.concatenate([rest, block]) if rest.size else np.asarray(block, dtype=np.float32)
            n = len(data) // VAD_WINDOW * VAD_WINDOW
            for i in range(0, n, VAD_WINDOW):
                w = data[i : i + VAD_WINDOW]
                p = self._prob(w)
                pending.append((position + i, w))
                if not in_speech:
                    if p >= THRESHOLD:
                        in_speech, silence = True, 0
                        yield from emit(list(pending)[-(self._pad + 1) :])  # the pad before the onset, and w
                        pending.clear()
                    elif len(pending) > self._pad:
                        pending.popleft()
                elif p >= NEG_THRESHOLD:
                    silence = 0
                    yield from emit(pending)
                    pending.clear()
                else:
                    silence += 1
                    if silence >= self._min_silence:  # the region ended min_silence ago: keep its end pad
                        in_speech = False
                        items = list(pending)
                        yield from emit(items[: self._pad])
                        pending = collections.deque(items[-self._pad :])
            rest = data[n:].copy()
            position += n
        if rest.size:
            pending.append((position, rest))
        if in_speech:
            yield from emit(pending)
        self.speech_seconds = self.time_map.kept / SAMPLE_RATE
        log.debug("VAD kept %.1f s of speech in %d regions", self.speech_seconds, len(self.time_map.virtual))

    def map_window(self, window: WindowResult) -> WindowResult:
        """A window's times (in the kept audio) as times in the file."""
        tm = self.time_map
        return WindowResult(tm.to_real(window.start), tm.to_real(window.end, is_end=True),
                            tuple(_map_segment(s, tm) for s in window.segments))


def _map_segment(seg: Segment, tm: TimeMap) -> Segment:
    words = None
    if seg.words is not None:
        words = tuple(Word(round(tm.to_real(w.start), 3), round(tm.to_real(w.end, True), 3), w.word, w.probability)
                      for w in seg.words)
    start, end = round(tm.to_real(seg.start), 3), round(tm.to_real(seg.end, True), 3)
    return replace(seg, start=start, end=max(end, start), words=words)
