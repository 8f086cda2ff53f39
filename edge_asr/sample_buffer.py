"""A forward-only window over a stream of 16-kHz blocks, so long-form decoding holds ~30 s of audio, not the file.

Whisper's long-form loop only ever moves forward (``seek`` grows), so samples before the current window can be
dropped as soon as the window has moved past them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from .constants import HOP_LENGTH
from .features import WINDOW_CONTEXT


class SampleBuffer:
    """Samples of a stream by absolute index, read on demand; ``release`` forgets what lies before an index."""

    def __init__(self, blocks: Iterable[np.ndarray]) -> None:
        self._blocks: Iterator[np.ndarray] = iter(blocks)
        self._buf = np.zeros(0, dtype=np.float32)
        self._offset = 0  # absolute index of _buf[0]
        self.eof = False

    @property
    def end(self) -> int:
        """Absolute index one past the last sample read so far."""
        return self._offset + len(self._buf)

    def fill_to(self, end: int) -> None:
        """Read blocks until ``end`` samples exist or the stream ends."""
        parts: list[np.ndarray] = []
        have = self.end
        while have < end and not self.eof:
            block = next(self._blocks, None)
            if block is None:
                self.eof = True
                break
            parts.append(np.asarray(block, dtype=np.float32))
            have += len(block)
        if parts:
            self._buf = np.concatenate([self._buf, *parts])

    def release(self, before: int) -> None:
        """Samples before absolute index ``before`` are no longer needed."""
        drop = min(max(0, before - self._offset), len(self._buf))
        if drop:
            self._buf = self._buf[drop:].copy()
            self._offset += drop

    def get(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop): zeros past the end of the stream (the stream must have been filled that far)."""
        if start < self._offset:
            raise IndexError(f"sample {start} was released (the buffer starts at {self._offset})")
        lo, hi = start - self._offset, min(stop, self.end) - self._offset
        out = self._buf[lo:max(lo, hi)]
        if stop > self.end:
            out = np.concatenate([out, np.zeros(stop - max(start, self.end), dtype=np.float32)])
        return out

    def window_audio(self, first_frame: int, n_frames: int) -> np.ndarray:
        """The samples frames [first_frame, first_frame + n_frames) of a whole-file STFT see: the window plus
        WINDOW_CONTEXT on each side, reflected before the start of the stream as Whisper's centred STFT does."""
        start = first_frame * HOP_LENGTH - WINDOW_CONTEXT
        stop = (first_frame + n_frames - 1) * HOP_LENGTH + WINDOW_CONTEXT
        if start >= 0:
            return self.get(start, stop)
        body = self.get(0, stop)
        return np.pad(body, (-start, 0), mode="reflect") if len(body) > -start else np.pad(body, (-start, 0))
