"""The units of the streaming policy (streaming.py): a decode job, the live decoding options, and the pure steps
around a decode (the token budget, a carried utterance put in front of the audio, a decode turned into a Final).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..constants import SAMPLE_RATE
from ..options import TranscribeOptions
from ..results import Segment, Word
from .events import Final
from .hypotheses import merge_segments as _merge
from .vad import Utterance

# Token budget per decode. Fast English is about 5 tokens/s; a decoder stuck in a loop otherwise runs to 224
# tokens per temperature (measured: 3.0 s instead of 1.0 s for a 1.9-s utterance), delaying the next final.
MAX_TOKENS_PER_SECOND = 10
TOKEN_MARGIN = 10  # tokens on top, for very short utterances
CurrentAudio = Callable[[], "tuple[np.ndarray, float] | None"]  # the utterance so far and its start (s)


def live_options(base: TranscribeOptions | None) -> tuple[TranscribeOptions, TranscribeOptions]:
    """(partial, final) decoding options for live use, from the caller's (language, prompt, word timestamps...)."""
    base = base or TranscribeOptions()
    final = base.with_(short_clip=True, condition_on_previous_text=False, without_timestamps=True)
    partial = final.with_(temperatures=(0.0,), word_timestamps=False, beam_size=1)
    return partial, final


@dataclass(eq=False)  # compared by identity: ``job in queue`` must not compare audio arrays
class Job:
    kind: Literal["partial", "final"]
    utt_id: int
    audio: np.ndarray
    start: float  # s of audio[0] in the stream
    utterance: Utterance | None = None  # finals: what the VAD measured
    end: float = 0.0  # s, end of the audio
    confirmed: bool = False  # finals: the VAD has ended the utterance (else speculative)
    vad_end_at: float = 0.0  # monotonic time the VAD ended it
    carry: Utterance | None = None  # the carried utterance the audio starts with
    speech_start: float = 0.0  # s, the VAD onset of the utterance (without the carry)
    early: Utterance | None = None  # speculative finals: the utterance if it ends at this pause (carry included)
    paused_at: float = 0.0  # monotonic time of that pause
    published: bool = False  # published early, before the VAD confirmed the end
    look: bool = False  # a first look at a lull (streaming.py): shown at the pause, never the settled final
    candidate: Final | None = None  # looks: the final it gave, if it ends a sentence, until the pause shows it
    after_look: Job | None = None  # speculative finals: the look at the same silence, if any
    cancelled: bool = False
    done: bool = False
    failed: bool = False
    segments: list[Segment] = field(default_factory=list)  # its decoded segments


def token_cap(seconds: float) -> int:
    """The most tokens a decode of ``seconds`` of audio may produce."""
    return math.ceil(seconds * MAX_TOKENS_PER_SECOND) + TOKEN_MARGIN


def with_carry(carry: Utterance, audio: np.ndarray, start: float) -> np.ndarray:
    """``audio`` (from ``start`` s) with the carried utterance in front, the gap between them as zeros."""
    gap = np.zeros(max(0, round((start - carry.end) * SAMPLE_RATE)), dtype=np.float32)
    return np.concatenate([carry.audio, gap, audio])


def final_of(job: Job, segs: list[Segment], utt: Utterance | None, text: str) -> Final:
    """The Final of a decode: the VAD's speech times (else the job's), word times in stream seconds; id 0 until
    it is published."""
    _, logprob, no_speech, ratio = _merge(segs)
    start = utt.speech_start if utt is not None else job.start
    end = utt.speech_end if utt is not None else job.end
    words = None
    if any(s.words for s in segs):
        words = tuple(Word(round(job.start + w.start, 3), round(job.start + w.end, 3), w.word, w.probability)
                      for s in segs for w in (s.words or ()))
    tokens = tuple(t for s in segs for t in s.tokens)
    segment = Segment(0, round(start, 3), round(max(end, start), 3), " " + text, tokens, logprob, ratio,
                      no_speech, max((s.temperature for s in segs), default=0.0), words)
    return Final(segment)
