"""Where live audio comes from: a file or an array in memory here, a microphone in capture.py (PortAudio).

Every source hands the pipeline the same items, in order, from :meth:`AudioSource.read`: float32 mono 16-kHz
:class:`AudioBlock` s, :class:`SourceLost` / :class:`SourceBack` when a device fails and comes back, and
:data:`END` when there is no more audio. A file or array source either runs as fast as the consumer reads
(``realtime=False``) or is paced like a microphone (``realtime=True``: blocks appear at the pace of the audio and
are dropped, counted, when the consumer falls behind).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..audio_stream import open_audio
from ..constants import SAMPLE_RATE
from ..errors import AudioError, ConfigError
from .block_queue import BlockQueue, QueueCounters

log = logging.getLogger(__name__)

BLOCK_DURATION = 0.032  # s per block handed to the pipeline (one VAD window at 16 kHz)
QUEUE_DURATION = 20.0  # s of audio a paced source buffers before it drops blocks


@dataclass(frozen=True)
class AudioBlock:
    samples: np.ndarray  # float32 mono at 16 kHz
    arrival: float  # time.monotonic() when the block's last sample became available


@dataclass(frozen=True)
class SourceLost:
    reason: str  # for humans


@dataclass(frozen=True)
class SourceBack:
    outage: float  # s without audio


class EndOfStream:
    def __repr__(self) -> str:
        return "END"


END = EndOfStream()
SourceItem = AudioBlock | SourceLost | SourceBack | EndOfStream


@runtime_checkable
class AudioSource(Protocol):
    """What the pipeline reads audio from."""

    @property
    def name(self) -> str: ...

    @property
    def realtime(self) -> bool: ...  # True: audio arrives at its own pace (a mic, a paced file)

    @property
    def drops(self) -> int: ...  # blocks lost because the consumer fell behind

    @property
    def overruns(self) -> int: ...  # input overflows the device reported

    @property
    def queue_depth(self) -> int: ...  # blocks waiting to be read

    def start(self) -> None: ...

    def read(self, timeout: float | None) -> SourceItem | None: ...  # None: nothing arrived within timeout

    def stop(self) -> None: ...


class _BlockSource(QueueCounters):
    """A source over an iterator of 16-kHz blocks, either pulled on demand or paced by a thread."""

    def __init__(self, name: str, realtime: bool, block_duration: float, queue_duration: float) -> None:
        if block_duration <= 0 or queue_duration <= block_duration:
            raise ConfigError("block_duration must be positive and smaller than queue_duration")
        self._name, self._realtime = name, realtime
        self.block_samples = round(block_duration * SAMPLE_RATE)
        self._buffer: BlockQueue[AudioBlock | EndOfStream] = BlockQueue(max(2, round(queue_duration / block_duration)))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._iter: Generator[np.ndarray, None, None] | None = None
        self._ended = False
        self.started_at = 0.0  # monotonic time of stream position 0 (paced sources)

    def _blocks(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self._name

    @property
    def realtime(self) -> bool:
        return self._realtime

    def _fixed_blocks(self) -> Generator[np.ndarray, None, None]:
        """Re-cut the underlying blocks into block_samples pieces (the last may be shorter)."""
        pending = np.zeros(0, dtype=np.float32)
        for chunk in self._blocks():
            pending = np.concatenate([pending, chunk]) if pending.size else chunk
            n = len(pending) // self.block_samples * self.block_samples
            for i in range(0, n, self.block_samples):
                yield pending[i : i + self.block_samples]
            pending = pending[n:]
        if pending.size:
            yield pending

    def start(self) -> None:
        self._iter = self._fixed_blocks()
        self.started_at = time.monotonic()
        if self._realtime:
            self._thread = threading.Thread(target=self._pace, name=f"edge-asr-source-{self._name}", daemon=True)
            self._thread.start()

    def _pace(self) -> None:
        assert self._iter is not None
        started = self.started_at
        played = 0  # samples
        try:
            for block in self._iter:
                played += len(block)
                due = started + played / SAMPLE_RATE
                # A timed wait on the stop event, not a sleep: stop() ends the pacing at once.
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    break
                self._buffer.offer(AudioBlock(block, time.monotonic()))
        except AudioError as exc:
            log.error("%s: %s", self._name, exc)
        finally:
            self._close_blocks()
            self._ended = True
            self._buffer.try_put(END)  # when full, read() reports END once the queue is empty

    def _close_blocks(self) -> None:
        """Close the block generators now, by their reader's thread: a source stopped mid-file otherwise keeps its
        file open until the garbage collector finds the suspended generator (one descriptor per daemon reload)."""
        blocks, self._iter = self._iter, None
        if blocks is not None:
            blocks.close()

    def read(self, timeout: float | None) -> SourceItem | None:
        if not self._realtime:
            if self._iter is None or self._stop.is_set():
                self._close_blocks()
                return END
            block = next(self._iter, None)
            if block is None:
                self._close_blocks()
                return END
            return AudioBlock(block, time.monotonic())
        try:
            if self._ended:
                return self._buffer.get_nowait()
            return self._buffer.get(timeout=timeout)
        except queue.Empty:
            return END if self._ended else None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class ArraySource(_BlockSource):
    """Samples already in memory (float32 mono at 16 kHz)."""

    def __init__(self, samples: np.ndarray, realtime: bool = False, *, name: str = "array",
                 block_duration: float = BLOCK_DURATION, queue_duration: float = QUEUE_DURATION) -> None:
        super().__init__(name, realtime, block_duration, queue_duration)
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise AudioError(f"{name}: audio must be mono samples (1-D), got shape {samples.shape}")
        self.samples = samples

    def _blocks(self) -> Iterator[np.ndarray]:
        yield self.samples


class FileSource(_BlockSource):
    """An audio file, decoded and resampled a second at a time as it is read (any format edge-asr reads)."""

    def __init__(self, path: str | os.PathLike[str], realtime: bool = False, *,
                 block_duration: float = BLOCK_DURATION, queue_duration: float = QUEUE_DURATION) -> None:
        self.path = Path(path)
        super().__init__(self.path.name, realtime, block_duration, queue_duration)
        if not self.path.is_file():
            raise AudioError(f"{self.path}: no such file")
        open_audio(self.path).close()  # raises AudioError now for what nothing can read

    def _blocks(self) -> Iterator[np.ndarray]:
        yield from open_audio(self.path).blocks()


__all__ = ["END", "ArraySource", "AudioBlock", "AudioSource", "EndOfStream", "FileSource", "SourceBack", "SourceItem",
           "SourceLost"]
