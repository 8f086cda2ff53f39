"""Long-lived workers off the GUI thread: the resource sampler and the file-job queue, QObjects moved to their
own QThreads (one-shot jobs are in :mod:`edge_asr.gui.jobs`).

Results and errors come back as queued signals; an exception from the core becomes a human message
(:func:`human_message`) and is logged, never swallowed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ..engine.base import Transcriber
from ..errors import EdgeAsrError
from ..options import TranscribeOptions

log = logging.getLogger(__name__)

def human_message(exc: BaseException) -> str:
    """The message a person sees: the core's own words for its errors, type and text for anything else."""
    if isinstance(exc, EdgeAsrError):
        return str(exc)
    return f"Unexpected {type(exc).__name__}: {exc}"


class ResourcePoller(QObject):
    """Reads the core's ResourceSampler on its own thread at a fixed interval (a QTimer, no sleeping)."""

    sampled = Signal(object)  # edge_asr.monitor.ResourceSample
    unavailable = Signal(str)

    def __init__(self, interval_ms: int) -> None:
        super().__init__()
        self._interval_ms = interval_ms
        self._timer: QTimer | None = None
        self._sampler: Any = None
        self._paused = False

    @Slot()
    def start(self) -> None:
        """Runs on the poller's thread (connected to QThread.started)."""
        try:
            from ..monitor import ResourceSampler
        except ImportError as exc:
            self.unavailable.emit(f"Resource figures unavailable: the core's sampler is missing ({exc}).")
            return
        self._sampler = ResourceSampler()
        self._timer = QTimer(self)
        self._timer.setInterval(self._interval_ms)
        self._timer.timeout.connect(self.sample_now)
        self._timer.start()
        self.sample_now()

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        # While the pipeline publishes Stats, sampling here too would only double the cost.
        self._paused = paused

    @Slot()
    def sample_now(self) -> None:
        if self._paused or self._sampler is None:
            return
        try:
            self.sampled.emit(self._sampler.sample())
        except Exception as exc:
            log.exception("resource sampling failed")
            self.unavailable.emit(f"Resource sampling failed: {human_message(exc)}")
            if self._timer is not None:
                self._timer.stop()

    @Slot()
    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()


@dataclass
class FileJobSpec:
    job_id: int
    path: Path
    options: TranscribeOptions
    cancel: threading.Event = field(default_factory=threading.Event)


class _FileJobCancelled(Exception):
    """A file job stopped by the user between two segments."""


class FileJobWorker(QObject):
    """Transcribes queued files one at a time on its own thread; cancels between segments.

    The transcriber's lazy segment generator is consumed here, so progress is the last segment's end over the
    audio duration, straight from the core.
    """

    job_started = Signal(int, object)  # job id, TranscriptionInfo
    job_segment = Signal(int, object)  # job id, Segment
    job_progress = Signal(int, float, float, float)  # job id, fraction 0..1, audio s done, wall s elapsed
    job_finished = Signal(int)  # job id
    job_cancelled = Signal(int)  # job id
    job_failed = Signal(int, str)  # job id, human message

    _STOP = None  # queue sentinel

    def __init__(self) -> None:
        super().__init__()
        self._queue: queue.Queue[FileJobSpec | None] = queue.Queue()
        self._transcriber: Transcriber | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._current: FileJobSpec | None = None

    def set_transcriber(self, transcriber: Transcriber | None) -> None:
        with self._lock:
            self._transcriber = transcriber
        if transcriber is not None:
            self._ready.set()
        else:
            self._ready.clear()

    def submit(self, spec: FileJobSpec) -> None:
        self._queue.put(spec)

    def shutdown(self) -> None:
        with self._lock:
            self._transcriber = None
            if self._current is not None:
                self._current.cancel.set()
        self._ready.set()  # wake a loop still waiting for the model
        self._queue.put(self._STOP)

    @Slot()
    def run(self) -> None:
        """The worker loop (connected to QThread.started); blocks on the queue, never polls."""
        while True:
            spec = self._queue.get()
            if spec is self._STOP:
                return
            self._ready.wait()  # jobs dropped before the model is loaded wait for it
            if spec.cancel.is_set():
                self.job_cancelled.emit(spec.job_id)
                continue
            with self._lock:
                transcriber = self._transcriber
                self._current = spec
            if transcriber is None:  # shutting down
                return
            try:
                self._run_one(transcriber, spec)
            finally:
                with self._lock:
                    self._current = None

    def _run_one(self, transcriber: Transcriber, spec: FileJobSpec) -> None:
        started = time.monotonic()
        duration = 0.0
        try:
            segments, info = transcriber.transcribe(spec.path, spec.options)
            duration = info.duration
            self.job_started.emit(spec.job_id, info)
            for seg in segments:
                self.job_segment.emit(spec.job_id, seg)
                if duration > 0:
                    done = min(duration, seg.end)
                    self.job_progress.emit(spec.job_id, done / duration, done, time.monotonic() - started)
                if spec.cancel.is_set():
                    raise _FileJobCancelled
        except _FileJobCancelled:
            log.info("file job %d (%s) cancelled", spec.job_id, spec.path.name)
            self.job_cancelled.emit(spec.job_id)
            return
        except Exception as exc:
            if not isinstance(exc, EdgeAsrError):
                log.exception("file job %d (%s) failed", spec.job_id, spec.path)
            self.job_failed.emit(spec.job_id, human_message(exc))
            return
        self.job_progress.emit(spec.job_id, 1.0, duration, time.monotonic() - started)
        self.job_finished.emit(spec.job_id)

