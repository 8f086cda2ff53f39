"""Helpers of the streaming policy (streaming.py): the LocalAgreement-2 rule for partials, and merging decodes
and utterances."""

from __future__ import annotations

import re

import numpy as np

from ..constants import SAMPLE_RATE
from ..results import Segment
from .vad import Utterance


def _key(word: str) -> str:
    return re.sub(r"[^\w']", "", word.lower())


class LocalAgreement:
    """Stable text = the word prefix the last two hypotheses agree on (case and punctuation ignored); it only grows."""

    def __init__(self) -> None:
        self.previous: list[str] = []
        self.stable: list[str] = []

    def update(self, text: str) -> tuple[str, str]:
        words = text.split()
        agreed = 0
        for a, b in zip(self.previous, words, strict=False):
            if _key(a) != _key(b):
                break
            agreed += 1
        n = len(self.stable)
        if agreed > n and [_key(w) for w in words[:n]] == [_key(w) for w in self.stable]:
            self.stable = self.stable + words[n:agreed]
        self.previous = words
        shown = self.stable + words[len(self.stable):]
        return " ".join(shown), " ".join(self.stable)


def merge_utterances(first: Utterance, second: Utterance) -> Utterance:
    """One utterance from a carried one and the next, the silence between them as zeros."""
    gap = np.zeros(max(0, round((second.start - first.end) * SAMPLE_RATE)), dtype=np.float32)
    return Utterance(np.concatenate([first.audio, gap, second.audio]), first.start, first.speech_start,
                     second.speech_end, first.speech_seconds + second.speech_seconds, second.reason)


def merge_segments(segs: list[Segment]) -> tuple[str, float, float, float]:
    """Text, mean log-prob, no-speech prob and the worst compression ratio of one utterance's segments."""
    if not segs:
        return "", 0.0, 1.0, 0.0
    text = "".join(s.text for s in segs).strip()
    weights = [max(1, len(s.tokens)) for s in segs]
    logprob = float(np.average([s.avg_logprob for s in segs], weights=weights))
    return text, logprob, segs[0].no_speech_prob, max(s.compression_ratio for s in segs)
