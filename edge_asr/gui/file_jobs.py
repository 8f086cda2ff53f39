"""File jobs: the queue of dropped/opened files, each with a progress bar, percent, elapsed, time left, speed
(x real time) and Cancel, over FileJobWorker."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..engine.base import Transcriber
from ..options import TranscribeOptions
from .constants import PROGRESS_STEPS
from .progress import ProgressClock
from .workers import FileJobSpec, FileJobWorker

_TICK_MS = 1000  # ms between elapsed-time refreshes while a job runs

log = logging.getLogger(__name__)


@dataclass
class _Row:
    name: QLabel
    bar: QProgressBar
    detail: QLabel
    cancel: QPushButton
    spec: FileJobSpec
    state: str = "queued"  # queued | running | done | cancelled | failed
    text: str = ""
    clock: ProgressClock | None = None
    elapsed_s: float | None = None  # the worker's own figure at the last segment


class FileJobsPanel(QWidget):
    """One row per file: name and state, progress bar, Cancel."""

    cancel_requested = Signal(int)  # job id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("File jobs")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self._empty = QLabel("Drop audio files on the window or use File ▸ Open (Ctrl+O).", self)
        self._empty.setWordWrap(True)
        self._empty.setEnabled(False)
        outer.addWidget(self._empty)
        self._grid = QGridLayout()
        self._grid.setVerticalSpacing(2)
        self._grid.setColumnStretch(0, 1)
        outer.addLayout(self._grid)
        self._rows: dict[int, _Row] = {}
        self._tick = QTimer(self)
        self._tick.setInterval(_TICK_MS)
        self._tick.timeout.connect(self._refresh_running)

    def add(self, spec: FileJobSpec) -> None:
        self._empty.hide()
        row = len(self._rows) * 3
        name = QLabel(self)
        name.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # long names elide, not widen
        name.setToolTip(str(spec.path))
        bar = QProgressBar(self)
        bar.setRange(0, PROGRESS_STEPS)
        bar.setTextVisible(False)
        bar.setMaximumHeight(bar.fontMetrics().height() // 2 + 4)
        bar.setAccessibleName(f"Progress of {spec.path.name}")
        detail = QLabel("queued", self)
        detail.setObjectName("job-detail")
        detail.setWordWrap(True)  # "48 % · 0:03 elapsed · about 0:03 left · 9.2× real time" takes two lines here
        detail.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        small = detail.font()
        small.setPointSizeF(small.pointSizeF() * 0.9)
        detail.setFont(small)
        cancel = QPushButton("Cancel", self)
        cancel.setAccessibleName(f"Cancel {spec.path.name}")
        cancel.clicked.connect(lambda: self.cancel_requested.emit(spec.job_id))
        self._grid.addWidget(name, row, 0)
        self._grid.addWidget(cancel, row, 1, 2, 1)
        self._grid.addWidget(bar, row + 1, 0)
        self._grid.addWidget(detail, row + 2, 0, 1, 2)
        self._rows[spec.job_id] = _Row(name, bar, detail, cancel, spec)
        self._set_state(spec.job_id, "queued")

    def _set_state(self, job_id: int, state: str, detail: str = "") -> None:
        row = self._rows[job_id]
        row.state = state
        label = {"queued": "waiting", "running": "transcribing", "done": "done", "cancelled": "cancelled",
                 "failed": "failed"}[state]
        text = f"{row.spec.path.name} — {label}"
        row.text = text
        self._elide(row)  # the detail (an error message) is too long for the sidebar: it goes to the tooltip
        full = f"{text}: {detail}" if detail else text
        row.name.setAccessibleName(full)
        row.name.setToolTip(f"{row.spec.path}\n{full}")
        row.cancel.setVisible(state in ("queued", "running"))

    def _elide(self, row: _Row) -> None:
        # The sidebar is narrow: long file names lose their middle rather than widen the window or get cut.
        width = max(row.name.width(), row.name.fontMetrics().averageCharWidth() * 12)
        row.name.setText(row.name.fontMetrics().elidedText(row.text, Qt.TextElideMode.ElideMiddle, width))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        for row in self._rows.values():
            self._elide(row)

    def set_running(self, job_id: int) -> None:
        row = self._rows[job_id]
        row.clock = ProgressClock()
        self._set_state(job_id, "running")
        self._show_detail(row)
        self._tick.start()

    def set_progress(self, job_id: int, fraction: float, audio_done_s: float | None = None,
                     elapsed_s: float | None = None) -> None:
        row = self._rows[job_id]
        row.bar.setValue(round(fraction * PROGRESS_STEPS))
        if row.clock is None:
            row.clock = ProgressClock()
        row.clock.update(fraction, audio_done_s)
        row.elapsed_s = elapsed_s
        self._show_detail(row)

    def set_done(self, job_id: int) -> None:
        row = self._rows[job_id]
        row.bar.setValue(PROGRESS_STEPS)
        self._set_state(job_id, "done")
        self._show_detail(row, done=True)

    def set_cancelled(self, job_id: int) -> None:
        self._set_state(job_id, "cancelled")
        self._rows[job_id].detail.setText("cancelled")

    def set_failed(self, job_id: int, message: str) -> None:
        self._set_state(job_id, "failed", message)
        self._rows[job_id].detail.setText("failed: see the message above")

    def detail_text(self, job_id: int) -> str:
        return self._rows[job_id].detail.accessibleName()

    def _show_detail(self, row: _Row, *, done: bool = False) -> None:
        if row.clock is None:
            return
        text = row.clock.snapshot(row.elapsed_s if done else None).text(done=done)
        row.detail.setAccessibleName(text)
        row.detail.setText(text)

    def _refresh_running(self) -> None:
        running = [r for r in self._rows.values() if r.state == "running"]
        for row in running:
            self._show_detail(row)
        if not running:
            self._tick.stop()

    def state(self, job_id: int) -> str:
        return self._rows[job_id].state

    def progress_value(self, job_id: int) -> float:
        return self._rows[job_id].bar.value() / PROGRESS_STEPS


class FileJobController(QObject):
    """Owns the worker thread and the panel; the window routes segments to a transcript tab per job."""

    job_added = Signal(int, str)  # job id, file name
    job_info = Signal(int, object)  # job id, TranscriptionInfo
    job_segment = Signal(int, object)  # job id, Segment
    job_ended = Signal(int, str)  # job id, state
    job_error = Signal(int, str)  # job id, human message

    def __init__(self, panel: FileJobsPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self._ids = itertools.count(1)
        self._specs: dict[int, FileJobSpec] = {}
        self._thread = QThread(self)
        self._thread.setObjectName("edge-asr-file-jobs")
        self._worker = FileJobWorker()
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        w = self._worker
        w.job_started.connect(self._on_started)
        w.job_segment.connect(self.job_segment)
        w.job_progress.connect(self.panel.set_progress)
        w.job_finished.connect(self._on_finished)
        w.job_cancelled.connect(self._on_cancelled)
        w.job_failed.connect(self._on_failed)
        panel.cancel_requested.connect(self.cancel)
        self._thread.start()

    def set_transcriber(self, transcriber: Transcriber | None) -> None:
        self._worker.set_transcriber(transcriber)

    def submit(self, path: Path, options: TranscribeOptions) -> int:
        spec = FileJobSpec(next(self._ids), path, options)
        self._specs[spec.job_id] = spec
        self.panel.add(spec)
        log.info("file job %d: %s", spec.job_id, path)
        self.job_added.emit(spec.job_id, path.name)
        self._worker.submit(spec)
        return spec.job_id

    def cancel(self, job_id: int) -> None:
        spec = self._specs.get(job_id)
        if spec is not None:
            spec.cancel.set()

    def busy(self) -> bool:
        return any(self.panel.state(j) in ("queued", "running") for j in self._specs)

    def _on_started(self, job_id: int, info: object) -> None:
        self.panel.set_running(job_id)
        self.job_info.emit(job_id, info)

    def _on_finished(self, job_id: int) -> None:
        self.panel.set_done(job_id)
        self.job_ended.emit(job_id, "done")

    def _on_cancelled(self, job_id: int) -> None:
        self.panel.set_cancelled(job_id)
        self.job_ended.emit(job_id, "cancelled")

    def _on_failed(self, job_id: int, message: str) -> None:
        self.panel.set_failed(job_id, message)
        self.job_error.emit(job_id, message)
        self.job_ended.emit(job_id, "failed")

    def shutdown(self, timeout_ms: int) -> bool:
        for spec in self._specs.values():
            spec.cancel.set()
        self._worker.shutdown()
        self._thread.quit()
        ok = self._thread.wait(timeout_ms)
        if not ok:
            log.error("file-job thread did not stop within %d ms", timeout_ms)
        return ok
