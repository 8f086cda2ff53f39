"""Loading the model (building it on first use) on the thread pool, with its progress as signals."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from ..engine.base import Transcriber
from ..options import EngineOptions
from .workers import Job, human_message

log = logging.getLogger(__name__)


class ModelController(QObject):
    """Holds the one loaded transcriber; a new load replaces it when it succeeds."""

    loading = Signal(str)  # model name
    progress = Signal(str, float)  # stage, fraction 0..1
    ready = Signal(object)  # Transcriber
    failed = Signal(str)  # human message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.transcriber: Transcriber | None = None
        self._job: Job | None = None
        self._pending: EngineOptions | None = None  # asked for while another load was running

    def is_loading(self) -> bool:
        return self._job is not None

    def load(self, options: EngineOptions) -> None:
        if self._job is not None:
            self._pending = options  # the latest choice wins once the running load ends
            return
        from ..engine import load_transcriber

        self.transcriber = None
        self.loading.emit(options.model)
        self._job = Job(f"loading {options.model}", lambda progress: load_transcriber(options, progress))
        self._job.signals.progress.connect(self.progress)
        self._job.signals.finished.connect(self._on_loaded)
        self._job.signals.failed.connect(lambda exc: self._on_failed(options, exc))
        self._job.start()

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
        self.ready.emit(transcriber)

    def _on_failed(self, options: EngineOptions, exc: BaseException) -> None:
        if self._next():
            return
        self.failed.emit(f"Could not load the model {options.model!r}: {human_message(exc)}")
