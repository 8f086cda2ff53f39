"""One decoded window's tokens cut into segments at Whisper's timestamp pairs, and how far the window was consumed."""

from __future__ import annotations

from dataclasses import dataclass

from .constants import ENCODER_STRIDE, HOP_LENGTH, SAMPLE_RATE, TIME_PRECISION


@dataclass(frozen=True)
class Piece:
    start: float  # s from the window start
    end: float  # s
    tokens: list[int]  # text and timestamp tokens


@dataclass(frozen=True)
class Split:
    pieces: list[Piece]
    consumed: int  # mel frames of the window that are done with
    single_ending: bool  # the text ended on a lone timestamp: the whole window is done


def split_pieces(tokens: list[int], timestamp_begin: int, segment_size: int) -> Split:
    """Whisper's rule: every pair of consecutive timestamps closes a segment. Text after the last pair (a segment
    that was still open when the window ended) is left for the next window, which starts at that pair, unless the
    text ended on a single timestamp. Without any pair, the whole window is one segment."""
    tb = timestamp_begin
    is_ts = [t >= tb for t in tokens]
    single_ending = is_ts[-2:] == [False, True]
    consecutive = [i + 1 for i in range(len(tokens) - 1) if is_ts[i] and is_ts[i + 1]]
    window_seconds = segment_size * HOP_LENGTH / SAMPLE_RATE
    if consecutive:
        pieces: list[Piece] = []
        last = 0
        for cut in consecutive + ([len(tokens)] if single_ending else []):
            part = tokens[last:cut]
            start = min((part[0] - tb) * TIME_PRECISION, window_seconds)
            pieces.append(Piece(start, min((part[-1] - tb) * TIME_PRECISION, window_seconds), part))
            last = cut
        if single_ending:
            return Split(pieces, segment_size, True)
        consumed = min(segment_size, (tokens[last - 1] - tb) * ENCODER_STRIDE)
        if consumed <= 0:
            # The last pair sits at the window's start: starting over there would decode the same again, forever.
            # Keep the open text as a segment to the window's end and move on.
            pieces.append(Piece(pieces[-1].end, window_seconds, tokens[last:]))
            consumed = segment_size
        return Split(pieces, consumed, False)
    duration = window_seconds
    stamps = [t for t in tokens if t >= tb]
    if stamps and stamps[-1] != tb:
        duration = min((stamps[-1] - tb) * TIME_PRECISION, window_seconds)
    return Split([Piece(0.0, duration, tokens)], segment_size, single_ending)
