"""Word timestamps from the cross-attention of the alignment heads: standardise, median-filter, DTW."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .constants import TOKENS_PER_SECOND
from .engine.runtime import KV, ModelRuntime
from .tokenizer import Tokenizer

MEDIAN_FILTER_WIDTH = 7  # encoder positions
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue"})
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"


@dataclass
class WordTiming:
    word: str
    tokens: list[int]
    start: float  # s from the window start
    end: float
    probability: float


ROWS_PER_CHUNK = 64  # rows filtered (or soft-maxed) at a time: the window copies stay a few MB, not ~100 MB


def median_filter(x: np.ndarray, width: int) -> np.ndarray:
    """Median over a sliding window of the last axis (reflect padding), as Whisper's alignment uses."""
    pad = width // 2
    if x.shape[-1] <= pad:
        return x
    rows = x.reshape(-1, x.shape[-1])
    out = np.empty_like(rows)
    for i in range(0, len(rows), ROWS_PER_CHUNK):
        padded = np.pad(rows[i : i + ROWS_PER_CHUNK], [(0, 0), (pad, pad)], mode="reflect")
        out[i : i + ROWS_PER_CHUNK] = np.median(np.lib.stride_tricks.sliding_window_view(padded, width, axis=-1),
                                                axis=-1)
    return out.reshape(x.shape)


def token_probabilities(logits: np.ndarray, tokens: list[int]) -> np.ndarray:
    """softmax(logits[i])[tokens[i]] for each row, a few rows at a time (a row is the whole vocabulary)."""
    out = np.empty(len(tokens), dtype=np.float64)
    for i in range(0, len(tokens), ROWS_PER_CHUNK):
        chunk = logits[i : i + ROWS_PER_CHUNK].astype(np.float64)
        chunk -= chunk.max(axis=-1, keepdims=True)
        picked = chunk[np.arange(len(chunk)), tokens[i : i + ROWS_PER_CHUNK]]
        out[i : i + ROWS_PER_CHUNK] = np.exp(picked) / np.exp(chunk).sum(axis=-1)
    return out


def dtw(cost_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monotonic alignment path through [tokens, frames]; returns (token indices, frame indices)."""
    n, m = cost_matrix.shape
    cost = np.full((n + 1, m + 1), np.inf)
    trace = -np.ones((n + 1, m + 1), dtype=np.int8)
    cost[0, 0] = 0
    # Sweep anti-diagonals so each step is one vectorised operation instead of n*m Python iterations.
    for d in range(2, n + m + 1):
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        c0, c1, c2 = cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1]
        choice = np.where((c0 < c1) & (c0 < c2), 0, np.where((c1 < c0) & (c1 < c2), 1, 2))
        best = np.choose(choice, [c0, c1, c2])
        cost[i, j] = cost_matrix[i - 1, j - 1] + best
        trace[i, j] = choice
    trace[0, :] = 2
    trace[:, 0] = 1
    i, j = n, m
    path: list[tuple[int, int]] = []
    while i > 0 or j > 0:
        path.append((i - 1, j - 1))
        t = trace[i, j]
        if t == 0:
            i, j = i - 1, j - 1
        elif t == 1:
            i -= 1
        else:
            j -= 1
    arr = np.array(path[::-1]).T
    return arr[0], arr[1]


def find_alignment(
    rt: ModelRuntime,
    tok: Tokenizer,
    cross: KV,
    sot_sequence: list[int],
    text_tokens: list[int],
    num_frames: int,
    language: str | None,
) -> list[WordTiming]:
    if not text_tokens:
        return []
    tokens = np.array([[*sot_sequence, tok.no_timestamps, *text_tokens, tok.eot]], dtype=np.int64)
    out = rt.decode(tokens, None, cross, logits_start=len(sot_sequence))
    text_token_probs = token_probabilities(out.logits[0, : len(text_tokens), : tok.eot], text_tokens)
    alignment = out.alignment
    del out  # its logits are tokens x vocabulary floats: tens of MB on a full window

    positions = max(1, min(num_frames // 2, alignment.shape[-1]))
    weights = alignment[0][:, :, :positions].astype(np.float64)
    weights /= np.maximum(weights.sum(axis=-1, keepdims=True), 1e-10)  # softmax over the audio actually present
    std = weights.std(axis=-2, keepdims=True)
    weights = (weights - weights.mean(axis=-2, keepdims=True)) / np.maximum(std, 1e-10)
    matrix = median_filter(weights, MEDIAN_FILTER_WIDTH).mean(axis=0)[len(sot_sequence) : -1]
    text_idx, time_idx = dtw(-matrix)

    words, word_tokens = tok.split_to_word_tokens([*text_tokens, tok.eot], no_space=language in NO_SPACE_LANGUAGES)
    if len(word_tokens) <= 1:
        return []
    boundaries = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    jumps = np.pad(np.diff(text_idx), (1, 0), constant_values=1).astype(bool)
    jump_times = time_idx[jumps] / TOKENS_PER_SECOND
    starts = jump_times[boundaries[:-1]]
    ends = jump_times[boundaries[1:]]
    word_probs = [float(np.mean(text_token_probs[i:j])) for i, j in itertools.pairwise(boundaries)]
    timings = [
        WordTiming(w, t, float(s), float(e), p)
        for w, t, s, e, p in zip(words, word_tokens, starts, ends, word_probs, strict=False)
    ]
    return _merge_punctuations(timings)


def _merge_punctuations(timings: list[WordTiming]) -> list[WordTiming]:
    # Attach opening punctuation to the next word and closing punctuation to the previous one.
    i = len(timings) - 2
    while i >= 0:
        prev, cur = timings[i], timings[i + 1]
        if prev.word.startswith(" ") and prev.word.strip() in PREPEND_PUNCTUATIONS:
            cur.word, cur.tokens = prev.word + cur.word, prev.tokens + cur.tokens
            prev.word, prev.tokens = "", []
        i -= 1
    i = 0
    while i < len(timings) - 1:
        prev, cur = timings[i], timings[i + 1]
        if not prev.word.endswith(" ") and cur.word in APPEND_PUNCTUATIONS and prev.word:
            prev.word, prev.tokens = prev.word + cur.word, prev.tokens + cur.tokens
            cur.word, cur.tokens = "", []
        i += 1
    return timings
