"""One-shot background jobs on the global thread pool, and who owns them while they run.

A :class:`Job` is a QObject that lives on the GUI thread and carries the signals; the thread pool runs a plain
callable that holds a reference to it, so the job (and its signals) cannot be collected while it is queued or
running, whoever else still refers to it. It is released on the GUI thread, after its last signal was delivered.

The window cancels and joins every job when it closes (:func:`shutdown_jobs`): a cancelled job stops at its next
progress report (the model build reports between stages and cleans up after itself), and a job that outlives the
window can no longer emit into deleted objects, because it stops emitting once it is cancelled.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from ..errors import EdgeAsrError

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
_MS_PER_S = 1000


class Cancelled(EdgeAsrError):
    """Raised inside a job's function (from its progress callback) once the job was cancelled."""


class _Registry(QObject):
    """Keeps started jobs alive until their last queued signal has reached the GUI thread."""

    def __init__(self) -> None:
        super().__init__()
        self.live: set[Job] = set()

    @Slot(object)
    def release(self, job: Job) -> None:
        self.live.discard(job)


_registry: _Registry | None = None


def _the_registry() -> _Registry:
    global _registry
    if _registry is None:
        _registry = _Registry()  # created on the GUI thread, by the first Job
    return _registry


class Job(QObject):
    """Run ``fn(progress)`` once on the thread pool; connect to the signals before :meth:`start`."""

    progress = Signal(str, float)  # stage, fraction 0..1
    finished = Signal(object)  # the function's result
    failed = Signal(object)  # the exception
    cancelled = Signal()  # stopped on request (or finished after cancel() was called: the result is dropped)
    _ended = Signal(object)  # self, after finished/failed: the registry lets go of the job

    def __init__(self, name: str, fn: Callable[[Progress], Any]) -> None:
        super().__init__()  # no parent: a parent's destructor must not delete a job that is still running
        self.name = name
        self._fn = fn
        self.cancel_event = threading.Event()
        self.done = threading.Event()  # set once the function returned or raised
        self.started_at = 0.0  # time.monotonic() when the pool thread picked it up
        registry = _the_registry()
        self._ended.connect(registry.release)

    def start(self) -> Job:
        _the_registry().live.add(self)
        QThreadPool.globalInstance().start(self._run)
        return self

    def cancel(self) -> None:
        """Ask the job to stop; it does at its next progress report and then emits ``cancelled``."""
        self.cancel_event.set()

    def detach(self) -> None:
        """Disconnect every receiver (its owner is going away) and cancel; the job ends on its own."""
        for signal in (self.progress, self.finished, self.failed, self.cancelled):
            with warnings.catch_warnings(), contextlib.suppress(RuntimeError, TypeError):
                warnings.simplefilter("ignore", RuntimeWarning)  # PySide warns when nothing was connected
                signal.disconnect()
        self.cancel()

    def is_cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def _report(self, stage: str, fraction: float) -> None:
        if self.cancel_event.is_set():
            raise Cancelled(f"{self.name}: cancelled")
        self.progress.emit(stage, fraction)

    def _emit(self, signal: Any, *args: Any) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:
            # Only a job cancelled by a closing window may find its receivers gone; anything else is a bug.
            if not self.cancel_event.is_set():
                raise
            log.debug("%s: the window is gone, result dropped", self.name)

    def _run(self) -> None:
        self.started_at = time.monotonic()
        try:
            result = self._fn(self._report)
        except BaseException as exc:
            self.done.set()
            if isinstance(exc, Cancelled) or self.cancel_event.is_set():
                log.info("%s stopped: cancelled", self.name)
                self._emit(self.cancelled)
            else:
                if isinstance(exc, EdgeAsrError):
                    log.warning("%s failed: %s", self.name, exc)
                else:
                    log.exception("%s failed", self.name)
                self._emit(self.failed, exc)
        else:
            self.done.set()
            if self.cancel_event.is_set():
                self._emit(self.cancelled)
            else:
                self._emit(self.finished, result)
        self._emit(self._ended, self)


def live_jobs() -> list[Job]:
    return list(_registry.live) if _registry is not None else []


def shutdown_jobs(timeout_s: float) -> bool:
    """Cancel every job and wait (bounded) for the pool to drain; False when some were still running."""
    jobs = live_jobs()
    for job in jobs:
        job.cancel()
    ok = QThreadPool.globalInstance().waitForDone(int(timeout_s * _MS_PER_S))
    if not ok:
        running = ", ".join(j.name for j in jobs if not j.done.is_set())
        log.error("background jobs still running at shutdown: %s", running)
    return ok
