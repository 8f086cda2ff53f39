"""The main window: wires the views to the core through workers, the recorder and the event bridge."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..engine.base import Transcriber
from ..live.events import DeviceBack, DeviceLost, Error, Final, Level, Partial, Stats
from .actions import build_actions, build_menus, build_toolbar
from .bridge import EventBridge
from .constants import (
    AUDIO_FILE_PATTERNS,
    DEVICE_REFRESH_INTERVAL_MS,
    MIN_WINDOW_SIZE,
    PROGRESS_STEPS,
    RESOURCE_SAMPLE_INTERVAL_MS,
    SHUTDOWN_WAIT_MS,
    SIDEBAR_WIDTH,
    STATS_FRESH_S,
)
from .devices import DeviceWatcher
from .file_jobs import FileJobController
from .model_loader import ModelController
from .recording import PipelineRecorder, RecState
from .session import export_transcript, model_status_text
from .settings import AppSettings, save_settings
from .settings_panel import SettingsDialog
from .sidebar import Sidebar
from .theme import accent, apply_theme
from .transcript_tabs import TranscriptTabs
from .transcript_view import TranscriptView
from .widgets import Banner
from .workers import ResourcePoller, human_message

log = logging.getLogger(__name__)

_MS_PER_S = 1000


class MainWindow(QMainWindow):
    model_ready = Signal(object)  # Transcriber, or None after a failure
    _sample_requested = Signal()

    def __init__(self, store: QSettings, settings: AppSettings, *, autoload: bool = True,
                 source_factory: Callable[[str], Any] | None = None) -> None:
        super().__init__()
        self.setWindowTitle("edge-asr")
        self.setObjectName("edge-asr-main")
        self.setMinimumSize(*MIN_WINDOW_SIZE)
        self.setAcceptDrops(True)
        self.store = store
        self.settings = settings
        self.transcriber: Transcriber | None = None
        self._last_stats = 0.0
        self._closed = False
        self.persist = True  # False in screenshot mode: settings and geometry are left as they were

        self.actions_ = build_actions(self)
        build_menus(self, self.actions_)
        self.toolbar = build_toolbar(self, self.actions_)
        self.banner = Banner(self)
        self.tabs = TranscriptTabs(self)
        self.live_view = self.tabs.live
        self.sidebar = Sidebar(self)
        self.sidebar.devices.set_wanted(settings.input_device)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.tabs)
        split.addWidget(self.sidebar)
        split.setStretchFactor(0, 1)
        split.setCollapsible(0, False)
        split.setSizes([max(1, self.width() - SIDEBAR_WIDTH), SIDEBAR_WIDTH])
        self.splitter = split
        central = QWidget(self)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.banner)
        lay.addWidget(split, 1)
        self.setCentralWidget(central)
        self.model_label = QLabel("No model loaded", self)
        self.model_label.setAccessibleName("Model status")
        self.model_progress = QProgressBar(self)
        self.model_progress.setRange(0, PROGRESS_STEPS)
        self.model_progress.setAccessibleName("Model build progress")
        self.model_progress.setMaximumWidth(220)
        self.model_progress.hide()
        self.statusBar().addWidget(self.model_label, 1)
        self.statusBar().addPermanentWidget(self.model_progress)

        self.bridge = EventBridge(self)
        self.recorder = PipelineRecorder(self.bridge, self, source_factory)
        self.jobs = FileJobController(self.sidebar.jobs, self)
        self.model = ModelController(self)
        self._connect()
        self._start_resource_poller()
        self.device_watcher = DeviceWatcher(DEVICE_REFRESH_INTERVAL_MS, self)
        self.device_watcher.devices.connect(self.sidebar.devices.set_devices)
        self.device_watcher.failed.connect(self.sidebar.show_mic_note)
        self.device_watcher.start()
        self._update_record_action()
        if autoload:
            QTimer.singleShot(0, self.load_model)

    # -- wiring ---------------------------------------------------------------------------------------------
    def _connect(self) -> None:
        a = self.actions_
        a.record.triggered.connect(self.toggle_recording)
        a.open_files.triggered.connect(self.choose_files)
        a.export.triggered.connect(self.choose_export)
        a.copy.triggered.connect(self.copy_transcript)
        a.clear.triggered.connect(self.clear_transcript)
        a.settings.triggered.connect(self.edit_settings)
        a.quit.triggered.connect(self.close)
        for name, act in a.themes.items():
            act.setChecked(name == self.settings.theme)
            act.triggered.connect(lambda _=False, n=name: self.set_theme(n))
        b = self.bridge
        b.partial.connect(self._on_partial)
        b.final.connect(self._on_final)
        b.level.connect(self._on_level)
        b.stats.connect(self._on_stats)
        b.device_lost.connect(self._on_device_lost)
        b.device_back.connect(self._on_device_back)
        b.error.connect(self._on_error)
        self.model.loading.connect(self._on_model_loading)
        self.model.progress.connect(self._on_model_progress)
        self.model.ready.connect(self._on_model_loaded)
        self.model.failed.connect(self._on_model_failed)
        self.recorder.state_changed.connect(self._on_rec_state)
        self.recorder.failed.connect(self.show_error)
        self.sidebar.devices.activated.connect(self._on_device_chosen)
        # "system" follows the desktop when it switches between light and dark while the app runs.
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._on_color_scheme)
        self.jobs.job_added.connect(self.tabs.add_job)
        self.jobs.job_info.connect(self.tabs.set_job_info)
        self.jobs.job_segment.connect(self.tabs.add_job_segment)
        self.jobs.job_ended.connect(self.tabs.set_job_ended)
        self.tabs.job_tab_closed.connect(self.jobs.cancel)
        self.jobs.job_error.connect(lambda job_id, msg: self.show_error(f"Transcribing file failed: {msg}"))

    def _start_resource_poller(self) -> None:
        self._poll_thread = QThread(self)
        self._poll_thread.setObjectName("edge-asr-resources")
        self.poller = ResourcePoller(RESOURCE_SAMPLE_INTERVAL_MS)
        self.poller.moveToThread(self._poll_thread)
        self._poll_thread.started.connect(self.poller.start)
        self._poll_thread.finished.connect(self.poller.stop)
        self.poller.sampled.connect(self._on_sample)
        self.poller.unavailable.connect(self.sidebar.resources.show_unavailable)
        self._sample_requested.connect(self.poller.sample_now)
        self._poll_thread.start()

    # -- messages -------------------------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        log.error("%s", message)
        self.banner.show_message(message, "error")

    def show_info(self, message: str) -> None:
        log.info("%s", message)
        self.banner.show_message(message, "info")

    # -- model ----------------------------------------------------------------------------------------------
    def load_model(self) -> None:
        """Build (first run) or load the model off the GUI thread, with the build's progress in the status bar."""
        try:
            options = self.settings.engine_options()
        except Exception as exc:
            self.show_error(f"Invalid model settings: {human_message(exc)}")
            return
        self.transcriber = None
        self.jobs.set_transcriber(None)
        self._update_record_action()
        self.model.load(options)

    def is_loading(self) -> bool:
        return self.model.is_loading()

    def _on_model_loading(self, name: str) -> None:
        self.model_label.setText(f"Loading {name}…")
        self.model_progress.setValue(0)
        self.model_progress.show()

    def _on_model_progress(self, stage: str, fraction: float) -> None:
        self.model_label.setText(f"Preparing {self.settings.model}: {stage}…")
        self.model_progress.setValue(round(fraction * PROGRESS_STEPS))

    def _on_model_loaded(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber
        self.jobs.set_transcriber(transcriber)
        self.model_progress.hide()
        self.model_label.setText(model_status_text(transcriber, self.settings))
        self._update_record_action()
        self.model_ready.emit(transcriber)

    def _on_model_failed(self, message: str) -> None:
        self.model_progress.hide()
        self.model_label.setText("Model not loaded")
        self.show_error(f"{message} Choose another in Settings (Ctrl+,).")
        self.model_ready.emit(None)

    # -- recording ------------------------------------------------------------------------------------------
    def toggle_recording(self) -> None:
        state = self.recorder.state
        if state is RecState.IDLE:
            if self.transcriber is None:
                self.show_error("The model is not loaded yet; recording starts once it is ready.")
                return
            self.live_view.set_partial("")
            self.sidebar.devices.setEnabled(False)
            multilingual = self.transcriber.is_multilingual
            self.recorder.start(self.transcriber, self.sidebar.devices.wanted(),
                                self.settings.transcribe_options(multilingual))
        elif state in (RecState.RECORDING, RecState.STARTING):
            self.recorder.stop()

    def _on_rec_state(self, state: RecState) -> None:
        self._update_record_action()
        idle = state is RecState.IDLE
        self.sidebar.devices.setEnabled(idle)
        self.device_watcher.set_paused(not idle)
        self.poller.set_paused(not idle)  # while recording, the pipeline's Stats carry the same figures
        self.actions_.settings.setEnabled(idle)
        if idle:
            self.live_view.set_partial("")
            self.sidebar.level.reset()

    def _update_record_action(self) -> None:
        state = self.recorder.state
        act = self.actions_.record
        labels = {RecState.IDLE: "● Record", RecState.STARTING: "■ Stop (starting…)",
                  RecState.RECORDING: "■ Stop", RecState.STOPPING: "Finishing…"}
        act.setText(labels[state])
        act.setEnabled(state is not RecState.STOPPING and (self.transcriber is not None or state is not RecState.IDLE))
        button = self.toolbar.widgetForAction(act)
        if button is not None:
            active = state in (RecState.STARTING, RecState.RECORDING)
            button.setAccessibleName("Stop recording" if active else "Record")
            button.setStyleSheet(f"color: {accent('rec').name()};" if active else "")

    def _on_partial(self, ev: Partial) -> None:
        self.live_view.set_partial(ev.text, ev.stable_text)

    def _on_final(self, ev: Final) -> None:
        if ev.replaces is not None:  # an early final whose utterance went on (see live/events.py)
            self.live_view.replace_last_segment(ev.segment)
        else:
            self.live_view.add_segment(ev.segment)
        if ev.latency > 0:
            self.sidebar.resources.show_latency(ev.latency)

    def _on_level(self, ev: Level) -> None:
        self.sidebar.level.set_level(ev.rms, ev.peak)

    def _on_stats(self, ev: Stats) -> None:
        self._last_stats = time.monotonic()
        self.sidebar.resources.show_stats(ev)

    def _on_sample(self, sample: Any) -> None:
        if time.monotonic() - self._last_stats < STATS_FRESH_S:
            return  # the pipeline's Stats carry the same figures while recording
        self.sidebar.resources.show_sample(sample.cpu_percent, sample.rss_mb, sample.load_avg, sample.cpu_temp_c)

    def _on_device_lost(self, ev: DeviceLost) -> None:
        self.show_error(f"Microphone “{ev.device}” stopped delivering audio ({ev.reason}). "
                        "What was said before is kept; recording resumes when it comes back.")

    def _on_device_back(self, ev: DeviceBack) -> None:
        self.show_info(f"Microphone “{ev.device}” is back after {ev.outage:.1f} s; recording resumed.")

    def _on_error(self, ev: Error) -> None:
        self.show_error(ev.message if not ev.fatal else f"Recording stopped: {ev.message}")
        if ev.fatal:
            self.recorder.on_fatal_error()

    # -- devices ---------------------------------------------------------------------------------------------
    def _on_device_chosen(self, _index: int) -> None:
        self.apply_settings(self.settings.with_(input_device=self.sidebar.devices.wanted()))

    # -- files ----------------------------------------------------------------------------------------------
    def open_files(self, paths: Sequence[Path]) -> list[int]:
        multilingual = self.transcriber.is_multilingual if self.transcriber is not None else False
        options = self.settings.transcribe_options(multilingual)
        ids = [self.jobs.submit(Path(p), options) for p in paths]
        if paths:
            self.apply_settings(self.settings.with_(last_dir=str(Path(paths[-1]).parent)))
        return ids

    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Transcribe audio files", self.settings.last_dir,
                                                f"Audio ({AUDIO_FILE_PATTERNS});;All files (*)")
        self.open_files([Path(p) for p in paths])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        self.open_files([p for p in paths if p.is_file()])
        event.acceptProposedAction()

    # -- transcript -----------------------------------------------------------------------------------------
    def current_view(self) -> TranscriptView:
        return self.tabs.current_view()

    def copy_transcript(self) -> None:
        QGuiApplication.clipboard().setText(self.current_view().plain_text())
        self.statusBar().showMessage("Transcript copied", 3 * _MS_PER_S)

    def clear_transcript(self) -> None:
        self.current_view().clear_transcript()

    def choose_export(self) -> None:
        view = self.current_view()
        filters = {"srt": "SubRip (*.srt)", "vtt": "WebVTT (*.vtt)", "txt": "Text (*.txt)", "json": "JSON (*.json)"}
        fmt0 = self.settings.export_format
        start = str(Path(self.settings.last_dir or Path.home()) / f"{Path(view.title).stem}.{fmt0}")
        order = [fmt0, *[f for f in filters if f != fmt0]]
        patterns = ";;".join(filters[f] for f in order)
        path, chosen = QFileDialog.getSaveFileName(self, "Export transcript", start, patterns)
        if path:
            fmt = next((f for f, label in filters.items() if label == chosen), Path(path).suffix.lstrip(".") or "txt")
            self.export_to(Path(path), fmt)

    def export_to(self, path: Path, fmt: str) -> bool:
        view = self.current_view()
        try:
            export_transcript(view, self.settings, self.transcriber, fmt, path)
        except Exception as exc:
            self.show_error(f"Could not export to {path}: {human_message(exc)}")
            return False
        self.apply_settings(self.settings.with_(export_format=fmt, last_dir=str(path.parent)))
        self.statusBar().showMessage(f"Saved {path}", 5 * _MS_PER_S)
        return True

    # -- settings -------------------------------------------------------------------------------------------
    def apply_settings(self, settings: AppSettings) -> None:
        reload = settings.engine_options() != self.settings.engine_options()
        self.settings = settings
        if self.persist:
            save_settings(self.store, settings)
        if reload:
            self.load_model()

    def edit_settings(self) -> None:
        from ..engine import list_models

        try:
            models = list_models()
        except Exception as exc:
            self.show_error(f"Cannot list models: {human_message(exc)}")
            models = []
        dialog = SettingsDialog(self.settings, models, self)
        if dialog.exec() and dialog.result_settings() is not None:
            self.apply_settings(dialog.result_settings())  # type: ignore[arg-type]

    def set_theme(self, name: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, name)
        self.apply_settings(self.settings.with_(theme=name))
        self.update()

    def _on_color_scheme(self, _scheme: object) -> None:
        if self.settings.theme == "system":
            self.set_theme("system")

    # -- shutdown -------------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop recording (flushing it), cancel file jobs, stop the sampler thread, drop the bridge."""
        wait_s = SHUTDOWN_WAIT_MS / _MS_PER_S
        self.device_watcher.stop()
        QGuiApplication.styleHints().colorSchemeChanged.disconnect(self._on_color_scheme)
        self.recorder.shutdown(wait_s)
        self.bridge.shutdown()
        self.jobs.shutdown(SHUTDOWN_WAIT_MS)
        self._poll_thread.quit()
        if not self._poll_thread.wait(SHUTDOWN_WAIT_MS):
            log.error("resource thread did not stop")
        if self.persist:
            self.store.setValue("window/geometry", self.saveGeometry())
            save_settings(self.store, self.settings)
