"""Subtitle-sized cues from Whisper's segments: at most so many seconds, lines of at most so many characters.

Whisper's segments run from a few words to a whole 30-s window. A cue that long cannot be read, so a segment that
breaks a limit is split between words: at word timestamps when the segment has them, else at times shared out in
proportion to the characters. A split prefers the end of a sentence or clause in the second half of the cue.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass

from .errors import ConfigError
from .results import Segment, Word

CLAUSE_END = (".", "?", "!", ";", ":", ",", "…")
MID_CLAUSE_PENALTY = 0.3  # cost of a cue that ends inside a clause, against (unused room fraction)^2


@dataclass(frozen=True)
class CueOptions:
    """Limits of one subtitle cue; None turns a limit off. Defaults follow common broadcast style guides."""

    max_line_width: int | None = 42  # characters per line
    max_line_count: int | None = 2  # lines per cue
    max_cue_seconds: float | None = 7.0  # s

    def __post_init__(self) -> None:
        if self.max_line_width is not None and self.max_line_width < 10:
            raise ConfigError("max_line_width must be at least 10 characters")
        if self.max_line_count is not None and self.max_line_count < 1:
            raise ConfigError("max_line_count must be at least 1")
        if self.max_cue_seconds is not None and self.max_cue_seconds < 1.0:
            raise ConfigError("max_cue_seconds must be at least 1 s")

    @property
    def max_chars(self) -> int | None:
        if self.max_line_width is None or self.max_line_count is None:
            return None
        return self.max_line_width * self.max_line_count

    @property
    def active(self) -> bool:
        return self.max_chars is not None or self.max_cue_seconds is not None


NO_LIMITS = CueOptions(None, None, None)
DEFAULT_CUES = CueOptions()


@dataclass(frozen=True)
class Cue:
    start: float  # s
    end: float  # s
    text: str  # one line; see wrap()
    segment: Segment


def _words_of(seg: Segment, text: str) -> list[Word]:
    """The segment's words: its own timestamps, or times in proportion to characters when it has none."""
    if seg.words and "".join(w.word for w in seg.words).strip() == text:
        return list(seg.words)
    tokens = text.split()
    total = sum(len(t) + 1 for t in tokens)
    span = max(seg.end - seg.start, 0.0)
    out: list[Word] = []
    at = 0
    for t in tokens:
        start = seg.start + span * at / total
        at += len(t) + 1
        out.append(Word(start, seg.start + span * at / total, " " + t, 1.0))
    return out


def _fits(words: list[Word], opts: CueOptions) -> bool:
    if opts.max_cue_seconds is not None and words[-1].end - words[0].start > opts.max_cue_seconds:
        return False
    if opts.max_line_width is None or opts.max_line_count is None:
        return True
    text = "".join(w.word for w in words).strip()
    if len(text) > opts.max_line_width * opts.max_line_count:
        return False
    return len(textwrap.wrap(text, opts.max_line_width, break_long_words=False, break_on_hyphens=False)) \
        <= opts.max_line_count


def _cost(words: list[Word], opts: CueOptions, last: bool) -> float:
    """How bad a cue of these words is: infinite past a limit, else its unused room squared (so cues come out of
    even size), plus a penalty for ending inside a clause."""
    if not _fits(words, opts):
        return math.inf
    chars = len("".join(w.word for w in words).strip())
    fill = chars / opts.max_chars if opts.max_chars else 0.0
    if opts.max_cue_seconds is not None:
        fill = max(fill, (words[-1].end - words[0].start) / opts.max_cue_seconds)
    clause = last or words[-1].word.rstrip().endswith(CLAUSE_END)
    return (1.0 - min(fill, 1.0)) ** 2 + (0.0 if clause else MID_CLAUSE_PENALTY)


def split_segment(seg: Segment, text: str, opts: CueOptions) -> list[tuple[float, float, str]]:
    """(start, end, text) pieces of one segment, each within the limits, as even as the words allow (a lone word
    longer than a limit is a piece of its own)."""
    words = _words_of(seg, text)
    if not words or _fits(words, opts):
        return [(seg.start, seg.end, text)]
    n = len(words)
    # best[i]: the least cost of cutting words[i:] into cues; the shortest minimal cut wins on ties.
    best = [math.inf] * n + [0.0]
    cut = [n] * (n + 1)
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n + 1):
            c = _cost(words[i:j], opts, j == n)
            if math.isinf(c) and j > i + 1:
                break  # longer pieces only break the limits further
            if math.isinf(c):
                c = 1.0  # one word alone over a limit: it has to stand by itself
            if c + best[j] < best[i]:
                best[i], cut[i] = c + best[j], j
    out = []
    i = 0
    while i < n:
        j = cut[i]
        piece = words[i:j]
        start = seg.start if i == 0 else piece[0].start
        end = seg.end if j == n else piece[-1].end
        out.append((start, max(end, start), "".join(w.word for w in piece).strip()))
        i = j
    return out


def build_cues(segments: list[Segment], opts: CueOptions = NO_LIMITS) -> list[Cue]:
    """Stripped, non-empty cues within ``opts`` with monotonic times."""
    cues: list[Cue] = []
    prev_end = 0.0
    for seg in segments:
        text = seg.text.strip()
        if not text:
            continue
        for start, end, piece in split_segment(seg, text, opts) if opts.active else [(seg.start, seg.end, text)]:
            start = max(start, prev_end)
            end = max(end, start)
            cues.append(Cue(start, end, piece, seg))
            prev_end = end
    return cues


def wrap(text: str, opts: CueOptions) -> list[str]:
    """A cue's text as lines of at most max_line_width characters (one line when there is no width limit)."""
    flat = " ".join(text.split())
    if opts.max_line_width is None or len(flat) <= opts.max_line_width:
        return [flat]
    lines = textwrap.wrap(flat, opts.max_line_width, break_long_words=False, break_on_hyphens=False)
    if opts.max_line_count == 2 and len(lines) == 2:
        # Two lines of about equal length read better than a full line over a short one.
        half = len(flat) // 2
        spaces = [i for i, c in enumerate(flat) if c == " "]
        cut = min(spaces, key=lambda i: abs(i - half))
        a, b = flat[:cut], flat[cut + 1 :]
        if max(len(a), len(b)) <= opts.max_line_width:
            lines = [a, b]
    return lines
