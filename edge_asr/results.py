"""Typed results of a transcription."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .options import TranscribeOptions


@dataclass(frozen=True)
class Word:
    start: float  # s
    end: float  # s
    word: str
    probability: float


@dataclass(frozen=True)
class Segment:
    id: int
    start: float  # s from the start of the audio
    end: float  # s
    text: str
    tokens: tuple[int, ...] = ()
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0
    temperature: float = 0.0
    words: tuple[Word, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tokens"] = list(self.tokens)
        d["words"] = None if self.words is None else [asdict(w) for w in self.words]
        return d


@dataclass(frozen=True)
class WindowResult:
    """What one step of long-form decoding produced: the audio span it consumed and its segments (maybe none:
    a silent or no-speech window)."""

    start: float  # s
    end: float  # s, where the next window starts
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class TranscriptionInfo:
    language: str
    language_probability: float
    duration: float  # s of audio
    options: TranscribeOptions
    model: str = ""
    backend: str = ""
    all_language_probs: tuple[tuple[str, float], ...] | None = None
