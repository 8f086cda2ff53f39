"""Everything that may block, off the GUI thread: one-shot jobs on the thread pool, the resource sampler and
the file-job queue as QObjects moved to their own QThreads.

Results and errors come back as queued signals; an exception from the core becomes a human message
(:func:`human_message`) and is logged, never swallowed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

from ..engine.base import Transcriber
from ..errors import EdgeAsrError
from ..options import TranscribeOptions

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]


def human_message(exc: BaseException) -> str:
    """The message a person sees: the core's own words for its errors, type and text for anything else."""
    if isinstance(exc, EdgeAsrError):
        return str(exc)
    return f"Unexpected {type(exc).__name__}: {exc}"


class _JobSignals(QObject):
    progress = Signal(str, float)  # stage, fraction 0..1
    finished = Signal(object)  # the function's result
    failed = Signal(object)  # the exception


class Job(QRunnable):
    """Run ``fn(progress)`` once on the global thread pool; connect to :attr:`signals` before :meth:`start`."""

    def __init__(self, name: str, fn: Callable[[Progress], Any]) -> None:
        super().__init__()
        self.name = name
        self._fn = fn
        self.signals = _JobSignals()
        self.done = threading.Event()  # set after the result or error signal was emitted
        self.setAutoDelete(False)  # Python keeps the reference (see _live_jobs): Qt must not delete it under us

    def run(self) -> None:
        try:
            result = self._fn(self.signals.progress.emit)
        except BaseException as exc:
            if isinstance(exc, EdgeAsrError):
                log.warning("%s failed: %s", self.name, exc)
            else:
                log.exception("%s failed", self.name)
            self.signals.failed.emit(exc)
        else:
            self.signals.finished.emit(result)
        finally:
            self.done.set()
            _live_jobs.discard(self)

    def start(self) -> Job:
        _live_jobs.add(self)
        QThreadPool.globalInstance().start(self)
        return self


_live_jobs: set[Job] = set()


def wait_for_jobs(timeout_s: float) -> bool:
    """Block until every started job has finished (shutdown only); False when some are still running."""
    return QThreadPool.globalInstance().waitForDone(int(timeout_s * 1000))


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


class Cancelled(Exception):
    """A file job stopped by the user between two segments."""


class FileJobWorker(QObject):
    """Transcribes queued files one at a time on its own thread; cancels between segments.

    The transcriber's lazy segment generator is consumed here, so progress is the last segment's end over the
    audio duration, straight from the core.
    """

    job_started = Signal(int, object)  # job id, TranscriptionInfo
    job_segment = Signal(int, object)  # job id, Segment
    job_progress = Signal(int, float)  # job id, fraction 0..1
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
        try:
            segments, info = transcriber.transcribe(spec.path, spec.options)
            self.job_started.emit(spec.job_id, info)
            for seg in segments:
                self.job_segment.emit(spec.job_id, seg)
                if info.duration > 0:
                    self.job_progress.emit(spec.job_id, min(1.0, seg.end / info.duration))
                if spec.cancel.is_set():
                    raise Cancelled
        except Cancelled:
            log.info("file job %d (%s) cancelled", spec.job_id, spec.path.name)
            self.job_cancelled.emit(spec.job_id)
            return
        except Exception as exc:
            if not isinstance(exc, EdgeAsrError):
                log.exception("file job %d (%s) failed", spec.job_id, spec.path)
            self.job_failed.emit(spec.job_id, human_message(exc))
            return
        self.job_progress.emit(spec.job_id, 1.0)
        self.job_finished.emit(spec.job_id)

