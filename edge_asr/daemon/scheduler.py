"""One model, many clients: a bounded priority queue in front of the (not thread-safe) transcriber.

A single worker thread owns the transcriber. Jobs advance one 30-s Whisper window per step (``transcribe_windows``
yields every window, silent and skipped ones included, and features are made per window) and go back to the queue
between steps, so a live-mic decode waits for at most one window of an upload, never for the whole upload; among
equal priorities the oldest job goes first. Retry-After is the audio still queued times the model time per second
of audio measured over the recent windows.

Batching: measured on this 2-core x86 host (``edge-asr bench daemon --batching``, full 30-s windows), encoder time
per item at batch 2 and 4 was within the run-to-run noise of batch 1 (0.8-1.4x across five runs on a shared
machine), and uploads use short-clip windows of different lengths that would have to be padded to batch. Eight
concurrent 10-s uploads already finish as fast as eight sequential ones, so jobs run one at a time. Decoder steps
did batch well (about 1.7x per item at batch 4), but that needs a cross-request decoding loop inside the engine.
"""

from __future__ import annotations

import concurrent.futures
import enum
import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..constants import SAMPLE_RATE
from ..engine.base import Transcriber
from ..errors import EdgeAsrError
from ..memory import release_free_heap
from ..options import TranscribeOptions
from ..results import Segment, TranscriptionInfo, WindowResult

log = logging.getLogger(__name__)

INITIAL_RTF = 0.1  # s of model time per s of audio assumed before anything was measured
RTF_SMOOTHING = 0.2  # weight of the newest window in the moving average
MIN_RETRY_AFTER = 1  # s
MAX_RETRY_AFTER = 600  # s
MAX_QUEUED_AUDIO = 7200.0  # s of audio admitted at once (bounds memory: ~64 kB per s as samples + mel)


class Priority(enum.IntEnum):
    LIVE = 0  # the microphone: never rejected, always next
    STREAM = 1  # /v1/stream sessions: a client is listening for partials
    UPLOAD = 2


