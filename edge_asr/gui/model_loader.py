"""Loading the model (building it on first use) on the thread pool, with its progress as signals."""

from __future__ import annotations

import enum
import logging

from PySide6.QtCore import QObject, Signal

from ..engine.base import Transcriber
from ..options import EngineOptions
from .jobs import Job
from .progress import ProgressClock, ProgressSnapshot
from .workers import human_message

log = logging.getLogger(__name__)


class ModelState(enum.Enum):
    NONE = "none"  # nothing asked for yet
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


class ModelController(QObject):
    """Holds the one loaded transcriber; a new load replaces it when it succeeds."""

    loading = Signal(str)  # model name
    progress = Signal(str, float)  # stage, fraction 0..1
    ready = Signal(object)  # Transcriber
    failed = Signal(str)  # human message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.transcriber: Transcriber | None = None
        self.state = ModelState.NONE
        self.name = ""  # the model being loaded or loaded
        self.stage = ""  # the build stage last reported
        self.error = ""  # the last failure, for the Record-before-ready message
        self._clock: ProgressClock | None = None
        self._job: Job | None = None
        self._pending: EngineOptions | None = None  # asked for while another load was running

    def is_loading(self) -> bool:
        return self._job is not None

    def snapshot(self) -> ProgressSnapshot | None:
        """Percent, elapsed and time left of the load in progress (None when nothing is loading)."""
        return self._clock.snapshot() if self._clock is not None and self._job is not None else None

    def load(self, options: EngineOptions) -> None:
        if self._job is not None:
            self._pending = options  # the latest choice wins once the running load ends
            return
        from ..factory import load_transcriber

        self.transcriber = None
        self.state = ModelState.LOADING
        self.name, self.stage, self.error = options.model, "", ""
        self._clock = ProgressClock()
        self.loading.emit(options.model)
        self._job = Job(f"loading {options.model}", lambda progress: load_transcriber(options, progress))
        self._job.progress.connect(self._on_progress)
        self._job.finished.connect(self._on_loaded)
        self._job.failed.connect(lambda exc: self._on_failed(options, exc))
        self._job.cancelled.connect(self._on_cancelled)
        self._job.start()

    def cancel(self) -> None:
        """Stop a build at its next stage (the half-built files are removed by the core)."""
        self._pending = None
        if self._job is not None:
            self._job.cancel()

    def _on_progress(self, stage: str, fraction: float) -> None:
        self.stage = stage
        if self._clock is not None:
            self._clock.update(fraction)
        self.progress.emit(stage, fraction)

    def _next(self) -> bool:
        self._job = None
        pending, self._pending = self._pending, None
        if pending is not None:
            self.load(pending)
            return True
        return False

    def _on_loaded(self, transcriber: Transcriber) -> None:
        if self._next():
            return
        self.transcriber = transcriber
        self.state = ModelState.READY
        self.ready.emit(transcriber)

    def _on_failed(self, options: EngineOptions, exc: BaseException) -> None:
        if self._next():
            return
        self.state = ModelState.FAILED
        self.error = f"Could not load the model {options.model!r}: {human_message(exc)}"
        self.failed.emit(self.error)

    def _on_cancelled(self) -> None:
        if self._next():
            return
        self.state = ModelState.FAILED
        self.error = f"Loading {self.name} was cancelled."
        self.failed.emit(self.error)
