"""The bounded queue between a thread that produces audio (PortAudio's callback, a pacing thread) and the
pipeline that reads it, and the counters every source reports from it (``drops``, ``overruns``, ``queue_depth``).

The producer never waits on the consumer: an audio block that does not fit is counted as a drop, not queued.
"""

from __future__ import annotations

import queue
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class BlockQueue(Generic[T]):
    """A bounded FIFO that counts what its producer could not put in it."""

    def __init__(self, capacity: int) -> None:
        self._q: queue.Queue[T] = queue.Queue(capacity)
        self.drops = 0  # audio blocks offer() could not queue (written by the producer thread only)
        self.overruns = 0  # input overflows the device reported (written by the producer thread only)

    def offer(self, block: T) -> bool:
        """Queue an audio block without waiting; a full queue drops it and counts the drop."""
        try:
            self._q.put_nowait(block)
        except queue.Full:
            self.drops += 1
            return False
        return True

    def note_overrun(self) -> None:
        self.overruns += 1

    def put(self, item: T, timeout: float | None = None) -> None:
        """Queue a control item (a fault marker), waiting up to timeout; raises queue.Full. Never a drop."""
        self._q.put(item, timeout=timeout)

    def try_put(self, item: T) -> bool:
        """Queue a control item (the end, a wake-up token) if there is room; False when full. Never a drop."""
        try:
            self._q.put_nowait(item)
        except queue.Full:
            return False
        return True

    def get(self, timeout: float | None) -> T:
        """The next item, waiting up to timeout (None: for ever); raises queue.Empty."""
        return self._q.get(timeout=timeout)

    def get_nowait(self) -> T:
        return self._q.get_nowait()

    @property
    def depth(self) -> int:
        return self._q.qsize()


class QueueCounters:
    """The counters of :class:`~edge_asr.live.sources.AudioSource`, read from the source's ``_buffer``."""

    _buffer: BlockQueue[Any]

    @property
    def drops(self) -> int:
        return self._buffer.drops

    @property
    def overruns(self) -> int:
        return self._buffer.overruns

    @property
    def queue_depth(self) -> int:
        return self._buffer.depth