class Overloaded(EdgeAsrError):
    """The queue is full: the client should come back after ``retry_after`` seconds (HTTP 429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(EdgeAsrError):
    """The scheduler does not take work (shutting down) (HTTP 503)."""

    def __init__(self, message: str, retry_after: int = MIN_RETRY_AFTER) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Cancelled(EdgeAsrError):
    """The job was cancelled (timeout or client gone) before it finished."""


@dataclass
class JobResult:
    segments: list[Segment]
    info: TranscriptionInfo
    busy: float  # s the model spent on this job
    waited: float  # s from submission to the first step


JobObserver = Callable[["Job", "JobResult | None", "BaseException | None"], None]


@dataclass(eq=False)
class Job:
    priority: Priority
    audio: np.ndarray | None
    options: TranscribeOptions | None
    duration: float  # s of audio
    future: Future[Any] = field(default_factory=Future)
    submitted: float = field(default_factory=time.monotonic)
    started: float | None = None
    busy: float = 0.0
    segments: list[Segment] = field(default_factory=list)
    info: TranscriptionInfo | None = None
    gen: Iterator[WindowResult] | None = None
    done_audio: float = 0.0  # s of the audio already transcribed
    fn: Callable[[Transcriber], Any] | None = None  # a one-step call instead of a transcription
    cancelled: bool = False

    def cancel(self) -> None:
        """Stop the job at its next step (or before it starts); its future then fails with Cancelled."""
        self.cancelled = True
        self.future.cancel()


class Scheduler:
    def __init__(self, transcriber: Transcriber, max_queue: int, max_queued_audio: float = MAX_QUEUED_AUDIO,
                 observer: JobObserver | None = None) -> None:
        self.transcriber = transcriber
        self.max_queue = max_queue
        self.max_queued_audio = max_queued_audio
        self._observer = observer
        self._heap: list[tuple[int, int, Job]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._admitted: set[Job] = set()  # unfinished non-live jobs
        self._accepting = True
        self._closing = False
        self._rtf = INITIAL_RTF
        self._measured = False  # the first window replaces the guess: a prior 5-10x off would linger for windows
        self._thread = threading.Thread(target=self._run, name="edge-asr-scheduler", daemon=True)
        self._thread.start()

    # ---- submission ---------------------------------------------------------------------------------------
    def submit(self, audio: np.ndarray, options: TranscribeOptions | None, priority: Priority) -> Job:
        """Queue a transcription; raises Overloaded (queue full) or Unavailable (shutting down)."""
        return self._enqueue(Job(priority, audio, options, len(audio) / SAMPLE_RATE))

    def call(self, fn: Callable[[Transcriber], Any], priority: Priority) -> Any:
        """Run ``fn(transcriber)`` on the worker in one step and return its value (blocking)."""
        return self._enqueue(Job(priority, None, None, 0.0, fn=fn)).future.result()

    def _enqueue(self, job: Job) -> Job:
        priority = job.priority
        with self._cond:
            if self._closing or (not self._accepting and priority != Priority.LIVE):
                raise Unavailable("the server is shutting down and takes no new work")
            if priority != Priority.LIVE:
                queued_audio = sum(j.duration for j in self._admitted)
                if len(self._admitted) >= self.max_queue:
                    raise Overloaded(f"the transcription queue is full ({self.max_queue} jobs waiting); retry later",
                                     self._retry_after_locked())
                if self._admitted and queued_audio + job.duration > self.max_queued_audio:
                    raise Overloaded(f"too much audio queued ({queued_audio:.0f} s); retry later",
                                     self._retry_after_locked())
                self._admitted.add(job)
            heapq.heappush(self._heap, (int(priority), next(self._seq), job))
            self._cond.notify()
        return job

    def transcribe(self, audio: np.ndarray, options: TranscribeOptions | None, priority: Priority,
                   timeout: float | None = None) -> JobResult:
        """Blocking form of submit (for threads such as the live pipeline's)."""
        job = self.submit(audio, options, priority)
        try:
            return job.future.result(timeout)
        except concurrent.futures.TimeoutError:  # not the builtin TimeoutError on Python 3.10
            job.cancel()
            raise

    # ---- introspection ------------------------------------------------------------------------------------
    def depth(self) -> dict[str, int]:
        """Jobs submitted and not finished, by priority name."""
        with self._cond:
            counts = {p.name.lower(): 0 for p in Priority}
            for _, _, job in self._heap:
                counts[job.priority.name.lower()] += 1
            return counts

    def retry_after(self) -> int:
        with self._cond:
            return self._retry_after_locked()

    def _retry_after_locked(self) -> int:
        backlog = sum(max(0.0, j.duration - j.done_audio) for j in self._admitted) * self._rtf
        return int(min(MAX_RETRY_AFTER, max(MIN_RETRY_AFTER, math.ceil(backlog))))

    @property
    def rtf(self) -> float:
        return self._rtf

    # ---- shutdown -----------------------------------------------------------------------------------------
    def stop_accepting(self) -> None:
        """Refuse new uploads and streams (503); queued jobs and live decodes still run."""
        with self._cond:
            self._accepting = False

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no upload or stream job is queued or running; True when that happened within ``timeout`` s."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._admitted, max(timeout, 0.0))

    def close(self, timeout: float) -> bool:
        """Finish what is queued, then stop the worker; True when it stopped within ``timeout`` s."""
        with self._cond:
            self._accepting = False
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ---- worker -------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap and not self._closing:
                    self._cond.wait()
                if not self._heap:
                    return
                _, seq, job = heapq.heappop(self._heap)
            if self._step(job):
                with self._cond:
                    heapq.heappush(self._heap, (int(job.priority), seq, job))
                continue
            with self._cond:
                drained = not self._heap
            if drained:  # nothing waits: the freed heap goes back to the system (memory.release_free_heap)
                release_free_heap()

    def _step(self, job: Job) -> bool:
        """Advance ``job`` by one window; True when it has more to do."""
        if job.started is None:
            if not job.future.set_running_or_notify_cancel():
                self._finish(job, None, Cancelled("cancelled before it started"))
                return False
            job.started = time.monotonic()
        if job.cancelled:
            self._finish(job, None, Cancelled("cancelled"))
            return False
        t0 = time.perf_counter()
        try:
            if job.fn is not None:
                value = job.fn(self.transcriber)
                job.future.set_result(value)
                self._finish(job, None, None)
                return False
            if job.gen is None:
                assert job.audio is not None
                job.gen, job.info = self.transcriber.transcribe_windows(job.audio, job.options)
                job.audio = None  # the generator holds what it needs
                return True
            window = next(job.gen)
            job.segments.extend(window.segments)
            spent, audio = time.perf_counter() - t0, window.end - window.start
            with self._cond:
                job.done_audio = window.end
                if audio > 0:
                    weight = RTF_SMOOTHING if self._measured else 1.0
                    self._rtf = (1 - weight) * self._rtf + weight * spent / audio
                    self._measured = True
            return True
        except StopIteration:
            assert job.info is not None
            result = JobResult(job.segments, job.info, job.busy + time.perf_counter() - t0,
                               job.started - job.submitted)
            job.busy = result.busy
            self._finish(job, result, None)
            return False
        except Exception as exc:  # delivered to the waiting client, which formats it
            log.debug("job failed: %s", exc, exc_info=not isinstance(exc, EdgeAsrError))
            self._finish(job, None, exc)
            return False
        finally:
            job.busy += time.perf_counter() - t0

    def _finish(self, job: Job, result: JobResult | None, error: BaseException | None) -> None:
        with self._cond:
            self._admitted.discard(job)
            self._cond.notify_all()  # wait_idle()
        job.gen = None
        if not job.future.done():
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)  # type: ignore[arg-type]
        if self._observer is not None:
            try:
                self._observer(job, result, error)
            except Exception:  # metrics must never break transcription
                log.exception("job observer failed")


class ScheduledTranscriber:
    """A Transcriber whose calls go through the scheduler at one priority (the live pipeline's view)."""

    def __init__(self, scheduler: Scheduler, priority: Priority = Priority.LIVE) -> None:
        self._scheduler = scheduler
        self._priority = priority
        self._inner = scheduler.transcriber

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def is_multilingual(self) -> bool:
        return self._inner.is_multilingual

    def transcribe(self, audio: Any, options: TranscribeOptions | None = None
                   ) -> tuple[Iterator[Segment], TranscriptionInfo]:
        from ..transcribe import as_samples

        result = self._scheduler.transcribe(as_samples(audio), options, self._priority)
        return iter(result.segments), result.info

    def transcribe_windows(self, audio: Any, options: TranscribeOptions | None = None, *,
                           max_duration: float | None = None) -> tuple[Iterator[WindowResult], TranscriptionInfo]:
        segments, info = self.transcribe(audio, options)
        return iter([WindowResult(0.0, info.duration, tuple(segments))]), info

    def detect_language(self, audio: Any) -> tuple[str, float, list[tuple[str, float]]]:
        if not self._inner.is_multilingual:
            return "en", 1.0, [("en", 1.0)]
        out: tuple[str, float, list[tuple[str, float]]] = self._scheduler.call(
            lambda t: t.detect_language(audio), self._priority)
        return out
